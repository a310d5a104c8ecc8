// A whole UFS2 file system, planned before a byte is written (pure): inode
// numbers, directory contents, every block's address, and the metadata
// (superblock and copies, cylinder groups, summaries, inode tables,
// directories, indirect blocks) as buffers at their offsets. File contents
// are left to the writer, as (file, logical block, address) triples.
//
// Same entries, same plan: inode numbers follow the entries' order, blocks
// are handed out in that order, and times, ids and generations are derived
// from the entries, never from the clock or a random source.
import { createHash } from "node:crypto";
import { FruixError } from "../../../errors.js";
import { formatSize } from "../../../disk/size.js";
import { Allocator, OutOfSpace } from "./allocator.js";
import { encodeCylinderGroup } from "./cylinder-group.js";
import { cgBase, DINODE_SIZE, NDADDR, NIADDR, ROOTINO, SBLOCK_UFS2, ufsGeometry, type GeometryOptions, type UfsGeometry } from "./geometry.js";
import { encodeDirectory, encodeInode, isShortLink, MAXNAMLEN, type DirEntry, type NodeType } from "./inode.js";
import { encodeRecovery, encodeSummaries, encodeSuperblock, type Counts } from "./superblock.js";

/** One name in the tree, as it must appear on the file system. */
export interface UfsEntry {
  readonly path: string; // "." for the top, else relative ("usr/bin/su")
  readonly type: NodeType;
  readonly mode: number; // 07777
  readonly uid: number;
  readonly gid: number;
  readonly flags: number; // di_flags
  readonly size: number; // files: bytes of content
  readonly link?: string; // symlinks: the target
  /** Files with the same key are one inode (hard links); the first entry's attributes count. */
  readonly inode?: string;
  /** Logical blocks of a file that are all zeros: left as holes. */
  readonly holes?: ReadonlySet<number>;
}

/** A file's data block: copy `length` bytes from `lbn * bsize` of the file to fragment `addr`. */
export interface DataBlock {
  readonly lbn: number;
  readonly addr: number;
  readonly length: number; // the bytes to copy
  readonly span: number; // the bytes allocated (a block, or a fragment run): the rest is zeros
}

export interface PlannedFile {
  readonly ino: number;
  readonly path: string; // the first name
  readonly size: number;
  readonly blocks: readonly DataBlock[];
}

export interface PlannedWrite {
  readonly offset: number; // bytes from the file system's start
  readonly data: Buffer;
}

export interface UfsPlan {
  readonly geometry: UfsGeometry;
  readonly inodes: number; // allocated, the two reserved ones included
  readonly files: readonly PlannedFile[];
  readonly metadata: readonly PlannedWrite[]; // sorted by offset
  readonly freeBytes: number;
}

export interface PlanOptions extends GeometryOptions {
  /** Seconds since the epoch for every inode, group and the superblock. */
  readonly time: number;
}

interface Inode {
  readonly ino: number;
  readonly entry: UfsEntry;
  nlink: number;
  data?: Buffer; // directories and long symlinks: content made here
  direct: number[];
  indirect: number[];
  sectors: number;
  blocks: DataBlock[];
}

const parentOf = (path: string) => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".");
const nameOf = (path: string) => path.slice(path.lastIndexOf("/") + 1);

