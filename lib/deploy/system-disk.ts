// Writes a bootable Fruix system disk: GPT, an ESP and a root holding the
// system's rootfs. What differs by base family (partition types, ESP
// contents, root file system) is the family's DiskFormat
// (lib/family/*/disk.ts). No root privileges, loop devices or mounts: every
// tool writes at an offset.
import { mkdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { writeEsp } from "../disk/esp.js";
import { treeUsage } from "../disk/ext4.js";
import { writeGpt } from "../disk/gpt.js";
import { minimumDiskSize, type DiskIds, type DiskLayout } from "../disk/layout.js";
import { formatSize } from "../disk/size.js";
import { FruixError } from "../errors.js";
import { familyOf } from "../family/index.js";
import type { Logger } from "../log.js";
import { meter } from "../progress/index.js";
import type { Store } from "../store/index.js";
import type { SystemBuild } from "../system/build.js";
import { stageWith, type StagedSystem } from "../system/stage.js";

/** Lays the system out as its family does, in a scratch directory, measured. */
export function stageSystem(store: Store, build: SystemBuild, created: string): Promise<StagedSystem> {
  return stageWith(store, build, familyOf(build).disk, created);
}

/** Refuses, before anything is written, a root partition too small for the system. */
export function checkRootSize(layout: DiskLayout, staged: StagedSystem, what: string): void {
  if (layout.root.size < staged.minimumRootSize) {
    throw new FruixError(
      `${what} leaves ${formatSize(layout.root.size)} for the root file system; this system needs at least ` +
        `${formatSize(staged.minimumRootSize)} (a disk of at least ${formatSize(minimumDiskSize(staged.minimumRootSize))})`,
    );
  }
}

/** Writes the whole disk onto `device` (a file of at least layout.diskSize bytes, or a block device). */
export async function writeSystemDisk(
  store: Store,
  build: SystemBuild,
  staged: StagedSystem,
  device: string,
  layout: DiskLayout,
  ids: DiskIds,
  created: string,
  log: Logger,
): Promise<void> {
  checkRootSize(layout, staged, "the disk layout");
  const format = familyOf(build).disk;
  await staged.addFiles(format.diskFiles(ids));
  const esp = join(staged.scratch, "esp");
  await mkdir(esp);
  await format.stageEsp(store, build, ids, created, esp);
  const espBytes = (await treeUsage(esp)).blocks * 4096;
  if (espBytes > layout.esp.size) throw new FruixError(`boot files need ${formatSize(espBytes)}, more than the ${formatSize(layout.esp.size)} ESP`);
  await log.step("partition (sfdisk)", () => writeGpt(device, layout, ids, format.partitions));
  const isFile = !(await stat(device)).isBlockDevice();
  const writeEspPart = () => log.step("EFI system partition (mkfs.fat, mcopy)", () => writeEsp(device, layout.esp, ids.espVolumeId, esp));
  const writeRootPart = () =>
    log.step(format.rootStep, () => format.writeRoot(store, build, device, layout.root, staged, ids, isFile));
  if (!isFile) {
    // mke2fs opens a block device exclusively: one tool at a time.
    await writeEspPart();
    await writeRootPart();
  } else {
    // Disjoint byte ranges of one file: both file systems can be written at once.
    // The file is sparse, so the bytes allocated so far measure the writing.
    const progress = meter(`write ${basename(device)}`, staged.minimumRootSize + espBytes);
    const timer = setInterval(() => void stat(device).then((st) => progress.update(st.blocks * 512), () => undefined), 250);
    try {
      await Promise.all([writeEspPart(), writeRootPart()]);
      progress.update((await stat(device)).blocks * 512);
      progress.end();
    } finally {
      clearInterval(timer);
      progress.end(false);
    }
  }
}

