// One QEMU virtual machine: OVMF with its own variable store, disks as qcow2
// overlays over read-only bases (or written directly, for install targets),
// the serial port on a unix socket, QMP for reset, power and media.
import { copyFile, mkdir, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { join, resolve } from "node:path";
import { execa, type ResultPromise } from "execa";
import { onInterrupt } from "../../lib/cleanup.js";
import { FruixError } from "../../lib/errors.js";
import { ConsoleLog } from "../console/log.js";
import { type GuestShell, MarkerShell } from "../console/shell.js";
import { shellQuote } from "../../lib/shell.js";
import type { Accel, Endpoint, HeldForDebugging, Invocation, Machine, MachineSpec } from "../types.js";
import { startQemu } from "./process.js";
import { Qmp } from "./qmp.js";
import { hostForwards, userNetwork } from "./usernet.js";

export const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
export const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";

const CDROM_DEVICE = "cdrom0";

/** Console lines from QEMU itself that mean the guest cannot go on (the family's profile adds the guest's). */
export const QEMU_FAILURE_PATTERNS: readonly RegExp[] = [/KVM internal error.*/];

/** A command as one line a POSIX shell reads back word for word: plain words stay bare. */
export function quoteCommand(words: readonly string[]): string {
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : shellQuote(w))).join(" ");
}

export interface QemuMachineOptions {
  readonly accel: Accel;
  readonly timeoutScale: number;
  readonly log: (line: string) => void;
}

