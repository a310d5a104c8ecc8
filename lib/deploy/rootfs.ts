// `fruix system rootfs`: a system closure laid out as a root file system tree
// by its family (lib/family/*/rootfs.ts), built beside the target directory
// and renamed into place. No root privileges needed.
import { lstat, mkdir, readdir, rename, rm, rmdir, utimes } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { execa } from "execa";
import { removeOnInterrupt } from "../cleanup.js";
import { FruixError } from "../errors.js";
import { makeDirectories } from "../fs.js";
import { familyOf } from "../family/index.js";
import type { Store } from "../store/index.js";
import type { SystemBuild } from "../system/build.js";

/** An empty or absent directory is fine; anything else would lose data. */
async function checkTarget(dir: string): Promise<void> {
  const info = await lstat(dir).catch(() => undefined);
  if (!info) return;
  if (!info.isDirectory()) throw new FruixError(`rootfs target ${dir} exists and is not a directory`);
  if ((await readdir(dir)).length > 0) throw new FruixError(`rootfs target ${dir} is not empty; refusing to overwrite it`);
}

/** Materializes into `dir` atomically: built beside it, renamed into place when complete. */
export async function materializeRootfs(store: Store, build: SystemBuild, dir: string, created: string): Promise<string> {
  const target = resolve(dir);
  await checkTarget(target);
  await makeDirectories(dirname(target));
  const staging = join(dirname(target), `.${basename(target)}.fruix-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  const forget = removeOnInterrupt(staging);
  await mkdir(staging);
  try {
    await familyOf(build).disk.populate(store, build, staging, created);
    await rmdir(target).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
    await rename(staging, target);
    await utimes(target, 1, 1);
  } catch (error) {
    await execa("chmod", ["-R", "u+w", staging], { reject: false });
    await rm(staging, { recursive: true, force: true });
    throw error;
  } finally {
    forget();
  }
  return target;
}
