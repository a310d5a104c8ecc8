// A UFS2 root file system made by Debian's makefs(8) from a staged tree, with
// owners and modes from an mtree specification (the store keeps neither), and
// copied into its partition. Same tree, same bytes: every time in the
// specification is pinned, makefs runs without address randomization (it
// writes two in-memory pointers of its superblock to the disk), and inode
// generation numbers are rewritten (makefs draws them in host directory order).
import { lstat, open, readdir, readlink, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FruixError } from "../errors.js";
import type { Partition } from "./layout.js";
import type { ManifestEntry } from "./mtree.js";
import { mtreeLine } from "./mtree.js";
import { MiB, roundUp } from "./size.js";
import { tool } from "./tools.js";

/** FreeBSD newfs's defaults for a root, and one inode per 8 KiB (the in-guest installer's newfs gets the same). */
export const BLOCK_SIZE = 32768;
export const FRAGMENT_SIZE = 4096;
export const DENSITY = 8192;
export const MINFREE = 8;
/** Times in the image: 1 s after the epoch, as the store's. */
const PINNED_TIME = "1.0";

export interface TreeNode {
  readonly path: string; // relative, "." for the top
  readonly type: "file" | "dir" | "link";
  readonly mode: number;
  readonly size: number;
  readonly ino: number;
  readonly link?: string;
}

/** Every node of a staged tree, parents before children, names sorted. */
export async function walkTree(root: string): Promise<TreeNode[]> {
  const nodes: TreeNode[] = [];
  const visit = async (path: string): Promise<void> => {
    const host = path === "." ? root : join(root, path);
    const info = await lstat(host);
    const type = info.isDirectory() ? "dir" : info.isSymbolicLink() ? "link" : "file";
    nodes.push({ path, type, mode: info.mode & 0o7777, size: info.size, ino: info.ino, ...(type === "link" ? { link: await readlink(host) } : {}) });
    if (type === "dir") for (const name of (await readdir(host)).sort()) await visit(path === "." ? name : `${path}/${name}`);
  };
  await visit(".");
  return nodes;
}

/**
 * makefs's -F specification (pure): every node, with the attributes `attrs`
 * gives (the sets' manifests) or root:wheel and its staged mode. Flags are
 * left out: Debian's makefs does not apply them.
 */
export function ufsSpec(nodes: readonly TreeNode[], attrs: (node: TreeNode) => ManifestEntry | undefined): string {
  const lines = ["#mtree"];
  for (const node of nodes) {
    const given = attrs(node);
    const entry: ManifestEntry = given && given.type === node.type
      ? given
      : { type: node.type, mode: node.mode, uid: 0, gid: 0, ...(node.link !== undefined ? { link: node.link } : {}) };
    lines.push(mtreeLine(node.path, { ...entry, ...(node.link !== undefined ? { link: node.link } : {}) }, { withFlags: false, withNames: false, time: PINNED_TIME }));
  }
  return lines.join("\n") + "\n";
}

/** Bytes of data and inodes a tree takes on UFS2 (hard links counted once, short symlinks inline). */
export function ufsUsage(nodes: readonly TreeNode[]): { bytes: number; inodes: number } {
  const seen = new Set<number>();
  let bytes = 0;
  for (const node of nodes) {
    if (seen.has(node.ino)) continue;
    seen.add(node.ino);
    if (node.type === "dir") bytes += FRAGMENT_SIZE;
    else if (node.type === "link") bytes += node.size >= 120 ? FRAGMENT_SIZE : 0;
    else bytes += roundUp(node.size, FRAGMENT_SIZE);
  }
  return { bytes, inodes: seen.size };
}

/** The smallest file system (whole MiB) that holds `usage`: inode tables, minfree and a margin for the rest. */
export function minimumUfsSize(usage: { bytes: number; inodes: number }): number {
  const usable = 1 - 256 / DENSITY - MINFREE / 100 - 0.02;
  const forData = roundUp((usage.bytes * 1.05 + 4 * MiB) / usable, MiB);
  const forInodes = roundUp((usage.inodes + 64) * DENSITY, MiB);
  return Math.max(forData, forInodes, 8 * MiB);
}

export interface UfsSuperblock {
  readonly location: number; // byte offset in the file system
  readonly version: 1 | 2;
  readonly sblockloc: number;
  readonly blockSize: number;
  readonly fragmentSize: number;
  readonly cylinderGroups: number;
  readonly sizeBytes: number; // fs_size * fs_fsize
}

const UFS1_MAGIC = 0x011954;
const UFS2_INODE_SIZE = 256;
const UFS2_MAGIC = 0x19540119;
/** FreeBSD's SBLOCKSEARCH order. */
export const SUPERBLOCK_SEARCH = [65536, 8192, 0, 262144];

