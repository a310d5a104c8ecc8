// `fruix system installer` and `installer-iso`, the parts made by the
// target's family: the installer system (a closure that installs the target
// at boot) and its root image holding the install payload.
import type { OperatingSystem } from "../declaration/types.js";
import { familyOf } from "../family/index.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import type { SystemBuild } from "../system/build.js";
import type { InstallPlan } from "../system/installer-payload.js";

export function buildInstallerSystem(store: Store, os: OperatingSystem, target: SystemBuild, log: Logger): Promise<SystemBuild> {
  return familyOf(os.base).buildInstallerSystem(store, os, target, log);
}

/** Returns the store path of the installer's root image (root.cpio.gz, or FreeBSD's mfsroot). */
export function buildInstallerRoot(store: Store, target: SystemBuild, installer: SystemBuild, plan: InstallPlan, log: Logger): Promise<string> {
  return familyOf(target).buildInstallerRoot(store, target, installer, plan, log);
}
