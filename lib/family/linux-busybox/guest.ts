// Where the linux-busybox family's guest scripts are: activation, the boot
// and initramfs inits, shutdown and the in-guest installer (POSIX sh, shipped
// verbatim into store items).
import { join } from "node:path";
import { packageRoot } from "../../paths.js";

export const guestDir = join(packageRoot, "lib", "family", "linux-busybox", "guest");
