// The qemu adapter: qemu-system-x86_64 with OVMF, KVM when it really works,
// otherwise TCG, and it says which.
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import type { Accel, Capabilities, Hypervisor, HypervisorOptions, Machine, MachineSpec } from "../types.js";
import { OVMF_CODE, OVMF_VARS, QemuMachine } from "./machine.js";
import { startQemu } from "./process.js";
import { cachedProbe, type KvmProbe, probeKey } from "./probe-cache.js";

export interface QemuOptions extends HypervisorOptions {
  readonly timeoutScale: number;
}

/** Firmware output that proves the guest runs (OVMF's boot manager). */
const FIRMWARE_ALIVE = /BdsDxe/;
const PROBE_MS = 15_000;

/**
 * /dev/kvm can exist while guests hang (no vmx/svm on the CPU, or nested
 * virtualization off): boot the firmware alone under KVM and see it speak.
 */
export async function probeKvm(): Promise<KvmProbe> {
  try {
    await access("/dev/kvm", constants.R_OK | constants.W_OK);
  } catch {
    return { usable: false, reason: "/dev/kvm is missing or not accessible" };
  }
  const qemu = startQemu(
    [
      "-machine", "q35", "-accel", "kvm", "-m", "128", "-nodefaults", "-no-user-config", "-display", "none",
      "-drive", `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
      "-drive", `if=pflash,format=raw,readonly=on,file=${OVMF_VARS}`,
      "-serial", "stdio", "-monitor", "none",
    ],
    { reject: false, stdin: "ignore", all: true, buffer: false },
  );
  let output = "";
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ usable: false, reason: `no firmware output under KVM within ${PROBE_MS / 1000} s (guest hangs)` }), PROBE_MS);
      qemu.all?.on("data", (chunk: Buffer) => {
        output += chunk.toString("latin1");
        if (FIRMWARE_ALIVE.test(output)) {
          clearTimeout(timer);
          resolve({ usable: true, reason: "OVMF ran under KVM" });
        } else if (/KVM internal error|failed to initialize kvm|Could not access KVM/i.test(output)) {
          clearTimeout(timer);
          resolve({ usable: false, reason: output.split("\n").find((l) => /KVM/i.test(l))!.trim() });
        }
      });
      qemu.on("exit", (code) => {
        clearTimeout(timer);
        resolve({ usable: FIRMWARE_ALIVE.test(output), reason: `QEMU exited (${code}) under KVM` });
      });
    });
  } finally {
    qemu.kill("SIGKILL");
    await qemu.catch(() => undefined);
  }
}

let probed: Promise<KvmProbe> | undefined;

export class QemuHypervisor implements Hypervisor {
  readonly name = "qemu";
  private chosen: Promise<Capabilities> | undefined;

  constructor(private readonly options: QemuOptions) {}

  capabilities(): Promise<Capabilities> {
    this.chosen ??= this.choose();
    return this.chosen;
  }

  private async choose(): Promise<Capabilities> {
    const base = { uefi: true, cdrom: true, snapshots: true, diskBus: "virtio" as const };
    if (this.options.accel !== "auto") {
      return { ...base, accels: [this.options.accel], notes: [`acceleration ${this.options.accel} (as requested)`] };
    }
    probed ??= probeKey([OVMF_CODE, OVMF_VARS]).then((key) => cachedProbe(key, probeKvm));
    const kvm = await probed;
    const when = kvm.probedAt ? `, probed ${kvm.probedAt} and kept for this boot` : "";
    if (kvm.usable) return { ...base, accels: ["kvm", "tcg"], notes: [`acceleration kvm (probed: OVMF ran under KVM${when})`] };
    const note = `KVM unusable (${kvm.reason}${when}); falling back to TCG, which is slower`;
    this.options.log(`WARNING: ${note}`);
    return { ...base, accels: ["tcg"], notes: [`acceleration tcg: ${note}`] };
  }

  async createMachine(spec: MachineSpec): Promise<Machine> {
    const accel: Accel = (await this.capabilities()).accels[0]!;
    return new QemuMachine(spec, { accel, timeoutScale: this.options.timeoutScale, log: this.options.log });
  }
}
