// The freebsd base end to end on synthetic sets (test/helpers/freebsd-sets.ts):
// import, closure, rootfs, disk image and install, checked with independent
// tools (sha256sum, sgdisk, mtools, fsck.vfat, od) and, for the UFS2
// root, by FreeBSD's superblock checks and an fsck-style recount of the image bytes.
// Nothing FreeBSD boots here unless FRUIX_FREEBSD_DIST holds real sets.
import { lstat, readdir, readFile, readlink, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDeclaration, parseDeclaration, selectSystem, type OperatingSystem } from "../lib/declaration/index.js";
import { MiB } from "../lib/disk/size.js";
import { readUfsSuperblockAt } from "../lib/family/freebsd/ufs/index.js";
import { createLogger, silentLogger } from "../lib/log.js";
import { packageRoot } from "../lib/paths.js";
import type { Store } from "../lib/store/index.js";
import { buildSystem, type SystemBuild } from "../lib/system/build.js";
import { buildImage } from "../lib/deploy/image.js";
import { materializeRootfs } from "../lib/deploy/rootfs.js";
import { ffsSbget } from "./helpers/ffs-sbget.js";
import { cleanupTempDirs, freshStore, fruix, storeEntries, tempDir } from "./helpers/fixtures.js";
import { makeSyntheticSets, type SyntheticSets } from "./helpers/freebsd-sets.js";
import { bootUefi } from "./helpers/qemu-direct.js";
import { checkUfsImage } from "./helpers/ufs-check.js";

const example = join(packageRoot, "examples", "freebsd.scm");
const ESP_OFFSET = MiB;
const ROOT_OFFSET = 65 * MiB;

let sets: SyntheticSets;
let exampleSource: string;
let store: Store;
let build: SystemBuild;
let image: string; // host path

/** The example with its sets named in the declaration (no environment needed). */
function declared(dir: string, edit: (source: string) => string = (s) => s): OperatingSystem {
  const source = edit(exampleSource).replace("(base (freebsd-base))", `(base (freebsd-base (dist-directory "${dir}")))`);
  return selectSystem(parseDeclaration(source, "freebsd.scm"));
}

beforeAll(async () => {
  exampleSource = await readFile(example, "utf8");
  sets = await makeSyntheticSets(await tempDir());
  store = await freshStore();
  build = await buildSystem(store, declared(sets.dir), silentLogger);
  image = store.toHostPath(await buildImage(store, build, undefined, silentLogger));
});
afterAll(cleanupTempDirs);

const closureFile = (path: string) => readFile(join(store.toHostPath(build.closurePath), path), "utf8");
const itemNamed = (prefix: string) => build.items.find((i) => i.includes(`-${prefix}`))!;

describe("the freebsd base", () => {
  it("imports the sets as world, kernel and loader items, with each set's sha256 in provenance", async () => {
    for (const prefix of ["freebsd-world-14.1-RELEASE", "freebsd-kernel-14.1-RELEASE", "freebsd-loader-14.1-RELEASE", "fruix-helper-"]) {
      expect(build.items.some((i) => i.includes(`-${prefix}`)), prefix).toBe(true);
    }
    const provenance = (await closureFile("metadata/provenance.scm")).replace(/\s+/g, " ");
    for (const set of ["base.txz", "kernel.txz"]) {
      const sha = (await execa("sha256sum", [join(sets.dir, set)])).stdout.split(" ")[0];
      expect(provenance).toContain(`(freebsd-set (name "${set}") (version "14.1-RELEASE") (sha256 "${sha}")`);
    }
    const loader = store.toHostPath(itemNamed("freebsd-loader"));
    expect(await readFile(join(loader, "efi/loader.efi"))).toEqual(sets.loaderEfi);
  });

  it("keeps the set's owners, setuid bits and odd names in the world's manifest (the store keeps none)", async () => {
    const world = store.toHostPath(itemNamed("freebsd-world"));
    expect((await stat(join(world, "tree/usr/bin/su"))).mode & 0o7777).toBe(0o555);
    const mtree = await readFile(join(world, "mtree"), "utf8");
    expect(mtree).toContain("./usr/bin/su type=file uid=0 gid=0 uname=root gname=wheel mode=04555");
    expect(mtree).toContain("./sbin/shutdown type=file uid=0 gid=5 uname=root gname=operator mode=04554");
    expect(mtree).toContain("./usr/share/doc/read\\040me type=file");
    expect(mtree).toContain("./usr/lib/libc.so type=link uid=0 gid=0 uname=root gname=wheel mode=0777 link=../../lib/libc.so.7");
  });

  it("does not import a set twice: a second build in the same store is a lookup", async () => {
    const before = await storeEntries(store);
    const lines: string[] = [];
    const again = await buildSystem(store, declared(sets.dir), createLogger({ write: (l) => lines.push(l) }));
    expect(again.closurePath).toBe(build.closurePath);
    expect(await storeEntries(store)).toEqual(before);
    expect(lines.filter((l) => l.startsWith("import"))).toEqual([]);
  });
});

