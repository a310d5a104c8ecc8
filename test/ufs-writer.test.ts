// Fruix's UFS2 writer, judged by oracles that do not share its code:
// FreeBSD's own superblock checks (helpers/ffs-sbget.ts, restated from
// ffs_subr.c) and an fsck-style recount of maps, counts, ownership and link
// counts that also reads the tree back (helpers/ufs-check.ts). The Linux
// kernel's UFS driver is the third oracle (ufs-linux.test.ts).
import { createHash } from "node:crypto";
import { readFile, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FruixError } from "../lib/errors.js";
import { cgStructSize, ufsGeometry } from "../lib/family/freebsd/ufs/geometry.js";
import { encodeDirectory, parseFileFlags } from "../lib/family/freebsd/ufs/inode.js";
import { planUfs, type UfsEntry } from "../lib/family/freebsd/ufs/plan.js";
import { minimumUfsSize, ufsEntries, ufsUsage, walkTree, writePlan, writeUfs, type Attributes } from "../lib/family/freebsd/ufs/index.js";
import { ffsSbget, validateSblock } from "./helpers/ffs-sbget.js";
import { cleanupTempDirs, tempDir } from "./helpers/fixtures.js";
import { checkUfsImage } from "./helpers/ufs-check.js";
import { comparable, edgeTree, expectedTree, manyFilesTree } from "./helpers/ufs-trees.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

afterAll(cleanupTempDirs);

async function image(dir: string, name: string, size: number): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, "");
  await truncate(file, size);
  return file;
}

const sha256 = async (file: string) => createHash("sha256").update(await readFile(file)).digest("hex");

describe("UFS2 geometry (pure)", () => {
  it("lays out a group as FreeBSD's newfs does: superblock copy after 64 KiB + 8 KiB, then the group block, then inodes", () => {
    const g = ufsGeometry(256 * MiB);
    expect(g).toMatchObject({ bsize: 32768, fsize: 4096, frag: 8, fsbtodb: 3, sblkno: 24, cblkno: 32, iblkno: 40, ncg: 1, size: 65536, inopb: 128, nindir: 4096 });
    expect(g.ipg % g.inopb).toBe(0);
    expect(g.dblkno).toBe(g.iblkno + g.ipg / (g.inopb / g.frag));
    expect(g.cgsize).toBeLessThanOrEqual(g.bsize);
  });

  it("splits a large file system into groups whose maps fit one block, the last one big enough for its metadata", () => {
    const g = ufsGeometry(3 * GiB);
    expect(g.ncg).toBeGreaterThan(1);
    expect(cgStructSize(g.fpg, g.ipg, g.frag, g.contigsumsize)).toBeLessThanOrEqual(g.bsize - 8);
    const last = g.size - (g.ncg - 1) * g.fpg;
    expect(last === g.fpg || last >= g.dblkno).toBe(true);
  });

  it("refuses a size with no room for one group, in one line", () => {
    expect(() => ufsGeometry(128 * 1024)).toThrow(FruixError);
    expect(() => ufsGeometry(128 * 1024)).toThrow(/^a UFS2 file system needs at least 224 KiB; 128 KiB is too small$/);
  });
});

describe("UFS2 encoders (pure)", () => {
  it("packs directory entries into 512-byte chunks, none crossing one, the last of each stretched to the chunk's end", () => {
    const entries = Array.from({ length: 40 }, (_, k) => ({ name: Buffer.from(`name-${k}`.padEnd(20, "x")), ino: 10 + k, type: "file" as const }));
    const dir = encodeDirectory(entries);
    expect(dir.length % 512).toBe(0);
    let count = 0;
    for (let chunk = 0; chunk < dir.length; chunk += 512) {
      let at = chunk;
      while (at < chunk + 512) {
        const reclen = dir.readUInt16LE(at + 4);
        expect(reclen).toBeGreaterThanOrEqual((8 + dir[at + 7]! + 1 + 3) & ~3);
        at += reclen;
        count++;
      }
      expect(at).toBe(chunk + 512);
    }
    expect(count).toBe(40);
  });

  it("reads chflags names as FreeBSD's strtofflags does, and names the path of an unknown one", () => {
    expect(parseFileFlags("schg", "x")).toBe(0x20000);
    expect(parseFileFlags("uarch,schg,nodump", "x")).toBe(0x20000 | 0x800 | 0x1);
    expect(parseFileFlags("none", "x")).toBe(0);
    expect(parseFileFlags(undefined, "x")).toBe(0);
    expect(() => parseFileFlags("schg,bogus", "usr/bin/su")).toThrow("usr/bin/su: unknown file flag 'bogus'");
  });
});

