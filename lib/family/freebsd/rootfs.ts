// A FreeBSD system closure laid out as a root tree, as bsdinstall would leave
// it: the world from base.txz at /, the kernel in /boot/kernel, plus the
// closure's items under /frx/store and generation 1. World and kernel files
// are hard links to their store items' copies under /frx/store (one inode,
// stored once on the disk); /etc, /var and /root are copies, since the
// running system changes them.
import { chmod, copyFile, link, lstat, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { execa } from "execa";
import { parseManifest, type Manifest } from "../../disk/mtree.js";
import type { Store } from "../../store/index.js";
import { closureLink, closureLinkFile } from "../../system/closure-files.js";
import { writeFirstGeneration } from "../../system/generation.js";
import type { SystemBuild } from "../../system/system-build.js";
import { loaderConfFor } from "./boot.js";

/** Where the running system writes: copied from the world, never linked to the store. */
export const MUTABLE = ["etc", "var", "root", "tmp", "home", "usr/local"];

/** What a development-enabled root links into /run/current-system/development-profile (docs/native-builds.md). */
export const DEVELOPMENT_LINKS = ["usr/include", "usr/share/mk"];

/** Directories a Fruix root has whatever the world holds. */
const SKELETON: ReadonlyArray<[string, number]> = [
  ["dev", 0o555], ["tmp", 0o1777], ["run", 0o755], ["home", 0o755], ["boot/efi", 0o755], ["usr/local/bin", 0o755],
  ["var/log", 0o755], ["var/lib/fruix", 0o755], ["frx/store", 0o755], ["frx/var/fruix", 0o755],
];

/** The closure's files installed before first boot (activation installs them again at every boot). */
const CLOSURE_ETC: ReadonlyArray<[string, number]> = [
  ["etc/master.passwd", 0o600], ["etc/group", 0o644], ["etc/rc.conf", 0o644], ["etc/rc.d/fruix", 0o555],
  ["etc/ttys", 0o644], ["etc/gettytab", 0o644], ["etc/rc.d/fruix_installer", 0o555],
];

export interface SetItem {
  /** In-guest store path of the item. */
  readonly item: string;
  readonly manifest: Manifest;
}

/** The world and kernel items of a FreeBSD closure, with their manifests. */
export async function freebsdSetItems(store: Store, closure: string): Promise<{ world: SetItem; kernel: SetItem }> {
  const world = await closureLink(store, closure, "world");
  const kernel = (await closureLink(store, closure, "boot/kernel")).replace(/\/tree\/boot\/kernel$/, "");
  const read = async (item: string) => parseManifest(await readFile(join(store.toHostPath(item), "mtree"), "utf8"));
  return { world: { item: world, manifest: await read(world) }, kernel: { item: kernel, manifest: await read(kernel) } };
}

function isMutable(path: string): boolean {
  return MUTABLE.some((m) => path === m || path.startsWith(`${m}/`));
}

/** Lays a set's tree out at the root: links for the immutable, copies for the mutable. */
async function placeSet(root: string, set: SetItem, only?: (path: string) => boolean): Promise<void> {
  const copy = join(root, "frx/store", basename(set.item), "tree");
  for (const [path, entry] of set.manifest) {
    if (path === "." || (only && !only(path))) continue;
    const target = join(root, path);
    if (entry.type === "dir") {
      await mkdir(target, { recursive: true });
      continue;
    }
    await mkdir(dirname(target), { recursive: true });
    await rm(target, { force: true });
    if (entry.type === "link") await symlink(entry.link!, target);
    else if (isMutable(path)) {
      await copyFile(join(copy, path), target);
      await chmod(target, (await lstat(target)).mode & 0o111 ? 0o755 : 0o644); // writable, as /etc is
    } else await link(join(copy, path), target);
  }
}

async function put(root: string, path: string, text: string, mode: number): Promise<void> {
  const target = join(root, path);
  await mkdir(dirname(target), { recursive: true });
  await rm(target, { force: true });
  await writeFile(target, text);
  await chmod(target, mode);
}

/** /etc/passwd as pwd_mkdb -p would make it from master.passwd (no passwords, no class fields). */
export function passwdFromMaster(masterPasswd: string): string {
  return masterPasswd
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const f = line.split(":");
      return `${f[0]}:*:${f[2]}:${f[3]}:${f[7]}:${f[8]}:${f[9]}\n`;
    })
    .join("");
}

export async function populateFreebsdRootfs(store: Store, build: SystemBuild, root: string, created: string): Promise<void> {
  await mkdir(join(root, "frx/store"), { recursive: true });
  await execa("cp", ["-a", "--", ...build.items.map((item) => store.toHostPath(item)), join(root, "frx/store")]);
  const { world, kernel } = await freebsdSetItems(store, build.closurePath);
  // A development-enabled closure's headers and share/mk are its profile's: canonical links, not copies.
  const development = await lstat(join(store.toHostPath(build.closurePath), "development-profile")).then(() => true, () => false);
  const linked = development ? DEVELOPMENT_LINKS : [];
  await placeSet(root, world, (path) => !linked.some((dir) => path === dir || path.startsWith(`${dir}/`)));
  for (const dir of linked) {
    await mkdir(dirname(join(root, dir)), { recursive: true });
    await symlink(`/run/current-system/development-profile/${dir}`, join(root, dir));
  }
  await placeSet(root, kernel, (path) => path === "boot/kernel" || path.startsWith("boot/kernel/"));
  for (const [path, mode] of SKELETON) {
    await mkdir(join(root, path), { recursive: true });
    await chmod(join(root, path), mode);
  }

  const closureDir = store.toHostPath(build.closurePath);
  for (const [path, mode] of CLOSURE_ETC) {
    const text = await readFile(join(closureDir, path), "utf8").catch(() => undefined);
    if (text !== undefined) await put(root, path, text, mode);
  }
  await put(root, "etc/passwd", passwdFromMaster(await readFile(join(closureDir, "etc/master.passwd"), "utf8")), 0o644);
  const keys = await readFile(join(closureDir, "etc/root-authorized-keys"), "utf8").catch(() => undefined);
  if (keys !== undefined) await put(root, "root/.ssh/authorized_keys", keys, 0o600);
  await put(root, "boot/loader.conf", loaderConfFor(await readFile(join(closureDir, "boot/loader.conf"), "utf8"), build.closurePath, 1), 0o644);
  await put(root, "usr/local/bin/fruix", await readFile(await closureLinkFile(store, build.closurePath, "profile/bin/fruix"), "utf8"), 0o555);
  await writeFirstGeneration(root, build.closurePath, closureDir, created);
  // Same mtime everywhere outside the store (the store pins its own), as the linux-busybox rootfs does.
  const items = join(root, "frx", "store");
  await execa("find", [root, "-path", `${items}/*`, "-prune", "-o", "-exec", "touch", "-h", "-d", "@1", "{}", "+"]);
}
