// The linux-busybox native build: BusyBox from its Debian source, installed
// as the world (guest/native-build.sh), in the layout the base imports
// Debian's BusyBox into.
import type { NativeBuildSpec } from "../family.js";
import { guestDir } from "./guest.js";

export const linuxBusyboxNativeBuild: { readonly guestDir: string; readonly nativeBuild: NativeBuildSpec } = {
  guestDir,
  nativeBuild: { script: "native-build.sh", kinds: { world: ["bin/busybox", "share/busybox/applets"] } },
};
