// Phase: boot the installer disk image next to an empty disk, let it install
// unattended, then boot the installed disk alone and check it.
import { MiB } from "../lib/disk/size.js";
import { defineScenario } from "../lib/validate/scenario.js";
import { checkInstallMetadata } from "./checks/install-checks.js";
import { emptyDisk, installTargetDevice } from "./checks/installer.js";
import { checkRunningSystem } from "./checks/running-system.js";

export default defineScenario({
  id: "installer-disk",
  phase: "Installer disk",
  title: "Install from the installer disk image onto an empty second disk, then boot it",
  goal:
    "Build the installer disk image with `fruix system installer --install-target-device DEV`, DEV naming the " +
    "machine's second disk as the installer's kernel sees it (/dev/vdb on QEMU's virtio), boot it with that disk empty, and show that without any interaction it partitions and formats that disk, " +
    "copies the system, records the install (with the target device) in /var/lib/fruix/install.scm, prints " +
    "its completion line and powers off; then that the installed disk boots alone and passes every check of a " +
    "running, installed system.",
  hypervisors: ["qemu", "xcp-ng"],
  async run(ctx) {
    // The installer is the machine's first disk, the empty target its second.
    const device = await installTargetDevice(ctx, 1);
    const system = await ctx.step("build the system closure", () => ctx.buildSystem());
    ctx.result("closure_path", system.build.closurePath);
    const installer = await ctx.step(`build the installer disk image for ${device}`, () => ctx.installer(system, device, "disk"));
    ctx.result("installer_disk_image", ctx.store.toStorePath(installer));
    ctx.result("install_target_device", device);
    const target = await emptyDisk(ctx, "target.img", 512 * MiB);

    const installing = await ctx.guest("installer", {
      disks: [{ path: installer, mode: "overlay" }, { path: target, mode: "direct" }],
    });
    const install = await ctx.step("boot the installer and wait for its completion and power-off", () => installing.runInstaller());
    ctx.check("the installer names the installed closure", install.closure, system.build.closurePath);
    ctx.check("the installer names the install target device", install.device, device);
    ctx.result("install_seconds", install.seconds.toFixed(1));

    const vm = await ctx.guest("installed", { disks: [{ path: target, mode: "direct" }] });
    const boot = await ctx.step("boot the installed disk alone", () => vm.boot());
    ctx.check("the activation line names the installed closure", boot.closure, system.build.closurePath);
    await ctx.step("open the validation shell", () => vm.openShell());
    await checkRunningSystem(ctx, vm, system);
    await checkInstallMetadata(ctx, vm, system, { targetKind: "block-device", installTargetDevice: device });
  },
});
