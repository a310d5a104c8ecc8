// Inodes, directory blocks and file flags as UFS2 stores them (pure):
// struct ufs2_dinode (sys/ufs/ufs/dinode.h), struct direct in DIRBLKSIZ
// chunks (sys/ufs/ufs/dir.h), and chflags(1) names (sys/sys/stat.h).
import { FruixError } from "../../../errors.js";
import { DINODE_SIZE, MAXSYMLINKLEN } from "./geometry.js";

export type NodeType = "file" | "dir" | "link";

const IFMT: Record<NodeType, number> = { dir: 0o040000, file: 0o100000, link: 0o120000 };
const DT: Record<NodeType, number> = { dir: 4, file: 8, link: 10 };
export const DIRBLKSIZ = 512;
export const MAXNAMLEN = 255;

/** Offsets in struct ufs2_dinode. */
export const DI = {
  mode: 0, nlink: 2, uid: 4, gid: 8, blksize: 12, size: 16, blocks: 24, atime: 32, mtime: 40, ctime: 48, birthtime: 56,
  gen: 80, flags: 88, db: 112, ib: 208,
} as const;

export interface InodeFields {
  readonly type: NodeType;
  readonly mode: number; // permission bits, 07777
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly blocks: number; // 512-byte sectors held, indirect blocks included
  readonly time: number;
  readonly gen: number;
  readonly flags: number;
  readonly direct: readonly number[]; // fragment addresses, 0 for a hole
  readonly indirect: readonly number[]; // single, double, triple
  readonly shortLink?: Buffer; // a symlink target stored in the block pointers
}

export function encodeInode(f: InodeFields, into: Buffer, at: number): void {
  const d = into.subarray(at, at + DINODE_SIZE);
  d.fill(0);
  d.writeUInt16LE(IFMT[f.type] | (f.mode & 0o7777), DI.mode);
  d.writeInt16LE(f.nlink, DI.nlink);
  d.writeUInt32LE(f.uid, DI.uid);
  d.writeUInt32LE(f.gid, DI.gid);
  d.writeBigUInt64LE(BigInt(f.size), DI.size);
  d.writeBigUInt64LE(BigInt(f.blocks), DI.blocks);
  for (const field of [DI.atime, DI.mtime, DI.ctime, DI.birthtime]) d.writeBigInt64LE(BigInt(f.time), field);
  d.writeUInt32LE(f.gen >>> 0, DI.gen);
  d.writeUInt32LE(f.flags >>> 0, DI.flags);
  if (f.shortLink) {
    f.shortLink.copy(d, DI.db);
    return;
  }
  f.direct.forEach((addr, k) => d.writeBigInt64LE(BigInt(addr), DI.db + 8 * k));
  f.indirect.forEach((addr, k) => d.writeBigInt64LE(BigInt(addr), DI.ib + 8 * k));
}

/** A symlink target short enough to live in the inode (FreeBSD: size < fs_maxsymlinklen). */
export const isShortLink = (target: Buffer) => target.length < MAXSYMLINKLEN;

export interface DirEntry {
  readonly name: Buffer;
  readonly ino: number;
  readonly type: NodeType;
}

/** DIRSIZ: the header, the name and its NUL, rounded to 4 bytes. */
export const direntSize = (nameLength: number) => (8 + nameLength + 1 + 3) & ~3;

/**
 * A directory's contents: entries packed into DIRBLKSIZ chunks, none
 * crossing one, the last of each chunk stretched to its end.
 */
export function encodeDirectory(entries: readonly DirEntry[]): Buffer {
  const chunks: Buffer[] = [];
  let chunk = Buffer.alloc(DIRBLKSIZ);
  let used = 0;
  let last = -1; // offset of the chunk's last entry
  const close = () => {
    chunk.writeUInt16LE(DIRBLKSIZ - last, last + 4);
    chunks.push(chunk);
  };
  for (const e of entries) {
    const size = direntSize(e.name.length);
    if (used + size > DIRBLKSIZ) {
      close();
      chunk = Buffer.alloc(DIRBLKSIZ);
      used = 0;
    }
    chunk.writeUInt32LE(e.ino, used);
    chunk.writeUInt16LE(size, used + 4);
    chunk[used + 6] = DT[e.type];
    chunk[used + 7] = e.name.length;
    e.name.copy(chunk, used + 8);
    last = used;
    used += size;
  }
  if (last >= 0) close();
  return Buffer.concat(chunks);
}

/** chflags(1) names and their bits (sys/sys/stat.h); "no" names clear a bit, as strtofflags(3) reads them. */
const FLAG_BITS: Record<string, number> = {
  arch: 0x10000, archived: 0x10000,
  nodump: 0x1,
  opaque: 0x8,
  sappnd: 0x40000, sappend: 0x40000,
  schg: 0x20000, schange: 0x20000, simmutable: 0x20000,
  sunlnk: 0x100000, sunlink: 0x100000,
  uappnd: 0x4, uappend: 0x4,
  uarch: 0x800, uarchive: 0x800,
  uchg: 0x2, uchange: 0x2, uimmutable: 0x2,
  uhidden: 0x8000, hidden: 0x8000,
  uoffline: 0x200, offline: 0x200,
  urdonly: 0x1000, rdonly: 0x1000, readonly: 0x1000,
  usparse: 0x100, sparse: 0x100,
  usystem: 0x80, system: 0x80,
  ureparse: 0x400, reparse: 0x400,
  uunlnk: 0x10, uunlink: 0x10,
};

/** An mtree `flags=` value (`schg`, `uarch,schg`, `none`) as di_flags. */
export function parseFileFlags(text: string | undefined, where: string): number {
  let bits = 0;
  for (const name of (text ?? "").split(",").filter((n) => n !== "" && n !== "none")) {
    if (name === "dump") bits &= ~FLAG_BITS.nodump!;
    else if (FLAG_BITS[name] !== undefined) bits |= FLAG_BITS[name]!;
    else if (name.startsWith("no") && FLAG_BITS[name.slice(2)] !== undefined) bits &= ~FLAG_BITS[name.slice(2)]!;
    else throw new FruixError(`${where}: unknown file flag '${name}' (chflags(1) names, such as schg or uarch)`);
  }
  return bits >>> 0;
}