/** A fixed 32-bit mix (pure), so generation numbers and the id need no random source. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  return (x ^ (x >>> 16)) >>> 0;
}

function checkEntries(entries: readonly UfsEntry[], g: UfsGeometry): void {
  if (entries[0]?.path !== "." || entries[0].type !== "dir") throw new FruixError("UFS2 tree: the first entry must be the top directory '.'");
  const dirs = new Set<string>();
  for (const e of entries) {
    if (e.path !== ".") {
      const name = Buffer.byteLength(nameOf(e.path));
      if (name > MAXNAMLEN) throw new FruixError(`${e.path}: the name is ${name} bytes long; UFS2 allows ${MAXNAMLEN}`);
      if (!dirs.has(parentOf(e.path))) throw new FruixError(`${e.path}: its directory ${parentOf(e.path)} comes later or is not a directory`);
    }
    if (e.type === "dir") dirs.add(e.path);
    if (e.type === "file" && BigInt(e.size) > g.maxfilesize) {
      throw new FruixError(`${e.path}: ${e.size} bytes is more than a UFS2 file can hold with ${g.bsize / 1024} KiB blocks (${g.maxfilesize})`);
    }
  }
}

/** The inodes: numbers in entry order from the root's (2), hard links sharing one, with their link counts. */
function numberInodes(entries: readonly UfsEntry[]): { inodes: Inode[]; inoOf: Map<string, number> } {
  const inodes: Inode[] = [];
  const byKey = new Map<string, Inode>();
  const inoOf = new Map<string, number>();
  for (const entry of entries) {
    const key = entry.type === "file" && entry.inode !== undefined ? `i:${entry.inode}` : `p:${entry.path}`;
    let inode = byKey.get(key);
    if (!inode) {
      inode = { ino: ROOTINO + inodes.length, entry, nlink: entry.type === "dir" ? 2 : 0, direct: [], indirect: [], sectors: 0, blocks: [] };
      inodes.push(inode);
      byKey.set(key, inode);
    }
    if (entry.type !== "dir") inode.nlink++;
    else if (entry.path !== ".") inodes[inoOf.get(parentOf(entry.path))! - ROOTINO]!.nlink++;
    inoOf.set(entry.path, inode.ino);
  }
  return { inodes, inoOf };
}

function directoryContents(entries: readonly UfsEntry[], inoOf: Map<string, number>): Map<string, Buffer> {
  const listed = new Map<string, DirEntry[]>();
  for (const e of entries) {
    if (e.type === "dir") {
      const self = inoOf.get(e.path)!;
      listed.set(e.path, [
        { name: Buffer.from("."), ino: self, type: "dir" },
        { name: Buffer.from(".."), ino: e.path === "." ? self : inoOf.get(parentOf(e.path))!, type: "dir" },
      ]);
    }
    if (e.path !== ".") listed.get(parentOf(e.path))!.push({ name: Buffer.from(nameOf(e.path)), ino: inoOf.get(e.path)!, type: e.type });
  }
  return new Map([...listed].map(([path, list]) => [path, encodeDirectory(list)]));
}

/** Bytes stored in data blocks: files, directories and symlinks too long for the inode. */
function dataSize(inode: Inode): number {
  return inode.data ? inode.data.length : inode.entry.type === "file" ? inode.entry.size : 0;
}

/** Logical blocks that hold data, and the fragments of the last one when it may be short (below NDADDR). */
function dataLayout(inode: Inode, g: UfsGeometry): { lbns: number[]; tailFrags: number } {
  const size = dataSize(inode);
  const nblocks = Math.ceil(size / g.bsize);
  const lbns: number[] = [];
  for (let lbn = 0; lbn < nblocks; lbn++) if (lbn === nblocks - 1 || !inode.entry.holes?.has(lbn)) lbns.push(lbn);
  const tailFrags = nblocks > 0 && nblocks <= NDADDR ? Math.ceil((size - (nblocks - 1) * g.bsize) / g.fsize) : g.frag;
  return { lbns, tailFrags };
}

/** Fragments a file needs, indirect blocks included (to say how much a tree needs before allocating). */
function fragmentsNeeded(inode: Inode, g: UfsGeometry): number {
  const { lbns, tailFrags } = dataLayout(inode, g);
  if (lbns.length === 0) return 0;
  let frags = (lbns.length - 1) * g.frag + tailFrags;
  let first = NDADDR;
  for (let level = 1, span = g.nindir; level <= NIADDR; level++, span *= g.nindir) {
    const inRange = lbns.filter((l) => l >= first && l < first + span).map((l) => l - first);
    for (let sub = span; sub >= g.nindir; sub /= g.nindir) frags += new Set(inRange.map((l) => Math.floor(l / sub))).size * g.frag;
    first += span;
  }
  return frags;
}

