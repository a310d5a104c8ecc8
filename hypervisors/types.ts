// The contract between the validation engine and a hypervisor (DESIGN §7).
// Adapters live in hypervisors/<name>/; nothing outside hypervisors/ knows
// how a particular hypervisor starts, resets or feeds media to a machine.
// This folder imports nothing from lib/validate: validation uses machines,
// machines know nothing of validation.
import type { ConsoleLog } from "./console/log.js";
import type { GuestShell } from "./console/shell.js";

export type { ConsoleLog, GuestShell };

export type Accel = "kvm" | "tcg" | "xen";

/**
 * How a guest's kernel sees the machine's disks, in DiskSpec order: virtio
 * (Linux vda, vdb), emulated IDE/SATA (sda, sdb) or Xen PV (xvda, xvdb). The
 * scenarios' default install target device is named from it.
 */
export type DiskBus = "virtio" | "ide" | "xen";

export interface Capabilities {
  readonly uefi: boolean;
  /** Accelerations this host can use, best first (after probing). */
  readonly accels: readonly Accel[];
  readonly cdrom: boolean;
  readonly snapshots: boolean;
  /** How the guest sees the machine's disks (absent: virtio). */
  readonly diskBus?: DiskBus;
  /** Free-form notes the report should carry (e.g. "KVM unusable: ..., using TCG"). */
  readonly notes: readonly string[];
}

export interface DiskSpec {
  /** Host path of a raw image. */
  readonly path: string;
  /**
   * `overlay`: the image is a read-only base; the machine writes to a
   * copy-on-write overlay that destroy() removes (never a full copy).
   * `direct`: the machine writes to the image itself (an install target).
   */
  readonly mode: "overlay" | "direct";
}

export interface MachineSpec {
  /** Names the machine in logs and reports ("vm", "installer", "target"). */
  readonly name: string;
  readonly memoryMiB?: number;
  readonly cpus?: number;
  readonly disks: readonly DiskSpec[];
  /**
   * A CD drive: an ISO's path, or null for an empty drive (insertCdrom and
   * ejectCdrom need a drive). Undefined: no drive at all, as on a plain server.
   */
  readonly cdrom?: string | null;
  /** Where the adapter may keep per-machine state (firmware variables, overlays, sockets). */
  readonly workDir: string;
  /**
   * Guest TCP ports the host must reach (22, for `fruix system copy`). The
   * machine then gets one network card with DHCP; without, it has none.
   */
  readonly forwardPorts?: readonly number[];
  /** Guest TCP ports forwarded from fixed loopback ports (`fruix system vm --forward`); a network card as forwardPorts. */
  readonly forwards?: readonly PortForward[];
  /** The console log's settings; the adapter adds failure patterns of its own. */
  readonly console?: ConsoleSpec;
}

export interface ConsoleSpec {
  /** Where the serial transcript is written as it arrives (the run directory's `<machine>-serial.log`). */
  readonly transcriptFile?: string;
  /** Console lines that mean the guest failed to boot (the family's profile). */
  readonly failurePatterns?: readonly RegExp[];
  /** Each complete console line, as it arrives (`fruix validate --verbose`). */
  readonly onLine?: (line: string) => void;
  /** Every byte as it arrives, unsplit (`fruix system vm` copies them to the terminal). */
  readonly onData?: (chunk: Buffer) => void;
}

/** Host port `host` on 127.0.0.1 reaches guest TCP port `guest`. */
export interface PortForward {
  readonly host: number;
  readonly guest: number;
}

/** Where the host reaches a forwarded guest port. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** What an adapter ran for a machine, recorded in every report: QEMU's exact command line, or the VM's XAPI record. */
export interface Invocation {
  readonly kind: "command line" | "XAPI VM record";
  readonly text: string;
}

export interface Machine {
  readonly name: string;
  /** The serial console's log: transcript, waits, failure scan (DESIGN §7's SerialConsole less `run`). */
  readonly console: ConsoleLog;
  /** A shell in the guest (DESIGN §7's `console.run`), over the console. */
  readonly shell: GuestShell;
  start(): Promise<void>;
  /** Hard reset, like the reset button; the console stays attached. */
  reboot(): Promise<void>;
  /** Ends the machine at once (no guest shutdown). */
  powerOff(): Promise<void>;
  /** Resolves when the machine stops by itself (the guest powered off); rejects on timeout. */
  waitForPowerOff(timeoutMs: number): Promise<void>;
  /** Where the host reaches guest TCP `port`, one of spec.forwardPorts (adapters that can forward). */
  endpoint?(port: number): Promise<Endpoint>;
  insertCdrom(path: string): Promise<void>;
  ejectCdrom(): Promise<void>;
  /**
   * --debug-on-failure: leaves the machine running for an operator and lets go of its console
   * (and QEMU's QMP), so they are free to attach; says how to attach and how to end it, and
   * resolves `ended` when the machine stops. destroy() still removes everything afterwards.
   */
  keepForDebugging?(): Promise<HeldForDebugging>;
  /** What the adapter ran for this machine (once started); both adapters give it, a test's fake machine may not. */
  invocation?(): Invocation | undefined;
  /**
   * Always safe and idempotent: stops the machine and removes everything the
   * adapter made for it, unless `keepFiles` (--keep, to look at a failure).
   */
  destroy(options?: { keepFiles?: boolean }): Promise<void>;
}

/** A machine left running for an operator (--debug-on-failure). */
export interface HeldForDebugging {
  /** How to attach and how to end it, one line each. */
  readonly instructions: readonly string[];
  /** Resolves when the machine stops. */
  readonly ended: Promise<void>;
  /** Where its serial console is served (a unix socket) by which process, for `fruix vm attach`; absent when there is none here. */
  readonly console?: { readonly socket: string; readonly pid: number; readonly end: string };
}

export interface HypervisorOptions {
  /** Requested acceleration; "auto" probes and falls back, saying so. */
  readonly accel: "auto" | Accel;
  readonly log: (line: string) => void;
}

export interface Hypervisor {
  readonly name: string;
  capabilities(): Promise<Capabilities>;
  createMachine(spec: MachineSpec): Promise<Machine>;
}
