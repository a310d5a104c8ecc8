// What the linux-busybox installer's media carry: systemd-boot, one entry,
// the installer's kernel, its initramfs and the root image (root.cpio.gz),
// which the entry passes as a second initrd, and how the installer finds its
// own boot medium to refuse installing over it.
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Store } from "../../store/index.js";
import { closureLink, closureLinkFile } from "../../system/closure-files.js";
import type { SystemBuild } from "../../system/system-build.js";
import type { InstallerMedium } from "../family.js";
import { espPathFor, fatUuid, installerEntry, INSTALLER_ENTRY, loaderConf } from "./boot-entries.js";

/** How the installer finds its own boot medium, to refuse installing over it. */
export function bootMediumOfEsp(espVolumeId: string): string {
  return `UUID=${fatUuid(espVolumeId)}`;
}

/** The installer disk by its ESP's volume id, the CD by its label: everything goes on the FAT file system. */
export function stageLinuxBusyboxInstallerBoot(store: Store, installer: SystemBuild, hostName: string, rootImage: string, medium: InstallerMedium): Promise<void> {
  const bootMedium = medium.kind === "disk" ? bootMediumOfEsp(medium.ids.espVolumeId) : `LABEL=${medium.isoLabel}`;
  return stageInstallerBoot(store, installer, hostName, rootImage, bootMedium, medium.fat);
}

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
