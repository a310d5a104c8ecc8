// An fsck-style reader of UFS2 images, written for the tests apart from the
// writer (its own offsets, from sys/ufs/ffs/fs.h and sys/ufs/ufs/dinode.h,
// and no import from lib/family/freebsd/ufs): it walks the tree from the
// root, claims every fragment exactly once, recounts each cylinder group
// as fsck_ffs's passes 1, 2, 4 and 5 do, and returns what a reader would see.
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";

export interface ReadNode {
  readonly type: "file" | "dir" | "link";
  readonly mode: number; // 07777
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly size: number;
  readonly flags: number;
  readonly ino: number;
  readonly sha256?: string; // files
  readonly link?: string;
}

export interface CheckResult {
  readonly problems: string[];
  readonly tree: Map<string, ReadNode>;
  readonly ncg: number;
  readonly fragmentsInUse: number;
}

const NDADDR = 12;
const NIADDR = 3;
const ROOTINO = 2;
const TYPES: Record<number, ReadNode["type"]> = { 0o040000: "dir", 0o100000: "file", 0o120000: "link" };
const DT: Record<ReadNode["type"], number> = { dir: 4, file: 8, link: 10 };

class Image {
  private readonly fd: number;
  constructor(path: string, private readonly base: number) {
    this.fd = openSync(path, "r");
  }
  read(offset: number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    readSync(this.fd, buf, 0, length, this.base + offset);
    return buf;
  }
  close(): void {
    closeSync(this.fd);
  }
}

export function checkUfsImage(path: string, offset = 0): CheckResult {
  const img = new Image(path, offset);
  try {
    return check(img);
  } finally {
    img.close();
  }
}

