// The Family contract: everything Fruix does that depends on the base family
// (linux-busybox, freebsd), as one object per folder. lib/family/index.ts
// chooses the object; code outside lib/family never asks which family it has.
import type { BaseSpec, OperatingSystem } from "../declaration/types.js";
import type { DiskIds } from "../disk/layout.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import type { RootId } from "../system/install-metadata.js";
import type { InstallPlan } from "../system/installer-payload.js";
import type { DiskFormat } from "../system/stage.js";
import type { SystemBuild } from "../system/system-build.js";
import type { GuestProfile } from "./guest-profile.js";

/** An installer boot medium being staged: its kind, ids and the directories to fill. */
export interface InstallerMedium {
  readonly kind: "disk" | "iso";
  /** The medium's disk ids (the installer disk's ESP GUID and volume id). */
  readonly ids: DiskIds;
  /** The ISO's volume label, by which the installer finds (and refuses to overwrite) its CD. */
  readonly isoLabel: string;
  /** The FAT file system's directory (the installer disk's ESP, or the ISO's El Torito image). */
  readonly fat: string;
  /** The medium's top directory: `fat` for the disk, the ISO 9660 tree for the ISO. */
  readonly top: string;
}

/**
 * The family's native build (docs/native-builds.md): the guest script that
 * runs its build sequence, and what promotion expects of the result.
 */
export interface NativeBuildSpec {
  /** The build sequence, a file of the family's guest/ folder (POSIX sh, defines fnb_* for lib/guest/native-build.sh). */
  readonly script: string;
  /** Every artifact kind the build stages, each with the files (relative to the artifact) it cannot be without. */
  readonly kinds: Readonly<Partial<Record<"world" | "kernel" | "headers" | "bootloader", readonly string[]>>>;
}

export interface Family {
  readonly name: BaseSpec["family"];
  /** Declaration -> system closure. */
  buildSystem(store: Store, os: OperatingSystem, log: Logger): Promise<SystemBuild>;
  /** The system's root tree, disk partitions, ESP and root file system. */
  readonly disk: DiskFormat;
  /** How install.scm names the root (field, and its value among the disk's ids). */
  readonly rootId: RootId;
  /** The installer system: the target declaration turned into a closure that installs the target at boot. */
  buildInstallerSystem(store: Store, os: OperatingSystem, target: SystemBuild, log: Logger): Promise<SystemBuild>;
  /** The installer's root image (store path) holding the install payload. */
  buildInstallerRoot(store: Store, target: SystemBuild, installer: SystemBuild, plan: InstallPlan, log: Logger): Promise<string>;
  /** Fills an installer boot medium's directories with the installer's boot files and root image. */
  stageInstallerBoot(store: Store, installer: SystemBuild, hostName: string, rootImage: string, medium: InstallerMedium): Promise<void>;
  /** The directory of the family's guest scripts (POSIX sh). */
  readonly guestDir: string;
  /** The running guest as validation sees it. */
  readonly guest: GuestProfile;
  /** Building the family's base inside a development-enabled guest of it. */
  readonly nativeBuild: NativeBuildSpec;
  /** Why `fruix validate` refuses systems of this family; undefined when it runs them. */
  readonly validationRefused?: string;
}
