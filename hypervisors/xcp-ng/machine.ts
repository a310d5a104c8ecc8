// One XCP-ng VM made through XAPI: cloned from the "other-install-media"
// template, UEFI, its disks uploaded into fresh VDIs, its serial console over
// SSH (`xl console`), and everything it made destroyed afterwards.
import { spawnSync } from "node:child_process";
import { rename, rm, stat } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ClientChannel } from "ssh2";
import { onInterrupt } from "../../lib/cleanup.js";
import { FruixError } from "../../lib/errors.js";
import { ConsoleLog } from "../console/log.js";
import { type GuestShell, MarkerShell } from "../console/shell.js";
import type { Endpoint, Invocation, Machine, MachineSpec } from "../types.js";
import type { XcpngConfig } from "./config.js";
import { SshConsoleHost } from "./ssh-console.js";
import { XapiError, XapiSession } from "./xapi.js";
import { asArray, asString, asStruct, type XmlRpcValue } from "./xmlrpc.js";

/** The template every VM starts from (its reference_label, stable across XCP-ng versions). */
export const TEMPLATE_LABEL = "other-install-media";
/** Xen HVM's emulated IDE has four slots; the CD conventionally takes the last (hdd). */
const CD_USERDEVICE = "3";
const MiB = 1024 * 1024;

export interface XcpngMachineOptions {
  readonly config: XcpngConfig;
  readonly timeoutScale: number;
  readonly log: (line: string) => void;
}

interface MadeVdi {
  readonly ref: string;
  /** For `direct` disks: the file the VDI's content goes back to. */
  readonly writeBackTo?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every VDI spec field XAPI's VDI.create needs, for a plain user disk. */
export function vdiRecord(name: string, sr: string, size: number, description: string, smConfig: Record<string, string> = {}): Record<string, XmlRpcValue> {
  return {
    name_label: name,
    name_description: description,
    SR: sr,
    virtual_size: String(size),
    type: "user",
    sharable: false,
    read_only: false,
    other_config: {},
    xenstore_data: {},
    sm_config: smConfig,
    tags: [],
  };
}

/** VIF.create's record: the VM's first network card on `network`; an empty MAC lets XAPI make one from the VM's mac_seed. */
export function vifRecord(vm: string, network: string): Record<string, XmlRpcValue> {
  return {
    device: "0",
    network,
    VM: vm,
    MAC: "",
    MTU: "1500",
    other_config: {},
    qos_algorithm_type: "",
    qos_algorithm_params: {},
  };
}

/**
 * The guest's IPv4 address from VM_guest_metrics.networks, as
 * xapi_guest_agent.ml names what a guest agent reports for its first VIF
 * ("0/ipv4/0", and "0/ip" from older agents); undefined without one.
 */
export function guestAddress(networks: Readonly<Record<string, XmlRpcValue>>): string | undefined {
  const address = networks["0/ipv4/0"] ?? networks["0/ip"];
  return typeof address === "string" && address !== "" ? address : undefined;
}

export function vbdRecord(vm: string, vdi: string | null, userdevice: string, kind: "Disk" | "CD"): Record<string, XmlRpcValue> {
  return {
    VM: vm,
    VDI: vdi ?? "OpaqueRef:NULL",
    userdevice,
    bootable: kind === "Disk" && userdevice === "0",
    mode: kind === "CD" ? "RO" : "RW",
    type: kind,
    unpluggable: kind === "CD",
    empty: vdi === null,
    other_config: {},
    qos_algorithm_type: "",
    qos_algorithm_params: {},
  };
}

/**
 * VDI.destroy, retried while XAPI says VDI_IN_USE (a tapdisk can linger after
 * the VM halts); a VDI already gone counts as destroyed. Returns how many
 * times it was refused as in use.
 */
export async function destroyVdi(xapi: XapiSession, vdi: string, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (let refused = 0, delay = 250; ; refused++, delay = Math.min(delay * 2, 4000)) {
    try {
      await xapi.callAsync("VDI.destroy", vdi);
      return refused;
    } catch (error) {
      if (error instanceof XapiError && error.code === "HANDLE_INVALID") return refused;
      if (!(error instanceof XapiError && error.code === "VDI_IN_USE") || Date.now() > deadline) throw error;
      await sleep(delay);
    }
  }
}

/** The VM record's fields that say what ran, as sorted JSON (pure; nothing secret is in a VM record). */
export const VM_RECORD_FIELDS = [
  "uuid", "name_label", "power_state", "domid", "resident_on", "memory_static_max", "memory_dynamic_max", "VCPUs_max", "VCPUs_at_startup",
  "HVM_boot_policy", "HVM_boot_params", "platform", "VBDs", "VIFs", "actions_after_reboot", "actions_after_crash", "is_a_template",
] as const;

export function vmRecordText(record: Record<string, XmlRpcValue>): string {
  const picked: Record<string, XmlRpcValue> = {};
  for (const field of VM_RECORD_FIELDS) if (field in record) picked[field] = record[field]!;
  return JSON.stringify(picked, null, 2);
}

export class XcpngMachine implements Machine {
  readonly console: ConsoleLog;
  readonly shell: GuestShell;
  private xapi: XapiSession | undefined;
  private vm: string | undefined;
  private cdVbd: string | undefined;
  private readonly vdis: MadeVdi[] = [];
  private ssh: SshConsoleHost | undefined;
  private channel: ClientChannel | undefined;
  private attachedDomid = -1;
  private reattaching: Promise<void> | undefined;
  /** The guest may have written to its direct disks since they were last copied back. */
  private dirty = false;
  private stopping = false;
  private rebooting = false;
  private destroyed = false;
  private forgetInterrupt: () => void = () => undefined;
  private vmRecord: string | undefined;
  private readonly label = `fruix-${randomBytes(3).toString("hex")}`;
  private isos = 0;

