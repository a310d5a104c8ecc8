// OpenSSH's known_hosts, as far as deciding whether a server's host key is the
// one we know (pure apart from the file helpers at the end). Plain and hashed
// (|1|salt|hash) host patterns, [host]:port, negation, @revoked.
import { createHash, createHmac } from "node:crypto";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";

export interface KnownHost {
  readonly marker?: "@revoked" | "@cert-authority";
  readonly hosts: string;
  readonly keyType: string;
  /** The key blob, base64 (as in the file). */
  readonly key: string;
  readonly line: number;
}

export type HostKeyVerdict =
  | { readonly kind: "known"; readonly line: number }
  | { readonly kind: "unknown" }
  | { readonly kind: "changed"; readonly lines: readonly number[] }
  | { readonly kind: "revoked"; readonly line: number };

export function parseKnownHosts(text: string): KnownHost[] {
  const entries: KnownHost[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    const marker = fields[0] === "@revoked" || fields[0] === "@cert-authority" ? (fields.shift() as KnownHost["marker"]) : undefined;
    if (fields.length < 3) return; // malformed lines are ignored, as ssh does
    entries.push({ marker, hosts: fields[0]!, keyType: fields[1]!, key: fields[2]!, line: i + 1 });
  });
  return entries;
}

/** How known_hosts names a host: `host` on port 22, `[host]:port` otherwise. */
export function hostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "i").test(name);
}

/** Whether an entry's host field names `name` (ssh's rules: comma list, `!` negates, hashed entries). */
export function hostsMatch(hosts: string, name: string): boolean {
  if (hosts.startsWith("|1|")) {
    const [, , salt, hash] = hosts.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  let matched = false;
  for (const pattern of hosts.split(",")) {
    if (pattern.startsWith("!")) {
      if (globMatch(pattern.slice(1), name)) return false;
    } else if (globMatch(pattern, name)) matched = true;
  }
  return matched;
}

/** The key type named inside an SSH public key blob (its first string). */
export function keyTypeOf(blob: Buffer): string {
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString("latin1");
}

/** OpenSSH's fingerprint: SHA256:<base64 without padding>. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export function verifyHostKey(entries: readonly KnownHost[], host: string, port: number, blob: Buffer): HostKeyVerdict {
  const name = hostName(host, port);
  const key = blob.toString("base64");
  const mine = entries.filter((e) => e.marker !== "@cert-authority" && hostsMatch(e.hosts, name));
  const revoked = mine.find((e) => e.marker === "@revoked" && e.key === key);
  if (revoked) return { kind: "revoked", line: revoked.line };
  const plain = mine.filter((e) => e.marker === undefined);
  const same = plain.find((e) => e.key === key);
  if (same) return { kind: "known", line: same.line };
  // Any other key on record for this host means the key changed: refuse, as ssh does.
  return plain.length > 0 ? { kind: "changed", lines: plain.map((e) => e.line) } : { kind: "unknown" };
}

export function knownHostsLine(host: string, port: number, blob: Buffer): string {
  return `${hostName(host, port)} ${keyTypeOf(blob)} ${blob.toString("base64")}`;
}

export async function readKnownHosts(file: string): Promise<KnownHost[]> {
  try {
    return parseKnownHosts(await readFile(file, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

export async function rememberHostKey(file: string, host: string, port: number, blob: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await appendFile(file, knownHostsLine(host, port, blob) + "\n", { mode: 0o600 });
}
