// `fruix system vm FILE`: the system's disk image booted in QEMU on a
// copy-on-write overlay, its serial console on this terminal (raw mode; Ctrl-]
// leaves) or, without a terminal, streamed to stdout. Everything it makes (the
// overlay, firmware variables, sockets, QEMU itself) goes when it ends: on
// Ctrl-], the guest powering off, or a signal.
import { rm } from "node:fs/promises";
import { hypervisorFactory } from "../../hypervisors/index.js";
import type { PortForward } from "../../hypervisors/types.js";
import { onInterrupt, temporaryDirectory } from "../cleanup.js";
import type { OperatingSystem } from "../declaration/types.js";
import type { Logger } from "../log.js";
import { requireValidatable, withValidationShell } from "../validate/instrument.js";

/** Ctrl-]: what telnet and `virsh console` leave with; never a byte a shell needs. */
export const ESCAPE_BYTE = 0x1d;
export const ESCAPE_NAME = "Ctrl-]";

/**
 * What the VM boots: the declared system with a root shell on its serial
 * console (its accounts have no passwords to log in with) and, for forwards,
 * a network (pure; FreeBSD is refused, as by validation: never booted here).
 */
export function vmSystem(os: OperatingSystem, network: boolean): OperatingSystem {
  requireValidatable(os);
  const shell = withValidationShell(os);
  return network ? withNetwork(shell) : shell;
}

/** A forward needs an address in the guest: QEMU's user network gives one by DHCP, so the VM gets a client when it declares none. */
export function withNetwork(os: OperatingSystem): OperatingSystem {
  if (os.services.some((s) => s.type === "dhcp-client")) return os;
  return { ...os, services: [...os.services, { type: "dhcp-client", config: { interface: "eth0" }, location: os.location }] };
}

/** Splits terminal input at the escape byte: what goes to the guest, and whether to leave (pure). */
export function terminalInput(chunk: Buffer): { forward: Buffer; leave: boolean } {
  const at = chunk.indexOf(ESCAPE_BYTE);
  return at < 0 ? { forward: chunk, leave: false } : { forward: chunk.subarray(0, at), leave: true };
}

export interface VmOptions {
  readonly disk: string;
  readonly forwards: readonly PortForward[];
  readonly accel: "auto" | "kvm" | "tcg";
  readonly log: Logger;
}

/** Boots `disk` and attaches the console until the guest powers off or the escape key; returns how it ended. */
export async function runVm(options: VmOptions): Promise<"powered-off" | "escape"> {
  const { stdin, stdout } = process;
  const interactive = stdin.isTTY === true && stdout.isTTY === true;
  const hypervisor = hypervisorFactory("qemu", { accel: options.accel, timeoutScale: 1, log: (line) => options.log.info(line) })();
  const { path: workDir, forget } = await temporaryDirectory("fruix-vm-");
  const restore = () => {
    if (interactive && stdin.isRaw) stdin.setRawMode(false);
  };
  const forgetTerminal = onInterrupt(restore);
  const machine = await hypervisor.createMachine({
    name: "vm",
    workDir,
    memoryMiB: 512,
    disks: [{ path: options.disk, mode: "overlay" }],
    forwards: options.forwards,
    console: { onData: (chunk) => stdout.write(chunk) },
  });
  let onInput: ((chunk: Buffer) => void) | undefined;
  try {
    if (interactive) options.log.info(`fruix: the console of the VM; ${ESCAPE_NAME} leaves (and stops it)`);
    await machine.start();
    const left = new Promise<"escape">((resolve) => {
      onInput = (chunk: Buffer) => {
        const { forward, leave } = terminalInput(chunk);
        if (forward.length > 0) machine.console.send(forward);
        if (leave) resolve("escape");
      };
      if (interactive) stdin.setRawMode(true);
      stdin.on("data", onInput);
      stdin.resume();
    });
    const ended = machine.waitForPowerOff(2 ** 31 - 1).then(() => "powered-off" as const);
    return await Promise.race([left, ended]);
  } finally {
    if (onInput) stdin.off("data", onInput);
    stdin.pause();
    restore();
    forgetTerminal();
    await machine.destroy();
    forget();
    await rm(workDir, { recursive: true, force: true });
  }
}
