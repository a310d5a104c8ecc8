// The installer's boot media, each made by one function: a GPT disk whose
// ESP boots the installer, and a UEFI-bootable ISO whose El Torito image does.
// Both carry systemd-boot, one entry, the kernel, the initramfs and the root
// image (root.cpio.gz), which the entry passes as a second initrd.
import { copyFile, mkdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { temporaryDirectory } from "../cleanup.js";
import { espPathFor, installerEntry, loaderConf, INSTALLER_ENTRY } from "../disk/boot-entries.js";
import { writeEsp } from "../disk/esp.js";
import { treeUsage } from "../disk/ext4.js";
import { writeEspOnlyGpt } from "../disk/gpt.js";
import { diskIds, ESP_SIZE } from "../disk/layout.js";
import { MiB, roundUp } from "../disk/size.js";
import { tool } from "../disk/tools.js";
import type { Logger } from "../log.js";
import { memoized } from "../store/memo.js";
import type { Store } from "../store/index.js";
import type { SystemBuild } from "./build.js";
import { closureLink, closureLinkFile } from "./closure-files.js";
import { freebsdBootLabel, stageFreebsdInstallerBoot } from "./freebsd-installer-media.js";
import { bootMediumOfEsp } from "./installer-root.js";

/** The ISO's volume label: the installer finds its CD by it. */
export const ISO_LABEL = "FRUIX_INSTALL";
/** FAT times cannot go before 1980; xorriso gets the same instant. */
const MEDIA_EPOCH = "315532800";
const ISO_DATE = "1980010100000000";

/** Fills `dir` with the installer's boot files. */
async function stageInstallerBoot(store: Store, installer: SystemBuild, hostName: string, rootImage: string, bootMedium: string, dir: string): Promise<void> {
  const kernel = await closureLink(store, installer.closurePath, "boot/vmlinuz");
  const initrd = await closureLink(store, installer.closurePath, "boot/initrd.img");
  const put = async (source: string, espPath: string) => {
    await mkdir(dirname(join(dir, espPath)), { recursive: true });
    await copyFile(source, join(dir, espPath));
  };
  await put(await closureLinkFile(store, installer.closurePath, "boot/bootloader.efi"), "/EFI/BOOT/BOOTX64.EFI");
  for (const file of [kernel, initrd, rootImage]) await put(store.toHostPath(file), espPathFor(file));
  const kernelArguments = (await readFile(join(store.toHostPath(installer.closurePath), "boot/kernel-arguments"), "utf8")).trim().split(/\s+/);
  const entry = installerEntry({
    hostName,
    closure: installer.closurePath,
    kernel: espPathFor(kernel),
    initrds: [espPathFor(initrd), espPathFor(rootImage)],
    bootMedium,
    kernelArguments,
  });
  await mkdir(join(dir, "loader/entries"), { recursive: true });
  await writeFile(join(dir, "loader/loader.conf"), loaderConf("installer"));
  await writeFile(join(dir, "loader/entries", INSTALLER_ENTRY), entry);
}

/** A FAT32 size that holds `dir` with room to spare; never below an ESP's 64 MiB (FAT32 needs 65525 clusters). */
async function fatSizeFor(dir: string): Promise<number> {
  const bytes = (await treeUsage(dir)).blocks * 4096;
  return Math.max(ESP_SIZE, roundUp(bytes * 1.1 + 4 * MiB, MiB));
}

async function withScratch<T>(fn: (scratch: string) => Promise<T>): Promise<T> {
  const { path: scratch, forget } = await temporaryDirectory("fruix-installer-");
  try {
    return await fn(scratch);
  } finally {
    forget();
    await rm(scratch, { recursive: true, force: true });
  }
}

/** `fruix system installer`: returns the store path of the installer's disk.img. */
export async function buildInstallerDisk(store: Store, installer: SystemBuild, rootImage: string, hostName: string, log: Logger): Promise<string> {
  const key = { recipe: "installer-disk", version: 1, installer: installer.closurePath, rootImage };
  const item = await memoized(store, key, () =>
    withScratch(async (scratch) => {
      const ids = diskIds(`${installer.closurePath}\0installer-disk\0${rootImage}`);
      const boot = join(scratch, "esp");
      if (installer.family === "freebsd") {
        // loader.efi reads /boot from the partition it was loaded from: everything is on the ESP.
        await stageFreebsdInstallerBoot(store, installer, rootImage, freebsdBootLabel("disk", ids, ISO_LABEL), boot, boot);
      } else await stageInstallerBoot(store, installer, hostName, rootImage, bootMediumOfEsp(ids.espVolumeId), boot);
      const esp = { offset: MiB, size: await fatSizeFor(boot) };
      return store.add(`fruix-installer-${hostName}`, async (out) => {
        const disk = join(out, "disk.img");
        await writeFile(disk, "");
        await truncate(disk, esp.offset + esp.size + MiB);
        await log.step("partition (sfdisk)", () => writeEspOnlyGpt(disk, esp, ids));
        await log.step("EFI system partition (mkfs.fat, mcopy)", () => writeEsp(disk, esp, ids.espVolumeId, boot));
      });
    }),
  );
  return `${item}/disk.img`;
}

export interface InstallerIso {
  readonly iso: string; // store path of installer.iso
  readonly efiboot: string; // store path of efiboot.img, the El Torito UEFI boot image
}

/** `fruix system installer-iso`: an ISO 9660 image whose El Torito UEFI entry boots the installer. */
export async function buildInstallerIso(store: Store, installer: SystemBuild, rootImage: string, hostName: string, log: Logger): Promise<InstallerIso> {
  const key = { recipe: "installer-iso", version: 1, installer: installer.closurePath, rootImage };
  const item = await memoized(store, key, () =>
    withScratch(async (scratch) => {
      const ids = diskIds(`${installer.closurePath}\0installer-iso\0${rootImage}`);
      const boot = join(scratch, "esp");
      const cd = join(scratch, "cd");
      await mkdir(cd);
      if (installer.family === "freebsd") {
        // The El Torito image holds loader.efi only; the loader reads /boot from the ISO 9660 file system.
        await stageFreebsdInstallerBoot(store, installer, rootImage, freebsdBootLabel("iso", ids, ISO_LABEL), boot, cd);
      } else await stageInstallerBoot(store, installer, hostName, rootImage, `LABEL=${ISO_LABEL}`, boot);
      const size = await fatSizeFor(boot);
      return store.add(`fruix-installer-iso-${hostName}`, async (out) => {
        const efiboot = join(cd, "efiboot.img");
        await writeFile(efiboot, "");
        await truncate(efiboot, size);
        await log.step("El Torito boot image (mkfs.fat, mcopy)", () => writeEsp(efiboot, { offset: 0, size }, ids.espVolumeId, boot));
        await log.step("ISO 9660 image (xorriso)", () =>
          tool("xorriso", [
            "-as", "mkisofs", "-quiet", "-o", join(out, "installer.iso"),
            "-V", ISO_LABEL, "-R", "-J",
            // Fixed times for the volume, every file and the boot catalog: two builds give the same bytes.
            `--modification-date=${ISO_DATE}`, "--set_all_file_dates", ISO_DATE,
            // The whole FAT image is the El Torito EFI entry (platform 0xEF); OVMF boots it from a CD drive.
            "-e", "efiboot.img", "-no-emul-boot",
            cd,
          ], { env: { SOURCE_DATE_EPOCH: MEDIA_EPOCH } }),
        );
        await copyFile(efiboot, join(out, "efiboot.img"));
      });
    }),
  );
  return { iso: `${item}/installer.iso`, efiboot: `${item}/efiboot.img` };
}