  constructor(
    private readonly spec: MachineSpec,
    private readonly options: XcpngMachineOptions,
  ) {
    // Xen adds no console line of its own that means failure: the family's patterns only.
    this.console = new ConsoleLog(spec.name, { ...spec.console, timeoutScale: options.timeoutScale });
    this.shell = new MarkerShell(this.console);
  }

  get name(): string {
    return this.spec.name;
  }

  private log(line: string): void {
    this.options.log(`${this.name}: ${line}`);
  }

  private session(): XapiSession {
    if (!this.xapi) throw new FruixError(`${this.name}: not started`);
    return this.xapi;
  }

  private vmRef(): string {
    if (!this.vm) throw new FruixError(`${this.name}: not started`);
    return this.vm;
  }

  async start(): Promise<void> {
    if (this.xapi) throw new FruixError(`${this.name}: already started`);
    if (this.spec.forwards?.length) {
      throw new FruixError(`${this.name}: the xcp-ng adapter cannot forward fixed loopback ports (forwards); the guest is on the pool's network (forwardPorts)`);
    }
    const { config } = this.options;
    this.xapi = await XapiSession.login(config.url, config.user, config.password, { tlsSha256: config.tlsSha256, timeoutScale: this.options.timeoutScale, log: this.options.log });
    this.forgetInterrupt = onInterrupt(() => this.reapNow());
    const xapi = this.xapi;

    const template = await this.findTemplate();
    this.vm = asString(await xapi.callAsync("VM.clone", template, `${this.label}-${this.name}`), "VM.clone");
    const vm = this.vm;
    this.log(`VM ${this.label}-${this.name} cloned from the ${TEMPLATE_LABEL} template`);
    // The template's other_config:disks would make provision create disks of its own.
    await xapi.call("VM.remove_from_other_config", vm, "disks");
    await xapi.callAsync("VM.provision", vm);
    const memory = String((this.spec.memoryMiB ?? 512) * MiB);
    await xapi.call("VM.set_memory_limits", vm, memory, memory, memory, memory);
    const cpus = String(this.spec.cpus ?? 1);
    await xapi.call("VM.set_VCPUs_max", vm, cpus);
    await xapi.call("VM.set_VCPUs_at_startup", vm, cpus);
    await xapi.call("VM.set_HVM_boot_params", vm, { firmware: "uefi", order: "dc" });
    const platform = asStruct(await xapi.call("VM.get_platform", vm), "VM.get_platform");
    await xapi.call("VM.set_platform", vm, { ...platform, "device-model": "qemu-upstream-uefi", secureboot: "false" });

    const sr = await this.srByName(config.sr);
    for (const [i, disk] of this.spec.disks.entries()) {
      const path = resolve(disk.path);
      const vdi = await this.uploadVdi(sr, path, `${this.label} disk ${i} (${disk.mode})`, disk.mode === "direct" ? path : undefined);
      await xapi.call("VBD.create", vbdRecord(vm, vdi, String(i), "Disk"));
    }
    if (this.spec.forwardPorts?.length) {
      // The guest joins the pool's network; endpoint() reads its address from the guest metrics.
      const network = await this.networkByName(config.network);
      await xapi.call("VIF.create", vifRecord(vm, network));
      this.log(`VIF 0 on network "${config.network}" (the guest's address comes from its guest metrics)`);
    }
    if (this.spec.cdrom !== undefined) {
      const iso = this.spec.cdrom === null ? null : await this.uploadIso(this.spec.cdrom);
      this.cdVbd = asString(await xapi.call("VBD.create", vbdRecord(vm, iso, CD_USERDEVICE, "CD")), "VBD.create");
    }

    // Start paused, attach the console, then run: no early output is lost.
    await xapi.callAsync("VM.start", vm, true, false);
    this.dirty = true;
    await this.attachConsole();
    this.vmRecord = vmRecordText(asStruct(await xapi.call("VM.get_record", vm), "VM.get_record"));
    await xapi.call("VM.unpause", vm);
  }

