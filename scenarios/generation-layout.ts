// Phase: the explicit installed-system generation layout — the ten checks of
// the workflow's phase 19.2 report, on a directly installed target.
import { defineScenario } from "../lib/validate/scenario.js";
import { MiB } from "../lib/disk/size.js";
import { checkRunningSystem } from "./checks/running-system.js";

export default defineScenario({
  id: "generation-layout",
  phase: "Generation layout",
  title: "Explicit installed-system generation layout",
  goal:
    "Install the declared system, boot the installed target, and show that it records its deployment state " +
    "explicitly: /var/lib/fruix/system with current -> generations/1, the generation's closure link, metadata, " +
    "provenance and install metadata, and the GC roots under /frx/var/fruix/gcroots, while /run/current-system " +
    "still points directly at the active closure.",
  hypervisors: ["qemu", "xcp-ng"],
  async run(ctx) {
    const system = await ctx.step("build the system closure", () => ctx.buildSystem());
    const closure = system.build.closurePath;
    ctx.result("closure_path", closure);
    const disk = await ctx.step("install onto a 512 MiB raw disk", () => ctx.install(system, 512 * MiB));
    const vm = await ctx.guest("installed", { disks: [{ path: disk, mode: "direct" }] });
    const boot = await ctx.step("boot the installed target", () => vm.boot());
    await ctx.step("open the validation shell", () => vm.openShell());

    const read = (command: string) => vm.succeed(command);
    const gen = "/var/lib/fruix/system/generations/1";
    ctx.check("the installed target contains /var/lib/fruix/system", await read("test -d /var/lib/fruix/system && echo yes"), "yes");
    const currentLink = await read("readlink /var/lib/fruix/system/current");
    const currentGeneration = await read("cat /var/lib/fruix/system/current-generation");
    ctx.check("the current generation pointer resolves to generations/1", [currentLink, currentGeneration, await read("cd /var/lib/fruix/system/current && pwd -P")], ["generations/1", "1", gen]);
    ctx.check("the generation directory holds closure, metadata.scm, provenance.scm, install.scm", await read(`ls ${gen} | tr '\\n' ' '`), "closure install.scm metadata.scm provenance.scm ");
    const generationClosure = await read(`readlink ${gen}/closure`);
    ctx.check("the generation closure link points at the installed closure in /frx/store", [generationClosure, await read(`test -d '${generationClosure}' && echo present`)], [closure, "present"]);
    const metadata = await read(`cat ${gen}/metadata.scm`);
    ctx.check("the generation metadata records the closure path and the install metadata path", [metadata.includes(`(closure "${closure}")`), metadata.includes('(install-metadata-path "/var/lib/fruix/install.scm")')], [true, true]);
    const install = (await read(`cat ${gen}/install.scm`)).replace(/\s+/g, " ");
    ctx.check("the generation install metadata records the closure path and source provenance", [install.includes(`(closure "${closure}")`), /\(source debian-package \(name "[^"]+"\) \(version "[^"]+"\) \(sha256 "[0-9a-f]{64}"\)\)/.test(install)], [true, true]);
    ctx.check("retention roots exist: gcroots/current-system and gcroots/system-1", await read("ls /frx/var/fruix/gcroots | tr '\\n' ' '"), "current-system system-1 ");
    const gcroots = [await read("readlink /frx/var/fruix/gcroots/current-system"), await read("readlink /frx/var/fruix/gcroots/system-1")];
    ctx.check("both GC roots point at the active closure", gcroots, [closure, closure]);
    ctx.check("/run/current-system points directly at the active closure", await read("readlink /run/current-system"), closure);
    ctx.check("install boot validation remains intact: the activation line names the closure", boot.closure, closure);
    // The report's ten checks come first (numbered 1-10); the running-system checks follow and
    // add current_generation, current_link, generation_closure, gcroot_* and run_current_system_target.
    await checkRunningSystem(ctx, vm, system);
    ctx.result("generation_layout", "explicit");
    ctx.result("generation_layout_validation", "ok");
  },
});
