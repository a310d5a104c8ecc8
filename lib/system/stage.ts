// A system's root tree staged in a scratch directory and measured, ready for
// a disk or an installer payload, and the DiskFormat contract each family's
// disk fills in (its partitions, root tree, ESP and root file system).
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { temporaryDirectory } from "../cleanup.js";
import type { PartitionScheme } from "../disk/gpt.js";
import type { DiskIds, Partition } from "../disk/layout.js";
import type { Store } from "../store/index.js";
import type { SystemBuild } from "./system-build.js";

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

/** Adds files (path -> text) to a laid-out tree, e.g. install metadata, times pinned like the rest. */
export async function addRootfsFiles(root: string, files: Readonly<Record<string, string>>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    const target = join(root, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, text);
    await execa("touch", ["-h", "-d", "@1", target, dirname(target)]);
  }
}

/** Lays the system out with `format` in a new scratch directory and measures it. */
export async function stageWith(store: Store, build: SystemBuild, format: DiskFormat, created: string): Promise<StagedSystem> {
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