  async keepForDebugging(): Promise<{ instructions: string[]; ended: Promise<void> }> {
    if (!this.vm || (await this.powerState()) === "Halted") return { instructions: [`${this.name}: the VM is halted; nothing to attach to`], ended: Promise.resolve() };
    // No re-attach from here on: the console is the operator's.
    this.stopping = true;
    const old = this.channel;
    this.channel = undefined;
    old?.close();
    const xapi = this.session();
    const vm = this.vm;
    const uuid = await xapi.callString("VM.get_uuid", vm);
    const domid = await xapi.callString("VM.get_domid", vm);
    const host = await xapi.callString("host.get_address", await xapi.callString("VM.get_resident_on", vm));
    const { ssh } = this.options.config;
    const ended = (async () => {
      while ((await this.powerState().catch(() => "Halted")) !== "Halted") await sleep(2000);
    })();
    return {
      instructions: [
        `${this.name}: kept running for debugging (--debug-on-failure): VM ${this.label}-${this.name}, uuid ${uuid}, domain ${domid} on ${host}`,
        `  serial console: ssh -p ${ssh.port} ${ssh.user}@${host} xl console -t serial ${domid}`,
        `  end it:         xe vm-shutdown uuid=${uuid} force=true   (on the pool master; Fruix then destroys the VM and its VDIs)`,
      ],
      ended,
    };
  }

  /** The VM's XAPI record as it started (the fields that say what ran), for the report. */
  invocation(): Invocation | undefined {
    return this.vmRecord === undefined ? undefined : { kind: "XAPI VM record", text: this.vmRecord };
  }

  private async findTemplate(): Promise<string> {
    const records = asStruct(await this.session().call("VM.get_all_records"), "VM.get_all_records");
    const found = Object.entries(records).find(([, r]) => {
      const record = asStruct(r, "VM record");
      return record.is_a_template === true && record.reference_label === TEMPLATE_LABEL;
    });
    if (!found) throw new FruixError(`XAPI ${this.options.config.url.origin}: no template with reference_label "${TEMPLATE_LABEL}"`);
    return found[0];
  }

