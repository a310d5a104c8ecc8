// `fruix system rootfs`: a system closure laid out as a root file system tree:
// the closure's items under frx/store, generation 1, the in-guest helper, and
// the directories activation expects. No root privileges needed.
import { chmod, copyFile, lstat, mkdir, readdir, rename, rm, rmdir, symlink, utimes, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { execa } from "execa";
import { removeOnInterrupt } from "../cleanup.js";
import { FruixError } from "../errors.js";
import { closureLinkFile } from "./closure-files.js";
import { populateFreebsdRootfs } from "./freebsd-rootfs.js";
import type { Store } from "../store/index.js";
import type { SystemBuild } from "./build.js";
import { writeFirstGeneration } from "./generation.js";

/** Directories every Fruix root has, with their modes. */
const SKELETON: ReadonlyArray<[string, number]> = [
  ["dev", 0o755], ["proc", 0o555], ["sys", 0o555], ["run", 0o755], ["tmp", 0o1777],
  ["etc", 0o755], ["boot", 0o755], ["boot/efi", 0o755], ["root", 0o700], ["home", 0o755], ["mnt", 0o755], ["srv", 0o755],
  ["usr", 0o755], ["usr/local", 0o755], ["usr/local/bin", 0o755],
  ["var", 0o755], ["var/log", 0o755], ["var/tmp", 0o1777], ["var/lib", 0o755],
  ["frx", 0o755], ["frx/store", 0o755], ["frx/var", 0o755], ["frx/var/fruix", 0o755],
];

/** Command directories resolve through the running system's profile. */
const PROFILE_LINKS = ["bin", "sbin", "usr/bin", "usr/sbin"];

/** The closure's /etc files, present before first boot so the tree can be inspected. */
const ETC_FILES: ReadonlyArray<[string, number]> = [
  ["passwd", 0o644], ["group", 0o644], ["shadow", 0o600], ["hostname", 0o644], ["inittab", 0o644], ["profile", 0o644],
];

/** An empty or absent directory is fine; anything else would lose data. */
async function checkTarget(dir: string): Promise<void> {
  const info = await lstat(dir).catch(() => undefined);
  if (!info) return;
  if (!info.isDirectory()) throw new FruixError(`rootfs target ${dir} exists and is not a directory`);
  if ((await readdir(dir)).length > 0) throw new FruixError(`rootfs target ${dir} is not empty; refusing to overwrite it`);
}

/**
 * Same mtime everywhere, so image builders that copy the tree stay reproducible.
 * Store items are pinned already (the store normalizes them; cp -a keeps it).
 */
async function pinTimes(dir: string): Promise<void> {
  const items = join(dir, "frx", "store");
  await execa("find", [dir, "-path", `${items}/*`, "-prune", "-o", "-exec", "touch", "-h", "-d", "@1", "{}", "+"]);
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

export async function populateRootfs(store: Store, build: SystemBuild, root: string, created: string): Promise<void> {
  for (const [path, mode] of SKELETON) {
    await mkdir(join(root, path), { recursive: true });
    await chmod(join(root, path), mode);
  }
  for (const link of PROFILE_LINKS) await symlink("/run/current-system/profile/bin", join(root, link));
  await execa("cp", ["-a", "--", ...build.items.map((item) => store.toHostPath(item)), join(root, "frx", "store")]);

  const closureDir = store.toHostPath(build.closurePath);
  for (const [name, mode] of ETC_FILES) {
    await copyFile(join(closureDir, "etc", name), join(root, "etc", name));
    await chmod(join(root, "etc", name), mode);
  }
  const helper = join(root, "usr/local/bin/fruix");
  await copyFile(await closureLinkFile(store, build.closurePath, "profile/bin/fruix"), helper);
  await chmod(helper, 0o555);
  await writeFirstGeneration(root, build.closurePath, closureDir, created);
  await pinTimes(root);
}

/** Materializes into `dir` atomically: built beside it, renamed into place when complete. */
export async function materializeRootfs(store: Store, build: SystemBuild, dir: string, created: string): Promise<string> {
  const target = resolve(dir);
  await checkTarget(target);
  await mkdir(dirname(target), { recursive: true });
  const staging = join(dirname(target), `.${basename(target)}.fruix-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  const forget = removeOnInterrupt(staging);
  await mkdir(staging);
  try {
    const populate = build.family === "freebsd" ? populateFreebsdRootfs : populateRootfs;
    await populate(store, build, staging, created);
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
