// The checks of an installed target's /var/lib/fruix/install.scm, read through
// the validation shell: shared by direct-install and the installer scenarios.
import type { Guest } from "../../lib/validate/guest.js";
import type { ScenarioContext, SystemUnderTest } from "../../lib/validate/scenario.js";

export interface ExpectedInstall {
  readonly targetKind: "raw-file" | "block-device";
  /** The device the in-guest installer was told to write, when one did. */
  readonly installTargetDevice?: string;
}

export async function checkInstallMetadata(ctx: ScenarioContext, vm: Guest, system: SystemUnderTest, expected: ExpectedInstall): Promise<void> {
  const metadata = await ctx.step("read the install metadata", () => vm.succeed("cat /var/lib/fruix/install.scm"));
  const flat = metadata.replace(/\s+/g, " ");
  ctx.check("install.scm names the closure", flat.includes(`(closure "${system.build.closurePath}")`), true);
  ctx.check("install.scm records the target kind", flat.includes(`(target-kind ${expected.targetKind})`), true);
  if (expected.installTargetDevice) {
    ctx.check("install.scm records the install target device", flat.includes(`(install-target-device "${expected.installTargetDevice}")`), true);
    ctx.check("install.scm records the disk's capacity, measured by the installer", /\(disk-capacity [1-9]\d*\)/.test(flat), true);
  }
  ctx.check("install.scm lists every store item of the closure", system.build.items.filter((i) => !flat.includes(`(path "${i}")`)), []);
  ctx.check("install.scm records Debian provenance", /\(source debian-package \(name "[^"]+"\) \(version "[^"]+"\) \(sha256 "[0-9a-f]{64}"\)\)/.test(flat), true);
  const generation = await vm.succeed("cmp /var/lib/fruix/install.scm /var/lib/fruix/system/generations/1/install.scm && echo same");
  ctx.check("generation 1 carries the same install.scm", generation, "same");
  ctx.result("install_metadata_path", "/var/lib/fruix/install.scm");
}
