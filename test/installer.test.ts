// `fruix system installer` and `installer-iso`: the media checked by
// independent tools (sgdisk, fsck.vfat, mtools, xorriso), built twice for
// byte equality, then booted by `fruix validate installer-disk installer-iso`
// under QEMU, and the installer's two refusals seen in FAIL reports.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupTempDirs, exampleFile, fruix, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

const MiB = 1024 * 1024;
let store: string;
beforeAll(async () => {
  store = join(await tempDir(), "store");
});

function results(stdout: string): Map<string, string> {
  return new Map(stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

async function extract(file: string, offset: number, size: number): Promise<string> {
  const out = join(await tempDir(), "fat.img");
  await execa("dd", [`if=${file}`, `of=${out}`, "bs=1M", `skip=${offset / MiB}`, `count=${Math.ceil(size / MiB)}`, "status=none"]);
  return out;
}

/** What the installer's FAT (disk ESP or El Torito image) must hold, read by mtools. */
async function checkInstallerFat(image: string, bootMedium: RegExp): Promise<void> {
  const listing = (await execa("mdir", ["-/", "-b", "-i", image, "::/"])).stdout;
  expect(listing).toMatch(/::\/EFI\/BOOT\/BOOTX64\.EFI$/m);
  expect(listing).toMatch(/-fruix-installer-root-fruix-minimal\/root\.cpio\.gz$/m);
  expect((await execa("mtype", ["-i", image, "::/loader/loader.conf"])).stdout).toContain("default fruix-installer.conf");
  const entry = (await execa("mtype", ["-i", image, "::/loader/entries/fruix-installer.conf"])).stdout;
  expect(entry.match(/^initrd /gm)).toHaveLength(2);
  expect(entry).toMatch(/^options fruix\.root=ram fruix\.system=\/frx\/store\/[0-9a-f]{64}-fruix-system-fruix-minimal-installer /m);
  expect(entry).toMatch(bootMedium);
}

describe("fruix system installer", () => {
  it("refuses a missing or malformed --install-target-device with one line", async () => {
    const missing = await fruix(["system", "installer", exampleFile, "--store", store]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^fruix: --install-target-device DEV is required/);
    const bad = await fruix(["system", "installer-iso", exampleFile, "--install-target-device", "vdb", "--store", store]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.trim()).toBe("fruix: --install-target-device must be a device path such as /dev/vdb, not 'vdb'");
  });

  it("writes a GPT disk whose ESP boots the installer from RAM; sgdisk, fsck.vfat and mtools agree; two stores give one image", async () => {
    const first = await fruix(["system", "installer", exampleFile, "--install-target-device", "/dev/vdb", "--store", store]);
    expect(first.exitCode, first.stderr.slice(-2000)).toBe(0);
    const out = results(first.stdout);
    expect(out.get("installer_disk_image")).toMatch(/^\/frx\/store\/[0-9a-f]{64}-fruix-installer-fruix-minimal\/disk\.img$/);
    expect(out.get("root_image")).toMatch(/^\/frx\/store\/[0-9a-f]{64}-fruix-installer-root-fruix-minimal\/root\.cpio\.gz$/);
    const disk = out.get("installer_disk_image_file")!;
    expect((await execa("sgdisk", ["-v", disk])).stdout).toContain("No problems found");
    expect((await execa("sgdisk", ["-p", disk])).stdout).toMatch(/^\s+1\s+2048\s+\d+\s+.*EF00\s+fruix-installer$/m);
    const size = (await stat(disk)).size - 2 * MiB;
    const fsck = await execa("fsck.vfat", ["-n", await extract(disk, MiB, size)], { reject: false });
    expect(fsck.exitCode, fsck.stdout).toBe(0);
    await checkInstallerFat(`${disk}@@${MiB}`, /fruix\.installer\.boot=UUID=[0-9A-F]{4}-[0-9A-F]{4} /);

    const otherStore = join(await tempDir(), "store");
    const second = await fruix(["system", "installer", exampleFile, "--install-target-device", "/dev/vdb", "--store", otherStore, "--quiet"]);
    expect(second.exitCode).toBe(0);
    await execa("cmp", [disk, results(second.stdout).get("installer_disk_image_file")!]);
  }, 300_000);

  it("writes an ISO with a UEFI El Torito image (xorriso), holding the installer; two stores give one ISO", async () => {
    const first = await fruix(["system", "installer-iso", exampleFile, "--install-target-device", "/dev/vda", "--store", store]);
    expect(first.exitCode, first.stderr.slice(-2000)).toBe(0);
    const out = results(first.stdout);
    const iso = out.get("iso_image_file")!;
    expect(out.get("boot_efi_image")).toMatch(/^\/frx\/store\/[0-9a-f]{64}-fruix-installer-iso-fruix-minimal\/efiboot\.img$/);
    expect(out.get("root_image")).toMatch(/root\.cpio\.gz$/);
    const report = (await execa("xorriso", ["-indev", iso, "-report_el_torito", "plain"], { all: true })).all;
    expect(report).toMatch(/^El Torito boot img :\s+1\s+UEFI\s+y\s+none\s/m);
    expect(report).toMatch(/^El Torito img path :\s+1\s+\/efiboot\.img$/m);
    expect(report).toMatch(/^Volume id\s+: 'FRUIX_INSTALL'$/m);
    const efiboot = iso.replace(/installer\.iso$/, "efiboot.img");
    const fsck = await execa("fsck.vfat", ["-n", efiboot], { reject: false });
    expect(fsck.exitCode, fsck.stdout).toBe(0);
    await checkInstallerFat(efiboot, /fruix\.installer\.boot=LABEL=FRUIX_INSTALL /);
    // The root image is a newc cpio of the installer's root, with the target staged under /fruix-installer.
    const names = (await execa("sh", ["-c", `zcat '${out.get("root_image")!.replace("/frx/store", store)}' | cpio -t --quiet`])).stdout.split("\n");
    expect(names).toEqual(expect.arrayContaining(["fruix-installer/install.conf", "fruix-installer/install.scm", "fruix-installer/esp/EFI/BOOT/BOOTX64.EFI", "fruix-installer/root/etc/fstab"]));
    expect(names).not.toContain("bin");

    const otherStore = join(await tempDir(), "store");
    const second = await fruix(["system", "installer-iso", exampleFile, "--install-target-device", "/dev/vda", "--store", otherStore, "--quiet"]);
    expect(second.exitCode).toBe(0);
    await execa("cmp", [iso, results(second.stdout).get("iso_image_file")!]);
  }, 300_000);
});

describe("fruix validate installer-disk installer-iso", () => {
  let reportDir: string;
  let result: Awaited<ReturnType<typeof fruix>>;

  beforeAll(async () => {
    reportDir = join(await tempDir(), "report");
    result = await fruix(["validate", "installer-disk", "installer-iso", "--report-dir", reportDir], { FRUIX_STORE: store });
  }, 900_000);

  it("passes both: install unattended, power off, boot the installed disk, every check", async () => {
    expect(result.exitCode, result.stderr.slice(-3000)).toBe(0);
    expect(result.stdout).toContain("installer-disk=PASS\n");
    expect(result.stdout).toContain("installer-iso=PASS\n");
    const disk = await readFile(join(reportDir, "installer-disk", "report.md"), "utf8");
    expect(disk).toMatch(/^install_target_device=\/dev\/vdb$/m);
    expect(disk).toMatch(/^\d+\. PASS install\.scm records the install target device$/m);
    expect(disk).toMatch(/^\d+\. PASS httpd serves its index on port 8080$/m);
    expect(disk).toMatch(/^`PASS installer-disk`/m);
    const iso = await readFile(join(reportDir, "installer-iso", "report.md"), "utf8");
    expect(iso).toMatch(/^install_target_device=\/dev\/vda$/m);
    expect(iso).toContain("eject the ISO through the adapter");
    expect(iso).toMatch(/^`PASS installer-iso`/m);
    const transcript = await readFile(join(reportDir, "installer-iso", "installer-serial.log"), "latin1");
    expect(transcript).toMatch(/fruix-installer: installed \/frx\/store\/[0-9a-f]{64}-fruix-system-fruix-minimal onto \/dev\/vda/);
  });
});

describe("the installer's refusals", () => {
  const refusals = [
    ["a device that does not exist", "/dev/vdc", "fruix-installer: error: install target device /dev/vdc does not exist (disks here: /dev/vda /dev/vdb)"],
    ["the device it booted from", "/dev/vda", "fruix-installer: error: install target device /dev/vda is the installer's boot medium (/dev/vda1); refusing to overwrite it"],
  ] as const;
  for (const [what, device, line] of refusals) {
    it(`refuses ${what}: one console line, quoted by the FAIL report`, async () => {
      const reportDir = join(await tempDir(), "report");
      const started = Date.now();
      const failed = await fruix(["validate", "installer-disk", "--install-target-device", device, "--report-dir", reportDir], { FRUIX_STORE: store });
      expect(failed.exitCode).toBe(1);
      expect(failed.stdout).toContain("installer-disk=FAIL\n");
      expect((Date.now() - started) / 1000).toBeLessThan(200); // the badness scan, not the 600 s install timeout
      const report = await readFile(join(reportDir, "installer-disk", "report.md"), "utf8");
      expect(report).toContain(line);
      expect(report).toMatch(/^`FAIL installer-disk`/m);
    }, 300_000);
  }
});
