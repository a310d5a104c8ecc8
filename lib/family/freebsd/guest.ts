// Where the freebsd family's guest scripts are: activation, its rc.d scripts
// and the in-guest installer (POSIX sh, shipped verbatim into store items).
import { join } from "node:path";
import { packageRoot } from "../../paths.js";

export const guestDir = join(packageRoot, "lib", "family", "freebsd", "guest");
