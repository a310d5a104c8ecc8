// The linux-busybox root tree of a system (no root privileges needed): the
// closure's items under frx/store, generation 1, the in-guest helper, the
// directories activation expects, and the closure's /etc files so the tree
// can be inspected before first boot.
import { chmod, copyFile, mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import type { Store } from "../../store/index.js";
import { closureLinkFile } from "../../system/closure-files.js";
import { writeFirstGeneration } from "../../system/generation.js";
import type { SystemBuild } from "../../system/system-build.js";

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

/**
 * Same mtime everywhere, so image builders that copy the tree stay reproducible.
 * Store items are pinned already (the store normalizes them; cp -a keeps it).
 */
async function pinTimes(dir: string): Promise<void> {
  const items = join(dir, "frx", "store");
  await execa("find", [dir, "-path", `${items}/*`, "-prune", "-o", "-exec", "touch", "-h", "-d", "@1", "{}", "+"]);
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

