// Boots a kernel + initramfs directly (no firmware) under QEMU/TCG and reads
// the serial console until a pattern appears. Test-only: the real machine
// adapter lives in hypervisors/qemu.
import { execa } from "execa";

export interface DirectBoot {
  kernel: string;
  initrd: string;
  disk: string;
  append: string;
  until: RegExp;
  timeoutMs: number;
}

export async function bootDirect(boot: DirectBoot): Promise<{ matched: boolean; transcript: string }> {
  const qemu = execa(
    "qemu-system-x86_64",
    [
      "-machine", "q35", "-accel", "tcg", "-m", "512", "-smp", "1",
      "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
      "-kernel", boot.kernel, "-initrd", boot.initrd, "-append", boot.append,
      "-drive", `file=${boot.disk},if=virtio,format=raw,snapshot=on`,
      "-nic", "none",
    ],
    { reject: false, stdin: "ignore", buffer: false },
  );
  let transcript = "";
  try {
    const matched = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), boot.timeoutMs);
      qemu.stdout!.on("data", (chunk: Buffer) => {
        transcript += chunk.toString("latin1");
        if (boot.until.test(transcript)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      qemu.on("exit", () => {
        clearTimeout(timer);
        resolve(boot.until.test(transcript));
      });
    });
    return { matched, transcript };
  } finally {
    qemu.kill("SIGKILL");
    await qemu.catch(() => undefined);
  }
}
