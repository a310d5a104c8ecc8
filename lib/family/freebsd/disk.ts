// The FreeBSD system disk: an ESP holding only the set's loader.efi as
// EFI/BOOT/BOOTX64.EFI (the loader finds the UFS root on the same disk by
// its /boot/defaults/loader.conf), and a freebsd-ufs root named fruix-root,
// written by Fruix's UFS2 writer (./ufs) with the sets' owners, modes and
// flags restored.
import { copyFile, mkdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { FREEBSD_UFS_TYPE, type PartitionScheme } from "../../disk/gpt.js";
import type { ManifestEntry } from "../../disk/mtree.js";
import { minimumUfsSize, ufsUsage, walkTree, writeUfs, type TreeNode } from "./ufs/index.js";
import { closureLinkFile } from "../../system/closure-files.js";
import type { RootId } from "../../system/install-metadata.js";
import type { DiskFormat } from "../../system/stage.js";
import { FREEBSD_ESP_LABEL, FREEBSD_ROOT_LABEL, freebsdFstab } from "./boot.js";
import { freebsdSetItems, populateFreebsdRootfs, type SetItem } from "./rootfs.js";

export const FREEBSD_PARTITIONS: PartitionScheme = { espName: FREEBSD_ESP_LABEL, rootType: FREEBSD_UFS_TYPE, rootName: FREEBSD_ROOT_LABEL };

/**
 * The manifest entry for a path of the staged root (pure): the world's and
 * kernel's own paths at the root, and their copies inside /frx/store.
 */
export function setAttributes(world: SetItem, kernel: SetItem): (node: TreeNode) => ManifestEntry | undefined {
  const inStore = (set: SetItem) => `frx/store/${basename(set.item)}/tree/`;
  return ({ path }) => {
    for (const set of [world, kernel]) {
      if (path.startsWith(inStore(set))) return set.manifest.get(path.slice(inStore(set).length));
    }
    if (path === "boot/kernel" || path.startsWith("boot/kernel/")) return kernel.manifest.get(path);
    return path.startsWith("frx/") ? undefined : world.manifest.get(path);
  };
}

/** install.scm names the root by its GPT partition's GUID: UFS has no UUID. */
export const ROOT_ID: RootId = { field: "root-partition-guid", of: (ids) => ids.rootGuid };

export const freebsdDisk: DiskFormat = {
  partitions: FREEBSD_PARTITIONS,
  populate: populateFreebsdRootfs,
  minimumRootSize: async (rootfs) => minimumUfsSize(ufsUsage(await walkTree(rootfs))),
  diskFiles: () => ({ "/etc/fstab": freebsdFstab() }),
  async stageEsp(store, build, _ids, _created, dir) {
    await mkdir(join(dir, "EFI/BOOT"), { recursive: true });
    await copyFile(await closureLinkFile(store, build.closurePath, "boot/loader.efi"), join(dir, "EFI/BOOT/BOOTX64.EFI"));
  },
  rootStep: "root file system (UFS2)",
  async writeRoot(store, build, device, part, staged, _ids, isFile) {
    const { world, kernel } = await freebsdSetItems(store, build.closurePath);
    await writeUfs(device, part, staged.rootfs, setAttributes(world, kernel), isFile);
  },
};
