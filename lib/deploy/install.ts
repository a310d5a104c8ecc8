// `fruix system install`: the system written straight onto a raw file or a
// block device, with /var/lib/fruix/install.scm recording what and how.
import { open, rm, truncate, writeFile } from "node:fs/promises";
import { removeOnInterrupt } from "../cleanup.js";
import { diskIds, diskLayout, ESP_SIZE, minimumDiskSize } from "../disk/layout.js";
import { formatSize } from "../disk/size.js";
import { inspectTarget, type TargetKind } from "../disk/target.js";
import { FruixError } from "../errors.js";
import { familyOf } from "../family/index.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import type { SystemBuild } from "../system/build.js";
import { generationTime, INSTALL_METADATA_PATH } from "../system/generation.js";
import { installMetadata } from "../system/install-metadata.js";
import { defaultRootSize } from "./image.js";
import { checkRootSize, stageSystem, writeSystemDisk } from "./system-disk.js";

export interface InstallOptions {
  readonly target: string;
  readonly diskCapacity?: number;
  readonly rootSize?: number;
  readonly force: boolean;
  /** Recorded by the in-guest installer: the device it was told to install onto. */
  readonly installTargetDevice?: string;
}

export interface InstallResult {
  readonly target: string;
  readonly targetKind: TargetKind;
  readonly diskCapacity: number;
}

async function flush(path: string): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function installSystem(store: Store, build: SystemBuild, options: InstallOptions, log: Logger): Promise<InstallResult> {
  const target = await inspectTarget(options.target, options.force);
  if (target.kind === "block-device" && options.diskCapacity !== undefined) {
    throw new FruixError(`--disk-capacity applies to raw files; ${options.target} is a block device of ${formatSize(target.size)}`);
  }
  const created = generationTime();
  // Not the image's ids: an installed disk and an image of one system can be attached together.
  const ids = diskIds(`${build.closurePath}\0install`);
  const staged = await log.step("stage rootfs", () => stageSystem(store, build, created));
  try {
    const capacity = options.diskCapacity ?? (target.size > 0 ? target.size : minimumDiskSize(defaultRootSize(staged.minimumRootSize)));
    const layout = diskLayout(options.rootSize, capacity);
    if (layout.root.offset + layout.root.size > capacity - 1024 * 1024) {
      throw new FruixError(
        `target ${options.target}: ${formatSize(capacity)} cannot hold --root-size ${formatSize(layout.root.size)}; that needs a disk of at least ${formatSize(minimumDiskSize(layout.root.size))}`,
      );
    }
    checkRootSize(layout, staged, options.rootSize === undefined ? `a disk of ${formatSize(capacity)}` : "--root-size");

    const { rootId } = familyOf(build);
    const metadata = installMetadata(build, {
      target: options.target,
      targetKind: target.kind,
      installTargetDevice: options.installTargetDevice,
      diskCapacity: capacity,
      rootSize: layout.root.size,
      espSize: ESP_SIZE,
      rootUuid: rootId.of(ids),
      installed: created,
    }, rootId.field);
    await staged.addFiles({ [INSTALL_METADATA_PATH]: metadata, "/var/lib/fruix/system/generations/1/install.scm": metadata });

    // A raw file we create is ours to remove if the install does not complete.
    const forget = target.exists ? () => undefined : removeOnInterrupt(target.path);
    try {
      if (target.kind === "raw-file") {
        await writeFile(target.path, "");
        await truncate(target.path, capacity);
      }
      await writeSystemDisk(store, build, staged, target.path, layout, ids, created, log);
      await flush(target.path);
    } catch (error) {
      if (!target.exists) await rm(target.path, { force: true });
      throw error;
    } finally {
      forget();
    }
    return { target: target.path, targetKind: target.kind, diskCapacity: capacity };
  } finally {
    await staged.dispose();
  }
}
