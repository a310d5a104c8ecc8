// Phase: install a system straight onto a raw disk, boot that disk, check it.
import { defineScenario } from "../lib/validate/scenario.js";
import { MiB } from "../lib/disk/size.js";
import { checkInstallMetadata } from "./checks/install-checks.js";
import { checkRunningSystem } from "./checks/running-system.js";

export default defineScenario({
  id: "direct-install",
  phase: "Direct install",
  title: "Install a declared system onto a raw disk and boot it",
  goal:
    "Install the declared system with `fruix system install` onto a raw disk file, boot the installed disk " +
    "through UEFI, and show that /var/lib/fruix/install.scm names the installed closure and its provenance, " +
    "besides every check of a running system.",
  hypervisors: ["qemu", "xcp-ng"],
  async run(ctx) {
    const system = await ctx.step("build the system closure", () => ctx.buildSystem());
    ctx.result("closure_path", system.build.closurePath);
    const disk = await ctx.step("install onto a 512 MiB raw disk", () => ctx.install(system, 512 * MiB));
    ctx.result("target_kind", "raw-file");

    const vm = await ctx.guest("installed", { disks: [{ path: disk, mode: "direct" }] });
    const boot = await ctx.step("boot the installed disk", () => vm.boot());
    ctx.check("the activation line names the installed closure", boot.closure, system.build.closurePath);
    await ctx.step("open the validation shell", () => vm.openShell());
    await checkRunningSystem(ctx, vm, system);

    await checkInstallMetadata(ctx, vm, system, { targetKind: "raw-file" });
  },
});
