// A cylinder group block (pure): struct cg (sys/ufs/ffs/fs.h) with its used
// inode map, free fragment map, cluster counts and cluster map, laid out as
// newfs lays them out and counted from the file system's map of used
// fragments, the way fsck_ffs's pass 5 recounts them.
import { CG_STRUCT_SIZE, cgBase, cgFrags, type UfsGeometry } from "./geometry.js";
import type { Counts } from "./superblock.js";

const CG_MAGIC = 0x090255;

/** Offsets in struct cg. */
export const CG = {
  magic: 4, cgx: 12, ndblk: 20, cs: 24, frsum: 52, iusedoff: 92, freeoff: 96, nextfreeoff: 100,
  clustersumoff: 104, clusteroff: 108, nclusterblks: 112, niblk: 116, initediblk: 120, time: 136,
} as const;

export interface CgMapOffsets {
  readonly iusedoff: number;
  readonly freeoff: number;
  readonly clustersumoff: number;
  readonly clusteroff: number;
  readonly nextfreeoff: number;
}

export function cgMapOffsets(g: UfsGeometry): CgMapOffsets {
  const iusedoff = CG_STRUCT_SIZE;
  const freeoff = iusedoff + Math.ceil(g.ipg / 8);
  if (g.contigsumsize <= 0) return { iusedoff, freeoff, clustersumoff: 0, clusteroff: 0, nextfreeoff: freeoff + Math.ceil(g.fpg / 8) };
  // The cluster counts start one int32 early: index 0 is never used.
  const clustersumoff = Math.ceil((freeoff + Math.ceil(g.fpg / 8) - 4) / 4) * 4;
  const clusteroff = clustersumoff + (g.contigsumsize + 1) * 4;
  return { iusedoff, freeoff, clustersumoff, clusteroff, nextfreeoff: clusteroff + Math.ceil(g.fpg / g.frag / 8) };
}

export interface CgInodes {
  readonly used: readonly number[]; // indexes in the group
  readonly directories: number;
  readonly initialized: number; // cg_initediblk
}

/** The group's block (one file-system block, zero-padded) and its counts. */
export function encodeCylinderGroup(g: UfsGeometry, cg: number, usedFrags: Uint8Array, inodes: CgInodes, time: number): { block: Buffer; counts: Counts } {
  const block = Buffer.alloc(g.bsize);
  const off = cgMapOffsets(g);
  const base = cgBase(g, cg);
  const ndblk = cgFrags(g, cg);
  const counts: Counts = { ndir: inodes.directories, nbfree: 0, nifree: g.ipg - inodes.used.length, nffree: 0 };
  const frsum = new Array<number>(g.frag).fill(0);
  const clusterRuns = new Array<number>(g.contigsumsize + 1).fill(0);
  let run = 0;
  const endRun = () => {
    if (run > 0) clusterRuns[Math.min(run, g.contigsumsize)]!++;
    run = 0;
  };

  for (const i of inodes.used) block[off.iusedoff + (i >> 3)]! |= 1 << (i & 7);
  for (let b = 0; b * g.frag < ndblk; b++) {
    let free = 0;
    let fragRun = 0;
    for (let f = b * g.frag; f < (b + 1) * g.frag; f++) {
      const isFree = f < ndblk && usedFrags[base + f] === 0;
      if (isFree) {
        block[off.freeoff + (f >> 3)]! |= 1 << (f & 7);
        free++;
        fragRun++;
      }
      if (!isFree || f === (b + 1) * g.frag - 1) {
        if (fragRun > 0 && fragRun < g.frag) frsum[fragRun]!++;
        fragRun = 0;
      }
    }
    if (free === g.frag) {
      counts.nbfree++;
      if (g.contigsumsize > 0) block[off.clusteroff + (b >> 3)]! |= 1 << (b & 7);
      run++;
    } else {
      counts.nffree += free;
      endRun();
    }
  }
  endRun();

  block.writeInt32LE(CG_MAGIC, CG.magic);
  block.writeUInt32LE(cg, CG.cgx);
  block.writeUInt32LE(ndblk, CG.ndblk);
  [counts.ndir, counts.nbfree, counts.nifree, counts.nffree].forEach((v, k) => block.writeInt32LE(v, CG.cs + 4 * k));
  frsum.forEach((v, k) => block.writeUInt32LE(v, CG.frsum + 4 * k));
  block.writeUInt32LE(off.iusedoff, CG.iusedoff);
  block.writeUInt32LE(off.freeoff, CG.freeoff);
  block.writeUInt32LE(off.nextfreeoff, CG.nextfreeoff);
  if (g.contigsumsize > 0) {
    block.writeUInt32LE(off.clustersumoff, CG.clustersumoff);
    block.writeUInt32LE(off.clusteroff, CG.clusteroff);
    block.writeUInt32LE(ndblk >> g.fragshift, CG.nclusterblks);
    for (let k = 1; k <= g.contigsumsize; k++) block.writeInt32LE(clusterRuns[k]!, off.clustersumoff + 4 * k);
  }
  block.writeUInt32LE(g.ipg, CG.niblk);
  block.writeUInt32LE(inodes.initialized, CG.initediblk);
  block.writeBigInt64LE(BigInt(time), CG.time);
  return { block, counts };
}
