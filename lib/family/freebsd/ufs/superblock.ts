// struct fs on disk (pure): the superblock Fruix writes, and the search
// FreeBSD's ffs_sbget makes to find one. Offsets are those of
// sys/ufs/ffs/fs.h on a 64-bit machine (sizeof(struct fs) == 1376).
import { CSUM_SIZE, MAXSYMLINKLEN, SBLOCK_UFS2, SUPERBLOCK_STRUCT_SIZE, type UfsGeometry } from "./geometry.js";

export const UFS1_MAGIC = 0x011954;
export const UFS2_MAGIC = 0x19540119;
const FS_FLAGS_UPDATED = 0x80;
const FS_44INODEFMT = 2;
const FS_CLEAN = 1;
const AVFILESIZ = 16384;
const AFPDIR = 64;

/** The counts struct csum_total and each group's struct csum keep. */
export interface Counts {
  ndir: number;
  nbfree: number;
  nifree: number;
  nffree: number;
}

export interface SuperblockFields {
  readonly time: number; // fs_time, seconds
  readonly id: readonly [number, number]; // fs_id
  readonly totals: Counts;
  readonly numclusters: number;
}

/** Offsets in struct fs (fs.h). */
export const FS = {
  sblkno: 8, cblkno: 12, iblkno: 16, dblkno: 20, ncg: 44, bsize: 48, fsize: 52, frag: 56, minfree: 60,
  bmask: 72, fmask: 76, bshift: 80, fshift: 84, maxcontig: 88, maxbpg: 92, fragshift: 96, fsbtodb: 100, sbsize: 104,
  nindir: 116, inopb: 120, optim: 128, id: 144, cssize: 156, cgsize: 160, ipg: 184, fpg: 188,
  fmod: 208, clean: 209, ronly: 210, oldFlags: 211, maxbsize: 860, providersize: 872, metaspace: 880,
  sblockactualloc: 992, sblockloc: 1000, cstotal: 1008, time: 1072, size: 1080, dsize: 1088, csaddr: 1096,
  avgfilesize: 1196, avgfpdir: 1200, ckhash: 1304, metackhash: 1308, flags: 1312, contigsumsize: 1316,
  maxsymlinklen: 1320, inodefmt: 1324, maxfilesize: 1328, qbmask: 1336, qfmask: 1344, magic: 1372,
} as const;

/** fs_dsize: fragments left for data once every group's metadata and the summaries are counted. */
export function dataFragments(g: UfsGeometry): number {
  return g.size - g.sblkno - g.ncg * (g.dblkno - g.sblkno) - Math.ceil(g.cssize / g.fsize);
}