/** Gives the inode its blocks: direct ones, then each indirect block before the blocks it maps. */
function allocate(inode: Inode, g: UfsGeometry, alloc: Allocator, indirectBlocks: PlannedWrite[]): void {
  const { lbns, tailFrags } = dataLayout(inode, g);
  const size = dataSize(inode);
  const last = Math.ceil(size / g.bsize) - 1;
  const lengthOf = (lbn: number) => Math.min(g.bsize, size - lbn * g.bsize);
  const dataBlock = (lbn: number): number => {
    const frags = lbn === last ? tailFrags : g.frag;
    const addr = frags === g.frag ? alloc.block() : alloc.fragments(frags);
    inode.sectors += frags << g.fsbtodb;
    inode.blocks.push({ lbn, addr, length: lengthOf(lbn), span: frags * g.fsize });
    return addr;
  };
  // `lbnsHere` are in [first, first + nindir^level): one indirect block maps them.
  const indirect = (level: number, first: number, lbnsHere: number[]): number => {
    const addr = alloc.block();
    inode.sectors += g.frag << g.fsbtodb;
    const pointers = Buffer.alloc(g.bsize);
    const span = g.nindir ** (level - 1);
    for (let k = 0; k < lbnsHere.length; ) {
      const slot = Math.floor((lbnsHere[k]! - first) / span);
      let end = k;
      while (end < lbnsHere.length && Math.floor((lbnsHere[end]! - first) / span) === slot) end++;
      const child = level === 1 ? dataBlock(lbnsHere[k]!) : indirect(level - 1, first + slot * span, lbnsHere.slice(k, end));
      pointers.writeBigInt64LE(BigInt(child), slot * 8);
      k = end;
    }
    indirectBlocks.push({ offset: addr * g.fsize, data: pointers });
    return addr;
  };

  inode.direct = new Array<number>(NDADDR).fill(0);
  inode.indirect = new Array<number>(NIADDR).fill(0);
  for (const lbn of lbns) if (lbn < NDADDR) inode.direct[lbn] = dataBlock(lbn);
  let first = NDADDR;
  for (let level = 1, span = g.nindir; level <= NIADDR; level++, span *= g.nindir) {
    const here = lbns.filter((l) => l >= first && l < first + span);
    if (here.length > 0) inode.indirect[level - 1] = indirect(level, first, here);
    first += span;
  }
}

function treeId(entries: readonly UfsEntry[]): number {
  const hash = createHash("sha256");
  for (const e of entries) hash.update(`${e.path}\0${e.type}\0${e.mode}\0${e.uid}\0${e.gid}\0${e.flags}\0${e.size}\0${e.link ?? ""}\n`);
  return hash.digest().readUInt32LE(0);
}

