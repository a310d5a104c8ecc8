// The FreeBSD installer: a FreeBSD system closure built from the target
// declaration that runs guest/installer.sh once at boot
// (rc.d/fruix_installer), and its md root ("mfsroot"): a UFS image of the
// installer's root tree holding, under /fruix-installer, what the build host
// can decide about the install. The world's gpart, newfs and newfs_msdos do
// the disk work in the guest; nothing extra is imported.
import { mkdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { temporaryDirectory } from "../../cleanup.js";
import type { OperatingSystem } from "../../declaration/types.js";
import { MiB } from "../../disk/size.js";
import { BLOCK_SIZE, DENSITY, FRAGMENT_SIZE, MINFREE, minimumUfsSize, ufsUsage, walkTree, writeUfs, type Attributes, type TreeNode } from "./ufs/index.js";
import type { Logger } from "../../log.js";
import type { Store } from "../../store/index.js";
import { memoized } from "../../store/memo.js";
import { generationTime } from "../../system/generation.js";
import { emptyStore, installConfText, installerTargetIds, PAYLOAD_DIR, writePayload, type InstallPlan } from "../../system/installer-payload.js";
import { withInstaller } from "../../system/installer.js";
import { stageWith } from "../../system/stage.js";
import type { SystemBuild } from "../../system/system-build.js";
import { addTree } from "../../system/tree.js";
import { fruixVersion } from "../../version.js";
import { FREEBSD_ESP_LABEL, FREEBSD_ROOT_LABEL } from "./boot.js";
import { buildFreebsdSystem } from "./build.js";
import { freebsdDisk, ROOT_ID, setAttributes } from "./disk.js";
import { guestDir } from "./guest.js";
import { freebsdSetItems, MUTABLE, populateFreebsdRootfs } from "./rootfs.js";

/** The root the installer's kernel mounts: the md image the loader preloaded. */
export const MD_ROOT_DEVICE = "/dev/md0";
/** Where the loader finds the md image on either medium (the ESP's or the ISO's /boot). */
export const MFSROOT_PATH = "/boot/mfsroot";
/** Seconds the installer waits for the install target to appear. */
const DEVICE_WAIT = 5;
/** Room in the md root for what the running installer writes (logs, databases, /tmp). */
const MD_ROOT_SLACK = 32 * MiB;

/** The installer system: the target's declaration with the installer service, referencing the target closure. */
export async function buildFreebsdInstallerSystem(store: Store, os: OperatingSystem, target: SystemBuild, log: Logger): Promise<SystemBuild> {
  const body = await readFile(join(guestDir, "installer.sh"), "utf8");
  const script = await addTree(store, `fruix-installer-freebsd-${fruixVersion}`, {
    "bin/fruix-installer": { text: `#!/bin/sh\n${body}`, mode: 0o555 },
  });
  const rcd = await readFile(join(guestDir, "rc.d-fruix-installer.sh"), "utf8");
  return buildFreebsdSystem(store, withInstaller(os), log, {
    files: {
      "etc/rc.d/fruix_installer": { text: rcd, mode: 0o555 },
      "profile/bin/fruix-installer": { link: `${script}/bin/fruix-installer` },
    },
    items: [script, target.closurePath],
  });
}

/** The store items the in-guest installer links the world and kernel from. */
export interface TargetSetItems {
  readonly world: string;
  readonly kernel: string;
}

/** /fruix-installer/install.conf for FreeBSD, sourced by the installer (pure). */
export function freebsdInstallConf(target: SystemBuild, plan: InstallPlan, sets: TargetSetItems, minimumRootSize: number): string {
  return installConfText(target, plan, minimumRootSize, {
    DEVICE_WAIT,
    ESP_LABEL: FREEBSD_ESP_LABEL,
    ROOT_LABEL: FREEBSD_ROOT_LABEL,
    ESP_VOLUME_LABEL: "FRUIX-ESP",
    UFS_BLOCK_SIZE: BLOCK_SIZE,
    UFS_FRAGMENT_SIZE: FRAGMENT_SIZE,
    UFS_DENSITY: DENSITY,
    UFS_MINFREE: MINFREE,
    WORLD: sets.world,
    KERNEL: sets.kernel,
    MUTABLE: MUTABLE.join(" "),
  });
}

/**
 * Removes from a staged FreeBSD root what the installer's store already
 * holds: the store items, and the files at / that are hard links to them (the
 * world and the kernel). The guest links those again from the copied items.
 */
async function withoutStoreItems(rootfs: string): Promise<void> {
  const nodes = await walkTree(rootfs);
  const inStore = (node: TreeNode) => node.path.startsWith("frx/store/");
  const stored = new Set(nodes.filter((n) => inStore(n) && n.type === "file").map((n) => n.ino));
  for (const node of nodes) {
    if (!inStore(node) && node.type === "file" && stored.has(node.ino)) await rm(join(rootfs, node.path));
  }
  await emptyStore(rootfs);
}

/**
 * Lays out the md root in `ram` (an empty directory): the installer system's
 * root tree, and /fruix-installer with the target's root tree (without its
 * store items), its ESP files, the item list, install.conf and install.scm.
 * Returns the owners, modes and flags the md root's nodes get.
 */
export async function stageFreebsdInstallerRoot(store: Store, target: SystemBuild, installer: SystemBuild, plan: InstallPlan, created: string, ram: string, log: Logger): Promise<Attributes> {
  const staged = await log.step("stage the target rootfs", () => stageWith(store, target, freebsdDisk, created));
  try {
    const ids = installerTargetIds(target, plan.device);
    const format = freebsdDisk;
    await staged.addFiles(format.diskFiles(ids));
    await log.step("installer rootfs", () => populateFreebsdRootfs(store, installer, ram, created));
    await writeFile(join(ram, "etc/fstab"), `# Generated by Fruix: the installer runs from the md image the loader preloaded.\n${MD_ROOT_DEVICE}\t/\tufs\trw\t1\t1\n`);
    await withoutStoreItems(staged.rootfs);
    const sets = await freebsdSetItems(store, target.closurePath);
    await writePayload(join(ram, PAYLOAD_DIR), store, target, plan, {
      rootfs: staged.rootfs,
      format,
      ids,
      created,
      conf: freebsdInstallConf(target, plan, { world: sets.world.item, kernel: sets.kernel.item }, staged.minimumRootSize),
      rootUuid: { placeholder: "root-partition-guid" }, // gpart chooses it in the guest
      rootIdField: ROOT_ID.field,
    });
    // Owners and modes: the installer's sets for its own tree, the target's for the staged root.
    const own = await freebsdSetItems(store, installer.closurePath);
    const forInstaller = setAttributes(own.world, own.kernel);
    const forTarget = setAttributes(sets.world, sets.kernel);
    const prefix = `${PAYLOAD_DIR}/root/`;
    return (node) => (node.path.startsWith(prefix) ? forTarget({ ...node, path: node.path.slice(prefix.length) }) : forInstaller(node));
  } finally {
    await staged.dispose();
  }
}

/** `root_image=`: the md root as a store item `fruix-installer-root-<host>/mfsroot`. */
export async function buildFreebsdInstallerRoot(store: Store, target: SystemBuild, installer: SystemBuild, plan: InstallPlan, log: Logger): Promise<string> {
  const created = generationTime();
  const key = { recipe: "freebsd-installer-root", version: 1, target: target.closurePath, installer: installer.closurePath, plan, created };
  const item = await memoized(store, key, async () => {
    const { path: scratch, forget } = await temporaryDirectory("fruix-freebsd-installer-");
    try {
      const ram = join(scratch, "ram");
      await mkdir(ram);
      const attributes = await stageFreebsdInstallerRoot(store, target, installer, plan, created, ram, log);
      const size = minimumUfsSize(ufsUsage(await walkTree(ram))) + MD_ROOT_SLACK;
      return await store.add(`fruix-installer-root-${target.hostName}`, async (out) => {
        const image = join(out, "mfsroot");
        await writeFile(image, "");
        await truncate(image, size);
        await log.step("md root image (UFS2)", () => writeUfs(image, { offset: 0, size }, ram, attributes, true));
      });
    } finally {
      forget();
      await execa("chmod", ["-R", "u+w", scratch], { reject: false });
      await rm(scratch, { recursive: true, force: true });
    }
  }, { name: `fruix-installer-root-${target.hostName}` });
  return `${item}/mfsroot`;
}
