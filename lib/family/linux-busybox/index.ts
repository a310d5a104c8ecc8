// The linux-busybox family (DESIGN §5): Debian's kernel and BusyBox booted
// through systemd-boot, an ext4 root, and a BusyBox-shell installer.
import type { Family } from "../family.js";
import { buildLinuxBusyboxSystem } from "./build.js";
import { linuxBusyboxDisk, ROOT_ID } from "./disk.js";
import { linuxBusyboxGuest } from "./guest-profile.js";
import { guestDir } from "./guest.js";
import { linuxBusyboxNativeBuild } from "./native-build.js";
import { stageLinuxBusyboxInstallerBoot } from "./installer-media.js";
import { buildLinuxBusyboxInstallerRoot, buildLinuxBusyboxInstallerSystem } from "./installer.js";

export const linuxBusybox: Family = {
  name: "linux-busybox",
  buildSystem: (store, os, log) => buildLinuxBusyboxSystem(store, os, log),
  disk: linuxBusyboxDisk,
  rootId: ROOT_ID,
  buildInstallerSystem: buildLinuxBusyboxInstallerSystem,
  buildInstallerRoot: buildLinuxBusyboxInstallerRoot,
  stageInstallerBoot: stageLinuxBusyboxInstallerBoot,
  guestDir,
  guest: linuxBusyboxGuest,
  nativeBuild: linuxBusyboxNativeBuild.nativeBuild,
};