describe("the FreeBSD closure", () => {
  it("holds activation, the rc.d script, boot settings and links to its items", async () => {
    const dir = store.toHostPath(build.closurePath);
    const activate = await closureFile("activate");
    expect(activate.startsWith("#!/bin/sh\n")).toBe(true);
    expect(activate).toContain('echo "fruix: activated $self"');
    expect(activate).toContain("pwd_mkdb -p /etc/master.passwd.fruix-new");
    expect((await stat(join(dir, "activate"))).mode & 0o111).not.toBe(0);
    expect(await closureFile("etc/rc.d/fruix")).toMatch(/# PROVIDE: fruix\n# REQUIRE: FILESYSTEMS\n/);
    expect(await readlink(join(dir, "boot/kernel"))).toBe(`${itemNamed("freebsd-kernel")}/tree/boot/kernel`);
    expect(await readlink(join(dir, "boot/loader.efi"))).toBe(`${itemNamed("freebsd-loader")}/efi/loader.efi`);
    expect(await readlink(join(dir, "world"))).toBe(itemNamed("freebsd-world"));
    expect(await closureFile("rc.conf")).toContain('hostname="fruix-freebsd"\nsyslogd_enable="YES"\ncron_enable="YES"\nsshd_enable="YES"\n');
    expect(await closureFile("etc/master.passwd")).toContain("alice:*:1001:0::0:0:Alice the operator:/home/alice:/bin/sh\n");
    expect(await closureFile("etc/group")).toContain("operators:*:1100:alice\n");
    const layout = await closureFile("metadata/store-layout.scm");
    for (const ref of await store.references(build.closurePath)) expect(layout).toContain(`"${ref}"`);
  });

  it("refuses a service FreeBSD has no use for, naming its position in the declaration", async () => {
    const os = declared(sets.dir, (s) => s.replace("(service crond-service-type)", "(service httpd-service-type)"));
    await expect(buildSystem(store, os, silentLogger)).rejects.toThrow(/^freebsd\.scm:\d+:\d+: service type 'httpd-service-type' is not available on the freebsd base/);
  });
});

describe("set errors", () => {
  async function buildFrom(dir: string) {
    const fresh = await freshStore();
    const error = await buildSystem(fresh, declared(dir), silentLogger).then(() => undefined, (e: Error) => e.message);
    return { error, leftovers: (await readdir(fresh.storeDir)).filter((e) => e.startsWith(".tmp-")) };
  }

  it("names a missing set", async () => {
    const dir = await tempDir();
    await execa("cp", [join(sets.dir, "base.txz"), dir]);
    const { error } = await buildFrom(dir);
    expect(error).toMatch(new RegExp(`^cannot read FreeBSD distribution set ${dir}/kernel\\.txz: no such file \\(directory from dist-directory of the freebsd-base at freebsd\\.scm:\\d+:\\d+\\)$`));
  });

  it("names a corrupt set and leaves nothing in the store", async () => {
    const dir = await tempDir();
    await execa("cp", [join(sets.dir, "kernel.txz"), dir]);
    await writeFile(join(dir, "base.txz"), "this is not xz\n");
    const { error, leftovers } = await buildFrom(dir);
    expect(error).toBe(`FreeBSD distribution set ${dir}/base.txz is corrupt: xz: File format not recognized`);
    expect(leftovers).toEqual([]);
  });

  it("names a set that is not what its name says, and one that is a directory", async () => {
    const dir = await tempDir();
    await execa("cp", [join(sets.dir, "kernel.txz"), join(dir, "base.txz")]);
    await execa("cp", [join(sets.dir, "kernel.txz"), dir]);
    expect((await buildFrom(dir)).error).toBe(`FreeBSD distribution set ${dir}/base.txz has no bin/sh: is it FreeBSD's base.txz?`);
    await execa("rm", [join(dir, "kernel.txz")]);
    await execa("mkdir", [join(dir, "kernel.txz")]);
    expect((await buildFrom(dir)).error).toMatch(`cannot read FreeBSD distribution set ${dir}/kernel.txz: it is a directory`);
  });
});

describe("fruix system rootfs (freebsd)", () => {
  let root: string;
  beforeAll(async () => {
    root = await materializeRootfs(store, build, join(await tempDir(), "rootfs"), "1970-01-01T00:00:00Z");
  });
  const ino = async (path: string) => (await lstat(join(root, path))).ino;
  const storeCopy = (item: string, path: string) => `frx/store/${item.slice("/frx/store/".length)}/tree/${path}`;

  it("lays the world out at / as hard links to its store item, with /etc a copy", async () => {
    const world = itemNamed("freebsd-world");
    expect(await ino("bin/sh")).toBe(await ino(storeCopy(world, "bin/sh")));
    expect(await ino("usr/bin/su")).toBe(await ino(storeCopy(world, "usr/bin/su")));
    expect(await ino("etc/rc")).not.toBe(await ino(storeCopy(world, "etc/rc")));
    expect(await readlink(join(root, "usr/lib/libc.so"))).toBe("../../lib/libc.so.7");
    expect(await ino("boot/kernel/kernel")).toBe(await ino(storeCopy(itemNamed("freebsd-kernel"), "boot/kernel/kernel")));
  });

  it("installs the closure's boot and rc files, the accounts and generation 1", async () => {
    const loaderConf = await readFile(join(root, "boot/loader.conf"), "utf8");
    for (const line of ['console="comconsole"', 'boot_serial="YES"', 'autoboot_delay="3"', 'vfs.root.mountfrom="ufs:/dev/gpt/fruix-root"', 'vfs.mountroot.timeout="30"', `fruix.system="${build.closurePath}"`]) {
      expect(loaderConf.split("\n")).toContain(line);
    }
    expect(await readFile(join(root, "etc/rc.conf"), "utf8")).toContain("kenv -q fruix.system");
    expect(await readFile(join(root, "etc/rc.d/fruix"), "utf8")).toBe(await closureFile("etc/rc.d/fruix"));
    expect(await readFile(join(root, "etc/master.passwd"), "utf8")).toBe(await closureFile("etc/master.passwd"));
    expect(await readFile(join(root, "etc/passwd"), "utf8")).toContain("alice:*:1001:0:Alice the operator:/home/alice:/bin/sh\n");
    expect(await readlink(join(root, "var/lib/fruix/system/generations/1/closure"))).toBe(build.closurePath);
    expect(await readlink(join(root, "frx/var/fruix/gcroots/current-system"))).toBe(build.closurePath);
    expect((await stat(join(root, "usr/local/bin/fruix"))).mode & 0o111).not.toBe(0);
  });
});

/** Checks every FreeBSD system disk must pass, with tools that are not Fruix's. */
async function checkFreebsdDisk(disk: string): Promise<void> {
  expect((await execa("sgdisk", ["-v", disk])).stdout).toContain("No problems found");
  const table = (await execa("sgdisk", ["-p", disk])).stdout;
  expect(table).toMatch(/^\s+1\s+2048\s+133119\s+64\.0 MiB\s+EF00\s+efiesp$/m);
  expect(table).toMatch(/^\s+2\s+133120\s+(\d+)\s+.*A503\s+fruix-root\s*$/m);
  const rootSectors = Number(/^\s+2\s+133120\s+(\d+)/m.exec(table)![1]) - 133120 + 1;

  // ESP: the set's loader.efi as the removable-media boot path, and a clean FAT.
  expect((await execa("mdir", ["-/", "-b", "-i", `${disk}@@${ESP_OFFSET}`, "::/"])).stdout.split("\n").sort()).toEqual(["::/EFI/", "::/EFI/BOOT/", "::/EFI/BOOT/BOOTX64.EFI"]);
  const dir = await tempDir();
  await execa("mcopy", ["-i", `${disk}@@${ESP_OFFSET}`, "::/EFI/BOOT/BOOTX64.EFI", join(dir, "BOOTX64.EFI")]);
  expect(await readFile(join(dir, "BOOTX64.EFI"))).toEqual(sets.loaderEfi);
  await execa("dd", [`if=${disk}`, `of=${join(dir, "esp.img")}`, "bs=1M", `skip=1`, "count=64", "status=none"]);
  expect((await execa("fsck.vfat", ["-n", join(dir, "esp.img")], { reject: false })).exitCode).toBe(0);

  // Root: a UFS2 superblock filling the partition at 64 KiB, where FreeBSD 13.2 and later look for it
  // (fs_sblockloc 65536), read by od, by FreeBSD's own checks and by an fsck-style recount: see docs/freebsd.md.
  const sb = (await readUfsSuperblockAt(disk, ROOT_OFFSET))!;
  expect(sb).toMatchObject({ version: 2, location: 65536, sblockloc: 65536, sizeBytes: rootSectors * 512, blockSize: 32768, fragmentSize: 4096 });
  expect(ffsSbget(disk, ROOT_OFFSET)).toEqual({ ok: true, location: 65536 });
  const fsck = checkUfsImage(disk, ROOT_OFFSET);
  expect(fsck.problems).toEqual([]);
  expect(fsck.tree.get("usr/bin/su")).toMatchObject({ type: "file", mode: 0o4555, uid: 0, gid: 0 });
  const magic = await execa("od", ["-A", "n", "-t", "x4", "-j", String(ROOT_OFFSET + sb.location + 1372), "-N", "4", disk]);
  expect(magic.stdout.trim()).toBe("19540119");

  // Owners and modes restored from the manifests, as the inodes hold them.
  expect(fsck.tree.get("sbin/shutdown")).toMatchObject({ type: "file", mode: 0o4554, uid: 0, gid: 5 });
  expect(fsck.tree.get("tmp")).toMatchObject({ type: "dir", mode: 0o1777, uid: 0, gid: 0 });
  expect([...fsck.tree.values()].every((node) => node.uid === 0)).toBe(true);
}

/** Whether `text` occurs in the root partition's bytes (small files sit whole in one fragment). */
async function rootHolds(disk: string, text: string): Promise<boolean> {
  const found = await execa("sh", ["-c", `dd if='${disk}' bs=1M skip=${ROOT_OFFSET / MiB} status=none | grep -c -a -F -e "$1"`, "sh", text], { reject: false });
  return Number(found.stdout.trim()) > 0;
}

describe("fruix system image (freebsd)", () => {
  it("is a store item named after the host", () => {
    expect(image).toMatch(/\/[0-9a-f]{64}-fruix-disk-image-fruix-freebsd\/disk\.img$/);
  });

  it("passes sgdisk, mtools, fsck.vfat and od/file checks, with owners and modes restored", async () => {
    await checkFreebsdDisk(image);
    expect(await rootHolds(image, `fruix.system="${build.closurePath}"`)).toBe(true);
    expect(await rootHolds(image, "/dev/gpt/efiesp\t/boot/efi\tmsdosfs")).toBe(true);
  });

  it("is byte-identical when built again in a fresh store", async () => {
    const other = await freshStore();
    const again = await buildSystem(other, declared(sets.dir), silentLogger);
    const path = other.toHostPath(await buildImage(other, again, undefined, silentLogger));
    expect(path.slice(other.storeDir.length)).toBe(image.slice(store.storeDir.length));
    await execa("cmp", [image, path]);
  });

  it("refuses a root size too small for the system", async () => {
    await expect(buildImage(store, build, 4 * MiB, silentLogger)).rejects.toThrow(
      /^--root-size leaves 4 MiB for the root file system; this system needs at least \d+ MiB \(a disk of at least \d+ MiB\)$/,
    );
  });
});

describe("the fruix command (freebsd)", () => {
  const env = () => ({ FRUIX_STORE: store.storeDir, FRUIX_FREEBSD_DIST: sets.dir });

  it("builds the example from FRUIX_FREEBSD_DIST and writes its image", async () => {
    const built = await fruix(["system", "build", example, "--quiet"], env());
    expect(built.exitCode, built.stderr).toBe(0);
    expect(built.stdout).toMatch(/^closure_path=\/frx\/store\/[0-9a-f]{64}-fruix-system-fruix-freebsd$/m);
    const imaged = await fruix(["system", "image", example, "--quiet"], env());
    expect(imaged.exitCode, imaged.stderr).toBe(0);
    expect(imaged.stdout).toMatch(/^disk_image=\/frx\/store\/[0-9a-f]{64}-fruix-disk-image-fruix-freebsd\/disk\.img$/m);
  });

  it("installs onto a raw file, recording the sets in install.scm", async () => {
    const target = join(await tempDir(), "installed.img");
    const result = await fruix(["system", "install", example, "--target", target, "--disk-capacity", "200m", "--quiet"], env());
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain("target_kind=raw-file\n");
    expect((await stat(target)).size).toBe(200 * MiB);
    await checkFreebsdDisk(target);
    expect(await rootHolds(target, `(target "${target}")`)).toBe(true);
    expect(await rootHolds(target, "(base freebsd)")).toBe(true);
    expect(await rootHolds(target, '(name "base.txz")')).toBe(true);
  });

  it("says which set is missing, and where the directory came from", async () => {
    const result = await fruix(["system", "build", example, "--quiet"], { FRUIX_STORE: store.storeDir, FRUIX_FREEBSD_DIST: "/nonexistent" });
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim()).toBe("fruix: cannot read FreeBSD distribution set /nonexistent/base.txz: no such file (directory from FRUIX_FREEBSD_DIST)");
  });

  it("names the bindings when --system names none", async () => {
    const result = await fruix(["system", "image", example, "--system", "nope", "--quiet"], env());
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim()).toBe(`fruix: no operating-system bound to 'nope' in ${example} (bindings: my-freebsd-system)`);
  });
});

describe("booting real FreeBSD sets", () => {
  it("boots the image under QEMU/OVMF to the activation line when FRUIX_FREEBSD_DIST holds real sets", async (context) => {
    const dist = process.env.FRUIX_FREEBSD_DIST;
    const kernel = dist ? await stat(join(dist, "kernel.txz")).catch(() => undefined) : undefined;
    if (!dist || !kernel || kernel.size < 10 * MiB) {
      console.warn(`NOT RUN: no real FreeBSD sets (FRUIX_FREEBSD_DIST=${dist ?? "unset"}); nothing FreeBSD was booted, only synthetic sets were checked structurally`);
      return context.skip();
    }
    const real = await freshStore();
    const os = selectSystem(await loadDeclaration(example));
    const booted = await buildSystem(real, os, silentLogger);
    const disk = real.toHostPath(await buildImage(real, booted, undefined, silentLogger));
    const boot = await bootUefi(disk, /fruix: activated \S+\r?\n|panic:|mountroot>/, 600_000);
    expect(boot.transcript.match(/fruix: activated \S+/g), boot.transcript.slice(-3000)).toEqual([`fruix: activated ${booted.closurePath}`]);
  }, 900_000);
});