describe("planning a UFS2 file system (pure)", () => {
  const dir = (path: string): UfsEntry => ({ path, type: "dir", mode: 0o755, uid: 0, gid: 0, flags: 0, size: 0 });
  const file = (path: string, size: number): UfsEntry => ({ path, type: "file", mode: 0o644, uid: 0, gid: 0, flags: 0, size });

  it("refuses a name longer than 255 bytes, saying how long it is", () => {
    expect(() => planUfs([dir("."), file("é".repeat(128), 1)], 64 * MiB, { time: 1 })).toThrow(/: the name is 256 bytes long; UFS2 allows 255$/);
  });

  it("refuses a file larger than UFS2 can hold with 32 KiB blocks", () => {
    expect(() => planUfs([dir("."), file("huge", 2 ** 52)], 64 * MiB, { time: 1 })).toThrow(/^huge: 4503599627370496 bytes is more than a UFS2 file can hold with 32 KiB blocks/);
  });

  it("refuses a tree that does not fit, saying how much it needs and how much there is", () => {
    expect(() => planUfs([dir("."), file("big", 100 * MiB)], 64 * MiB, { time: 1 })).toThrow(/^the tree needs 1024\d\d KiB of data blocks; a 64 MiB UFS2 file system has \d+ KiB free for data$/);
    const many = [dir("."), ...Array.from({ length: 9000 }, (_, k) => file(`f${k}`, 0))];
    expect(() => planUfs(many, 64 * MiB, { time: 1 })).toThrow(/^the tree needs 9003 inodes; a 64 MiB UFS2 file system has 8192$/);
  });

  it("gives the same plan for the same entries: no clock, no random source", () => {
    const entries = [dir("."), dir("a"), file("a/x", 70_000), file("b", 3)];
    const one = planUfs(entries, 64 * MiB, { time: 1 });
    const two = planUfs(entries, 64 * MiB, { time: 1 });
    expect(two.metadata.map((w) => [w.offset, createHash("sha256").update(w.data).digest("hex")])).toEqual(one.metadata.map((w) => [w.offset, createHash("sha256").update(w.data).digest("hex")]));
    expect(two.files).toEqual(one.files);
  });
});

