// Trees for the UFS2 writer's tests, and what a reader must find in an image
// made from one: every path with its type, permissions, owner, size, link
// count, link target and content hash, computed from the host tree alone.
import { createHash } from "node:crypto";
import { link, mkdir, open, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Attributes, TreeNode } from "../../lib/family/freebsd/ufs/index.js";
import { walkTree } from "../../lib/family/freebsd/ufs/index.js";

export interface ExpectedNode {
  readonly type: "file" | "dir" | "link";
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly nlink: number;
  readonly sha256?: string;
  readonly link?: string;
}

const MiB = 1024 * 1024;

/** Bytes that differ per file and position, so a misplaced block shows in a hash. */
function pattern(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  let block = createHash("sha256").update(seed).digest();
  for (let at = 0; at < length; at += block.length) {
    block.copy(out, at);
    block = createHash("sha256").update(block).digest();
  }
  return out;
}

/**
 * The awkward cases in one tree: hard links, short and long symlinks (119,
 * 120 and 1000 bytes), a 255-byte name, names with spaces and non-ASCII, an
 * empty file and directory, files of exactly 12 and 13 blocks (the last
 * direct block, the first indirect one), a sparse 140 MiB file with data in
 * its direct, single- and double-indirect ranges, and a setuid file.
 */
export async function edgeTree(root: string): Promise<void> {
  const b = 32768;
  await mkdir(join(root, "etc/deep/er/and/deeper"), { recursive: true });
  await mkdir(join(root, "empty dir"));
  await mkdir(join(root, "usr/bin"), { recursive: true });
  await writeFile(join(root, "etc/motd"), "Welcome to Fruix\n");
  await link(join(root, "etc/motd"), join(root, "etc/motd.hardlink"));
  await link(join(root, "etc/motd"), join(root, "etc/deep/er/motd.third"));
  await writeFile(join(root, "empty"), "");
  await writeFile(join(root, "usr/bin/su"), pattern("su", 20_000));
  await writeFile(join(root, "twelve-blocks"), pattern("12", 12 * b));
  await writeFile(join(root, "thirteen-blocks"), pattern("13", 12 * b + 1));
  await writeFile(join(root, "one-fragment-over"), pattern("f", 4097));
  await writeFile(join(root, "n".repeat(255)), "long name\n");
  await writeFile(join(root, "with space é"), "unicode\n");
  await symlink("motd", join(root, "etc/short-link"));
  await symlink("x".repeat(119), join(root, "link-119"));
  await symlink("y".repeat(120), join(root, "link-120"));
  await symlink("z/".repeat(500), join(root, "link-1000"));
  const sparse = await open(join(root, "sparse"), "w");
  try {
    await sparse.write(pattern("d0", 5000), 0, 5000, 0); // direct
    await sparse.write(pattern("d1", 40_000), 0, 40_000, 20 * b); // single indirect
    await sparse.write(pattern("d2", 9000), 0, 9000, 140 * MiB - 9000); // double indirect, the last block
  } finally {
    await sparse.close();
  }
}

/** `count` small files in 100 directories. */
export async function manyFilesTree(root: string, count: number): Promise<void> {
  for (let d = 0; d < 100; d++) await mkdir(join(root, `many/d${d}`), { recursive: true });
  for (let i = 0; i < count; i++) await writeFile(join(root, `many/d${i % 100}/file-${i}`), `file ${i}\n`.repeat(1 + (i % 7)));
}

/** What a reader must see for each path of `root`, with owners and modes from `attributes`. */
export async function expectedTree(root: string, attributes: Attributes = () => undefined): Promise<Map<string, ExpectedNode>> {
  const nodes = await walkTree(root);
  const names = new Map<number, number>();
  for (const n of nodes) if (n.type === "file") names.set(n.ino, (names.get(n.ino) ?? 0) + 1);
  const subdirs = new Map<string, number>();
  for (const n of nodes) {
    if (n.type === "dir" && n.path !== ".") {
      const parent = n.path.includes("/") ? n.path.slice(0, n.path.lastIndexOf("/")) : ".";
      subdirs.set(parent, (subdirs.get(parent) ?? 0) + 1);
    }
  }
  const tree = new Map<string, ExpectedNode>();
  for (const n of nodes) {
    const given = attributes(n as TreeNode);
    const owner = given && given.type === n.type ? given : { mode: n.mode, uid: 0, gid: 0 };
    const host = join(root, n.path);
    tree.set(n.path, {
      type: n.type, mode: owner.mode, uid: owner.uid, gid: owner.gid,
      size: n.type === "dir" ? -1 : n.size, // a directory's size is the file system's own
      nlink: n.type === "dir" ? 2 + (subdirs.get(n.path) ?? 0) : n.type === "file" ? names.get(n.ino)! : 1,
      ...(n.type === "file" ? { sha256: createHash("sha256").update(await readFile(host)).digest("hex") } : {}),
      ...(n.type === "link" ? { link: await readlink(host) } : {}),
    });
  }
  return tree;
}

/** A reader's tree in the shape of `expectedTree` (directory sizes left out), for toEqual. */
export function comparable(tree: ReadonlyMap<string, { type: string; mode: number; uid: number; gid: number; size: number; nlink: number; sha256?: string; link?: string }>): Map<string, ExpectedNode> {
  const out = new Map<string, ExpectedNode>();
  for (const [path, n] of tree) {
    out.set(path, {
      type: n.type as ExpectedNode["type"], mode: n.mode, uid: n.uid, gid: n.gid, size: n.type === "dir" ? -1 : n.size, nlink: n.nlink,
      ...(n.sha256 !== undefined ? { sha256: n.sha256 } : {}),
      ...(n.link !== undefined ? { link: n.link } : {}),
    });
  }
  return out;
}
