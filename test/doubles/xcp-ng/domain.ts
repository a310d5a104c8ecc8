// TEST DOUBLE: one "Xen domain" of Fruix's XCP-ng test host, really a QEMU
// process (OVMF, IDE disks like Xen HVM's emulated devices). -no-reboot makes
// a guest reboot end the process, as a Xen domain ends; the test host then
// builds a new domain (new domid), like xenopsd. The serial port is a unix
// socket that the test host's SSH server serves as `xl console`.
import { copyFile, mkdir, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { Qmp } from "../../../hypervisors/qemu/qmp.js";
import { OVMF_CODE, OVMF_VARS } from "../../../hypervisors/qemu/machine.js";

export interface DomainDisk {
  /** Xen's userdevice: IDE slot 0-3 (bus = slot / 2, unit = slot % 2). */
  readonly slot: number;
  readonly kind: "Disk" | "CD";
  /** Host file (the VDI); null for an empty CD drive. */
  readonly file: string | null;
  readonly readOnly: boolean;
}

/** An emulated NIC (e1000, as Xen HVM's emulated network card); `reachableAt` forwards that loopback address's port 22 to the guest's. */
export interface DomainNic {
  readonly mac: string;
  readonly reachableAt?: string;
}

export interface DomainSpec {
  readonly domid: number;
  readonly name: string;
  readonly dir: string;
  readonly memoryMiB: number;
  readonly vcpus: number;
  readonly uefi: boolean;
  /** The VM's NVRAM (UEFI variables), kept across its domains. */
  readonly nvram: string;
  readonly disks: readonly DomainDisk[];
  readonly paused: boolean;
  readonly accel: "kvm" | "tcg";
  readonly nics?: readonly DomainNic[];
}

/** How a domain ended: the guest asked for a reset or a power-off, or it was killed, or QEMU failed. */
export type DomainEnd = "guest-reset" | "guest-shutdown" | "killed" | "crashed";

/** PCI slot of userdevice 0's disk; NICs take the lowest free slots, below it. */
const DISK_PCI_SLOT = 0x10;

export function cdDriveId(slot: number): string {
  return `drive${slot}`;
}

export function qemuArgs(spec: DomainSpec): string[] {
  const firmware = spec.uefi
    ? ["-drive", `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`, "-drive", `if=pflash,format=raw,file=${spec.nvram}`]
    : []; // SeaBIOS, as Xen's default "bios" firmware: a GPT/UEFI-only disk does not boot
  // CDs on the emulated IDE slot their userdevice names, as Xen HVM has them. Disks are virtio
  // at a PCI slot fixed by userdevice: Linux names IDE/SATA disks in the order their (asynchronous)
  // probes finish, which once swapped sda and sdb in a test run; virtio disks are named in PCI order.
  const disks = spec.disks.flatMap((d) => {
    if (d.kind === "CD") {
      const media = d.file ? `,file=${d.file},format=raw` : "";
      const where = `bus=ide.${Math.floor(d.slot / 2)},unit=${d.slot % 2}`;
      return ["-drive", `if=none,id=${cdDriveId(d.slot)},media=cdrom,readonly=on${media}`, "-device", `ide-cd,drive=${cdDriveId(d.slot)},${where},id=cd${d.slot}`];
    }
    const drive = `if=none,id=drive${d.slot},file=${d.file},format=raw,cache=unsafe${d.readOnly ? ",readonly=on" : ""}`;
    return ["-drive", drive, "-device", `virtio-blk-pci,drive=drive${d.slot},addr=0x${(DISK_PCI_SLOT + d.slot).toString(16)}`];
  });
  return [
    "-name", `${spec.name},process=fruix-xcpng-testhost-dom${spec.domid}`,
    "-machine", "pc", "-accel", spec.accel,
    "-m", String(spec.memoryMiB), "-smp", String(spec.vcpus),
    "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
    ...firmware,
    "-qmp", `unix:${join(spec.dir, "qmp.sock")},server=on,wait=off`,
    "-qmp", `unix:${join(spec.dir, "events.sock")},server=on,wait=off`,
    "-chardev", `socket,id=serial0,path=${join(spec.dir, "serial.sock")},server=on,wait=off`,
    "-serial", "chardev:serial0",
    ...disks,
    ...(spec.nics?.length
      ? spec.nics.flatMap((nic, i) => [
          "-netdev", `user,id=net${i}${nic.reachableAt ? `,hostfwd=tcp:${nic.reachableAt}:22-:22` : ""}`,
          "-device", `e1000,netdev=net${i},mac=${nic.mac}`,
        ])
      : ["-nic", "none"]),
    ...(spec.paused ? ["-S"] : []),
  ];
}

async function connectWhenReady(path: string, exited: () => boolean): Promise<Socket> {
  for (let i = 0; i < 500; i++) {
    const socket = await new Promise<Socket | undefined>((done) => {
      const s = connect(path, () => done(s));
      s.once("error", () => done(undefined));
    });
    if (socket) return socket;
    if (exited()) throw new Error(`QEMU exited before opening ${path}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`QEMU did not open ${path}`);
}

export class Domain {
  private process: ResultPromise | undefined;
  private qmp: Qmp | undefined;
  private events: Socket | undefined;
  private lastShutdown: string | undefined;
  private killing = false;
  private exitedFlag = false;
  /** Resolves with how the domain ended. */
  readonly ended: Promise<DomainEnd>;
  private resolveEnded!: (end: DomainEnd) => void;
  stderr = "";

  private constructor(readonly spec: DomainSpec) {
    this.ended = new Promise((r) => (this.resolveEnded = r));
  }

  get domid(): number {
    return this.spec.domid;
  }

  get serialSocket(): string {
    return join(this.spec.dir, "serial.sock");
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  static async start(spec: DomainSpec): Promise<Domain> {
    await mkdir(spec.dir, { recursive: true });
    if (spec.uefi && !existsSync(spec.nvram)) await copyFile(OVMF_VARS, spec.nvram);
    const domain = new Domain(spec);
    const child = execa("qemu-system-x86_64", qemuArgs(spec), { reject: false, stdin: "ignore", stdout: "ignore", buffer: false });
    domain.process = child;
    child.stderr?.on("data", (c: Buffer) => (domain.stderr += c.toString()));
    void child.then(async (result) => {
      domain.exitedFlag = true;
      domain.qmp?.close();
      // QEMU writes SHUTDOWN (with the guest's reason) just before it exits, but Node may see the
      // exit first: read the event socket to its end (QEMU's exit closed it) before deciding how
      // the domain ended. Destroying it here lost a guest reset now and then, and the VM halted
      // instead of restarting (issue 19, defect 3).
      await domain.eventsDrained();
      const end: DomainEnd = domain.killing
        ? "killed"
        : domain.lastShutdown === "guest-reset"
          ? "guest-reset"
          : domain.lastShutdown
            ? "guest-shutdown"
            : result.exitCode === 0
              ? "guest-shutdown"
              : "crashed";
      void rm(spec.dir, { recursive: true, force: true }).finally(() => domain.resolveEnded(end));
    });
    try {
      domain.events = await connectWhenReady(join(spec.dir, "events.sock"), () => domain.exitedFlag);
      // QEMU sends events only once qmp_capabilities is answered: wait for that, or a guest
      // reset soon after the start (OVMF's first boot) would end the domain without its SHUTDOWN.
      await domain.listen(domain.events);
      domain.qmp = await Qmp.open(join(spec.dir, "qmp.sock"));
    } catch (error) {
      await domain.kill();
      throw new Error(`domain ${spec.domid}: ${(error as Error).message}${domain.stderr ? `: ${domain.stderr.trim()}` : ""}`);
    }
    return domain;
  }

  /** Resolves once every byte QEMU wrote on the event monitor has been read (the socket closed), or at once without one. */
  private eventsDrained(): Promise<void> {
    const socket = this.events;
    if (!socket || socket.closed) return Promise.resolve();
    return new Promise((resolve) => socket.once("close", () => resolve()));
  }

  /** A second QMP monitor that only reads events: SHUTDOWN says whether the guest reset or powered off. Resolves once events flow. */
  private listen(socket: Socket): Promise<void> {
    let buffer = "";
    let ready!: () => void;
    let failed!: (error: Error) => void;
    const negotiated = new Promise<void>((resolve, reject) => ([ready, failed] = [resolve, reject]));
    socket.on("close", () => failed(new Error("QEMU closed its event monitor before it was ready")));
    socket.on("error", () => undefined);
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const message = JSON.parse(line) as { QMP?: unknown; event?: string; data?: { reason?: string } };
        if (message.QMP) socket.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n");
        if ("return" in message) ready();
        if (message.event === "SHUTDOWN") this.lastShutdown = message.data?.reason ?? "guest-shutdown";
      }
    });
    return negotiated;
  }

  async unpause(): Promise<void> {
    await this.qmp?.execute("cont");
  }

  async changeMedium(slot: number, file: string | null): Promise<void> {
    if (!this.qmp) return;
    if (file) await this.qmp.execute("blockdev-change-medium", { id: `cd${slot}`, filename: file, format: "raw", "read-only-mode": "read-only" });
    else await this.qmp.execute("eject", { id: `cd${slot}`, force: true });
  }

  /** Destroys the domain at once (SIGKILL) and waits until its files are gone. */
  async kill(): Promise<void> {
    this.killing = true;
    if (this.process && !this.exitedFlag) this.process.kill("SIGKILL");
    await this.ended;
  }

  /** Synchronous, for signal handlers. */
  killNow(): void {
    this.killing = true;
    if (this.process?.pid && !this.exitedFlag) process.kill(this.process.pid, "SIGKILL");
  }
}
