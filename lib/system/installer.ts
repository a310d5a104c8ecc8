// The installer system: the target declaration turned into a closure that
// runs lib/guest/installer.sh once at boot, with Debian's disk tools (BusyBox
// has no GPT partitioner) and a reference to the target closure, so the
// installer's store holds everything it copies.
import { realizeLinuxBusybox } from "../base/linux-busybox.js";
import { importDebianBinaries, type BinarySet } from "../base/debian-binaries.js";
import type { OperatingSystem, ServiceSpec } from "../declaration/types.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import { fruixVersion } from "../version.js";
import { buildSystem, guestScript, type SystemBuild } from "./build.js";
import { buildFreebsdInstallerSystem } from "./freebsd-installer.js";
import { addTree } from "./tree.js";

/** sfdisk, mkfs.fat and mke2fs with every library they load (Debian 12 package names). */
export const INSTALLER_TOOLS: BinarySet = {
  name: "fruix-installer-tools",
  packages: [
    "fdisk", "libfdisk1", "libsmartcols1", "libreadline8", "libtinfo6", "libblkid1", "libuuid1",
    "dosfstools", "e2fsprogs", "libext2fs2", "libcom-err2", "libc6",
  ],
  binaries: ["sbin/sfdisk", "sbin/mkfs.fat", "sbin/mke2fs"],
};

/**
 * The installer's declaration (pure): the target's, named `<host>-installer`,
 * with its ttys (a getty, or validation's shell) kept for looking at a failed
 * install, its daemons dropped, and the installer service added.
 */
export function withInstaller(os: OperatingSystem): OperatingSystem {
  const ttys = os.services.filter((s) => s.type === "getty" || s.type === "validation-shell");
  const installer: ServiceSpec = { type: "fruix-installer", config: {}, location: os.location };
  return { ...os, hostName: `${os.hostName}-installer`, services: [...ttys, installer] };
}

export async function buildInstallerSystem(store: Store, os: OperatingSystem, target: SystemBuild, log: Logger): Promise<SystemBuild> {
  if (os.base.family === "freebsd") return buildFreebsdInstallerSystem(store, os, target, log);
  const base = await realizeLinuxBusybox(store, os.base, log);
  const tools = await importDebianBinaries(store, INSTALLER_TOOLS, log);
  const script = await addTree(store, `fruix-installer-${fruixVersion}`, {
    "bin/fruix-installer": await guestScript("installer.sh", base.busybox),
  });
  return buildSystem(store, withInstaller(os), log, {
    programs: { ...tools.programs, "fruix-installer": `${script}/bin/fruix-installer` },
    items: [tools.item, script, target.closurePath],
    packages: tools.packages.map((pkg) => ({ pkg, items: [tools.item] })),
  });
}