/**
 * Finds the superblock the way FreeBSD's ffs_sbget does (pure): UFS2 only
 * where its fs_sblockloc says it is, UFS1 only at or below 8 KiB.
 * `head` is the start of the file system (at least 270336 bytes for every location).
 */
export function readUfsSuperblock(head: Buffer): UfsSuperblock | undefined {
  for (const location of SUPERBLOCK_SEARCH) {
    if (head.length < location + 1376) continue;
    const magic = head.readUInt32LE(location + 1372);
    const sblockloc = Number(head.readBigInt64LE(location + 1000));
    const ufs2 = magic === UFS2_MAGIC && sblockloc === location;
    const ufs1 = magic === UFS1_MAGIC && location <= 8192;
    if (!ufs1 && !ufs2) continue;
    const fragmentSize = head.readInt32LE(location + 52);
    const frags = ufs2 ? Number(head.readBigInt64LE(location + 1080)) : head.readInt32LE(location + 36);
    return {
      location, version: ufs2 ? 2 : 1, sblockloc,
      blockSize: head.readInt32LE(location + 48), fragmentSize,
      cylinderGroups: head.readInt32LE(location + 44), sizeBytes: frags * fragmentSize,
    };
  }
  return undefined;
}

export async function readUfsSuperblockAt(file: string, offset: number): Promise<UfsSuperblock | undefined> {
  const handle = await open(file, "r");
  try {
    const head = Buffer.alloc(262144 + 8192);
    const { bytesRead } = await handle.read(head, 0, head.length, offset);
    return readUfsSuperblock(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/**
 * makefs numbers inode generations (di_gen) from random() in the order the
 * host lists directories, which differs between two copies of one tree,
 * for free inodes too. Give each initialized inode its own number instead:
 * unique, as NFS wants.
 */
async function pinInodeGenerations(image: string, sb: UfsSuperblock): Promise<void> {
  const handle = await open(image, "r+");
  try {
    const raw = Buffer.alloc(192);
    await handle.read(raw, 0, raw.length, sb.location);
    const [iblkno, ipg, fpg] = [raw.readInt32LE(16), raw.readInt32LE(184), raw.readInt32LE(188)];
    for (let cg = 0; cg < sb.cylinderGroups; cg++) {
      const offset = (cg * fpg + iblkno) * sb.fragmentSize;
      const table = Buffer.alloc(ipg * UFS2_INODE_SIZE);
      await handle.read(table, 0, table.length, offset);
      for (let i = 0; i < ipg; i++) {
        const at = i * UFS2_INODE_SIZE;
        if (table.readUInt16LE(at) !== 0 || table.readUInt32LE(at + 80) !== 0) table.writeUInt32LE(cg * ipg + i, at + 80);
      }
      await handle.write(table, 0, table.length, offset);
    }
  } finally {
    await handle.close();
  }
}

/** Copies the file system into place: sparse into files (after punching the range), whole onto devices. */
async function copyInto(image: string, device: string, part: Partition, isFile: boolean): Promise<void> {
  const dd = ["if=" + image, "of=" + device, "bs=1M", "oflag=seek_bytes", `seek=${part.offset}`, "status=none"];
  if (isFile) {
    const punched = await tool("fallocate", ["--punch-hole", "--offset", String(part.offset), "--length", String(part.size), device]).then(() => true, () => false);
    await tool("dd", [...dd, punched ? "conv=notrunc,sparse" : "conv=notrunc"]);
  } else await tool("dd", [...dd, "conv=notrunc,fsync"]);
}

/**
 * Writes a UFS2 file system of exactly `part.size` bytes, made from
 * `scratch/<treeName>` with `spec`, at `part.offset` of `device`.
 */
export async function writeUfs(device: string, part: Partition, scratch: string, treeName: string, spec: string, isFile: boolean): Promise<UfsSuperblock> {
  const image = join(scratch, "root.ufs");
  await writeFile(join(scratch, "root.mtree"), spec);
  try {
    // Relative names: makefs's allocations (and so the pointers it writes) must not depend on where scratch is.
    await tool(
      "setarch",
      [
        "-R", "makefs", "-t", "ffs", "-B", "little",
        "-o", `version=2,bsize=${BLOCK_SIZE},fsize=${FRAGMENT_SIZE},density=${DENSITY},minfree=${MINFREE}`,
        "-s", String(part.size), "-T", "1", "-F", "root.mtree", "root.ufs", treeName,
      ],
      { cwd: scratch },
    );
    const superblock = await readUfsSuperblockAt(image, 0);
    if (superblock?.version !== 2 || superblock.sizeBytes !== part.size) {
      throw new FruixError(`makefs did not make a UFS2 file system of ${part.size} bytes (found ${superblock ? `UFS${superblock.version} of ${superblock.sizeBytes} bytes` : "no superblock"})`);
    }
    await pinInodeGenerations(image, superblock);
    await copyInto(image, device, part, isFile);
    return superblock;
  } finally {
    await rm(image, { force: true });
  }
}
