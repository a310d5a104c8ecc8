// Phase: boot a Fruix disk image and check the running system.
import { defineScenario } from "../lib/validate/scenario.js";
import { checkRunningSystem } from "./checks/running-system.js";

export default defineScenario({
  id: "image-boot",
  phase: "Image boot",
  title: "Boot a declared system from its GPT/UEFI disk image",
  goal:
    "Build the declared system's closure, materialize its disk image, boot the image through UEFI, and show " +
    "that the running system is exactly the built closure: activation ran and logged it, the host name, users " +
    "and services are the declared ones, and the generation-1 layout names it.",
  hypervisors: ["qemu", "xcp-ng"],
  async run(ctx) {
    const system = await ctx.step("build the system closure", () => ctx.buildSystem());
    ctx.result("closure_path", system.build.closurePath);
    const image = await ctx.step("materialize the disk image", () => ctx.image(system));
    ctx.result("disk_image", ctx.store.toStorePath(image));

    const vm = await ctx.guest("vm", { disks: [{ path: image, mode: "overlay" }] });
    const boot = await ctx.step("boot to the activation line", () => vm.boot());
    ctx.check("the activation line names the built closure", boot.closure, system.build.closurePath);
    ctx.result("boot_seconds", boot.seconds.toFixed(1));
    await ctx.step("open the validation shell", () => vm.openShell());
    await checkRunningSystem(ctx, vm, system);
  },
});