  private async srByName(name: string): Promise<string> {
    const refs = asArray(await this.session().call("SR.get_by_name_label", name), "SR.get_by_name_label");
    if (refs.length === 0) throw new FruixError(`XAPI ${this.options.config.url.origin}: no SR named "${name}" (FRUIX_XCPNG_SR / FRUIX_XCPNG_ISO_SR)`);
    if (refs.length > 1) throw new FruixError(`XAPI ${this.options.config.url.origin}: ${refs.length} SRs are named "${name}"; name one that is unique`);
    return asString(refs[0]!, "SR");
  }

  private async networkByName(name: string): Promise<string> {
    const refs = asArray(await this.session().call("network.get_by_name_label", name), "network.get_by_name_label");
    if (refs.length !== 1) {
      throw new FruixError(`XAPI ${this.options.config.url.origin}: ${refs.length === 0 ? "no network" : `${refs.length} networks`} named "${name}" (FRUIX_XCPNG_NETWORK)`);
    }
    return asString(refs[0]!, "network");
  }

  /**
   * Where the host reaches guest TCP `port` (one of spec.forwardPorts): the
   * address the guest reports for its first VIF through the guest metrics
   * (a guest agent writes it; XAPI publishes it as VM_guest_metrics.networks),
   * and the port itself: the guest is on the pool's network, nothing is forwarded.
   */
  async endpoint(port: number): Promise<Endpoint> {
    if (!this.spec.forwardPorts?.includes(port)) throw new FruixError(`${this.name}: guest port ${port} was not asked for (forwardPorts)`);
    const xapi = this.session();
    const vm = this.vmRef();
    const limit = 300_000 * this.options.timeoutScale;
    const deadline = Date.now() + limit;
    for (;;) {
      const metrics = await xapi.callString("VM.get_guest_metrics", vm);
      if (metrics !== "OpaqueRef:NULL") {
        const address = guestAddress(asStruct(await xapi.call("VM_guest_metrics.get_networks", metrics).catch(() => ({})), "networks"));
        if (address) {
          this.log(`guest port ${port} at ${address}:${port} (VM_guest_metrics networks)`);
          return { host: address, port };
        }
      }
      if (Date.now() > deadline) {
        throw new FruixError(
          `${this.name}: the guest reported no IPv4 address in its guest metrics within ${Math.round(limit / 1000)} s; XAPI learns it only from a guest agent in the guest (xe-guest-utilities or xen-guest-agent)`,
        );
      }
      await sleep(1000);
    }
  }

  /** A fresh VDI of the file's size with the file's bytes; the base file is only read. */
  private async uploadVdi(sr: string, path: string, description: string, writeBackTo?: string, smConfig?: Record<string, string>): Promise<string> {
    const size = (await stat(path)).size;
    const xapi = this.session();
    const vdi = asString(await xapi.call("VDI.create", vdiRecord(`${this.label} ${basename(path)}`, sr, size, description, smConfig)), "VDI.create");
    this.vdis.push({ ref: vdi, writeBackTo });
    await xapi.importRawVdi(vdi, path);
    this.log(`uploaded ${path} (${(size / MiB).toFixed(1)} MiB) into a VDI`);
    return vdi;
  }

  /**
   * An ISO into a fresh VDI of the ISO SR. sm's ISOSR.py creates VDIs as files
   * named by sm_config:path ([a-z0-9.-]+.iso); a read-only ISO library (a
   * read-only NFS or SMB share) refuses, and then the CD cannot be given.
   */
  private async uploadIso(path: string): Promise<string> {
    const file = `${this.label}-${this.name.toLowerCase().replace(/[^a-z0-9.-]/g, "-")}-${this.isos++}.iso`;
    return this.uploadVdi(await this.srByName(this.options.config.isoSr), resolve(path), `${this.label} ISO`, undefined, { path: file });
  }