/** The superblock, fs_sbsize (one fragment) long: clean, no soft updates, no journal, no check hashes. */
export function encodeSuperblock(g: UfsGeometry, f: SuperblockFields): Buffer {
  const sb = Buffer.alloc(Math.ceil(SUPERBLOCK_STRUCT_SIZE / g.fsize) * g.fsize);
  const i32 = (at: number, v: number) => sb.writeInt32LE(v, at);
  const i64 = (at: number, v: number | bigint) => sb.writeBigInt64LE(BigInt(v), at);
  i32(FS.sblkno, g.sblkno);
  i32(FS.cblkno, g.cblkno);
  i32(FS.iblkno, g.iblkno);
  i32(FS.dblkno, g.dblkno);
  sb.writeUInt32LE(g.ncg, FS.ncg);
  i32(FS.bsize, g.bsize);
  i32(FS.fsize, g.fsize);
  i32(FS.frag, g.frag);
  i32(FS.minfree, g.minfree);
  i32(FS.bmask, ~(g.bsize - 1));
  i32(FS.fmask, ~(g.fsize - 1));
  i32(FS.bshift, Math.log2(g.bsize));
  i32(FS.fshift, Math.log2(g.fsize));
  i32(FS.maxcontig, g.maxcontig);
  i32(FS.maxbpg, g.bsize / 8); // newfs's MAXBLKPG
  i32(FS.fragshift, g.fragshift);
  i32(FS.fsbtodb, g.fsbtodb);
  i32(FS.sbsize, sb.length);
  i32(FS.nindir, g.nindir);
  sb.writeUInt32LE(g.inopb, FS.inopb);
  i32(FS.optim, 0); // FS_OPTTIME
  sb.writeUInt32LE(f.id[0] >>> 0, FS.id);
  sb.writeUInt32LE(f.id[1] >>> 0, FS.id + 4);
  i32(FS.cssize, g.cssize);
  i32(FS.cgsize, g.cgsize);
  sb.writeUInt32LE(g.ipg, FS.ipg);
  i32(FS.fpg, g.fpg);
  sb[FS.clean] = FS_CLEAN;
  sb[FS.oldFlags] = FS_FLAGS_UPDATED;
  i32(FS.maxbsize, g.bsize);
  i64(FS.providersize, g.size);
  i64(FS.sblockactualloc, SBLOCK_UFS2);
  i64(FS.sblockloc, SBLOCK_UFS2);
  const t = f.totals;
  [t.ndir, t.nbfree, t.nifree, t.nffree, f.numclusters].forEach((v, k) => i64(FS.cstotal + 8 * k, v));
  i64(FS.time, f.time);
  i64(FS.size, g.size);
  i64(FS.dsize, dataFragments(g));
  i64(FS.csaddr, g.csaddr);
  sb.writeUInt32LE(AVFILESIZ, FS.avgfilesize);
  sb.writeUInt32LE(AFPDIR, FS.avgfpdir);
  i32(FS.contigsumsize, g.contigsumsize);
  i32(FS.maxsymlinklen, MAXSYMLINKLEN);
  i32(FS.inodefmt, FS_44INODEFMT);
  sb.writeBigUInt64LE(g.maxfilesize, FS.maxfilesize);
  i64(FS.qbmask, g.bsize - 1);
  i64(FS.qfmask, g.fsize - 1);
  sb.writeUInt32LE(UFS2_MAGIC, FS.magic);
  return sb;
}

/**
 * struct fsrecovery, which newfs leaves in the last bytes before the
 * superblock so fsck can find the backups when the superblock is lost.
 */
export function encodeRecovery(g: UfsGeometry): Buffer {
  const r = Buffer.alloc(20);
  r.writeInt32LE(UFS2_MAGIC, 0);
  r.writeInt32LE(g.fsbtodb, 4);
  r.writeInt32LE(g.sblkno, 8);
  r.writeInt32LE(g.fpg, 12);
  r.writeUInt32LE(g.ncg, 16);
  return r;
}

/** The cylinder-group summaries, one struct csum per group, fs_cssize long. */
export function encodeSummaries(g: UfsGeometry, groups: readonly Counts[]): Buffer {
  const cs = Buffer.alloc(g.cssize);
  groups.forEach((c, k) => [c.ndir, c.nbfree, c.nifree, c.nffree].forEach((v, j) => cs.writeInt32LE(v, k * CSUM_SIZE + 4 * j)));
  return cs;
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

/** FreeBSD's SBLOCKSEARCH order. */
export const SUPERBLOCK_SEARCH = [SBLOCK_UFS2, 8192, 0, 262144];

/**
 * Finds the superblock the way FreeBSD's ffs_sbget does (pure): UFS2 only
 * where its fs_sblockloc says it is, UFS1 only at or below 8 KiB.
 * `head` is the start of the file system (at least 270336 bytes for every location).
 */
export function readUfsSuperblock(head: Buffer): UfsSuperblock | undefined {
  for (const location of SUPERBLOCK_SEARCH) {
    if (head.length < location + SUPERBLOCK_STRUCT_SIZE) continue;
    const magic = head.readUInt32LE(location + FS.magic);
    const sblockloc = Number(head.readBigInt64LE(location + FS.sblockloc));
    const ufs2 = magic === UFS2_MAGIC && sblockloc === location;
    const ufs1 = magic === UFS1_MAGIC && location <= 8192;
    if (!ufs1 && !ufs2) continue;
    const fragmentSize = head.readInt32LE(location + FS.fsize);
    const frags = ufs2 ? Number(head.readBigInt64LE(location + FS.size)) : head.readInt32LE(location + 36);
    return {
      location, version: ufs2 ? 2 : 1, sblockloc,
      blockSize: head.readInt32LE(location + FS.bsize), fragmentSize,
      cylinderGroups: head.readInt32LE(location + FS.ncg), sizeBytes: frags * fragmentSize,
    };
  }
  return undefined;
}
