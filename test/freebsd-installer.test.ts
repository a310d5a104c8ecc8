// The FreeBSD installer media on synthetic sets, checked by independent tools
// (sgdisk, mtools, fsck.vfat, xorriso, od), built twice for byte equality;
// and lib/family/freebsd/guest/installer.sh run under dash and BusyBox sh on the md
// root's staged tree with stand-ins for FreeBSD's gpart, newfs, glabel, ...
// (they log their arguments and make the device nodes gpart would). Nothing
// here runs FreeBSD: the installer has never run on FreeBSD (docs/installer.md).
import { chmod, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { lstatSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDeclaration, selectSystem } from "../lib/declaration/index.js";
import { readUfsSuperblockAt } from "../lib/family/freebsd/ufs/index.js";
import { ffsSbget } from "./helpers/ffs-sbget.js";
import { checkUfsImage } from "./helpers/ufs-check.js";
import { silentLogger } from "../lib/log.js";
import { packageRoot } from "../lib/paths.js";
import type { Store } from "../lib/store/index.js";
import { buildSystem, type SystemBuild } from "../lib/system/build.js";
import { buildFreebsdInstallerSystem, stageFreebsdInstallerRoot } from "../lib/family/freebsd/installer.js";
import { installerLoaderConf } from "../lib/family/freebsd/installer-media.js";
import { cleanupTempDirs, freshStore, fruix, removeTree, tempDir } from "./helpers/fixtures.js";
import { makeSyntheticSets, type SyntheticSets } from "./helpers/freebsd-sets.js";
import { shells } from "./helpers/guest-tree.js";

const MiB = 1024 * 1024;
const example = join(packageRoot, "examples/freebsd.scm");
let sets: SyntheticSets;

beforeAll(async () => {
  sets = await makeSyntheticSets(await tempDir());
});
afterAll(cleanupTempDirs);

function results(stdout: string): Map<string, string> {
  return new Map(stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

const run = (args: string[], store: string) => fruix([...args, "--store", store, "--quiet"], { FRUIX_FREEBSD_DIST: sets.dir });

/** loader.conf's settings as a map. */
function settings(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^([A-Za-z_.]+)="([^"]*)"$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** The md root: a UFS file system whose superblock FreeBSD's search finds at the start of the file. */
async function checkMdRoot(file: string): Promise<void> {
  const sb = (await readUfsSuperblockAt(file, 0))!;
  expect(sb).toMatchObject({ version: 2, location: 65536, sblockloc: 65536, blockSize: 32768, fragmentSize: 4096, sizeBytes: (await stat(file)).size });
  expect(ffsSbget(file)).toEqual({ ok: true, location: 65536 });
  expect(checkUfsImage(file).problems).toEqual([]);
  const magic = await execa("od", ["-A", "n", "-t", "x4", "-j", String(sb.location + 1372), "-N", "4", file]);
  expect(magic.stdout.trim()).toBe("19540119");
  // The payload is in it: install.conf names the device, in the image's bytes.
  const found = await execa("grep", ["-c", "-a", "-F", "DEVICE='/dev/vtbd", file], { reject: false });
  expect(Number(found.stdout.trim())).toBeGreaterThan(0);
}

function expectMdRootLoaderConf(conf: Map<string, string>, bootLabel: RegExp): void {
  expect(conf.get("mfsroot_load")).toBe("YES");
  expect(conf.get("mfsroot_type")).toBe("md_image");
  expect(conf.get("mfsroot_name")).toBe("/boot/mfsroot");
  expect(conf.get("vfs.root.mountfrom")).toBe("ufs:/dev/md0");
  expect(conf.get("console")).toBe("comconsole");
  expect(conf.get("fruix.system")).toMatch(/^\/frx\/store\/[0-9a-f]{64}-fruix-system-fruix-freebsd-installer$/);
  expect(conf.get("fruix.installer.boot")).toMatch(bootLabel);
}

describe("fruix system installer (freebsd)", () => {
  it("writes a GPT disk whose ESP holds loader.efi and the /boot it reads: kernel, loader.conf for an md root, the md root; two stores give one image", async () => {
    const store = join(await tempDir(), "store");
    const first = await run(["system", "installer", example, "--install-target-device", "/dev/vtbd1"], store);
    expect(first.exitCode, first.stderr.slice(-2000)).toBe(0);
    const out = results(first.stdout);
    expect(out.get("installer_disk_image")).toMatch(/^\/frx\/store\/[0-9a-f]{64}-fruix-installer-fruix-freebsd\/disk\.img$/);
    expect(out.get("root_image")).toMatch(/^\/frx\/store\/[0-9a-f]{64}-fruix-installer-root-fruix-freebsd\/mfsroot$/);
    expect(out.get("install_target_device")).toBe("/dev/vtbd1");
    const disk = out.get("installer_disk_image_file")!;
    expect((await execa("sgdisk", ["-v", disk])).stdout).toContain("No problems found");
    expect((await execa("sgdisk", ["-p", disk])).stdout).toMatch(/^\s+1\s+2048\s+\d+\s+.*EF00\s+fruix-installer$/m);
    const espGuid = /^Partition unique GUID: (\S+)$/m.exec((await execa("sgdisk", ["-i", "1", disk])).stdout)![1]!.toLowerCase();

    const fat = `${disk}@@${MiB}`;
    const listing = (await execa("mdir", ["-/", "-b", "-i", fat, "::/"])).stdout.split("\n");
    expect(listing).toEqual(expect.arrayContaining([
      "::/EFI/BOOT/BOOTX64.EFI", "::/boot/loader.conf", "::/boot/mfsroot", "::/boot/defaults/loader.conf", "::/boot/lua/loader.lua", "::/boot/kernel/kernel",
    ]));
    const dir = await tempDir();
    for (const [from, to] of [["::/EFI/BOOT/BOOTX64.EFI", "BOOTX64.EFI"], ["::/boot/mfsroot", "mfsroot"]]) {
      await execa("mcopy", ["-i", fat, from!, join(dir, to!)]);
    }
    expect(await readFile(join(dir, "BOOTX64.EFI"))).toEqual(sets.loaderEfi);
    await execa("cmp", [join(dir, "mfsroot"), join(store, out.get("root_image")!.slice("/frx/store/".length))]);
    expectMdRootLoaderConf(settings((await execa("mtype", ["-i", fat, "::/boot/loader.conf"])).stdout), new RegExp(`^gptid/${espGuid}$`));
    await execa("dd", [`if=${disk}`, `of=${join(dir, "esp.img")}`, "bs=1M", "skip=1", `count=${(await stat(disk)).size / MiB - 2}`, "status=none"]);
    expect((await execa("fsck.vfat", ["-n", join(dir, "esp.img")], { reject: false })).exitCode).toBe(0);
    await checkMdRoot(join(dir, "mfsroot"));

    const other = join(await tempDir(), "store");
    const second = await run(["system", "installer", example, "--install-target-device", "/dev/vtbd1"], other);
    expect(second.exitCode, second.stderr).toBe(0);
    await execa("cmp", [disk, results(second.stdout).get("installer_disk_image_file")!]);
  }, 300_000);

  it("writes an ISO whose UEFI El Torito image is loader.efi alone, with /boot and the md root on ISO 9660; two stores give one ISO", async () => {
    const store = join(await tempDir(), "store");
    const first = await run(["system", "installer-iso", example, "--install-target-device", "/dev/vtbd0"], store);
    expect(first.exitCode, first.stderr.slice(-2000)).toBe(0);
    const out = results(first.stdout);
    const iso = out.get("iso_image_file")!;
    expect(out.get("iso_image")).toMatch(/^\/frx\/store\/[0-9a-f]{64}-fruix-installer-iso-fruix-freebsd\/installer\.iso$/);
    expect(out.get("boot_efi_image")).toMatch(/^\/frx\/store\/[0-9a-f]{64}-fruix-installer-iso-fruix-freebsd\/efiboot\.img$/);
    expect(out.get("root_image")).toMatch(/\/mfsroot$/);
    const report = (await execa("xorriso", ["-indev", iso, "-report_el_torito", "plain"], { all: true })).all;
    expect(report).toMatch(/^El Torito boot img :\s+1\s+UEFI\s+y\s+none\s/m);
    expect(report).toMatch(/^El Torito img path :\s+1\s+\/efiboot\.img$/m);
    expect(report).toMatch(/^Volume id\s+: 'FRUIX_INSTALL'$/m);
    expect(report).not.toMatch(/^El Torito boot img :\s+2/m);

    const efiboot = iso.replace(/installer\.iso$/, "efiboot.img");
    expect((await execa("mdir", ["-/", "-b", "-i", efiboot, "::/"])).stdout.split("\n").sort()).toEqual(["::/EFI/", "::/EFI/BOOT/", "::/EFI/BOOT/BOOTX64.EFI"]);
    expect((await execa("fsck.vfat", ["-n", efiboot], { reject: false })).exitCode).toBe(0);

    const files = (await execa("xorriso", ["-indev", iso, "-find", "/", "-type", "f"], { all: true })).all;
    for (const path of ["/boot/loader.conf", "/boot/mfsroot", "/boot/kernel/kernel", "/boot/defaults/loader.conf", "/boot/lua/loader.lua", "/efiboot.img"]) {
      expect(files, path).toContain(`'${path}'`);
    }
    const dir = await tempDir();
    await execa("xorriso", ["-osirrox", "on", "-indev", iso, "-extract", "/boot/loader.conf", join(dir, "loader.conf"), "-extract", "/boot/mfsroot", join(dir, "mfsroot")], { all: true });
    expectMdRootLoaderConf(settings(await readFile(join(dir, "loader.conf"), "utf8")), /^iso9660\/FRUIX_INSTALL$/);
    await checkMdRoot(join(dir, "mfsroot"));

    const other = join(await tempDir(), "store");
    const second = await run(["system", "installer-iso", example, "--install-target-device", "/dev/vtbd0"], other);
    expect(second.exitCode, second.stderr).toBe(0);
    await execa("cmp", [iso, results(second.stdout).get("iso_image_file")!]);
  }, 300_000);

  it("loader.conf keeps the closure's console settings and replaces its root by the md image (pure)", () => {
    const text = installerLoaderConf('# c\nboot_serial="YES"\nvfs.root.mountfrom="ufs:/dev/gpt/fruix-root"\n', "/frx/store/x-fruix-system-h-installer", "gptid/abc");
    expect(text.split("\n")).toEqual([
      "# Generated by Fruix: the installer runs from the md image the loader preloads.",
      'boot_serial="YES"', 'mfsroot_load="YES"', 'mfsroot_type="md_image"', 'mfsroot_name="/boot/mfsroot"',
      'vfs.root.mountfrom="ufs:/dev/md0"', 'fruix.installer.boot="gptid/abc"', 'fruix.system="/frx/store/x-fruix-system-h-installer"', "",
    ]);
  });
});

/** Stand-ins for the FreeBSD tools the installer calls: each logs its arguments to $FRUIX_INSTALLER_ROOT/calls. */
const STUBS: Record<string, string> = {
  kenv: '[ "$2" = fruix.installer.boot ] && echo "$FAKE_BOOT_LABEL"',
  glabel: 'printf "%s  N/A  vtbd0p1\\ngpt/efiesp  N/A  vtbd0p1\\niso9660/OTHER  N/A  cd0\\n" "$FAKE_BOOT_LABEL"',
  sysctl: 'echo "vtbd0 vtbd1 cd0"',
  diskinfo: 'printf "%s\\t512\\t%s\\t%s\\t0\\t0\\n" "$1" "$FAKE_MEDIASIZE" $((FAKE_MEDIASIZE / 512))',
  gpart: `case $1 in
add) for disk; do :; done; n=$(ls "$FRUIX_INSTALLER_ROOT/dev" | grep -c "^\${disk}p"); : >"$FRUIX_INSTALLER_ROOT/dev/\${disk}p$((n + 1))" ;;
list) printf 'Geom name: %s\\nProviders:\\n1. Name: %sp1\\n   rawuuid: 11111111-2222-3333-4444-555555555555\\n2. Name: %sp2\\n   rawuuid: 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\\n   label: fruix-root\\n' "$2" "$2" "$2" ;;
esac`,
  newfs: "", newfs_msdos: "", mount: "", umount: "", sync: "", poweroff: "",
};

// dash only: a BusyBox sh runs its own sysctl, mount, sync, poweroff applets before
// looking at PATH, so the stand-ins would not be what it calls.
describe.each(shells.filter(([name]) => name === "dash"))("the FreeBSD in-guest installer under %s (FreeBSD tools stood in for)", (_name, shell) => {
  let template: string; // the md root's tree, as the UFS2 writer gets it
  let stubs: string;
  let target: SystemBuild;
  let store: Store;
  let count = 0;

  beforeAll(async () => {
    store = await freshStore();
    const source = (await readFile(example, "utf8")).replace("(base (freebsd-base))", `(base (freebsd-base (dist-directory "${sets.dir}")))`);
    const os = selectSystem(parseDeclaration(source, "freebsd.scm"));
    target = await buildSystem(store, os, silentLogger);
    const installer = await buildFreebsdInstallerSystem(store, os, target, silentLogger);
    template = join(await tempDir(), "ram");
    await mkdir(template);
    await stageFreebsdInstallerRoot(store, target, installer, { device: "/dev/vtbd1" }, "1970-01-01T00:00:00Z", template, silentLogger);
    await writeFile(join(template, "fruix-installer/install.conf"), (await readFile(join(template, "fruix-installer/install.conf"), "utf8")).replace("DEVICE_WAIT='5'", "DEVICE_WAIT='1'"));
    stubs = await tempDir();
    for (const [name, body] of Object.entries(STUBS)) {
      await writeFile(join(stubs, name), `#!/bin/sh\necho "${name} $*" >>"$FRUIX_INSTALLER_ROOT/calls"\n${body}\n`);
      await chmod(join(stubs, name), 0o755);
    }
  }, 300_000);

  async function install(device: string, options: { mediasize?: number } = {}) {
    const top = join(await tempDir(), `top-${++count}`);
    await execa("cp", ["-a", template, top]);
    await mkdir(join(top, "dev"), { recursive: true });
    await chmod(join(top, "dev"), 0o755); // the world's /dev is 0555: here it holds stand-in device nodes
    for (const disk of ["vtbd0", "vtbd0p1", "vtbd1"]) await writeFile(join(top, "dev", disk), "");
    await writeFile(join(top, "fruix-installer/install.conf"), (await readFile(join(top, "fruix-installer/install.conf"), "utf8")).replace("DEVICE='/dev/vtbd1'", `DEVICE='${device}'`));
    const env = {
      FRUIX_INSTALLER_ROOT: top, PATH: `${stubs}:/usr/bin:/bin`,
      FAKE_BOOT_LABEL: "gptid/9d3b8f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", FAKE_MEDIASIZE: String(options.mediasize ?? 1024 * MiB),
    };
    const result = await execa(shell[0]!, [...shell.slice(1), join(packageRoot, "lib/family/freebsd/guest/installer.sh")], { env, extendEnv: false, reject: false, all: true });
    const calls = (await readFile(join(top, "calls"), "utf8").catch(() => "")).trim().split("\n").filter(Boolean).map((c) => c.trim().replaceAll(top, "TOP"));
    return { result, calls, top, mnt: join(top, "mnt/fruix-target") };
  }

  it("partitions with gpart, formats with newfs_msdos and newfs, copies the system with the world linked to the store, records the install, powers off", async () => {
    const { result, calls, mnt, top } = await install("/dev/vtbd1");
    expect(result.exitCode, result.all).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines.at(-1)).toBe(`fruix-installer: installed ${target.closurePath} onto /dev/vtbd1`);
    const rootSectors = ((1024 - 65 - 1) * MiB) / 512;
    expect(calls.filter((c) => !/^(kenv|glabel|sysctl|diskinfo) /.test(c))).toEqual([
      "gpart destroy -F vtbd1",
      "gpart create -s gpt vtbd1",
      "gpart add -t efi -l efiesp -b 2048 -s 131072 vtbd1",
      `gpart add -t freebsd-ufs -l fruix-root -b 133120 -s ${rootSectors} vtbd1`,
      "gpart list vtbd1",
      "newfs_msdos -F 32 -c 1 -L FRUIX-ESP /dev/vtbd1p1",
      "newfs -O 2 -b 32768 -f 4096 -i 8192 -m 8 /dev/vtbd1p2",
      "mount -t ufs /dev/vtbd1p2 TOP/mnt/fruix-target",
      "mount -t msdosfs /dev/vtbd1p1 TOP/mnt/fruix-target/boot/efi",
      "sync",
      "umount TOP/mnt/fruix-target/boot/efi",
      "umount TOP/mnt/fruix-target",
      "sync",
      "poweroff",
    ]);
    // The world at / is hard links to its store copy on the target; /etc is a copy.
    const world = (await execa("sh", ["-c", `readlink '${join(mnt, target.closurePath, "world")}'`])).stdout;
    const ino = (path: string) => lstatSync(join(mnt, path)).ino;
    expect(ino("bin/sh")).toBe(ino(`${world}/tree/bin/sh`));
    expect(ino("usr/bin/su")).toBe(ino(`${world}/tree/usr/bin/su`));
    expect(ino("etc/rc")).not.toBe(ino(`${world}/tree/etc/rc`));
    const kernel = (await execa("sh", ["-c", `readlink '${join(mnt, target.closurePath, "boot/kernel")}'`])).stdout;
    expect(ino("boot/kernel/kernel")).toBe(ino(`${kernel}/kernel`));
    expect(await readFile(join(mnt, "etc/master.passwd"), "utf8")).toBe(await readFile(join(store.toHostPath(target.closurePath), "etc/master.passwd"), "utf8"));
    expect(await readFile(join(mnt, "boot/loader.conf"), "utf8")).toContain(`fruix.system="${target.closurePath}"`);
    expect(await readFile(join(mnt, "etc/fstab"), "utf8")).toContain("/dev/gpt/fruix-root\t/\t\tufs");
    for (const item of target.items) expect(lstatSync(join(mnt, item)).isDirectory(), item).toBe(true);
    // install.scm, with what only the guest knows filled in.
    for (const file of ["var/lib/fruix/install.scm", "var/lib/fruix/system/generations/1/install.scm"]) {
      const scm = await readFile(join(mnt, file), "utf8");
      expect(scm).toContain('(target "/dev/vtbd1")');
      expect(scm).toContain("(target-kind block-device)");
      expect(scm).toContain('(install-target-device "/dev/vtbd1")');
      expect(scm).toContain(`(disk-capacity ${1024 * MiB})`);
      expect(scm).toContain(`(root-size ${rootSectors * 512})`);
      expect(scm).toContain('(root-partition-guid "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")');
      expect(scm).not.toContain("@");
    }
    expect(await readFile(join(mnt, "boot/efi/EFI/BOOT/BOOTX64.EFI"))).toEqual(sets.loaderEfi);
    await removeTree(top);
  }, 120_000);

  const refusals = [
    { what: "a device that does not exist", device: "/dev/vtbd7", line: "fruix-installer: error: install target device /dev/vtbd7 does not exist (disks here: /dev/vtbd0 /dev/vtbd1 /dev/cd0)" },
    { what: "its own boot medium", device: "/dev/vtbd0", line: "fruix-installer: error: install target device /dev/vtbd0 is the installer's boot medium (/dev/vtbd0p1); refusing to overwrite it" },
    { what: "a partition of its boot medium", device: "/dev/vtbd0p1", line: "fruix-installer: error: install target device /dev/vtbd0p1 is the installer's boot medium (/dev/vtbd0p1); refusing to overwrite it" },
    { what: "a disk too small", device: "/dev/vtbd1", mediasize: 64 * MiB, line: /^fruix-installer: error: install target device \/dev\/vtbd1 \(64 MiB\) cannot hold a root of -?\d+ MiB$|^fruix-installer: error: install target device \/dev\/vtbd1 \(64 MiB\) is too small: this system needs a root of at least \d+ MiB$/ },
  ];
  for (const refusal of refusals) {
    it(`refuses ${refusal.what} with one line, before any gpart`, async () => {
      const { result, calls, top } = await install(refusal.device, { mediasize: refusal.mediasize });
      expect(result.exitCode).toBe(1);
      const last = result.stdout.trim().split("\n").at(-1)!;
      if (typeof refusal.line === "string") expect(last).toBe(refusal.line);
      else expect(last).toMatch(refusal.line);
      expect(calls.filter((c) => /^(gpart|newfs|mount)/.test(c))).toEqual([]);
      await removeTree(top);
    }, 60_000);
  }
});

it("the installer's md root carries rc.d/fruix_installer, an fstab for md0, and the target without its store items", async () => {
  const store = await freshStore();
  const source = (await readFile(example, "utf8")).replace("(base (freebsd-base))", `(base (freebsd-base (dist-directory "${sets.dir}")))`);
  const os = selectSystem(parseDeclaration(source, "freebsd.scm"));
  const target = await buildSystem(store, os, silentLogger);
  const installer = await buildFreebsdInstallerSystem(store, os, target, silentLogger);
  expect(installer.items).toContain(target.closurePath);
  expect(await readFile(join(store.toHostPath(installer.closurePath), "rc.conf"), "utf8")).toContain('fruix_installer_enable="YES"');
  const ram = join(await tempDir(), "ram");
  await mkdir(ram);
  const attributes = await stageFreebsdInstallerRoot(store, target, installer, { device: "/dev/vtbd1" }, "1970-01-01T00:00:00Z", ram, silentLogger);
  expect(await readFile(join(ram, "etc/rc.d/fruix_installer"), "utf8")).toContain("# REQUIRE: fruix");
  expect(await readFile(join(ram, "etc/fstab"), "utf8")).toContain("/dev/md0\t/\tufs");
  const payload = join(ram, "fruix-installer");
  await expect(stat(join(payload, "root/bin/sh"))).rejects.toThrow(); // linked again from the store by the guest
  expect((await stat(join(payload, "root/etc/rc"))).isFile()).toBe(true);
  expect(await readFile(join(payload, "root/boot/loader.conf"), "utf8")).toContain(`fruix.system="${target.closurePath}"`);
  expect(await readFile(join(payload, "install.scm"), "utf8")).toContain("(root-partition-guid @root-partition-guid@)");
  expect((await readFile(join(payload, "items"), "utf8")).trim().split("\n")).toEqual([...target.items]);
  const conf = await readFile(join(payload, "install.conf"), "utf8");
  for (const line of ["DEVICE='/dev/vtbd1'", `CLOSURE='${target.closurePath}'`, "ESP_LABEL='efiesp'", "ROOT_LABEL='fruix-root'", "MUTABLE='etc var root tmp home usr/local'"]) {
    expect(conf.split("\n")).toContain(line);
  }
  // The UFS2 writer gets the sets' owners for the staged root, as for an image.
  const node = { path: "fruix-installer/root/etc/master.passwd", type: "file" as const, mode: 0o444, size: 1, ino: 1, allocated: 4096 };
  expect(attributes(node)).toMatchObject({ type: "file", uid: 0, gid: 0, mode: 0o600 });
  await rm(ram, { recursive: true, force: true }).catch(() => removeTree(ram));
}, 300_000);