function check(img: Image): CheckResult {
  const problems: string[] = [];
  const fail = (text: string) => {
    if (problems.length < 50) problems.push(text);
  };
  const sb = img.read(65536, 1376);
  const i32 = (at: number) => sb.readInt32LE(at);
  const i64 = (at: number) => Number(sb.readBigInt64LE(at));
  if (sb.readUInt32LE(1372) !== 0x19540119) return { problems: ["no UFS2 magic at 65536 + 1372"], tree: new Map(), ncg: 0, fragmentsInUse: 0 };
  const fs = {
    sblkno: i32(8), cblkno: i32(12), iblkno: i32(16), dblkno: i32(20), ncg: sb.readUInt32LE(44), bsize: i32(48), fsize: i32(52), frag: i32(56),
    fsbtodb: i32(100), nindir: i32(116), inopb: sb.readUInt32LE(120), cssize: i32(156), ipg: sb.readUInt32LE(184), fpg: i32(188),
    contigsumsize: i32(1316), maxsymlinklen: i32(1320), size: i64(1080), csaddr: i64(1096), clean: sb[209]!, flags: i32(1312),
    cstotal: [i64(1008), i64(1016), i64(1024), i64(1032)],
  };
  if (fs.clean !== 1) fail(`fs_clean is ${fs.clean}, not 1`);
  if (fs.flags !== 0) fail(`fs_flags is ${fs.flags}: expected no soft updates, journal or check hashes`);
  if (sb.readUInt32LE(1308) !== 0) fail("fs_metackhash is set");

  // Pass 1: every allocated inode and the fragments it claims.
  const owner = new Map<number, string>(); // fragment -> who holds it
  const claim = (frag: number, count: number, who: string) => {
    for (let f = frag; f < frag + count; f++) {
      if (f < 0 || f >= fs.size) return fail(`${who}: fragment ${f} is outside the file system`);
      const cg = Math.floor(f / fs.fpg);
      const rel = f - cg * fs.fpg;
      const metaStart = cg === 0 ? 0 : fs.sblkno;
      const metaEnd = fs.dblkno + (cg === 0 ? Math.ceil(fs.cssize / fs.fsize) : 0);
      if (rel >= metaStart && rel < metaEnd) return fail(`${who}: fragment ${f} is cylinder-group metadata`);
      const prior = owner.get(f);
      if (prior) return fail(`${who}: fragment ${f} is also held by ${prior}`);
      owner.set(f, who);
    }
  };
  for (let cg = 0; cg < fs.ncg; cg++) {
    const start = cg * fs.fpg;
    for (let f = cg === 0 ? 0 : fs.sblkno; f < fs.dblkno + (cg === 0 ? Math.ceil(fs.cssize / fs.fsize) : 0); f++) owner.set(start + f, "metadata");
  }

  interface Ino { mode: number; nlink: number; uid: number; gid: number; size: number; blocks: number; flags: number; gen: number; db: number[]; ib: number[]; raw: Buffer }
  const inodes = new Map<number, Ino>();
  const cgs: Buffer[] = [];
  for (let cg = 0; cg < fs.ncg; cg++) {
    const block = img.read((cg * fs.fpg + fs.cblkno) * fs.fsize, fs.bsize);
    cgs.push(block);
    if (block.readInt32LE(4) !== 0x090255) fail(`cg ${cg}: bad magic`);
    if (block.readUInt32LE(12) !== cg) fail(`cg ${cg}: cg_cgx is ${block.readUInt32LE(12)}`);
    const initediblk = block.readUInt32LE(120);
    if (initediblk > fs.ipg || initediblk % fs.inopb !== 0) fail(`cg ${cg}: cg_initediblk ${initediblk}`);
    const table = img.read((cg * fs.fpg + fs.iblkno) * fs.fsize, initediblk * 256);
    for (let i = 0; i < initediblk; i++) {
      const d = table.subarray(i * 256, i * 256 + 256);
      const ino = cg * fs.ipg + i;
      if (ino < ROOTINO || d.readUInt16LE(0) === 0) continue;
      const ptrs = (at: number, n: number) => Array.from({ length: n }, (_, k) => Number(d.readBigInt64LE(at + 8 * k)));
      inodes.set(ino, {
        mode: d.readUInt16LE(0), nlink: d.readInt16LE(2), uid: d.readUInt32LE(4), gid: d.readUInt32LE(8), size: Number(d.readBigUInt64LE(16)),
        blocks: Number(d.readBigUInt64LE(24)), gen: d.readUInt32LE(80), flags: d.readUInt32LE(88), db: ptrs(112, NDADDR), ib: ptrs(208, NIADDR), raw: d,
      });
    }
  }

  /** Data of an inode: claims its fragments, checks di_blocks, returns the bytes. */
  const readData = (ino: number, inode: Ino): Buffer => {
    const who = `inode ${ino}`;
    const nblocks = Math.ceil(inode.size / fs.bsize);
    const out = Buffer.alloc(inode.size);
    let sectors = 0;
    const sizeOf = (lbn: number) => (lbn < NDADDR && lbn === nblocks - 1 ? Math.ceil((inode.size - lbn * fs.bsize) / fs.fsize) * fs.fsize : fs.bsize);
    const data = (lbn: number, addr: number) => {
      if (addr === 0) return;
      if (lbn >= nblocks) return fail(`${who}: block ${lbn} past the end of a ${inode.size}-byte file`);
      const bytes = sizeOf(lbn);
      if (bytes === fs.bsize && addr % fs.frag !== 0) fail(`${who}: block ${lbn} at ${addr} is not block-aligned`);
      if (Math.floor(addr / fs.frag) !== Math.floor((addr + bytes / fs.fsize - 1) / fs.frag)) fail(`${who}: fragments of block ${lbn} cross a block`);
      claim(addr, bytes / fs.fsize, who);
      sectors += bytes / 512;
      img.read(addr * fs.fsize, Math.min(bytes, inode.size - lbn * fs.bsize)).copy(out, lbn * fs.bsize);
    };
    inode.db.forEach((addr, lbn) => data(lbn, addr));
    const walk = (level: number, addr: number, first: number) => {
      if (addr === 0) return;
      if (addr % fs.frag !== 0) fail(`${who}: indirect block at ${addr} is not block-aligned`);
      claim(addr, fs.frag, `${who} (indirect)`);
      sectors += fs.bsize / 512;
      const block = img.read(addr * fs.fsize, fs.bsize);
      const span = fs.nindir ** (level - 1);
      for (let k = 0; k < fs.nindir; k++) {
        const child = Number(block.readBigInt64LE(8 * k));
        if (level === 1) data(first + k, child);
        else walk(level - 1, child, first + k * span);
      }
    };
    let first = NDADDR;
    for (let level = 1; level <= NIADDR; level++) {
      walk(level, inode.ib[level - 1]!, first);
      first += fs.nindir ** level;
    }
    if (nblocks > 0 && nblocks <= NDADDR && inode.db[nblocks - 1] === 0) fail(`${who}: its last block is a hole`);
    if (sectors !== inode.blocks) fail(`${who}: di_blocks is ${inode.blocks}, its blocks take ${sectors} sectors`);
    return out;
  };

  // Pass 2: the directory tree from the root, with every name's inode and type.
  const tree = new Map<string, ReadNode>();
  const references = new Map<number, number>();
  const seenDirs = new Set<number>();
  const visit = (path: string, ino: number, parent: number) => {
    const inode = inodes.get(ino);
    if (!inode) return fail(`${path}: inode ${ino} is not allocated`);
    const type = TYPES[inode.mode & 0o170000];
    if (!type) return fail(`${path}: inode ${ino} has mode ${inode.mode.toString(8)}`);
    const node: ReadNode = { type, mode: inode.mode & 0o7777, uid: inode.uid, gid: inode.gid, nlink: inode.nlink, size: inode.size, flags: inode.flags, ino };
    if (type === "link") {
      const short = inode.size < fs.maxsymlinklen && inode.blocks === 0;
      const target = short ? inode.raw.subarray(112, 112 + inode.size) : readData(ino, inode);
      tree.set(path, { ...node, link: target.toString("utf8") });
      return;
    }
    if (type === "file") {
      if (!tree.has(`#${ino}`)) tree.set(`#${ino}`, { ...node, sha256: createHash("sha256").update(readData(ino, inode)).digest("hex") });
      tree.set(path, { ...node, sha256: tree.get(`#${ino}`)!.sha256! });
      return;
    }
    if (seenDirs.has(ino)) return fail(`${path}: directory inode ${ino} has a second name`);
    seenDirs.add(ino);
    tree.set(path, node);
    const content = readData(ino, inode);
    if (inode.size % 512 !== 0) fail(`${path}: directory size ${inode.size} is not a multiple of DIRBLKSIZ`);
    const children: Array<[string, number, number]> = [];
    for (let chunk = 0; chunk < content.length; chunk += 512) {
      for (let at = chunk; at < chunk + 512; ) {
        const dino = content.readUInt32LE(at);
        const reclen = content.readUInt16LE(at + 4);
        const dtype = content[at + 6]!;
        const namlen = content[at + 7]!;
        if (reclen < ((8 + namlen + 1 + 3) & ~3) || reclen % 4 !== 0 || at + reclen > chunk + 512) {
          fail(`${path}: bad entry at ${at} (reclen ${reclen}, namlen ${namlen})`);
          break;
        }
        if (content[at + 8 + namlen] !== 0) fail(`${path}: entry at ${at} is not NUL-terminated`);
        const name = content.subarray(at + 8, at + 8 + namlen).toString("utf8");
        if (dino !== 0) children.push([name, dino, dtype]);
        at += reclen;
      }
    }
    if (children[0]?.[0] !== "." || children[0][1] !== ino) fail(`${path}: first entry is not '.' for itself`);
    if (children[1]?.[0] !== ".." || children[1][1] !== parent) fail(`${path}: second entry is not '..' for ${parent}`);
    for (const [name, child, dtype] of children) {
      references.set(child, (references.get(child) ?? 0) + 1);
      if (name === "." || name === "..") continue;
      const childType = TYPES[(inodes.get(child)?.mode ?? 0) & 0o170000];
      if (childType && DT[childType] !== dtype) fail(`${path}/${name}: d_type ${dtype} for a ${childType}`);
      visit(path === "." ? name : `${path}/${name}`, child, ino);
    }
  };
  visit(".", ROOTINO, ROOTINO);
  for (const key of [...tree.keys()]) if (key.startsWith("#")) tree.delete(key);

  // Pass 4: link counts, and no allocated inode left without a name.
  for (const [ino, inode] of inodes) {
    const refs = references.get(ino) ?? 0;
    if (refs === 0) fail(`inode ${ino} is allocated but has no name`);
    else if (refs !== inode.nlink) fail(`inode ${ino}: di_nlink ${inode.nlink}, ${refs} names`);
  }

  // Pass 5: each group's maps and counts, recounted from what pass 1 claimed.
  const totals = [0, 0, 0, 0];
  const summaries = img.read(fs.csaddr * fs.fsize, fs.cssize);
  for (let cg = 0; cg < fs.ncg; cg++) {
    const b = cgs[cg]!;
    const base = cg * fs.fpg;
    const ndblk = Math.min(fs.fpg, fs.size - base);
    const iusedoff = 168;
    const freeoff = iusedoff + Math.ceil(fs.ipg / 8);
    const expected = [iusedoff, freeoff];
    if (b.readUInt32LE(92) !== expected[0] || b.readUInt32LE(96) !== expected[1]) fail(`cg ${cg}: map offsets ${b.readUInt32LE(92)}/${b.readUInt32LE(96)}`);
    if (b.readUInt32LE(20) !== ndblk) fail(`cg ${cg}: cg_ndblk ${b.readUInt32LE(20)}, expected ${ndblk}`);
    if (b.readUInt32LE(116) !== fs.ipg) fail(`cg ${cg}: cg_niblk ${b.readUInt32LE(116)}`);
    let ndir = 0;
    let nifree = 0;
    for (let i = 0; i < fs.ipg; i++) {
      const ino = base / fs.fpg * fs.ipg + i;
      const used = (b[iusedoff + (i >> 3)]! >> (i & 7)) & 1;
      const allocated = ino < ROOTINO || inodes.has(ino);
      if (used !== (allocated ? 1 : 0)) fail(`cg ${cg}: inode ${ino} map says ${used ? "used" : "free"}`);
      if (!allocated) nifree++;
      if (inodes.has(ino) && (inodes.get(ino)!.mode & 0o170000) === 0o040000) ndir++;
    }
    let nbfree = 0;
    let nffree = 0;
    const frsum = new Array<number>(fs.frag).fill(0);
    const clusterRuns = new Array<number>(fs.contigsumsize + 1).fill(0);
    const clustersumoff = Math.ceil((freeoff + Math.ceil(fs.fpg / 8) - 4) / 4) * 4;
    const clusteroff = clustersumoff + (fs.contigsumsize + 1) * 4;
    let run = 0;
    const endRun = () => {
      if (run > 0) clusterRuns[Math.min(run, fs.contigsumsize)]!++;
      run = 0;
    };
    for (let blk = 0; blk * fs.frag < ndblk; blk++) {
      let free = 0;
      let fragRun = 0;
      for (let f = blk * fs.frag; f < (blk + 1) * fs.frag; f++) {
        const mapFree = (b[freeoff + (f >> 3)]! >> (f & 7)) & 1;
        const isFree = f < ndblk && !owner.has(base + f);
        if (f < ndblk && mapFree !== (isFree ? 1 : 0)) fail(`cg ${cg}: fragment ${base + f} map says ${mapFree ? "free" : "used"}, it is ${isFree ? "free" : owner.get(base + f)}`);
        if (isFree) {
          free++;
          fragRun++;
        } else {
          if (fragRun > 0) frsum[fragRun]!++;
          fragRun = 0;
        }
      }
      if (free === fs.frag) {
        nbfree++;
        run++;
      } else {
        if (fragRun > 0) frsum[fragRun]!++;
        nffree += free;
        endRun();
      }
      if (fs.contigsumsize > 0 && blk < ndblk >> Math.log2(fs.frag)) {
        const bit = (b[clusteroff + (blk >> 3)]! >> (blk & 7)) & 1;
        if (bit !== (free === fs.frag ? 1 : 0)) fail(`cg ${cg}: cluster map bit ${blk}`);
      }
    }
    endRun();
    const cs = [b.readInt32LE(24), b.readInt32LE(28), b.readInt32LE(32), b.readInt32LE(36)];
    const counted = [ndir, nbfree, nifree, nffree];
    if (cs.join() !== counted.join()) fail(`cg ${cg}: cg_cs ${cs.join("/")}, counted ${counted.join("/")} (ndir/nbfree/nifree/nffree)`);
    const summary = [0, 1, 2, 3].map((k) => summaries.readInt32LE(cg * 16 + 4 * k));
    if (summary.join() !== counted.join()) fail(`cg ${cg}: summary ${summary.join("/")}, counted ${counted.join("/")}`);
    for (let k = 1; k < fs.frag; k++) if (b.readUInt32LE(52 + 4 * k) !== frsum[k]) fail(`cg ${cg}: cg_frsum[${k}] ${b.readUInt32LE(52 + 4 * k)}, counted ${frsum[k]}`);
    for (let k = 1; k <= fs.contigsumsize; k++) if (b.readInt32LE(clustersumoff + 4 * k) !== clusterRuns[k]) fail(`cg ${cg}: cluster sum[${k}] ${b.readInt32LE(clustersumoff + 4 * k)}, counted ${clusterRuns[k]}`);
    counted.forEach((v, k) => (totals[k]! += v));
  }
  if (fs.cstotal.join() !== totals.join()) fail(`fs_cstotal ${fs.cstotal.join("/")}, counted ${totals.join("/")}`);
  return { problems, tree, ncg: fs.ncg, fragmentsInUse: owner.size };
}
