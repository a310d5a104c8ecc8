// Writes a bootable Fruix system disk: GPT, an ESP and a root holding the
// system's rootfs. What differs by base family (partition types, ESP
// contents, root file system) is a DiskFormat; linux-busybox's is systemd-boot
// with one entry for generation 1 and an ext4 root, FreeBSD's is in
// freebsd-disk.ts. No root privileges, loop devices or mounts: every tool
// writes at an offset.
import { copyFile, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { temporaryDirectory } from "../cleanup.js";
import { FruixError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import type { SystemBuild } from "../system/build.js";
import { closureLink, closureLinkFile } from "../system/closure-files.js";
import { addRootfsFiles, populateRootfs } from "../system/rootfs.js";
import { bootEntry, entryFileName, espPathFor, fstab, loaderConf } from "./boot-entries.js";
import { writeEsp } from "./esp.js";
import { treeUsage, writeExt4 } from "./ext4.js";
import { freebsdDisk } from "./freebsd-disk.js";
import { LINUX_PARTITIONS, writeGpt, type PartitionScheme } from "./gpt.js";
import { minimumDiskSize, minimumRootSize, type DiskIds, type DiskLayout, type Partition } from "./layout.js";
import { formatSize } from "./size.js";

/** A rootfs staged in a scratch directory, measured, ready to be written. */
export interface StagedSystem {
  readonly scratch: string;
  readonly rootfs: string;
  /** Measured when staged; files added later must be small (metadata), the estimate keeps a margin. */
  readonly minimumRootSize: number;
  addFiles(files: Readonly<Record<string, string>>): Promise<void>;
  dispose(): Promise<void>;
}

/** What a base family's disk is made of; the GPT, ESP and layout frame around it is shared. */
export interface DiskFormat {
  readonly partitions: PartitionScheme;
  /** Lays the system out as a root tree in `rootfs` (an empty directory). */
  populate(store: Store, build: SystemBuild, rootfs: string, created: string): Promise<void>;
  /** The smallest root file system that holds the staged tree. */
  minimumRootSize(rootfs: string): Promise<number>;
  /** Root files that depend on the disk's identifiers (fstab). */
  diskFiles(ids: DiskIds): Readonly<Record<string, string>>;
  /** Fills `dir` with the ESP's files. */
  stageEsp(store: Store, build: SystemBuild, ids: DiskIds, created: string, dir: string): Promise<void>;
  /** How the root file system is made, for the progress log. */
  readonly rootStep: string;
  /** Writes the root file system at `part` of `device` (`isFile`: a regular file, else a block device). */
  writeRoot(store: Store, build: SystemBuild, device: string, part: Partition, staged: StagedSystem, ids: DiskIds, isFile: boolean): Promise<void>;
}

export function diskFormat(build: SystemBuild): DiskFormat {
  return build.family === "freebsd" ? freebsdDisk : linuxBusyboxDisk;
}

export async function stageSystem(store: Store, build: SystemBuild, created: string): Promise<StagedSystem> {
  const format = diskFormat(build);
  const { path: scratch, forget } = await temporaryDirectory("fruix-disk-");
  const dispose = async () => {
    forget();
    await rm(scratch, { recursive: true, force: true });
  };
  try {
    const rootfs = join(scratch, "root");
    await mkdir(rootfs);
    await format.populate(store, build, rootfs, created);
    return {
      scratch,
      rootfs,
      minimumRootSize: await format.minimumRootSize(rootfs),
      addFiles: (files) => addRootfsFiles(rootfs, files),
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

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
  const format = diskFormat(build);
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
    await Promise.all([writeEspPart(), writeRootPart()]);
  }
}

/** Debian's kernel through systemd-boot, and an ext4 root. */
const linuxBusyboxDisk: DiskFormat = {
  partitions: LINUX_PARTITIONS,
  populate: populateRootfs,
  minimumRootSize: async (rootfs) => minimumRootSize(await treeUsage(rootfs)),
  diskFiles: (ids) => ({ "/etc/fstab": fstab(ids.espVolumeId) }),
  stageEsp: (store, build, ids, created, dir) => stageEsp(store, build, ids.rootUuid, created, dir),
  rootStep: "root file system (mke2fs -d)",
  writeRoot: (_store, _build, device, part, staged, ids) =>
    writeExt4(device, part, staged.rootfs, { uuid: ids.rootUuid, hashSeed: ids.rootHashSeed, label: "fruix-root", scratch: staged.scratch }),
};
