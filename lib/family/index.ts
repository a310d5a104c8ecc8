// The one place that asks which base family a declaration's base or a built
// system is: everything else gets the family's object and calls it.
import type { BaseSpec } from "../declaration/types.js";
import type { Family } from "./family.js";
import { freebsd } from "./freebsd/index.js";
import { linuxBusybox } from "./linux-busybox/index.js";

export type { Family, InstallerMedium } from "./family.js";

/** Every family, in the order lists show them. */
export const FAMILIES: readonly Family[] = [linuxBusybox, freebsd];

/** The family of a base (`os.base`) or of a built system (`build`). */
export function familyOf(of: { readonly family: BaseSpec["family"] }): Family {
  switch (of.family) {
    case "linux-busybox":
      return linuxBusybox;
    case "freebsd":
      return freebsd;
  }
}
