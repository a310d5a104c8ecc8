// The empty target disk the in-guest installer writes, and the device the
// installer is told: shared by installer-disk and installer-iso
// (Guest.runInstaller boots the installer).
import { truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DiskBus } from "../../hypervisors/types.js";
import type { ScenarioContext } from "../../lib/validate/scenario.js";

/** A new raw disk of `size` bytes, all zeros, in the scenario's work directory. */
export async function emptyDisk(ctx: ScenarioContext, name: string, size: number): Promise<string> {
  const path = join(ctx.workDir, name);
  await writeFile(path, "");
  await truncate(path, size);
  return path;
}

/** Linux's names for the machine's disks on each bus (`fruix validate` runs linux-busybox guests only). */
const LINUX_DISK_PREFIX: Record<DiskBus, string> = { virtio: "/dev/vd", ide: "/dev/sd", xen: "/dev/xvd" };

/** The Linux device of the machine's disk number `index` (0: its first disk), as the adapter says its guests see disks. */
export function linuxDiskDevice(bus: DiskBus, index: number): string {
  return LINUX_DISK_PREFIX[bus] + String.fromCharCode(97 + index);
}

/**
 * The install target device: --install-target-device when given, else the
 * machine's disk number `index` as the installer's kernel names it on this
 * adapter (QEMU and the XCP-ng test double: virtio, /dev/vdb for the second
 * disk; an XCP-ng pool: Xen PV, /dev/xvdb).
 */
export async function installTargetDevice(ctx: ScenarioContext, index: number): Promise<string> {
  const bus = (await ctx.hypervisor.capabilities()).diskBus ?? "virtio";
  return ctx.installTargetDevice(linuxDiskDevice(bus, index));
}