export function planUfs(entries: readonly UfsEntry[], sizeBytes: number, options: PlanOptions): UfsPlan {
  const g = ufsGeometry(sizeBytes, options);
  checkEntries(entries, g);
  const { inodes, inoOf } = numberInodes(entries);
  const capacity = g.ncg * g.ipg;
  if (inodes.length + ROOTINO > capacity) {
    throw new FruixError(`the tree needs ${inodes.length + ROOTINO} inodes; a ${formatSize(sizeBytes)} UFS2 file system has ${capacity}`);
  }
  const directories = directoryContents(entries, inoOf);
  for (const inode of inodes) {
    const e = inode.entry;
    if (e.type === "dir") inode.data = directories.get(e.path)!;
    else if (e.type === "link" && !isShortLink(Buffer.from(e.link!))) inode.data = Buffer.from(e.link!);
  }

  const alloc = new Allocator(g);
  const needed = inodes.reduce((sum, inode) => sum + fragmentsNeeded(inode, g), 0);
  const free = alloc.freeFragments;
  // Small files' last fragments may not pack perfectly, so allocation itself can still run out.
  const noRoom = () => new FruixError(`the tree needs ${formatSize(needed * g.fsize)} of data blocks; a ${formatSize(sizeBytes)} UFS2 file system has ${formatSize(free * g.fsize)} free for data`);
  if (needed > free) throw noRoom();
  const metadata: PlannedWrite[] = [];
  try {
    for (const inode of inodes) allocate(inode, g, alloc, metadata);
  } catch (error) {
    if (error instanceof OutOfSpace) throw noRoom();
    throw error;
  }

  const id = treeId(entries);
  // Inode tables: each group's used inodes, and zeros up to cg_initediblk (at least two blocks, as newfs).
  const perGroup = Array.from({ length: g.ncg }, () => ({ used: [] as number[], directories: 0 }));
  perGroup[0]!.used.push(0, 1); // never allocated (UFS_ROOTINO is 2)
  for (const inode of inodes) {
    const group = perGroup[Math.floor(inode.ino / g.ipg)]!;
    group.used.push(inode.ino % g.ipg);
    if (inode.entry.type === "dir") group.directories++;
  }
  const groups: Counts[] = [];
  perGroup.forEach((group, cg) => {
    const highest = group.used.reduce((a, b) => Math.max(a, b), -1);
    const initialized = Math.min(g.ipg, Math.max(2 * g.inopb, Math.ceil((highest + 1) / g.inopb) * g.inopb));
    const table = Buffer.alloc(initialized * DINODE_SIZE);
    for (const index of group.used) {
      const ino = cg * g.ipg + index;
      if (ino < ROOTINO) continue;
      const inode = inodes[ino - ROOTINO]!;
      const e = inode.entry;
      encodeInode(
        {
          type: e.type, mode: e.mode, nlink: inode.nlink, uid: e.uid, gid: e.gid,
          size: e.type === "link" ? Buffer.byteLength(e.link!) : dataSize(inode),
          blocks: inode.sectors, time: options.time, gen: mix32(id ^ ino) || 1, flags: e.flags,
          direct: inode.direct, indirect: inode.indirect,
          ...(e.type === "link" && !inode.data ? { shortLink: Buffer.from(e.link!) } : {}),
        },
        table,
        index * DINODE_SIZE,
      );
    }
    metadata.push({ offset: (cgBase(g, cg) + g.iblkno) * g.fsize, data: table });
    const { block, counts } = encodeCylinderGroup(g, cg, alloc.used, { ...group, initialized }, options.time);
    metadata.push({ offset: (cgBase(g, cg) + g.cblkno) * g.fsize, data: block });
    groups.push(counts);
  });
  for (const inode of inodes) {
    if (!inode.data) continue;
    for (const b of inode.blocks) {
      const data = Buffer.alloc(b.span);
      inode.data.copy(data, 0, b.lbn * g.bsize, b.lbn * g.bsize + b.length);
      metadata.push({ offset: b.addr * g.fsize, data });
    }
  }

  const totals = groups.reduce((t, c) => ({ ndir: t.ndir + c.ndir, nbfree: t.nbfree + c.nbfree, nifree: t.nifree + c.nifree, nffree: t.nffree + c.nffree }));
  const superblock = encodeSuperblock(g, { time: options.time, id: [options.time, id], totals, numclusters: 0 });
  // The boot area is zeroed (no stale signatures), with the recovery record just before the superblock.
  const head = Buffer.alloc(g.sblkno * g.fsize);
  const recovery = encodeRecovery(g);
  recovery.copy(head, SBLOCK_UFS2 - recovery.length);
  superblock.copy(head, SBLOCK_UFS2);
  metadata.push({ offset: 0, data: head });
  for (let cg = 0; cg < g.ncg; cg++) {
    const copy = Buffer.alloc((g.cblkno - g.sblkno) * g.fsize);
    superblock.copy(copy);
    metadata.push({ offset: (cgBase(g, cg) + g.sblkno) * g.fsize, data: copy });
  }
  metadata.push({ offset: g.csaddr * g.fsize, data: encodeSummaries(g, groups) });
  metadata.sort((a, b) => a.offset - b.offset);

  const files = inodes
    .filter((inode) => inode.entry.type === "file")
    .map((inode) => ({ ino: inode.ino, path: inode.entry.path, size: inode.entry.size, blocks: inode.blocks }));
  return { geometry: g, inodes: inodes.length + ROOTINO, files, metadata, freeBytes: (totals.nbfree * g.frag + totals.nffree) * g.fsize };
}
