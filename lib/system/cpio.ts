// A minimal writer for the SVR4 "newc" cpio format the Linux kernel unpacks as
// an initramfs. Written here rather than run through cpio(1) because the archive
// needs device nodes (/dev/console) that an unprivileged build cannot mknod.
import { lstat, readdir, readFile, readlink } from "node:fs/promises";

export type CpioEntry =
  | { readonly path: string; readonly type: "dir"; readonly mode: number }
  | { readonly path: string; readonly type: "file"; readonly mode: number; readonly data: Buffer }
  | { readonly path: string; readonly type: "symlink"; readonly target: string }
  | { readonly path: string; readonly type: "char"; readonly mode: number; readonly major: number; readonly minor: number };

const TYPE_BITS = { dir: 0o040000, file: 0o100000, symlink: 0o120000, char: 0o020000 } as const;

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function header(fields: number[], name: string): Buffer {
  const hex = fields.map((n) => n.toString(16).padStart(8, "0")).join("");
  const nameBytes = Buffer.from(name + "\0");
  const head = Buffer.from(`070701${hex}`, "latin1");
  return Buffer.concat([head, nameBytes, pad4(head.length + nameBytes.length)]);
}

/** Every entry owned by root, mtime 0, in the given order: the same entries give the same bytes. */
export function cpioArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const entry of entries) {
    const data =
      entry.type === "file" ? entry.data : entry.type === "symlink" ? Buffer.from(entry.target) : Buffer.alloc(0);
    const mode = TYPE_BITS[entry.type] | (entry.type === "symlink" ? 0o777 : entry.mode);
    const [rmaj, rmin] = entry.type === "char" ? [entry.major, entry.minor] : [0, 0];
    const nlink = entry.type === "dir" ? 2 : 1;
    const name = entry.path.replace(/^\/+/, "");
    parts.push(header([ino++, mode, 0, 0, nlink, 0, data.length, 0, 0, rmaj, rmin, name.length + 1, 0], name));
    parts.push(data, pad4(data.length));
  }
  parts.push(header([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 11, 0], "TRAILER!!!"));
  return Buffer.concat(parts);
}

/**
 * A directory tree as cpio entries, parents first, names sorted, modes kept
 * (owners and times are not: the archive says root and 0 for all).
 */
export async function treeEntries(root: string): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(rel ? `${root}/${rel}` : root)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const full = `${root}/${path}`;
      const info = await lstat(full);
      if (info.isSymbolicLink()) entries.push({ path, type: "symlink", target: await readlink(full) });
      else if (info.isDirectory()) {
        entries.push({ path, type: "dir", mode: info.mode & 0o7777 });
        await walk(path);
      } else if (info.isFile()) entries.push({ path, type: "file", mode: info.mode & 0o7777, data: await readFile(full) });
      else throw new Error(`${full}: only files, directories and symbolic links go into a root image`);
    }
  };
  await walk("");
  return entries;
}
