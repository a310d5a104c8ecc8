// Where `fruix system copy --to` sends a closure: ssh://[USER@]HOST[:PORT] (pure).
import { FruixError } from "../errors.js";

export interface SshDestination {
  readonly user: string;
  /** A name, an IPv4 address, or an IPv6 address without brackets. */
  readonly host: string;
  readonly port: number;
  /** The destination as printed in results and messages. */
  readonly url: string;
}

export function parseDestination(text: string, option = "--to"): SshDestination {
  const bad = (why: string) => new FruixError(`${option} ${text}: ${why} (expected ssh://[USER@]HOST[:PORT])`, { exitCode: 2 });
  if (!text.startsWith("ssh://")) throw bad("only ssh:// destinations are supported");
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad("not a valid URL");
  }
  if (url.password) throw bad("passwords are not accepted in the URL; the copy authenticates with an SSH key");
  if (url.pathname !== "" && url.pathname !== "/") throw bad(`unexpected path '${url.pathname}'`);
  if (url.search || url.hash) throw bad("unexpected query or fragment");
  if (!url.hostname) throw bad("no host");
  const user = decodeURIComponent(url.username) || "root";
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = url.port ? Number(url.port) : 22;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return { user, host, port, url: `ssh://${user}@${hostPart}${port === 22 ? "" : `:${port}`}` };
}
