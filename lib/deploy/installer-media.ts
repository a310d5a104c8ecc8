// The installer's boot media, each made by one function: a GPT disk whose
// ESP boots the installer, and a UEFI-bootable ISO whose El Torito image does.
// What goes on them (boot loader, kernel, root image) is the family's
// (lib/family/*/installer-media.ts).
import { copyFile, mkdir, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { temporaryDirectory } from "../cleanup.js";
import { writeEsp } from "../disk/esp.js";
import { treeUsage } from "../disk/ext4.js";
import { writeEspOnlyGpt } from "../disk/gpt.js";
import { diskIds, ESP_SIZE } from "../disk/layout.js";
import { MiB, roundUp } from "../disk/size.js";
import { tool } from "../disk/tools.js";
import { familyOf } from "../family/index.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import { memoized } from "../store/memo.js";
import type { SystemBuild } from "../system/build.js";

/** The ISO's volume label: the installer finds its CD by it. */
export const ISO_LABEL = "FRUIX_INSTALL";
/** FAT times cannot go before 1980; xorriso gets the same instant. */
const MEDIA_EPOCH = "315532800";
const ISO_DATE = "1980010100000000";

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
      await familyOf(installer).stageInstallerBoot(store, installer, hostName, rootImage, { kind: "disk", ids, isoLabel: ISO_LABEL, fat: boot, top: boot });
      const esp = { offset: MiB, size: await fatSizeFor(boot) };
      return store.add(`fruix-installer-${hostName}`, async (out) => {
        const disk = join(out, "disk.img");
        await writeFile(disk, "");
        await truncate(disk, esp.offset + esp.size + MiB);
        await log.step("partition (sfdisk)", () => writeEspOnlyGpt(disk, esp, ids));
        await log.step("EFI system partition (mkfs.fat, mcopy)", () => writeEsp(disk, esp, ids.espVolumeId, boot));
      });
    }),
    { name: `fruix-installer-${hostName}` },
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
      await familyOf(installer).stageInstallerBoot(store, installer, hostName, rootImage, { kind: "iso", ids, isoLabel: ISO_LABEL, fat: boot, top: cd });
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
    { name: `fruix-installer-iso-${hostName}` },
  );
  return { iso: `${item}/installer.iso`, efiboot: `${item}/efiboot.img` };
}
