// The xcp-ng adapter's settings, from the environment. Secrets (the XAPI
// password, the SSH key) are read here and never printed: describe() is the
// only text about the configuration that reaches logs and reports.
import { readFileSync } from "node:fs";
import { FruixError } from "../../lib/errors.js";

export interface XcpngConfig {
  /** The pool's XAPI endpoint (http:// or https://); a pool member's address is followed to the master. */
  readonly url: URL;
  readonly user: string;
  readonly password: string;
  /** Name label of the SR that receives the machines' disks. */
  readonly sr: string;
  /** Name label of the ISO SR that receives uploaded ISOs. */
  readonly isoSr: string;
  readonly ssh: {
    readonly user: string;
    readonly port: number;
    /** A private key (OpenSSH/PEM text); without it, password authentication with the XAPI password. */
    readonly privateKey?: string;
    /** "SHA256:<base64>" of the host key; without it the host key is not checked (said loudly). */
    readonly hostKeySha256?: string;
  };
}

export const ENV = {
  url: "FRUIX_XAPI_URL",
  user: "FRUIX_XAPI_USER",
  password: "FRUIX_XAPI_PASSWORD",
  passwordFile: "FRUIX_XAPI_PASSWORD_FILE",
  sr: "FRUIX_XCPNG_SR",
  isoSr: "FRUIX_XCPNG_ISO_SR",
  sshUser: "FRUIX_XCPNG_SSH_USER",
  sshPort: "FRUIX_XCPNG_SSH_PORT",
  sshKeyFile: "FRUIX_XCPNG_SSH_KEY_FILE",
  sshHostKey: "FRUIX_XCPNG_SSH_HOST_KEY",
} as const;

const DEFAULT_SR = "Local storage";
const DEFAULT_ISO_SR = "ISO library";

type Env = Readonly<Record<string, string | undefined>>;

function readSecretFile(path: string, variable: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new FruixError(`${variable}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { exitCode: 2 });
  }
}

/** Reads and checks the settings; one clear error naming the variable when something is wrong. */
export function readConfig(env: Env = process.env): XcpngConfig {
  const need = (name: string): string => {
    const value = env[name];
    if (!value) throw new FruixError(`the xcp-ng adapter needs ${name} (see docs/xcp-ng.md)`, { exitCode: 2 });
    return value;
  };
  let url: URL;
  try {
    url = new URL(need(ENV.url));
  } catch (error) {
    if (error instanceof FruixError) throw error;
    throw new FruixError(`${ENV.url} is not a URL`, { exitCode: 2 });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new FruixError(`${ENV.url} must be http:// or https://, not ${url.protocol}`, { exitCode: 2 });
  if (url.username || url.password) throw new FruixError(`${ENV.url} must not carry credentials; use ${ENV.user} and ${ENV.password}`, { exitCode: 2 });

  let password: string;
  if (env[ENV.password] !== undefined && env[ENV.passwordFile] !== undefined) {
    throw new FruixError(`set one of ${ENV.password} and ${ENV.passwordFile}, not both`, { exitCode: 2 });
  } else if (env[ENV.passwordFile]) {
    password = readSecretFile(env[ENV.passwordFile]!, ENV.passwordFile).replace(/\r?\n$/, "");
  } else if (env[ENV.password] !== undefined) {
    password = env[ENV.password]!;
  } else {
    throw new FruixError(`the xcp-ng adapter needs ${ENV.password} or ${ENV.passwordFile} (see docs/xcp-ng.md)`, { exitCode: 2 });
  }

  const portText = env[ENV.sshPort] ?? "22";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new FruixError(`${ENV.sshPort} must be a port number, not ${JSON.stringify(portText)}`, { exitCode: 2 });
  const hostKey = env[ENV.sshHostKey];
  if (hostKey !== undefined && !/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(hostKey)) {
    throw new FruixError(`${ENV.sshHostKey} must be a host key fingerprint like SHA256:<43 base64 characters> (ssh-keygen -lf)`, { exitCode: 2 });
  }
  return {
    url,
    user: need(ENV.user),
    password,
    sr: env[ENV.sr] || DEFAULT_SR,
    isoSr: env[ENV.isoSr] || DEFAULT_ISO_SR,
    ssh: {
      user: env[ENV.sshUser] || "root",
      port,
      privateKey: env[ENV.sshKeyFile] ? readSecretFile(env[ENV.sshKeyFile]!, ENV.sshKeyFile) : undefined,
      hostKeySha256: hostKey?.replace(/=$/, ""),
    },
  };
}

/** The configuration as logs and reports may show it: no password, no key, no session. */
export function describeConfig(config: XcpngConfig): string {
  const auth = config.ssh.privateKey ? "key" : "password";
  return `XAPI ${config.url.origin} as ${config.user}; SR "${config.sr}", ISO SR "${config.isoSr}"; console over SSH as ${config.ssh.user} (port ${config.ssh.port}, ${auth} authentication)`;
}