  /** Attaches the console to the VM's current domain on its resident host. */
  private async attachConsole(): Promise<void> {
    const xapi = this.session();
    const vm = this.vmRef();
    const domid = Number(await xapi.callString("VM.get_domid", vm));
    if (!(domid > 0)) throw new FruixError(`${this.name}: VM has no domain (domid ${domid})`);
    const host = await xapi.callString("VM.get_resident_on", vm);
    const address = await xapi.callString("host.get_address", host);
    if (this.ssh?.host !== address) {
      this.ssh?.close();
      this.ssh = new SshConsoleHost(address, this.options.config, this.options.log);
    }
    const channel = await this.ssh.attach(domid);
    this.channel = channel;
    this.attachedDomid = domid;
    this.console.attach(channel, channel);
    channel.stderr.on("data", (chunk: Buffer) => this.log(`xl console: ${chunk.toString().trim()}`));
    channel.on("close", () => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      this.attachedDomid = -1;
      if (!this.stopping && !this.destroyed) void this.reattach();
    });
  }

  /**
   * The console ended: the guest reset its serial port, or the domain was
   * replaced (a reboot gives a new domid), or the VM halted. Attach again while
   * the VM runs; a halted VM needs no console.
   */
  private reattach(): Promise<void> {
    this.reattaching ??= (async () => {
      const deadline = Date.now() + 60_000 * this.options.timeoutScale;
      try {
        while (!this.stopping && !this.destroyed) {
          const state = await this.session().callString("VM.get_power_state", this.vmRef());
          if (state === "Halted" && !this.rebooting) {
            // Nobody asked it to stop: every console wait fails now, not at its timeout (as QEMU's exit does).
            if (!this.stopping && !this.destroyed) this.console.fail(new FruixError(`${this.name}: the VM halted (its domain ended, and XAPI says Halted)`));
            return;
          }
          try {
            if (state === "Running") {
              await this.attachConsole();
              return;
            }
          } catch (error) {
            if (Date.now() > deadline) throw error;
          }
          if (Date.now() > deadline) throw new FruixError(`${this.name}: could not attach the console again within ${Math.round((60_000 * this.options.timeoutScale) / 1000)} s`);
          await sleep(300);
        }
      } catch (error) {
        if (!this.stopping && !this.destroyed) this.console.fail(error instanceof Error ? error : new Error(String(error)));
      } finally {
        this.reattaching = undefined;
      }
    })();
    return this.reattaching;
  }

  /** After a reboot the console must follow the new domain. */
  private async followDomain(): Promise<void> {
    if (this.reattaching) await this.reattaching;
    const domid = Number(await this.session().callString("VM.get_domid", this.vmRef()));
    if (domid > 0 && domid !== this.attachedDomid) {
      const old = this.channel;
      this.channel = undefined;
      old?.close();
      await this.attachConsole();
    }
  }

  async reboot(): Promise<void> {
    // XAPI keeps a rebooting VM Running; should a pool show it Halted in between, that is no halt.
    this.rebooting = true;
    try {
      await this.session().callAsync("VM.hard_reboot", this.vmRef());
      await this.followDomain();
    } finally {
      this.rebooting = false;
    }
  }

  private async powerState(): Promise<string> {
    return this.session().callString("VM.get_power_state", this.vmRef());
  }

  async powerOff(): Promise<void> {
    if (!this.vm || this.destroyed) return;
    this.stopping = true;
    if ((await this.powerState()) !== "Halted") {
      await this.session()
        .callAsync("VM.hard_shutdown", this.vm)
        .catch((error) => {
          if (!(error instanceof XapiError && error.code === "VM_BAD_POWER_STATE")) throw error;
        });
    }
    await this.writeBack();
  }

