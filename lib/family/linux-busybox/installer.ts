// The linux-busybox installer: the target declaration turned into a closure
// that runs guest/installer.sh once at boot, with Debian's disk tools (BusyBox
// has no GPT partitioner) and a reference to the target closure, so the
// installer's store holds everything it copies; and its root image: a gzip'd
// newc cpio the boot loader passes as a second initrd, holding the installer
// system's rootfs and, under /fruix-installer, the install payload
// (lib/system/installer-payload.ts). The guest measures the disk and fills in
// the rest.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { importDebianBinaries, type BinarySet } from "../../debian/binaries.js";
import type { LinuxBusyboxBase, OperatingSystem } from "../../declaration/types.js";
import { ESP_TYPE, LINUX_PARTITIONS } from "../../disk/gpt.js";
import type { DiskIds } from "../../disk/layout.js";
import type { Logger } from "../../log.js";
import type { Store } from "../../store/index.js";
import { memoized } from "../../store/memo.js";
import { cpioArchive, treeEntries } from "../../system/cpio.js";
import { generationTime } from "../../system/generation.js";
import { emptyStore, installConfText, installerTargetIds, PAYLOAD_DIR, writePayload, type InstallPlan } from "../../system/installer-payload.js";
import { withInstaller } from "../../system/installer.js";
import { stageWith } from "../../system/stage.js";
import type { SystemBuild } from "../../system/system-build.js";
import { addTree } from "../../system/tree.js";
import { fruixVersion } from "../../version.js";
import { realizeLinuxBusybox } from "./base.js";
import { buildLinuxBusyboxSystem, guestScript } from "./build.js";
import { linuxBusyboxDisk, ROOT_ID } from "./disk.js";
import { populateRootfs } from "./rootfs.js";

/** sfdisk, mkfs.fat and mke2fs with every library they load (Debian 12 package names). */
export const INSTALLER_TOOLS: BinarySet = {
  name: "fruix-installer-tools",
  packages: [
    "fdisk", "libfdisk1", "libsmartcols1", "libreadline8", "libtinfo6", "libblkid1", "libuuid1",
    "dosfstools", "e2fsprogs", "libext2fs2", "libcom-err2", "libc6",
  ],
  binaries: ["sbin/sfdisk", "sbin/mkfs.fat", "sbin/mke2fs"],
};

export async function buildLinuxBusyboxInstallerSystem(store: Store, os: OperatingSystem, target: SystemBuild, log: Logger): Promise<SystemBuild> {
  const base = await realizeLinuxBusybox(store, os.base as LinuxBusyboxBase, log);
  const tools = await importDebianBinaries(store, INSTALLER_TOOLS, log);
  const script = await addTree(store, `fruix-installer-${fruixVersion}`, {
    "bin/fruix-installer": await guestScript("installer.sh", base.busybox),
  });
  return buildLinuxBusyboxSystem(store, withInstaller(os), log, {
    programs: { ...tools.programs, "fruix-installer": `${script}/bin/fruix-installer` },
    items: [tools.item, script, target.closurePath],
    packages: tools.packages.map((pkg) => ({ pkg, items: [tools.item] })),
  });
}

/** /fruix-installer/install.conf, sourced by the installer (pure). */
export function installConf(target: SystemBuild, plan: InstallPlan, ids: DiskIds, minimumRootSize: number): string {
  return installConfText(target, plan, minimumRootSize, {
    ESP_TYPE,
    ROOT_TYPE: LINUX_PARTITIONS.rootType,
    DISK_GUID: ids.diskGuid,
    ESP_GUID: ids.espGuid,
    ROOT_GUID: ids.rootGuid,
    ROOT_UUID: ids.rootUuid,
    ROOT_HASH_SEED: ids.rootHashSeed,
    ESP_VOLUME_ID: ids.espVolumeId,
  });
}

/** Returns the store path of root.cpio.gz. */
export async function buildLinuxBusyboxInstallerRoot(store: Store, target: SystemBuild, installer: SystemBuild, plan: InstallPlan, log: Logger): Promise<string> {
  const created = generationTime();
  const key = { recipe: "installer-root", version: 1, target: target.closurePath, installer: installer.closurePath, plan, created };
  const item = await memoized(store, key, async () => {
    const staged = await log.step("stage the target rootfs", () => stageWith(store, target, linuxBusyboxDisk, created));
    try {
      const ids = installerTargetIds(target, plan.device);
      const format = linuxBusyboxDisk;
      await staged.addFiles(format.diskFiles(ids));

      const ram = join(staged.scratch, "ram");
      const payload = join(ram, PAYLOAD_DIR);
      await mkdir(ram);
      await log.step("installer rootfs", () => populateRootfs(store, installer, ram, created));
      // /bin stays the initramfs's BusyBox directory: unpacking a link over it would break /init.
      await rm(join(ram, "bin"));
      // The target's store items are in the installer's store already; the guest copies them once.
      await emptyStore(staged.rootfs);
      await writePayload(payload, store, target, plan, {
        rootfs: staged.rootfs,
        format,
        ids,
        created,
        conf: installConf(target, plan, ids, staged.minimumRootSize),
        rootUuid: ROOT_ID.of(ids),
        rootIdField: ROOT_ID.field,
      });
      const image = await log.step("root image (cpio, gzip)", async () => gzipSync(cpioArchive(await treeEntries(ram)), { level: 6 }));
      return await store.add(`fruix-installer-root-${target.hostName}`, (out) => writeFile(join(out, "root.cpio.gz"), image));
    } finally {
      await staged.dispose();
    }
  }, { name: `fruix-installer-root-${target.hostName}` });
  return `${item}/root.cpio.gz`;
}

