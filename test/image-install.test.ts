// `fruix system image` and `install`, checked by independent tools (sgdisk,
// fsck.vfat, e2fsck, debugfs, mtools) and booted by a plain QEMU + OVMF.
import { mkdir, readdir, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDeclaration, selectSystem } from "../lib/declaration/index.js";
import { MiB } from "../lib/disk/size.js";
import { silentLogger } from "../lib/log.js";
import type { Store } from "../lib/store/index.js";
import { buildSystem, type SystemBuild } from "../lib/system/build.js";
import { buildImage } from "../lib/deploy/image.js";
import { cleanupTempDirs, exampleFile, freshStore, fruix, tempDir } from "./helpers/fixtures.js";
import { ACTIVATED_OR_FAILED, bootUefi } from "./helpers/qemu-direct.js";

const ROOT_OFFSET = 65 * MiB; // ESP at 1 MiB, 64 MiB long

let store: Store;
let build: SystemBuild;
let image: string; // host path

beforeAll(async () => {
  store = await freshStore();
  build = await buildSystem(store, selectSystem(await loadDeclaration(exampleFile)), silentLogger);
  image = store.toHostPath(await buildImage(store, build, undefined, silentLogger));
});
afterAll(cleanupTempDirs);

const root = (disk: string) => `${disk}?offset=${ROOT_OFFSET}`;

async function debugfs(disk: string, command: string): Promise<string> {
  return (await execa("debugfs", ["-R", command, root(disk)], { stderr: "ignore" })).stdout;
}

/** A symlink's target: short ones live in the inode (debugfs stat), long ones in a block (debugfs cat). */
async function linkTarget(disk: string, path: string): Promise<string> {
  const fast = /Fast link dest: "(.*)"/.exec(await debugfs(disk, `stat ${path}`));
  return fast ? fast[1]! : debugfs(disk, `cat ${path}`);
}

async function mtype(disk: string, file: string): Promise<string> {
  return (await execa("mtype", ["-i", `${disk}@@${MiB}`, `::${file}`])).stdout;
}

/** Copies one partition out, for tools that take no offset (fsck.vfat). */
async function extract(disk: string, offset: number, size: number): Promise<string> {
  const out = join(await tempDir(), "part.img");
  await execa("dd", [`if=${disk}`, `of=${out}`, "bs=1M", `skip=${offset / MiB}`, `count=${size / MiB}`, "conv=sparse", "status=none"]);
  return out;
}

/** The checks every Fruix system disk must pass, whoever wrote it. */
async function checkSystemDisk(disk: string) {
  const verify = await execa("sgdisk", ["-v", disk]);
  expect(verify.stdout).toContain("No problems found");
  const table = (await execa("sgdisk", ["-p", disk])).stdout;
  expect(table).toMatch(/^\s+1\s+2048\s+133119\s+64\.0 MiB\s+EF00\s+EFI system$/m);
  expect(table).toMatch(/^\s+2\s+133120\s+\d+\s+.*8304\s+fruix-root$/m);

  const fat = await execa("fsck.vfat", ["-n", await extract(disk, MiB, 64 * MiB)], { reject: false });
  expect(fat.exitCode, fat.stdout).toBe(0);
  const ext = await execa("e2fsck", ["-fn", root(disk)], { reject: false });
  expect(ext.exitCode, ext.stdout + ext.stderr).toBe(0);

  // ESP: boot manager, loader.conf defaulting to generation 1, its entry naming the closure.
  const esp = (await execa("mdir", ["-/", "-b", "-i", `${disk}@@${MiB}`, "::/"])).stdout;
  expect(esp).toContain("::/EFI/BOOT/BOOTX64.EFI");
  expect(await mtype(disk, "/loader/loader.conf")).toContain("default fruix-generation-1.conf");
  const entry = await mtype(disk, "/loader/entries/fruix-generation-1.conf");
  expect(entry).toContain(`fruix.system=${build.closurePath}`);
  expect(entry).toMatch(/^title Fruix fruix-minimal, generation 1 \(\d{4}-\d\d-\d\d\)$/m);

  // Root: generation 1 layout, read back with debugfs.
  expect(await linkTarget(disk, "/var/lib/fruix/system/current")).toBe("generations/1");
  expect(await debugfs(disk, "cat /var/lib/fruix/system/current-generation")).toBe("1");
  expect(await linkTarget(disk, "/var/lib/fruix/system/generations/1/closure")).toBe(build.closurePath);
  expect(await linkTarget(disk, "/frx/var/fruix/gcroots/system-1")).toBe(build.closurePath);
  expect(await linkTarget(disk, "/frx/var/fruix/gcroots/current-system")).toBe(build.closurePath);
  const store = await debugfs(disk, "ls -p /frx/store");
  for (const item of build.items) expect(store).toContain(item.slice("/frx/store/".length));
}

