// ed25519 key pairs that ssh2 can read back. ssh2 1.17's generateKeyPairSync
// strips leading zero bytes from the public key, so about 1 pair in 256 is
// unreadable (mscdex/ssh2#1390, #1513): such pairs are drawn again.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import ssh2, { type ParsedKey } from "ssh2";

export interface SshKeyPair {
  /** OpenSSH private key (unencrypted). */
  readonly private: string;
  /** authorized_keys line: "ssh-ed25519 BASE64 [COMMENT]". */
  readonly public: string;
  readonly parsed: ParsedKey;
}

export function ed25519KeyPair(comment?: string): SshKeyPair {
  for (let attempt = 0; attempt < 32; attempt++) {
    const pair = ssh2.utils.generateKeyPairSync("ed25519", comment === undefined ? {} : { comment });
    const parsed = ssh2.utils.parseKey(pair.private);
    if (parsed instanceof Error || ssh2.utils.parseKey(pair.public) instanceof Error) continue;
    return { private: pair.private, public: pair.public, parsed: parsed as ParsedKey };
  }
  throw new Error("ssh2 made 32 unreadable ed25519 key pairs in a row");
}

/** A new pair whose private half is written to `dir`/id_ed25519 (mode 0600), for an SSH client's `identity`. */
export async function keyPairFile(dir: string, comment?: string): Promise<SshKeyPair & { readonly identity: string }> {
  const pair = ed25519KeyPair(comment);
  const identity = join(dir, "id_ed25519");
  await writeFile(identity, pair.private, { mode: 0o600 });
  return { ...pair, identity };
}
