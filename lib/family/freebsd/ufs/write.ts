// Writes a staged tree as a UFS2 file system into its partition's range of a
// disk (image file or device). Owners, modes and flags come from the sets'
// manifests; everything is planned first (lib/family/freebsd/ufs/plan.ts),
// so a tree that does not fit, or a name or file UFS2 cannot hold, is
// refused before the disk is opened.
import { open, readFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Partition } from "../../../disk/layout.js";
import type { ManifestEntry } from "../../../disk/mtree.js";
import { tool } from "../../../disk/tools.js";
import { BLOCK_SIZE } from "./geometry.js";
import { parseFileFlags } from "./inode.js";
import { planUfs, type PlannedFile, type UfsEntry, type UfsPlan } from "./plan.js";
import { walkTree, type TreeNode } from "./tree.js";

/** Times in the image: 1 s after the epoch, as the store's. */
export const PINNED_TIME = 1;
const BATCH_BYTES = 8 * 1024 * 1024;
const WHOLE_FILE_BYTES = 4 * 1024 * 1024;

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

/** Joins writes that follow each other into one (most data is laid out in order). */
class WriteBatch {
  private start = 0;
  private parts: Buffer[] = [];
  private length = 0;
  constructor(private readonly handle: FileHandle, private readonly base: number) {}

  async add(offset: number, data: Buffer): Promise<void> {
    if (this.parts.length > 0 && (offset !== this.start + this.length || this.length >= BATCH_BYTES)) await this.flush();
    if (this.parts.length === 0) this.start = offset;
    this.parts.push(data);
    this.length += data.length;
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const data = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    for (let done = 0; done < data.length; ) {
      done += (await this.handle.write(data, done, data.length - done, this.base + this.start + done)).bytesWritten;
    }
    this.parts = [];
    this.length = 0;
  }
}

async function copyFile(file: PlannedFile, root: string, plan: UfsPlan, batch: WriteBatch): Promise<void> {
  const { fsize, bsize } = plan.geometry;
  const host = join(root, file.path);
  const whole = file.size <= WHOLE_FILE_BYTES ? await readFile(host) : undefined;
  const handle = whole ? undefined : await open(host, "r");
  try {
    for (const block of file.blocks) {
      const data = Buffer.alloc(block.span);
      if (whole) whole.copy(data, 0, block.lbn * bsize, block.lbn * bsize + block.length);
      else await handle!.read(data, 0, block.length, block.lbn * bsize);
      await batch.add(block.addr * fsize, data);
    }
  } finally {
    await handle?.close();
  }
}

/** Empties the range first (so what the file system leaves unwritten reads as zeros, and the image stays sparse). */
async function punchRange(image: string, part: Partition): Promise<void> {
  await tool("fallocate", ["--punch-hole", "--offset", String(part.offset), "--length", String(part.size), image]).catch(() => undefined);
}

/** Writes a planned file system at `part.offset` of `device`, copying file contents from the tree at `root`. */
export async function writePlan(device: string, part: Partition, root: string, plan: UfsPlan, isFile: boolean): Promise<void> {
  if (isFile) await punchRange(device, part);
  const handle = await open(device, "r+");
  try {
    const batch = new WriteBatch(handle, part.offset);
    for (const file of plan.files) await copyFile(file, root, plan, batch);
    for (const write of plan.metadata) await batch.add(write.offset, write.data);
    await batch.flush();
    if (!isFile) await handle.sync();
  } finally {
    await handle.close();
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