describe("UFS2 images from real trees", () => {
  let trees: string;
  let edge: string;
  let both: string;
  const flags: Attributes = (node) => (node.path === "usr/bin/su" ? { type: "file", mode: 0o4555, uid: 0, gid: 0, flags: "schg" } : node.path === "etc" ? { type: "dir", mode: 0o755, uid: 0, gid: 5 } : undefined);

  beforeAll(async () => {
    trees = await tempDir("fruix-ufs-trees-");
    edge = join(trees, "edge");
    await edgeTree(edge);
    both = join(trees, "both");
    await edgeTree(both);
    await manyFilesTree(both, 10_000);
  }, 120_000);

  it("writes the awkward cases so FreeBSD's checks pass, the recount agrees, and every path reads back as staged", async () => {
    const dir = await tempDir();
    const size = minimumUfsSize(ufsUsage(await walkTree(edge)));
    const disk = await image(dir, "edge.img", size);
    const plan = await writeUfs(disk, { offset: 0, size }, edge, flags, true);
    expect(plan.geometry.ncg).toBe(1);
    const head = await readFile(disk);
    expect(head.readUInt32LE(65536 + 1372)).toBe(0x19540119);
    expect(head.readBigInt64LE(65536 + 1000)).toBe(65536n);
    expect(ffsSbget(disk)).toEqual({ ok: true, location: 65536 });
    const read = checkUfsImage(disk);
    expect(read.problems).toEqual([]);
    expect(comparable(read.tree)).toEqual(await expectedTree(edge, flags));
    expect(read.tree.get("usr/bin/su")!.flags).toBe(0x20000); // schg, from the manifest
    // The sparse file keeps its holes: far fewer fragments in use than its 140 MiB.
    expect(read.fragmentsInUse * 4096).toBeLessThan(8 * MiB);
  });

  it("writes 10,000 small files across several cylinder groups, and reads them all back", async () => {
    const dir = await tempDir();
    const size = 2 * GiB; // a sparse image file: three groups
    const disk = await image(dir, "both.img", size);
    const plan = await writeUfs(disk, { offset: 0, size }, both, flags, true);
    expect(plan.geometry.ncg).toBeGreaterThanOrEqual(3);
    expect(ffsSbget(disk)).toEqual({ ok: true, location: 65536 });
    const read = checkUfsImage(disk);
    expect(read.problems).toEqual([]);
    expect(read.ncg).toBe(plan.geometry.ncg);
    expect(comparable(read.tree)).toEqual(await expectedTree(both, flags));
  }, 120_000);

  it("spreads inodes and data over several groups when the groups are small (newfs -c)", async () => {
    const dir = await tempDir();
    const tree = join(dir, "tree");
    await manyFilesTree(tree, 3000);
    await edgeTree(join(tree, "edge"));
    const size = 256 * MiB;
    const plan = planUfs(await ufsEntries(tree, flags, 32768), size, { time: 1, maxFragsPerGroup: 4096 });
    expect(plan.geometry.ncg).toBe(16);
    expect(plan.inodes).toBeGreaterThan(plan.geometry.ipg); // more than one group's inode table
    const disk = await image(dir, "small-groups.img", size);
    await writePlan(disk, { offset: 0, size }, tree, plan, true);
    expect(ffsSbget(disk)).toEqual({ ok: true, location: 65536 });
    const read = checkUfsImage(disk);
    expect(read.problems).toEqual([]);
    expect(comparable(read.tree)).toEqual(await expectedTree(tree, flags));
  }, 60_000);

  it("makes byte-identical images of the same tree", async () => {
    const dir = await tempDir();
    const size = 512 * MiB;
    const [a, b] = [await image(dir, "a.img", size), await image(dir, "b.img", size)];
    await writeUfs(a, { offset: 0, size }, edge, flags, true);
    await writeUfs(b, { offset: 0, size }, edge, flags, true);
    expect(await sha256(a)).toBe(await sha256(b));
  });

  it("writes into a partition's range and leaves the bytes around it alone", async () => {
    const dir = await tempDir();
    const disk = await image(dir, "disk.img", 300 * MiB);
    await execa("sh", ["-c", `printf before | dd of="$1" bs=1 seek=${MiB - 6} conv=notrunc status=none; printf after | dd of="$1" bs=1 seek=${257 * MiB} conv=notrunc status=none`, "sh", disk]);
    await writeUfs(disk, { offset: MiB, size: 256 * MiB }, edge, flags, true);
    const bytes = await readFile(disk);
    expect(bytes.subarray(MiB - 6, MiB).toString()).toBe("before");
    expect(bytes.subarray(257 * MiB, 257 * MiB + 5).toString()).toBe("after");
    expect(ffsSbget(disk, MiB)).toEqual({ ok: true, location: 65536 });
    expect(checkUfsImage(disk, MiB).problems).toEqual([]);
  });

  it("refuses a tree too big for its partition in one line, and writes nothing", async () => {
    const dir = await tempDir();
    const disk = await image(dir, "small.img", 16 * MiB);
    await execa("sh", ["-c", `printf keep | dd of="$1" bs=1 seek=70000 conv=notrunc status=none`, "sh", disk]);
    const big = join(dir, "big");
    await execa("sh", ["-c", `mkdir "$1" && head -c 20000000 /dev/urandom > "$1/data"`, "sh", big]);
    const before = await sha256(disk);
    await expect(writeUfs(disk, { offset: 0, size: 16 * MiB }, both, flags, true)).rejects.toThrow(/^the tree needs \d+ inodes; a 16 MiB UFS2 file system has \d+$/);
    await expect(writeUfs(disk, { offset: 0, size: 16 * MiB }, big, flags, true)).rejects.toThrow(/^the tree needs 195\d\d KiB of data blocks; a 16 MiB UFS2 file system has \d+ KiB free for data$/);
    expect(await sha256(disk)).toBe(before);
  });

  it("keeps host hard links apart when the manifest gives their names different owners", async () => {
    const dir = await tempDir();
    const disk = await image(dir, "links.img", 64 * MiB);
    const split: Attributes = (node) => (node.path === "etc/motd.hardlink" ? { type: "file", mode: 0o600, uid: 0, gid: 5 } : undefined);
    await writeUfs(disk, { offset: 0, size: 64 * MiB }, edge, split, true);
    const read = checkUfsImage(disk);
    expect(read.problems).toEqual([]);
    expect(read.tree.get("etc/motd")).toMatchObject({ nlink: 2, mode: 0o644 });
    expect(read.tree.get("etc/motd.hardlink")).toMatchObject({ nlink: 1, mode: 0o600, gid: 5 });
    expect(read.tree.get("etc/motd.hardlink")!.sha256).toBe(read.tree.get("etc/motd")!.sha256);
  });

  describe("the oracles themselves", () => {
    it("the recount notices a wrong free map, a wrong link count and a wrong summary", async () => {
      const dir = await tempDir();
      const size = 64 * MiB;
      const disk = await image(dir, "bad.img", size);
      const plan = await writeUfs(disk, { offset: 0, size }, edge, flags, true);
      const g = plan.geometry;
      const bytes = await readFile(disk);
      const cg = g.cblkno * g.fsize;
      const freeoff = bytes.readUInt32LE(cg + 96);
      const last = g.size - 1; // the last fragment: flip free/used
      bytes[cg + freeoff + (last >> 3)]! ^= 1 << (last & 7);
      const root = (g.iblkno * g.fsize) + 2 * 256;
      bytes.writeInt16LE(bytes.readInt16LE(root + 2) + 1, root + 2); // the root's di_nlink
      bytes.writeInt32LE(bytes.readInt32LE(g.csaddr * g.fsize + 8) - 1, g.csaddr * g.fsize + 8); // group 0's nifree summary
      const bad = join(dir, "bad-edited.img");
      await writeFile(bad, bytes);
      const problems = checkUfsImage(bad).problems.join("\n");
      expect(problems).toMatch(/map says (free|used)/);
      expect(problems).toMatch(/inode 2: di_nlink \d+, \d+ names/);
      expect(problems).toMatch(/cg 0: summary/);
    });

    it("FreeBSD's checks refuse what Debian's makefs writes: its UFS2 superblock is at 8 KiB", async () => {
      const dir = await tempDir();
      const disk = join(dir, "makefs.img");
      await execa("makefs", ["-t", "ffs", "-B", "little", "-o", "version=2,bsize=32768,fsize=4096,density=8192", "-s", String(256 * MiB), disk, edge]);
      const result = ffsSbget(disk);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error).toBe("ENOENT");
        expect(result.failures).toContain("8192: FCHK(fs->fs_sblockloc, !=, SBLOCK_UFS2)");
      }
      // And the checks catch a field out of line in an image of ours.
      const ours = await image(dir, "ours.img", 64 * MiB);
      await writeUfs(ours, { offset: 0, size: 64 * MiB }, edge, flags, true);
      const sb = Buffer.from((await readFile(ours)).subarray(65536, 65536 + 8192));
      sb.writeInt32LE(sb.readInt32LE(20) + 8, 20); // fs_dblkno
      expect(validateSblock(sb).failures).toContain("FCHK(fs->fs_dblkno, !=, fs->fs_iblkno + fs->fs_ipg / INOPF(fs))");
      expect((await stat(ours)).size).toBe(64 * MiB);
    });
  });
});
