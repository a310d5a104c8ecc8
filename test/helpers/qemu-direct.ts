// Plain QEMU/TCG command lines for tests that prove a boot before (or without)
// the validation engine: read the serial console until a pattern, then kill.
// Test-only: the machine adapter lives in hypervisors/qemu.
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";

export interface BootResult {
  matched: boolean;
  transcript: string;
}

const COMMON = ["-machine", "q35", "-accel", "tcg", "-m", "512", "-smp", "1", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot", "-nic", "none"];

export async function runQemuUntil(args: string[], until: RegExp, timeoutMs: number): Promise<BootResult> {
  const qemu = execa("qemu-system-x86_64", [...COMMON, ...args], { reject: false, stdin: "ignore", buffer: false });
  let transcript = "";
  try {
    const matched = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      qemu.stdout!.on("data", (chunk: Buffer) => {
        transcript += chunk.toString("latin1");
        if (until.test(transcript)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      qemu.on("exit", () => {
        clearTimeout(timer);
        resolve(until.test(transcript));
      });
    });
    return { matched, transcript };
  } finally {
    qemu.kill("SIGKILL");
    await qemu.catch(() => undefined);
  }
}

/** Kernel + initramfs straight from files, root disk on virtio. */
export function bootDirect(boot: { kernel: string; initrd: string; disk: string; append: string; until: RegExp; timeoutMs: number }) {
  return runQemuUntil(
    ["-kernel", boot.kernel, "-initrd", boot.initrd, "-append", boot.append, "-drive", `file=${boot.disk},if=virtio,format=raw,snapshot=on`],
    boot.until,
    boot.timeoutMs,
  );
}

/** A disk image through OVMF (UEFI), as an operator would boot it by hand; the disk is not modified. */
export async function bootUefi(disk: string, until: RegExp, timeoutMs: number): Promise<BootResult> {
  const dir = await mkdtemp(join(tmpdir(), "fruix-ovmf-"));
  try {
    await copyFile("/usr/share/OVMF/OVMF_VARS_4M.fd", join(dir, "vars.fd"));
    return await runQemuUntil(
      [
        "-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
        "-drive", `if=pflash,format=raw,file=${join(dir, "vars.fd")}`,
        "-drive", `file=${disk},if=virtio,format=raw,snapshot=on`,
      ],
      until,
      timeoutMs,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Stops at the activation line, or at the first sign of a failed boot. */
export const ACTIVATED_OR_FAILED = /fruix: activated \S+\r?\n|fruix-initramfs: .*emergency shell|Kernel panic/;
