// Writes a staged tree as a UFS2 file system into its partition's range of a
// disk (image file or device). Owners, modes and flags come from the sets'
// manifests; everything is planned first (lib/family/freebsd/ufs/plan.ts),
// so a tree that does not fit, or a name or file UFS2 cannot hold, is
// refused before the disk is opened.
import { closeSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import type { Partition } from "../../../disk/layout.js";
import type { ManifestEntry } from "../../../disk/mtree.js";
import { tool } from "../../../disk/tools.js";
import { FruixError } from "../../../errors.js";
import { BLOCK_SIZE } from "./geometry.js";
import { parseFileFlags } from "./inode.js";
import { planUfs, type PlannedFile, type UfsEntry, type UfsPlan } from "./plan.js";
import { walkTree, type TreeNode } from "./tree.js";

/** Times in the image: 1 s after the epoch, as the store's. */
export const PINNED_TIME = 1;
const BATCH_BYTES = 8 * 1024 * 1024;
/** Metadata larger than this (inode tables of big trees) is written on its own, not copied into the batch. */
const DIRECT_BYTES = 1024 * 1024;

/** The owner, mode and flags a node gets: the manifest's entry when it has one of the same type, else root:wheel and the staged mode. */
export type Attributes = (node: TreeNode) => ManifestEntry | undefined;

/** Blocks of a sparse file that hold only zeros (read only for files the host stores sparsely). */
async function zeroBlocks(file: string, node: TreeNode, bsize: number): Promise<Set<number>> {
  const holes = new Set<number>();
  if (node.type !== "file" || node.allocated >= node.size) return holes;
  const handle = await open(file, "r");
  try {
    const block = Buffer.alloc(bsize);
    for (let lbn = 0; lbn * bsize < node.size; lbn++) {
      const { bytesRead } = await handle.read(block, 0, bsize, lbn * bsize);
      if (block.subarray(0, bytesRead).every((b) => b === 0)) holes.add(lbn);
    }
  } finally {
    await handle.close();
  }
  return holes;
}

/**
 * A node as the file system must show it (pure): the manifest's owner, mode
 * and flags when it has an entry of the same type, else root:wheel and the
 * staged mode. A host hard link stays one inode only where both names want
 * the same owner, mode and flags.
 */
export function ufsEntry(node: TreeNode, given: ManifestEntry | undefined, holes?: ReadonlySet<number>): UfsEntry {
  const a = given && given.type === node.type ? given : { mode: node.mode, uid: 0, gid: 0, flags: undefined };
  const flags = parseFileFlags(a.flags, node.path);
  return {
    path: node.path, type: node.type, mode: a.mode, uid: a.uid, gid: a.gid, flags, size: node.size,
    ...(node.link !== undefined ? { link: node.link } : {}),
    ...(node.type === "file" ? { inode: `${node.ino}:${a.mode}:${a.uid}:${a.gid}:${flags}` } : {}),
    ...(holes && holes.size > 0 ? { holes } : {}),
  };
}

/** The writer's view of the tree at `root` (reads only sparse files, for their holes). */
export async function ufsEntries(root: string, attributes: Attributes, bsize: number): Promise<UfsEntry[]> {
  const entries: UfsEntry[] = [];
  for (const node of await walkTree(root)) entries.push(ufsEntry(node, attributes(node), await zeroBlocks(join(root, node.path), node, bsize)));
  return entries;
}

/**
 * Lays writes that follow each other into one buffer and writes it whole
 * (most data is laid out in order). File contents are read straight into
 * it. Synchronous calls, for the same reason as the walk; the event loop
 * gets a turn after each flush, so Ctrl-C is still heard.
 */
class WriteBatch {
  private readonly buffer = Buffer.alloc(BATCH_BYTES);
  private start = 0;
  private used = 0;
  constructor(private readonly fd: number, private readonly base: number) {}

  /** A zeroed slice of `length` bytes that will land at `offset` of the file system. */
  async slice(offset: number, length: number): Promise<Buffer> {
    if (this.used > 0 && (offset !== this.start + this.used || this.used + length > this.buffer.length)) await this.flush();
    if (this.used === 0) this.start = offset;
    const slice = this.buffer.subarray(this.used, this.used + length);
    this.used += length;
    return slice;
  }

  /** Metadata: copied in, or written on its own when it is too big to batch (a large inode table). */
  async put(offset: number, data: Buffer): Promise<void> {
    if (data.length <= DIRECT_BYTES) {
      data.copy(await this.slice(offset, data.length));
      return;
    }
    await this.flush();
    for (let done = 0; done < data.length; ) done += writeSync(this.fd, data, done, data.length - done, this.base + offset + done);
  }

  async flush(): Promise<void> {
    for (let done = 0; done < this.used; ) done += writeSync(this.fd, this.buffer, done, this.used - done, this.base + this.start + done);
    this.buffer.fill(0, 0, this.used);
    this.used = 0;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function copyFile(file: PlannedFile, root: string, plan: UfsPlan, batch: WriteBatch): Promise<void> {
  const fd = openSync(join(root, file.path), "r");
  try {
    for (const block of file.blocks) {
      const into = await batch.slice(block.addr * plan.geometry.fsize, block.span);
      for (let done = 0; done < block.length; ) {
        const read = readSync(fd, into, done, block.length - done, block.lbn * plan.geometry.bsize + done);
        if (read === 0) throw new FruixError(`${join(root, file.path)}: shorter than when it was planned (it changed while the image was written)`);
        done += read;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Empties the range first (so what the file system leaves unwritten reads as zeros, and the image stays sparse). */
async function punchRange(image: string, part: Partition): Promise<void> {
  await tool("fallocate", ["--punch-hole", "--offset", String(part.offset), "--length", String(part.size), image]).catch(() => undefined);
}

/** Writes a planned file system at `part.offset` of `device`, copying file contents from the tree at `root`. */
export async function writePlan(device: string, part: Partition, root: string, plan: UfsPlan, isFile: boolean): Promise<void> {
  if (isFile) await punchRange(device, part);
  const fd = openSync(device, "r+");
  try {
    const batch = new WriteBatch(fd, part.offset);
    for (const file of plan.files) await copyFile(file, root, plan, batch);
    for (const write of plan.metadata) await batch.put(write.offset, write.data);
    await batch.flush();
    if (!isFile) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a UFS2 file system of exactly `part.size` bytes, made from the tree
 * at `root`, at `part.offset` of `device`. Nothing is written when the tree
 * cannot be planned.
 */
export async function writeUfs(device: string, part: Partition, root: string, attributes: Attributes, isFile: boolean): Promise<UfsPlan> {
  const plan = planUfs(await ufsEntries(root, attributes, BLOCK_SIZE), part.size, { time: PINNED_TIME });
  await writePlan(device, part, root, plan, isFile);
  return plan;
}
