// `fruix system vm FILE`: the system's disk image booted in QEMU on a
// copy-on-write overlay, its serial console on this terminal (raw mode; Ctrl-]
// leaves) or, without a terminal, streamed to stdout. Everything it makes (the
// overlay, firmware variables, sockets, QEMU itself) goes when it ends: on
// Ctrl-], the guest powering off, or a signal. `fruix vm attach NAME` puts a
// machine --debug-on-failure holds on the terminal the same way.
import { rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { hypervisorFactory } from "../../hypervisors/index.js";
import type { PortForward } from "../../hypervisors/types.js";
import { temporaryDirectory } from "../cleanup.js";
import type { OperatingSystem } from "../declaration/types.js";
import type { Logger } from "../log.js";
import { attachTerminal, ESCAPE_NAME, isInteractive, type TerminalSession } from "../terminal.js";
import { FruixError } from "../errors.js";
import { findHeld } from "../validate/held.js";
import { requireValidatable, withValidationShell } from "../validate/instrument.js";

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


export interface VmOptions {
  readonly disk: string;
  readonly forwards: readonly PortForward[];
  readonly accel: "auto" | "kvm" | "tcg";
  readonly log: Logger;
}

/** Boots `disk` and attaches the console until the guest powers off or the escape key; returns how it ended. */
export async function runVm(options: VmOptions): Promise<"powered-off" | "escape"> {
  const hypervisor = hypervisorFactory("qemu", { accel: options.accel, timeoutScale: 1, log: (line) => options.log.info(line) })();
  const { path: workDir, forget } = await temporaryDirectory("fruix-vm-");
  const machine = await hypervisor.createMachine({
    name: "vm",
    workDir,
    memoryMiB: 512,
    disks: [{ path: options.disk, mode: "overlay" }],
    forwards: options.forwards,
    console: { onData: (chunk) => process.stdout.write(chunk) },
  });
  let terminal: TerminalSession | undefined;
  try {
    if (isInteractive()) options.log.info(`fruix: the console of the VM; ${ESCAPE_NAME} leaves (and stops it)`);
    await machine.start();
    terminal = attachTerminal((bytes) => machine.console.send(bytes));
    const ended = machine.waitForPowerOff(2 ** 31 - 1).then(() => "powered-off" as const);
    return await Promise.race([terminal.left, ended]);
  } finally {
    terminal?.release();
    await machine.destroy();
    forget();
    await rm(workDir, { recursive: true, force: true });
  }
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/**
 * `fruix vm attach NAME`: the console of a machine --debug-on-failure holds, on
 * this terminal until the escape key (the machine keeps running) or until the
 * machine ends.
 */
export async function attachHeld(name: string, log: Logger): Promise<"escape" | "ended"> {
  const held = await findHeld(name);
  const socket = await openSocket(held.serialSocket).catch((error: NodeJS.ErrnoException) => {
    throw new FruixError(`cannot attach to ${held.name}: ${held.serialSocket}: ${error.code ?? error.message}`);
  });
  log.info(`fruix: the console of ${held.name} (${held.scenario}); ${ESCAPE_NAME} leaves it running. To end it: ${held.end}`);
  socket.on("data", (chunk: Buffer) => process.stdout.write(chunk));
  const closed = new Promise<"ended">((resolve) => socket.once("close", () => resolve("ended")));
  socket.on("error", () => undefined); // a close follows
  const terminal = attachTerminal((bytes) => socket.write(bytes));
  try {
    return await Promise.race([terminal.left, closed]);
  } finally {
    terminal.release();
    socket.destroy();
  }
}
