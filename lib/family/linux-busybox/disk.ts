// The linux-busybox system disk: an ESP with systemd-boot, generation 1's
// kernel and initrd and one loader entry, and an ext4 root made by mke2fs -d.
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { treeUsage, writeExt4 } from "../../disk/ext4.js";
import { LINUX_PARTITIONS } from "../../disk/gpt.js";
import { minimumRootSize } from "../../disk/layout.js";
import type { Store } from "../../store/index.js";
import { closureLink, closureLinkFile } from "../../system/closure-files.js";
import type { RootId } from "../../system/install-metadata.js";
import type { DiskFormat } from "../../system/stage.js";
import type { SystemBuild } from "../../system/system-build.js";
import { bootEntry, entryFileName, espPathFor, fstab, loaderConf } from "./boot-entries.js";
import { populateRootfs } from "./rootfs.js";

/** The ESP's files: systemd-boot, generation 1's kernel and initrd, loader configuration. */
async function stageEsp(store: Store, build: SystemBuild, rootUuid: string, created: string, dir: string): Promise<void> {
  const closure = store.toHostPath(build.closurePath);
  const kernel = await closureLink(store, build.closurePath, "boot/vmlinuz");
  const initrd = await closureLink(store, build.closurePath, "boot/initrd.img");
  const put = async (source: string, espPath: string) => {
    await mkdir(dirname(join(dir, espPath)), { recursive: true });
    await copyFile(source, join(dir, espPath));
  };
  await put(await closureLinkFile(store, build.closurePath, "boot/bootloader.efi"), "/EFI/BOOT/BOOTX64.EFI");
  await put(store.toHostPath(kernel), espPathFor(kernel));
  await put(store.toHostPath(initrd), espPathFor(initrd));
  const kernelArguments = (await readFile(join(closure, "boot/kernel-arguments"), "utf8")).trim().split(/\s+/);
  const entry = bootEntry({
    generation: 1, created, hostName: build.hostName, closure: build.closurePath,
    kernel: espPathFor(kernel), initrd: espPathFor(initrd), rootUuid, kernelArguments,
  });
  await mkdir(join(dir, "loader/entries"), { recursive: true });
  await writeFile(join(dir, "loader/loader.conf"), loaderConf(1));
  await writeFile(join(dir, "loader/entries", entryFileName(1)), entry);
}

/** install.scm names the root by its ext4 file system's UUID. */
export const ROOT_ID: RootId = { field: "root-uuid", of: (ids) => ids.rootUuid };

/** Debian's kernel through systemd-boot, and an ext4 root. */
export const linuxBusyboxDisk: DiskFormat = {
  partitions: LINUX_PARTITIONS,
  populate: populateRootfs,
  minimumRootSize: async (rootfs) => minimumRootSize(await treeUsage(rootfs)),
  diskFiles: (ids) => ({ "/etc/fstab": fstab(ids.espVolumeId) }),
  stageEsp: (store, build, ids, created, dir) => stageEsp(store, build, ids.rootUuid, created, dir),
  rootStep: "root file system (mke2fs -d)",
  writeRoot: (_store, _build, device, part, staged, ids) =>
    writeExt4(device, part, staged.rootfs, { uuid: ids.rootUuid, hashSeed: ids.rootHashSeed, label: "fruix-root", scratch: staged.scratch }),
};
