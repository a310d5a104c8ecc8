// The Linux kernel's UFS driver as the UFS2 writer's independent judge: a
// linux-busybox guest (QEMU/TCG) loads Debian's fs/ufs/ufs.ko and mounts,
// read-only as ufstype=ufs2, the root partition of a FreeBSD system image
// built from synthetic sets, an image of the awkward-case tree, and the
// same tree as Debian's makefs writes it. Nothing FreeBSD boots here.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDeclaration, selectSystem } from "../lib/declaration/index.js";
import { buildImage } from "../lib/deploy/image.js";
import { minimumUfsSize, ufsUsage, walkTree, writeUfs, type Attributes } from "../lib/family/freebsd/ufs/index.js";
import { silentLogger } from "../lib/log.js";
import { packageRoot } from "../lib/paths.js";
import { buildSystem } from "../lib/system/build.js";
import { cleanupTempDirs, freshStore, tempDir } from "./helpers/fixtures.js";
import { makeSyntheticSets } from "./helpers/freebsd-sets.js";
import { readWithLinux, type DiskReading } from "./helpers/linux-ufs-reader.js";
import { checkUfsImage } from "./helpers/ufs-check.js";
import { comparable, edgeTree, expectedTree } from "./helpers/ufs-trees.js";

const MiB = 1024 * 1024;
const ROOT_PARTITION_OFFSET = 65 * MiB; // docs/freebsd.md's layout: the root is partition 2

let systemImage: string;
let edge: string;
let readings: DiskReading[];
let transcript: string;
const flags: Attributes = (node) => (node.path === "usr/bin/su" ? { type: "file", mode: 0o4555, uid: 0, gid: 0, flags: "schg" } : node.path === "etc" ? { type: "dir", mode: 0o755, uid: 0, gid: 5 } : undefined);

beforeAll(async () => {
  const work = await tempDir("fruix-ufs-linux-");
  const sets = await makeSyntheticSets(join(work, "sets"));
  const store = await freshStore();
  const source = (await readFile(join(packageRoot, "examples", "freebsd.scm"), "utf8")).replace("(base (freebsd-base))", `(base (freebsd-base (dist-directory "${sets.dir}")))`);
  const build = await buildSystem(store, selectSystem(parseDeclaration(source, "freebsd.scm")), silentLogger);
  systemImage = store.toHostPath(await buildImage(store, build, undefined, silentLogger));

  edge = join(work, "edge");
  await edgeTree(edge);
  const size = minimumUfsSize(ufsUsage(await walkTree(edge)));
  const edgeImage = join(work, "edge.img");
  await execa("truncate", ["-s", String(size), edgeImage]);
  await writeUfs(edgeImage, { offset: 0, size }, edge, flags, true);
  const makefsImage = join(work, "makefs.img");
  await execa("makefs", ["-t", "ffs", "-B", "little", "-o", "version=2,bsize=32768,fsize=4096,density=8192", "-s", String(256 * MiB), makefsImage, edge]);

  ({ readings, transcript } = await readWithLinux(store, work, [{ image: systemImage, partition: 2 }, { image: edgeImage }, { image: makefsImage }]));
}, 600_000);

afterAll(cleanupTempDirs);

describe("Linux's UFS driver reading what Fruix writes", () => {
  it("runs Debian's kernel with its own ufs.ko", () => {
    expect(transcript).toMatch(/ufs-reader: kernel \d+\.\d+\.\d+-\d+-amd64/);
    expect(transcript).not.toContain("insmod ufs failed");
    expect(readings).toHaveLength(3);
  });

  it("mounts a FreeBSD system image's root and sees every path as the fsck-style reader does", () => {
    const [root] = readings;
    expect(root!.mount).toMatch(/^rc=0/);
    const fsck = checkUfsImage(systemImage, ROOT_PARTITION_OFFSET);
    expect(fsck.problems).toEqual([]);
    expect(comparable(root!.tree)).toEqual(comparable(fsck.tree));
    // The sets' owners and modes, as the manifests give them.
    expect(root!.tree.get("usr/bin/su")).toMatchObject({ type: "file", mode: 0o4555, uid: 0, gid: 0 });
    expect(root!.tree.get("sbin/shutdown")).toMatchObject({ mode: 0o4554, uid: 0, gid: 5 });
    expect(root!.tree.get("tmp")).toMatchObject({ type: "dir", mode: 0o1777 });
    expect(root!.tree.get("usr/lib/libc.so")).toMatchObject({ type: "link", link: "../../lib/libc.so.7" });
    expect(root!.tree.get("usr/share/doc/read me")?.type).toBe("file");
  });

  it("reads the awkward-case tree exactly as it was staged: links, long names, holes, indirect blocks", async () => {
    const [, tree] = readings;
    expect(tree!.mount).toMatch(/^rc=0/);
    expect(comparable(tree!.tree)).toEqual(await expectedTree(edge, flags));
  });

  it("refuses the root Debian's makefs writes (its UFS2 superblock is at 8 KiB, not 64 KiB)", () => {
    const [, , makefs] = readings;
    expect(makefs!.mounted).toBe(false);
    expect(makefs!.mount).toMatch(/^rc=\d+ mount: mounting \/dev\/vdd on \/mnt\/3 failed: Invalid argument/);
  });
});
