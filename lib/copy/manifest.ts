// What the receiver prints for a staged item (lib/guest/receive.sh, `manifest`),
// computed here for the item in the local store, so the two can be compared:
// one tab-separated line per entry, sorted bytewise.
//   d PATH | f PATH x|- SHA256 | l PATH TARGET      (PATH is "." or "./...")
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { FruixError } from "../errors.js";
import { compareBytes } from "../store/paths.js";

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Names the line-oriented manifest (and tar's listing) cannot carry unambiguously. */
function checkName(path: string): void {
  if (/[\n\t\\]/.test(path)) throw new FruixError(`cannot copy ${JSON.stringify(path)}: names with newlines, tabs or backslashes cannot be sent`);
}

export async function itemManifest(root: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (path: string, rel: string): Promise<void> => {
    checkName(rel);
    const st = await lstat(path);
    if (st.isDirectory()) {
      lines.push(`d\t${rel}`);
      for (const name of await readdir(path)) await walk(join(path, name), `${rel}/${name}`);
    } else if (st.isFile()) {
      lines.push(`f\t${rel}\t${st.mode & 0o111 ? "x" : "-"}\t${await sha256File(path)}`);
    } else if (st.isSymbolicLink()) {
      const target = await readlink(path);
      checkName(target);
      lines.push(`l\t${rel}\t${target}`);
    } else lines.push(`?\t${rel}`);
  };
  await walk(root, ".");
  return lines.sort(compareBytes);
}

/** Parses the receiver's output into sorted lines. */
export function manifestLines(text: string): string[] {
  return text.split("\n").filter(Boolean).sort(compareBytes);
}

/** undefined when equal; otherwise says what differs first (what arrived against what was sent). */
export function manifestDifference(sent: readonly string[], arrived: readonly string[]): string | undefined {
  const a = new Set(arrived);
  const s = new Set(sent);
  const missing = sent.find((l) => !a.has(l));
  const extra = arrived.find((l) => !s.has(l));
  if (missing === undefined && extra === undefined) return undefined;
  const show = (l: string) => l.replace(/\t/g, " ");
  if (missing !== undefined && extra !== undefined) return `arrived '${show(extra)}' where the store has '${show(missing)}'`;
  if (missing !== undefined) return `'${show(missing)}' did not arrive`;
  return `'${show(extra!)}' arrived but is not part of the item`;
}
