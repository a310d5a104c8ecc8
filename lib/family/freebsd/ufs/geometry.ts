// The shape of a UFS2 file system of a given size (pure): block and fragment
// sizes, cylinder groups, where each group keeps its superblock copy, map and
// inodes. The rules are FreeBSD's (sys/ufs/ffs/fs.h, and how newfs and
// makefs size a cylinder group); the numbers are the ones Fruix has always
// used for a root: 32 KiB blocks, 4 KiB fragments, an inode per 8 KiB.
import { FruixError } from "../../../errors.js";
import { formatSize } from "../../../disk/size.js";

export const BLOCK_SIZE = 32768;
export const FRAGMENT_SIZE = 4096;
export const DENSITY = 8192;
export const MINFREE = 8;
/** newfs on FreeBSD 14 and later: maxphys (1 MiB) / block size. */
export const MAX_CONTIG = 32;

export const SECTOR_SIZE = 512;
export const SBLOCK_UFS2 = 65536;
export const SBLOCKSIZE = 8192;
export const SUPERBLOCK_STRUCT_SIZE = 1376; // sizeof(struct fs)
export const CG_STRUCT_SIZE = 168; // sizeof(struct cg)
export const DINODE_SIZE = 256; // sizeof(struct ufs2_dinode)
export const CSUM_SIZE = 16; // sizeof(struct csum)
export const NDADDR = 12;
export const NIADDR = 3;
export const MAXSYMLINKLEN = (NDADDR + NIADDR) * 8;
export const ROOTINO = 2;
export const FS_MAXCONTIG = 16;
/** makefs and newfs keep each cylinder group 8 bytes short of a block, for older readers of struct cg. */
const CGSIZE_FUDGE = 8;

export interface UfsGeometry {
  readonly bsize: number;
  readonly fsize: number;
  readonly frag: number; // fragments per block
  readonly fragshift: number;
  readonly fsbtodb: number; // fragment -> 512-byte sector shift
  readonly size: number; // fragments in the file system
  readonly ncg: number;
  readonly fpg: number; // fragments per group
  readonly ipg: number; // inodes per group
  readonly inopb: number; // inodes per block
  readonly nindir: number; // block pointers per indirect block
  readonly sblkno: number; // superblock copy, fragments from the group's start
  readonly cblkno: number; // cylinder group block
  readonly iblkno: number; // first inode block
  readonly dblkno: number; // first data fragment
  readonly cgsize: number; // bytes of struct cg and its maps, fragment-rounded
  readonly csaddr: number; // fragment of the cylinder-group summaries (group 0's data)
  readonly cssize: number;
  readonly contigsumsize: number;
  readonly maxcontig: number;
  readonly minfree: number;
  readonly maxfilesize: bigint;
}

export interface GeometryOptions {
  /** A smaller cylinder group than FreeBSD would choose (newfs -c): lets tests reach several groups cheaply. */
  readonly maxFragsPerGroup?: number;
}

const roundUp = (n: number, unit: number) => Math.ceil(n / unit) * unit;
const log2 = (n: number) => Math.log2(n) | 0;

/** Bytes of struct cg with its inode, fragment and cluster maps (fs.h's CGSIZE; UFS2 keeps no cylinder tables). */
export function cgStructSize(fpg: number, ipg: number, frag: number, contigsumsize: number): number {
  const clusters = contigsumsize > 0 ? contigsumsize * 4 + Math.ceil(fpg / frag / 8) : 0;
  return CG_STRUCT_SIZE + Math.ceil(ipg / 8) + Math.ceil(fpg / 8) + 4 + clusters;
}

export function ufsGeometry(sizeBytes: number, options: GeometryOptions = {}): UfsGeometry {
  const bsize = BLOCK_SIZE;
  const fsize = FRAGMENT_SIZE;
  const frag = bsize / fsize;
  const inopb = bsize / DINODE_SIZE;
  const inopf = inopb / frag;
  const size = Math.floor(sizeBytes / fsize);
  const contigsumsize = MAX_CONTIG > 1 ? Math.min(MAX_CONTIG, FS_MAXCONTIG) : 0;
  const sblkno = roundUp(Math.ceil((SBLOCK_UFS2 + SBLOCKSIZE) / fsize), frag);
  const cblkno = sblkno + roundUp(Math.ceil(SBLOCKSIZE / fsize), frag);
  const iblkno = cblkno + frag;
  const fragsPerInode = Math.max(DENSITY / fsize, 1);
  const ipgFor = (fpg: number) => roundUp(Math.ceil(fpg / fragsPerInode), inopb);
  const fits = (fpg: number) => cgStructSize(fpg, ipgFor(fpg), frag, contigsumsize) <= bsize - CGSIZE_FUDGE;
  const minimumGroup = (fpg: number) => roundUp(iblkno + ipgFor(fpg) / inopf, frag);

  // The largest group whose maps fit in one block, no larger than the file system (or the caller's cap).
  const cap = Math.min(roundUp(size, frag), options.maxFragsPerGroup ?? Number.MAX_SAFE_INTEGER);
  let fpg = Math.max(fragsPerInode * inopb, minimumGroup(inopb * fragsPerInode));
  while (fpg + frag <= cap && fits(fpg + frag)) fpg += frag;
  // A last group too small for its own metadata gives its fragments to the others.
  while (size % fpg !== 0 && size % fpg < minimumGroup(fpg) && fpg > frag) fpg -= frag;
  const ipg = ipgFor(fpg);
  if (size < minimumGroup(fpg) + frag) {
    throw new FruixError(`a UFS2 file system needs at least ${formatSize((minimumGroup(fpg) + frag) * fsize)}; ${formatSize(sizeBytes)} is too small`);
  }
  const ncg = Math.ceil(size / fpg);
  const dblkno = iblkno + ipg / inopf;
  const nindir = bsize / 8;
  let maxfilesize = BigInt(bsize) * BigInt(NDADDR) - 1n;
  for (let level = 1, span = BigInt(bsize); level <= NIADDR; level++) {
    span *= BigInt(nindir);
    maxfilesize += span;
  }
  return {
    bsize, fsize, frag, fragshift: log2(frag), fsbtodb: log2(fsize / SECTOR_SIZE), size, ncg, fpg, ipg, inopb, nindir,
    sblkno, cblkno, iblkno, dblkno,
    cgsize: roundUp(cgStructSize(fpg, ipg, frag, contigsumsize), fsize),
    csaddr: dblkno, cssize: roundUp(ncg * CSUM_SIZE, fsize),
    contigsumsize, maxcontig: MAX_CONTIG, minfree: MINFREE, maxfilesize,
  };
}

/** First fragment of group `cg`. */
export const cgBase = (g: UfsGeometry, cg: number) => g.fpg * cg;
/** Fragments group `cg` really has (the last one may be short). */
export const cgFrags = (g: UfsGeometry, cg: number) => Math.min(g.fpg, g.size - cgBase(g, cg));