  async waitForPowerOff(timeoutMs: number): Promise<void> {
    const scaled = timeoutMs * this.options.timeoutScale;
    const deadline = Date.now() + scaled;
    while ((await this.powerState()) !== "Halted") {
      if (Date.now() > deadline) throw new FruixError(`${this.name}: did not power off within ${Math.round(scaled / 1000)} s`);
      await sleep(1000);
    }
    this.stopping = true;
    await this.writeBack();
  }

  async insertCdrom(path: string): Promise<void> {
    if (!this.cdVbd) throw new FruixError(`${this.name}: has no CD drive (create it with cdrom: null)`);
    const xapi = this.session();
    if (!(await xapi.call("VBD.get_empty", this.cdVbd))) await xapi.callAsync("VBD.eject", this.cdVbd);
    await xapi.callAsync("VBD.insert", this.cdVbd, await this.uploadIso(path));
  }

  async ejectCdrom(): Promise<void> {
    if (!this.cdVbd) throw new FruixError(`${this.name}: has no CD drive (create it with cdrom: null)`);
    await this.session().callAsync("VBD.eject", this.cdVbd);
  }

  /** `direct` disks: the machine writes to the image, so its VDI goes back into the file (atomically). */
  private async writeBack(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    for (const vdi of this.vdis) {
      if (!vdi.writeBackTo) continue;
      const tmp = join(dirname(vdi.writeBackTo), `.${basename(vdi.writeBackTo)}.export-${process.pid}`);
      const forget = onInterrupt(() => spawnSync("rm", ["-f", tmp]));
      try {
        await this.session().exportRawVdi(vdi.ref, tmp);
        await rename(tmp, vdi.writeBackTo);
        this.log(`copied the VDI back into ${vdi.writeBackTo}`);
      } finally {
        await rm(tmp, { force: true });
        forget();
      }
    }
  }

  async destroy(options: { keepFiles?: boolean } = {}): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.stopping = true;
    const old = this.channel;
    this.channel = undefined;
    old?.close();
    this.ssh?.close();
    this.console.close();
    const problems: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message}`);
      }
    };
    if (this.xapi && this.vm) {
      const vm = this.vm;
      await attempt("hard_shutdown", async () => {
        if ((await this.powerState()) !== "Halted") await this.session().callAsync("VM.hard_shutdown", vm);
      });
      await attempt("copy back", () => this.writeBack());
      if (options.keepFiles) {
        this.log(`kept VM ${this.label}-${this.name} and its VDIs on the XCP-ng host (--keep)`);
      } else {
        await attempt("VM.destroy", () => this.session().callAsync("VM.destroy", vm));
      }
    }
    if (this.xapi && !options.keepFiles) {
      for (const vdi of this.vdis) await attempt("VDI.destroy", () => destroyVdi(this.session(), vdi.ref));
    }
    await this.xapi?.logout();
    this.forgetInterrupt();
    if (!options.keepFiles) await rm(this.spec.workDir, { recursive: true, force: true });
    if (problems.length) throw new FruixError(`${this.name}: cleanup on the XCP-ng host was incomplete: ${problems.join("; ")}`);
  }

  /**
   * Ctrl-C: undos must be synchronous, so a child process does the XAPI calls
   * (shut down, destroy the VM and every VDI) and this process waits for it.
   * The credentials go through its stdin, never its command line.
   */
  private reapNow(): void {
    if (this.destroyed || !this.vm) return;
    const { config } = this.options;
    const script = join(dirname(fileURLToPath(import.meta.url)), "reap.js");
    spawnSync(process.execPath, [script], {
      input: JSON.stringify({ url: config.url.href, user: config.user, password: config.password, tlsSha256: config.tlsSha256, vm: this.vm, vdis: this.vdis.map((v) => v.ref) }),
      stdio: ["pipe", "ignore", "inherit"],
      timeout: 120_000,
    });
    this.ssh?.close();
  }
}