describe("fruix system image", () => {
  it("is a store item named after the host", () => {
    expect(image).toMatch(/\/[0-9a-f]{64}-fruix-disk-image-fruix-minimal\/disk\.img$/);
  });

  it("passes sgdisk -v, fsck.vfat -n and e2fsck -fn, with the layout read back by mtools and debugfs", async () => {
    await checkSystemDisk(image);
  });

  it("is byte-identical when built again in a fresh store", async () => {
    const other = await freshStore();
    const again = await buildSystem(other, selectSystem(await loadDeclaration(exampleFile)), silentLogger);
    const path = other.toHostPath(await buildImage(other, again, undefined, silentLogger));
    expect(path.slice(other.storeDir.length)).toBe(image.slice(store.storeDir.length));
    await execa("cmp", [image, path]); // throws on the first differing byte
  });

  it("refuses a root size too small for the system, saying the minimum, adding nothing", async () => {
    const dir = await tempDir();
    const env = { FRUIX_STORE: join(dir, "store") };
    await fruix(["system", "build", exampleFile, "--quiet"], env);
    const before = await readdir(join(dir, "store"));
    const result = await fruix(["system", "image", exampleFile, "--root-size", "10m", "--quiet"], env);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim()).toMatch(/^fruix: --root-size leaves 10 MiB for the root file system; this system needs at least \d+ MiB \(a disk of at least \d+ MiB\)$/);
    expect(await readdir(join(dir, "store"))).toEqual(before);
  });

  it("rejects a malformed size before building anything", async () => {
    const result = await fruix(["system", "image", exampleFile, "--root-size", "big"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim()).toBe("fruix: --root-size: invalid size 'big' (use bytes, or a number with k, m, g or t, as in 512m or 6g)");
  });

  it("boots with plain qemu-system-x86_64 + OVMF (TCG) to the activation line", async () => {
    const boot = await bootUefi(image, ACTIVATED_OR_FAILED, 120_000);
    expect(boot.transcript.match(/fruix: activated \S+/g), boot.transcript.slice(-2000)).toEqual([`fruix: activated ${build.closurePath}`]);
  }, 150_000);
});

describe("fruix system install", () => {
  let dir: string;
  let installed: string;
  let result: Awaited<ReturnType<typeof fruix>>;
  const env = () => ({ FRUIX_STORE: store.storeDir });

  beforeAll(async () => {
    dir = await tempDir();
    installed = join(dir, "installed.img");
    result = await fruix(["system", "install", exampleFile, "--target", installed, "--disk-capacity", "300m", "--quiet"], env());
  });

  it("reports the target, its kind and the install metadata path", () => {
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(`target=${installed}\n`);
    expect(result.stdout).toContain("target_kind=raw-file\n");
    expect(result.stdout).toContain("install_metadata_path=/var/lib/fruix/install.scm\n");
  });

  it("creates the raw file at exactly --disk-capacity", async () => {
    expect((await stat(installed)).size).toBe(300 * MiB);
  });

  it("writes a disk that passes the independent checks", async () => {
    await checkSystemDisk(installed);
  });

  it("records the closure, the install spec and every store item's provenance, also in generation 1", async () => {
    const metadata = await debugfs(installed, "cat /var/lib/fruix/install.scm");
    expect(metadata).toContain(`(closure "${build.closurePath}")`);
    expect(metadata).toContain(`(target "${installed}")`);
    expect(metadata).toContain("(target-kind raw-file)");
    expect(metadata).toContain(`(disk-capacity ${300 * MiB})`);
    for (const item of build.items) expect(metadata).toContain(`(path "${item}")`);
    expect(metadata.replace(/\s+/g, " ")).toMatch(/\(source debian-package \(name "busybox-static"\) \(version "[^"]+"\) \(sha256 "[0-9a-f]{64}"\)\)/);
    expect(await debugfs(installed, "cat /var/lib/fruix/system/generations/1/install.scm")).toBe(metadata);
  });

  it("refuses a target that is neither a regular file nor a block device", async () => {
    const target = join(dir, "a-directory");
    await mkdir(target);
    const refused = await fruix(["system", "install", exampleFile, "--target", target, "--quiet"], env());
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.trim()).toBe(`fruix: target ${target} is neither a regular file nor a block device`);
  });

  it("refuses a file holding a partition table unless --force, leaving it untouched", async () => {
    const before = await execa("sha256sum", [installed]);
    const refused = await fruix(["system", "install", exampleFile, "--target", installed, "--quiet"], env());
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.trim()).toBe(`fruix: target ${installed} holds a GPT partition table; use --force to overwrite it`);
    expect((await execa("sha256sum", [installed])).stdout).toBe(before.stdout);
    const forced = await fruix(["system", "install", exampleFile, "--target", installed, "--force", "--quiet"], env());
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(forced.stdout).toContain(`disk_capacity=${300 * MiB}\n`); // an existing file keeps its size
  });

  it("refuses a capacity too small for the system, creating no file", async () => {
    const target = join(dir, "small.img");
    const refused = await fruix(["system", "install", exampleFile, "--target", target, "--disk-capacity", "80m", "--quiet"], env());
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.trim()).toMatch(/^fruix: a disk of 80 MiB leaves \d+ MiB for the root file system; this system needs at least \d+ MiB \(a disk of at least \d+ MiB\)$/);
    await expect(stat(target)).rejects.toThrow();
  });

  it("refuses a --root-size the disk cannot hold", async () => {
    const target = join(dir, "tight.img");
    const refused = await fruix(["system", "install", exampleFile, "--target", target, "--disk-capacity", "200m", "--root-size", "1g", "--quiet"], env());
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.trim()).toBe(`fruix: target ${target}: 200 MiB cannot hold --root-size 1 GiB; that needs a disk of at least 1090 MiB`);
    await expect(stat(target)).rejects.toThrow();
  });
});

