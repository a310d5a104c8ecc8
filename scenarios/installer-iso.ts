// Phase: boot the installer ISO from a CD drive next to an empty disk, let it
// install unattended, eject the ISO through the adapter, boot the disk.
import { MiB } from "../lib/disk/size.js";
import { defineScenario } from "../lib/validate/scenario.js";
import { checkInstallMetadata } from "./checks/install-checks.js";
import { emptyDisk, installTargetDevice } from "./checks/installer.js";
import { checkRunningSystem } from "./checks/running-system.js";

export default defineScenario({
  id: "installer-iso",
  phase: "Installer ISO",
  title: "Install from the installer ISO in a CD drive onto an empty disk, eject it, boot the disk",
  goal:
    "Build the installer ISO with `fruix system installer-iso --install-target-device DEV`, DEV naming the " +
    "machine's only disk as the installer's kernel sees it (/dev/vda on QEMU's virtio), boot it from a CD drive under UEFI with one empty disk, and show that without any interaction it installs the system " +
    "onto that disk, prints its completion line and powers off; the ISO is ejected through the hypervisor " +
    "adapter, and the disk then boots on its own and passes every check of a running, installed system.",
  hypervisors: ["qemu", "xcp-ng"],
  async run(ctx) {
    // The CD drive is no disk (sr0): the empty target is the machine's first and only disk.
    const device = await installTargetDevice(ctx, 0);
    const system = await ctx.step("build the system closure", () => ctx.buildSystem());
    ctx.result("closure_path", system.build.closurePath);
    const iso = await ctx.step(`build the installer ISO for ${device}`, () => ctx.installer(system, device, "iso"));
    ctx.result("iso_image", ctx.store.toStorePath(iso));
    ctx.result("install_target_device", device);
    const target = await emptyDisk(ctx, "target.img", 512 * MiB);

    const installing = await ctx.guest("installer", { disks: [{ path: target, mode: "direct" }], cdrom: iso });
    // The installer runs from RAM and never mounts the CD: the medium can go while it powers off.
    const eject = { name: "eject the ISO through the adapter", run: () => installing.machine.ejectCdrom() };
    const install = await ctx.step("boot the ISO, wait for the installer's completion line, eject the ISO through the adapter, wait for the power-off", () =>
      installing.runInstaller({ beforePowerOff: eject }),
    );
    ctx.check("the installer names the installed closure", install.closure, system.build.closurePath);
    ctx.check("the installer names the install target device", install.device, device);
    ctx.result("install_seconds", install.seconds.toFixed(1));

    const vm = await ctx.guest("installed", { disks: [{ path: target, mode: "direct" }], cdrom: null });
    const boot = await ctx.step("boot the installed disk (CD drive empty)", () => vm.boot());
    ctx.check("the activation line names the installed closure", boot.closure, system.build.closurePath);
    await ctx.step("open the validation shell", () => vm.openShell());
    await checkRunningSystem(ctx, vm, system);
    await checkInstallMetadata(ctx, vm, system, { targetKind: "block-device", installTargetDevice: device });
  },
});
