// The freebsd family (DESIGN §5): kernel and world from distribution sets,
// loader.efi on the ESP, a UFS2 root made by Fruix's own writer (./ufs),
// rc.d integration, and an installer that runs from an md root with the
// world's gpart and newfs.
import type { Family } from "../family.js";
import { NATIVE_KINDS } from "./base.js";
import { buildFreebsdSystem } from "./build.js";
import { freebsdDisk, ROOT_ID } from "./disk.js";
import { freebsdGuest } from "./guest-profile.js";
import { guestDir } from "./guest.js";
import { stageFreebsdInstallerMedium } from "./installer-media.js";
import { buildFreebsdInstallerRoot, buildFreebsdInstallerSystem } from "./installer.js";

export const freebsd: Family = {
  name: "freebsd",
  buildSystem: (store, os, log) => buildFreebsdSystem(store, os, log),
  disk: freebsdDisk,
  rootId: ROOT_ID,
  buildInstallerSystem: buildFreebsdInstallerSystem,
  buildInstallerRoot: buildFreebsdInstallerRoot,
  stageInstallerBoot: stageFreebsdInstallerMedium,
  guestDir,
  guest: freebsdGuest,
  // buildworld/buildkernel staged into the layouts the set items have (guest/native-build.sh).
  nativeBuild: { script: "native-build.sh", kinds: NATIVE_KINDS },
  validationRefused:
    "validate cannot run FreeBSD systems yet: no FreeBSD guest has been booted on this project's test host (docs/freebsd.md); build, image and install them with fruix system ...",
};