async function waitForSocket(path: string, exited: () => string | undefined, timeoutMs = 10_000): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const socket = await new Promise<Socket | undefined>((done) => {
      const s = connect(path, () => done(s));
      s.once("error", () => done(undefined));
    });
    if (socket) return socket;
    const why = exited();
    if (why) throw new FruixError(why);
    if (Date.now() > deadline) throw new FruixError(`QEMU did not open ${path} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export class QemuMachine implements Machine {
  readonly console: ConsoleLog;
  readonly shell: GuestShell;
  private process: ResultPromise | undefined;
  private qmp: Qmp | undefined;
  private serial: Socket | undefined;
  private exit: Promise<void> | undefined;
  private exitReason: string | undefined;
  private stderr = "";
  private expectingExit = false;
  private destroyed = false;
  private forgetInterrupt: () => void = () => undefined;
  private commandLineText: string | undefined;

  constructor(
    private readonly spec: MachineSpec,
    private readonly options: QemuMachineOptions,
  ) {
    this.console = new ConsoleLog(spec.name, {
      ...spec.console,
      timeoutScale: options.timeoutScale,
      failurePatterns: [...(spec.console?.failurePatterns ?? []), ...QEMU_FAILURE_PATTERNS],
    });
    this.shell = new MarkerShell(this.console);
  }

  get name(): string {
    return this.spec.name;
  }

  private file(name: string): string {
    return join(this.spec.workDir, name);
  }

  /** Copy-on-write overlays keep the base image untouched; removing the overlay undoes every write. */
  private async diskArgs(): Promise<string[]> {
    const args: string[] = [];
    for (const [i, disk] of this.spec.disks.entries()) {
      let file = resolve(disk.path);
      let format = "raw";
      if (disk.mode === "overlay") {
        const overlay = this.file(`disk${i}.qcow2`);
        await execa("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", file, overlay]);
        file = overlay;
        format = "qcow2";
      }
      args.push("-drive", `file=${file},if=virtio,format=${format},id=disk${i},cache=unsafe`);
    }
    return args;
  }

  private async commandLine(): Promise<string[]> {
    const cdrom =
      this.spec.cdrom === undefined
        ? []
        : [
            "-drive", `if=none,id=cd0,media=cdrom,readonly=on${this.spec.cdrom ? `,file=${resolve(this.spec.cdrom)},format=raw` : ""}`,
            // QMP's media commands name the device (qdev id), not the drive.
            "-device", `ide-cd,drive=cd0,bus=ide.0,id=${CDROM_DEVICE}`,
          ];
    return [
      "-name", this.spec.name,
      "-machine", "q35", "-accel", this.options.accel,
      "-m", String(this.spec.memoryMiB ?? 512), "-smp", String(this.spec.cpus ?? 1),
      "-nodefaults", "-no-user-config", "-display", "none",
      "-drive", `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
      "-drive", `if=pflash,format=raw,file=${this.file("OVMF_VARS.fd")}`,
      // QMP first: the serial chardev below waits for its client before the machine runs.
      "-qmp", `unix:${this.file("qmp.sock")},server=on,wait=off`,
      "-chardev", `socket,id=serial0,path=${this.file("serial.sock")},server=on,wait=on`,
      "-serial", "chardev:serial0",
      ...(await this.diskArgs()),
      ...cdrom,
      "-nic", this.spec.forwardPorts?.length || this.spec.forwards?.length ? userNetwork(this.spec.forwardPorts ?? [], this.spec.forwards) : "none",
      // A watchdog a guest may arm (Fruix's trial boots do): inert until opened; on expiry QEMU resets the machine.
      "-device", "i6300esb", "-action", "watchdog=reset",
    ];
  }

  async start(): Promise<void> {
    if (this.process) throw new FruixError(`${this.name}: already started`);
    await mkdir(this.spec.workDir, { recursive: true });
    await copyFile(OVMF_VARS, this.file("OVMF_VARS.fd"));
    const args = await this.commandLine();
    this.commandLineText = quoteCommand(["qemu-system-x86_64", ...args]);
    this.options.log(`${this.name}: qemu-system-x86_64 (${this.options.accel}) ${this.spec.disks.map((d) => d.path).join(" ")}`);
    const child = startQemu(args, { reject: false, stdin: "ignore", stdout: "ignore", buffer: false });
    this.process = child;
    const pid = child.pid;
    this.forgetInterrupt = onInterrupt(() => {
      if (pid) process.kill(pid, "SIGKILL");
    });
    child.stderr?.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exit = child.then((result) => {
      const last = this.stderr.trim().split("\n").filter(Boolean).pop();
      this.exitReason = `${this.name}: QEMU exited (${result.signal ?? `code ${result.exitCode}`})${last ? `: ${last}` : ""}`;
      if (!this.expectingExit) this.console.fail(new FruixError(this.exitReason));
    });
    this.serial = await waitForSocket(this.file("serial.sock"), () => this.exitReason);
    this.console.attach(this.serial, this.serial);
    this.qmp = await Qmp.open(this.file("qmp.sock"));
  }

  /** The exact command line QEMU was started with (as a shell would take it). */
  invocation(): Invocation | undefined {
    return this.commandLineText === undefined ? undefined : { kind: "command line", text: this.commandLineText };
  }

  async keepForDebugging(): Promise<HeldForDebugging> {
    if (!this.process || this.exitReason || !this.exit) return { instructions: [`${this.name}: QEMU is not running; nothing to attach to`], ended: Promise.resolve() };
    this.expectingExit = true;
    // QEMU serves one client per socket: Fruix lets go of both.
    this.serial?.destroy();
    this.serial = undefined;
    this.qmp?.close();
    this.qmp = undefined;
    const serial = this.file("serial.sock");
    const qmp = this.file("qmp.sock");
    const pid = this.process.pid!;
    const end = `echo '{"execute":"qmp_capabilities"} {"execute":"quit"}' | socat - UNIX-CONNECT:${qmp}   (or: kill ${pid})`;
    return {
      console: { socket: serial, pid, end },
      instructions: [
        `${this.name}: kept running for debugging (--debug-on-failure): QEMU pid ${pid}`,
        `  serial console: socat -,rawer UNIX-CONNECT:${serial}`,
        `  QMP:            socat - UNIX-CONNECT:${qmp}   (send {"execute":"qmp_capabilities"} first)`,
        `  end it:         ${end}`,
      ],
      ended: this.exit,
    };
  }

  private control(): Qmp {
    if (!this.qmp) throw new FruixError(`${this.name}: not running`);
    return this.qmp;
  }

  async reboot(): Promise<void> {
    await this.control().execute("system_reset");
  }

  async powerOff(): Promise<void> {
    if (!this.process || this.exitReason) return;
    this.expectingExit = true;
    await this.control().execute("quit").catch(() => undefined);
    await this.exit;
  }

  async waitForPowerOff(timeoutMs: number): Promise<void> {
    this.expectingExit = true;
    const scaled = timeoutMs * this.options.timeoutScale;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FruixError(`${this.name}: did not power off within ${Math.round(scaled / 1000)} s`)), scaled);
    });
    try {
      await Promise.race([this.exit, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async endpoint(port: number): Promise<Endpoint> {
    if (!this.spec.forwardPorts?.includes(port)) throw new FruixError(`${this.name}: guest port ${port} is not forwarded (ask for it in forwardPorts)`);
    const info = await this.control().execute("human-monitor-command", { "command-line": "info usernet" });
    const hostPort = hostForwards(String(info)).get(port);
    if (hostPort === undefined) throw new FruixError(`${this.name}: QEMU lists no host forward for guest port ${port}`);
    return { host: "127.0.0.1", port: hostPort };
  }

  async insertCdrom(path: string): Promise<void> {
    if (this.spec.cdrom === undefined) throw new FruixError(`${this.name}: has no CD drive (create it with cdrom: null)`);
    await this.control().execute("blockdev-change-medium", { id: CDROM_DEVICE, filename: resolve(path), format: "raw", "read-only-mode": "read-only" });
  }

  async ejectCdrom(): Promise<void> {
    await this.control().execute("eject", { id: CDROM_DEVICE, force: true });
  }

  async destroy(options: { keepFiles?: boolean } = {}): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.expectingExit = true;
    this.qmp?.close();
    this.serial?.destroy();
    if (this.process && !this.exitReason) {
      this.process.kill("SIGKILL");
      await this.exit;
    }
    this.forgetInterrupt();
    this.console.close();
    if (!options.keepFiles) await rm(this.spec.workDir, { recursive: true, force: true });
  }
}