describe("fruix system install onto a block device", () => {
  const loops: string[] = [];
  const mounts: string[] = [];
  let available = true;

  beforeAll(async () => {
    const probe = await execa("losetup", ["--find"], { reject: false });
    available = probe.exitCode === 0 && process.getuid?.() === 0;
    if (!available) console.warn(`NOT RUN: loop devices are not available here (${probe.stderr || "not root"}); block-device installs are untested on this machine`);
  });
  afterAll(async () => {
    for (const m of mounts) await execa("umount", [m], { reject: false });
    for (const l of loops) await execa("losetup", ["-d", l], { reject: false });
  });

  async function loopDevice(size: number): Promise<string> {
    const file = join(await tempDir(), "backing.img");
    await writeFile(file, "");
    await truncate(file, size);
    const device = (await execa("losetup", ["--find", "--show", file])).stdout.trim();
    loops.push(device);
    return device;
  }

  it("partitions, formats and populates the device", async (context) => {
    if (!available) return context.skip();
    const device = await loopDevice(300 * MiB);
    const done = await fruix(["system", "install", exampleFile, "--target", device, "--quiet"], { FRUIX_STORE: store.storeDir });
    expect(done.exitCode, done.stderr).toBe(0);
    expect(done.stdout).toContain("target_kind=block-device\n");
    await checkSystemDisk(device);
    expect(await debugfs(device, "cat /var/lib/fruix/install.scm")).toContain("(target-kind block-device)");
  });

  it("refuses a mounted device and writes nothing to it", async (context) => {
    if (!available) return context.skip();
    const device = await loopDevice(64 * MiB);
    // Read-only, without lazy initialisation: the kernel itself must not write to the device while the test hashes it.
    await execa("mke2fs", ["-q", "-t", "ext4", "-E", "lazy_itable_init=0,lazy_journal_init=0", device]);
    const mountPoint = await tempDir();
    await execa("mount", ["-o", "ro", device, mountPoint]);
    mounts.push(mountPoint);
    const before = (await execa("sha256sum", [device])).stdout;
    const refused = await fruix(["system", "install", exampleFile, "--target", device, "--force", "--quiet"], { FRUIX_STORE: store.storeDir });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.trim()).toBe(`fruix: target ${device} is in use: ${device} is mounted on ${mountPoint}`);
    expect((await execa("sha256sum", [device])).stdout).toBe(before);
  });

  it("refuses --disk-capacity for a block device", async (context) => {
    if (!available) return context.skip();
    const device = await loopDevice(64 * MiB);
    const refused = await fruix(["system", "install", exampleFile, "--target", device, "--disk-capacity", "1g", "--quiet"], { FRUIX_STORE: store.storeDir });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.trim()).toBe(`fruix: --disk-capacity applies to raw files; ${device} is a block device of 64 MiB`);
  });
});
