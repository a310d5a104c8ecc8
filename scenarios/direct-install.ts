// Phase: install a system straight onto a raw disk, boot that disk, check it.
import { defineScenario } from "../lib/validate/scenario.js";
import { MiB } from "../lib/disk/size.js";
import { bootToActivation, checkRunningSystem, openShell, sh } from "./lib/running-system.js";

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

    const vm = await ctx.machine("installed", { disks: [{ path: disk, mode: "direct" }] });
    const boot = await ctx.step("boot the installed disk", () => bootToActivation(ctx, vm));
    ctx.check("the activation line names the installed closure", boot.closure, system.build.closurePath);
    await ctx.step("open the validation shell", () => openShell(vm));
    await checkRunningSystem(ctx, vm, system);

    const metadata = await ctx.step("read the install metadata", () => sh(vm, "cat /var/lib/fruix/install.scm"));
    const flat = metadata.replace(/\s+/g, " ");
    ctx.check("install.scm names the closure", flat.includes(`(closure "${system.build.closurePath}")`), true);
    ctx.check("install.scm records the target kind", flat.includes("(target-kind raw-file)"), true);
    ctx.check("install.scm lists every store item of the closure", system.build.items.filter((i) => !flat.includes(`(path "${i}")`)), []);
    ctx.check("install.scm records Debian provenance", /\(source debian-package \(name "[^"]+"\) \(version "[^"]+"\) \(sha256 "[0-9a-f]{64}"\)\)/.test(flat), true);
    const generation = await sh(vm, "cmp /var/lib/fruix/install.scm /var/lib/fruix/system/generations/1/install.scm && echo same");
    ctx.check("generation 1 carries the same install.scm", generation, "same");
    ctx.result("install_metadata_path", "/var/lib/fruix/install.scm");
  },
});
