// `fruix system build`: declaration -> system closure item
// `/frx/store/<hash>-fruix-system-<host-name>`, built by the base's family
// (lib/family/*/build.ts).
import type { OperatingSystem } from "../declaration/types.js";
import { familyOf } from "../family/index.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import type { SystemBuild } from "./system-build.js";

export type { SystemBuild } from "./system-build.js";

export function buildSystem(store: Store, os: OperatingSystem, log: Logger): Promise<SystemBuild> {
  return familyOf(os.base).buildSystem(store, os, log);
}
