// TEST DOUBLE: the object database and API rules of Fruix's XCP-ng test host.
// It is not XAPI. The rules follow xen-api's sources and docs (error codes and
// their parameters, argument counts with the session first, VBD.create's
// checks from xapi_vbd.ml, int64 as strings on the wire); where XAPI's
// behaviour was not checked, docs/xcp-ng.md says so.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { encodeValue, type XmlRpcValue } from "../../../hypervisors/xcp-ng/xmlrpc.js";
import { Domain, type DomainDisk, type DomainEnd, type DomainNic } from "./domain.js";

/** A XAPI failure raised by the double: code and string parameters, as on the wire. */
export class ApiFailure extends Error {
  constructor(
    readonly code: string,
    readonly params: readonly string[] = [],
  ) {
    super(`${code} ${params.join(" ")}`);
  }
}

type Struct = Record<string, XmlRpcValue>;
type Row = Struct & { uuid: string };

export const NULL_REF = "OpaqueRef:NULL";
const CLASSES = ["session", "pool", "host", "SR", "VDI", "VBD", "VM", "VIF", "VM_guest_metrics", "network", "task"] as const;
type ClassName = (typeof CLASSES)[number];

export interface HostInfo {
  readonly ref: string;
  readonly address: string;
  readonly master: boolean;
}

export interface ModelOptions {
  readonly dir: string;
  readonly user: string;
  readonly password: string;
  readonly accel: "kvm" | "tcg";
  readonly log: (line: string) => void;
}

interface Method {
  /** Parameter count including the session (XAPI's MESSAGE_PARAMETER_COUNT_MISMATCH counts it). */
  readonly arity: number | readonly [number, number];
  /** False for session.login_with_password: no session argument. */
  readonly session?: boolean;
  /** Asynchronous variant (Async.<name>) allowed. */
  readonly async?: boolean;
  readonly run: (...args: XmlRpcValue[]) => XmlRpcValue | Promise<XmlRpcValue>;
}

function isStruct(v: XmlRpcValue): v is Struct {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function str(v: XmlRpcValue): string {
  if (typeof v !== "string") throw new ApiFailure("XMLRPC_UNMARSHAL_FAILURE", ["string", JSON.stringify(v)]);
  return v;
}

function bool(v: XmlRpcValue): boolean {
  if (typeof v !== "boolean") throw new ApiFailure("XMLRPC_UNMARSHAL_FAILURE", ["bool", JSON.stringify(v)]);
  return v;
}

/** int64: a decimal string on the wire (or a plain XML-RPC int). */
function int64(v: XmlRpcValue): number {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "string" && /^-?\d+$/.test(v)) return Number(v);
  throw new ApiFailure("XMLRPC_UNMARSHAL_FAILURE", ["int64", JSON.stringify(v)]);
}

function map(v: XmlRpcValue): Struct {
  if (!isStruct(v)) throw new ApiFailure("XMLRPC_UNMARSHAL_FAILURE", ["map", JSON.stringify(v)]);
  for (const value of Object.values(v)) str(value);
  return { ...v };
}

/** A record argument (VDI.create, VBD.create): every field without a default must be there. */
function record(v: XmlRpcValue, required: readonly string[]): Struct {
  if (!isStruct(v)) throw new ApiFailure("XMLRPC_UNMARSHAL_FAILURE", ["struct", JSON.stringify(v)]);
  for (const field of required) if (!(field in v)) throw new ApiFailure("FIELD_TYPE_ERROR", [field]);
  return v;
}

/** Xen HVM guests have four emulated IDE slots; userdevice names one (0-3) or says "autodetect". */
function slotOf(userdevice: string): number | undefined {
  if (/^[0-3]$/.test(userdevice)) return Number(userdevice);
  const m = /^(?:hd|xvd|sd)([a-d])$/.exec(userdevice);
  return m ? m[1]!.charCodeAt(0) - 97 : undefined;
}

type PowerState = "Halted" | "Paused" | "Running" | "Suspended";

/** Helpers.is_valid_MAC: six two-digit hex groups separated by ':' or '-'. */
function validMac(mac: string): boolean {
  return /^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i.test(mac);
}

/** xapi_vif_helpers.ml's gen_mac: a locally administered unicast MAC derived from the VM's mac_seed and the device. */
function genMac(device: number, seed: string): string {
  const b = createHash("md5").update(`${seed}-${device}`).digest();
  b[0] = (b[0]! & 0xfe) | 0x02;
  return [...b.subarray(0, 6)].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

/** The fields VM.create needs: every VM field the datamodel (datamodel_vm.ml) gives no default. */
export const VM_CREATE_REQUIRED = [
  "name_label", "name_description", "user_version", "is_a_template", "affinity",
  "memory_static_max", "memory_dynamic_max", "memory_dynamic_min", "memory_static_min",
  "VCPUs_params", "VCPUs_max", "VCPUs_at_startup", "actions_after_shutdown", "actions_after_reboot", "actions_after_crash",
  "PV_bootloader", "PV_kernel", "PV_ramdisk", "PV_args", "PV_bootloader_args", "PV_legacy_args",
  "HVM_boot_policy", "HVM_boot_params", "platform", "PCI_bus", "other_config", "recommendations",
] as const;

/** Fields that are XAPI ints (int64): strings on XML-RPC, JSON numbers on JSON-RPC (ocaml/doc's wire protocol). */
export const INT_FIELDS = new Set([
  "domid", "memory_static_min", "memory_static_max", "memory_dynamic_min", "memory_dynamic_max", "memory_target",
  "VCPUs_max", "VCPUs_at_startup", "user_version", "virtual_size", "physical_utilisation", "physical_size", "MTU",
]);

interface Task {
  status: "pending" | "success" | "failure" | "cancelled";
  result: string;
  error: string[];
}

export class XapiModel {
  private readonly tables = new Map<ClassName, Map<string, Row>>(CLASSES.map((c) => [c, new Map()]));
  private readonly methods = new Map<string, Method>();
  private readonly domains = new Map<string, Domain>();
  private readonly domainsById = new Map<number, Domain>();
  private readonly vdiFiles = new Map<string, string>();
  private readonly srHost = new Map<string, string>();
  private readonly tasks = new Map<string, Task>();
  private nextDomid = 1;
  private stopped = false;
  /** VMs whose guest rebooted, while their new domain is being built. */
  private readonly restarts = new Map<string, Promise<void>>();
  readonly hosts: HostInfo[] = [];

  constructor(private readonly options: ModelOptions) {
    this.defineMethods();
  }

  // ---- database -------------------------------------------------------------------------

  private table(cls: ClassName): Map<string, Row> {
    return this.tables.get(cls)!;
  }

  private add(cls: ClassName, fields: Struct): string {
    const ref = `OpaqueRef:${randomUUID()}`;
    this.table(cls).set(ref, { uuid: randomUUID(), ...fields });
    return ref;
  }

  /** HANDLE_INVALID(class, handle) for a reference that is not a live object of `cls`. */
  private row(cls: ClassName, ref: XmlRpcValue): Row {
    const found = typeof ref === "string" ? this.table(cls).get(ref) : undefined;
    if (!found) throw new ApiFailure("HANDLE_INVALID", [cls, typeof ref === "string" ? ref : JSON.stringify(ref)]);
    return found;
  }

  /** The pool: a master (which answers the API) and a member, whose local SR holds the VM disks. */
  setupPool(master: string, member: string): void {
    const masterRef = this.add("host", this.hostFields("xcpng-testhost-master", master));
    const memberRef = this.add("host", this.hostFields("xcpng-testhost-member", member));
    this.hosts.push({ ref: masterRef, address: master, master: true }, { ref: memberRef, address: member, master: false });
    this.add("pool", { name_label: "fruix-xcpng-testhost", master: masterRef, other_config: { "fruix-test-double": "true" } });
    const local = this.add("SR", { name_label: "Local storage", type: "ext", content_type: "user", shared: false, other_config: {} });
    this.srHost.set(local, memberRef);
    this.add("network", { name_label: "Pool-wide network associated with eth0", bridge: "xenbr0", MTU: "1500", other_config: {} });
    // An ISO library is a shared SR (NFS or SMB), seen by every host: no host of its own.
    this.add("SR", { name_label: "ISO library", type: "iso", content_type: "iso", shared: true, other_config: {} });
    // Every XCP-ng host has one for its physical drive (sm's udev SR: no VDI_CREATE), holding the drive's VDI.
    const dvd = this.add("SR", { name_label: "DVD drives", type: "udev", content_type: "iso", shared: false, other_config: {} });
    this.srHost.set(dvd, masterRef);
    this.add("VDI", {
      name_label: "SCSI 0:0:0:0", name_description: "the master's DVD drive", SR: dvd, virtual_size: "0", type: "user",
      sharable: false, read_only: true, other_config: {}, location: "/dev/xapi/cd/sr0", managed: true, sm_config: {},
    });
    // The template XCP-ng ships for "boot from install media"; its other_config:disks asks provision for a disk.
    this.add("VM", {
      ...this.vmFields("Other install media"),
      is_a_template: true,
      reference_label: "other-install-media",
      other_config: { disks: '<provision><disk device="0" size="8589934592" sr="" bootable="true" type="system"/></provision>' },
    });
  }

  private hostFields(name: string, address: string): Struct {
    return {
      name_label: name,
      address,
      enabled: true,
      software_version: { product_brand: "XCP-ng", product_version: "8.2.1", fruix_test_double: "true" },
      other_config: {
        "fruix-test-double": "true",
        "fruix-test-double-note": "QEMU under the XAPI rules Fruix knows; not XCP-ng",
        // Its domains are QEMU with virtio disks and no Xen PV devices: guests see vda, vdb, not xvda, xvdb.
        "fruix-test-double-disk-bus": "virtio",
      },
    };
  }

  private vmFields(name: string): Struct {
    const memory = String(256 * 1024 * 1024);
    return {
      name_label: name,
      name_description: "",
      is_a_template: false,
      reference_label: "",
      power_state: "Halted",
      domid: "-1",
      resident_on: NULL_REF,
      memory_static_min: memory,
      memory_static_max: memory,
      memory_dynamic_min: memory,
      memory_dynamic_max: memory,
      VCPUs_max: "1",
      VCPUs_at_startup: "1",
      HVM_boot_params: { order: "cd" },
      platform: {},
      other_config: {},
      guest_metrics: NULL_REF,
      actions_after_reboot: "restart",
    };
  }

  hostOfSr(sr: string): HostInfo | undefined {
    return this.hosts.find((h) => h.ref === this.srHost.get(sr));
  }

  // ---- sessions -------------------------------------------------------------------------

  checkSession(session: XmlRpcValue): void {
    if (typeof session !== "string" || !this.table("session").has(session)) {
      throw new ApiFailure("SESSION_INVALID", [typeof session === "string" ? session : JSON.stringify(session)]);
    }
  }

  /** For the HTTP handlers: the VDI a query names (a reference or a uuid). */
  vdiForHttp(vdi: string): { ref: string; file: string; sr: string; size: number } | undefined {
    let ref = this.table("VDI").has(vdi) ? vdi : undefined;
    ref ??= [...this.table("VDI").entries()].find(([, r]) => r.uuid === vdi)?.[0];
    if (!ref || !this.vdiFiles.has(ref)) return undefined;
    const row = this.table("VDI").get(ref)!;
    return { ref, file: this.vdiFiles.get(ref)!, sr: row.SR as string, size: Number(row.virtual_size) };
  }

  /** A VDI that a running domain has open cannot be written by an import. */
  vdiAttached(ref: string): boolean {
    return [...this.table("VBD").values()].some((b) => b.VDI === ref && b.currently_attached === true);
  }

  domain(domid: number): Domain | undefined {
    return this.domainsById.get(domid);
  }

  // ---- dispatch -------------------------------------------------------------------------

  /** Runs one XML-RPC call; failures come back as ApiFailure. `onMaster` false: a pool member's endpoint. */
  async dispatch(method: string, params: XmlRpcValue[], onMaster: boolean): Promise<XmlRpcValue> {
    if (!onMaster) {
      // Sessions live on the master; a member sends callers there.
      throw new ApiFailure("HOST_IS_SLAVE", [this.hosts.find((h) => h.master)!.address]);
    }
    const isAsync = method.startsWith("Async.");
    const name = isAsync ? method.slice("Async.".length) : method;
    const m = this.methods.get(name) ?? this.generic(name);
    if (!m || (isAsync && !m.async)) throw new ApiFailure("MESSAGE_METHOD_UNKNOWN", [method]);
    const [min, max] = typeof m.arity === "number" ? [m.arity, m.arity] : m.arity;
    if (params.length < min || params.length > max) {
      throw new ApiFailure("MESSAGE_PARAMETER_COUNT_MISMATCH", [method, String(max), String(params.length)]);
    }
    if (m.session !== false) this.checkSession(params[0]!);
    const args = m.session === false ? params : params.slice(1);
    if (!isAsync) return await m.run(...args);
    const ref = this.createTask(`Async.${name}`, "");
    void (async () => {
      try {
        this.finishTask(ref, { value: await m.run(...args) });
      } catch (error) {
        this.finishTask(ref, { error });
      }
    })();
    return ref;
  }

  // ---- tasks ----------------------------------------------------------------------------

  createTask(label: string, description: string): string {
    const ref = this.add("task", { name_label: label, name_description: description, status: "pending", progress: 0, result: "", error_info: [] });
    this.tasks.set(ref, { status: "pending", result: "", error: [] });
    return ref;
  }

  /** A live task (for the HTTP handlers' task_id). */
  hasTask(ref: string): boolean {
    return this.tasks.has(ref);
  }

  /** Ends a pending task with a value (success) or an error (failure: its code and parameters). */
  finishTask(ref: string, outcome: { value: XmlRpcValue } | { error: unknown }): void {
    const task = this.tasks.get(ref);
    if (!task || task.status !== "pending") return;
    if ("value" in outcome) {
      task.result = outcome.value === "" ? "" : encodeValue(outcome.value);
      task.status = "success";
    } else {
      const error = outcome.error;
      task.error = error instanceof ApiFailure ? [error.code, ...error.params] : ["INTERNAL_ERROR", String((error as Error).message)];
      task.status = "failure";
    }
    const row = this.table("task").get(ref);
    if (row) Object.assign(row, { status: task.status, progress: 1, result: task.result, error_info: task.error });
  }

  /** Field getters and the class-wide calls every XAPI class has. */
  private generic(name: string): Method | undefined {
    const [cls, call] = name.split(".") as [ClassName, string | undefined];
    if (!CLASSES.includes(cls) || !call || cls === "session") return undefined;
    const table = this.table(cls);
    const visible = (ref: string, row: Row): Struct => this.visible(cls, ref, row);
    if (call === "get_all") return { arity: 1, run: () => [...table.keys()] };
    if (call === "get_all_records") return { arity: 1, run: () => Object.fromEntries([...table].map(([r, row]) => [r, visible(r, row)])) };
    if (call === "get_record") return { arity: 2, run: (ref) => visible(ref as string, this.row(cls, ref)) };
    if (call === "get_by_name_label") return { arity: 2, run: (label) => [...table].filter(([, r]) => r.name_label === str(label)).map(([ref]) => ref) };
    if (call === "get_by_uuid") {
      return {
        arity: 2,
        run: (uuid) => {
          const found = [...table].find(([, r]) => r.uuid === str(uuid));
          if (!found) throw new ApiFailure("UUID_INVALID", [cls, str(uuid)]);
          return found[0];
        },
      };
    }
    const field = /^get_(.+)$/.exec(call)?.[1];
    if (field) {
      return {
        arity: 2,
        run: (ref) => {
          const row = this.visible(cls, ref as string, this.row(cls, ref));
          if (!(field in row)) throw new ApiFailure("MESSAGE_METHOD_UNKNOWN", [name]);
          return row[field]!;
        },
      };
    }
    return undefined;
  }

  /** A record as the API shows it: a VM's VBDs and VIFs are the devices that name it. */
  private visible(cls: ClassName, ref: string, row: Row): Struct {
    if (cls !== "VM") return { ...row };
    const of = (c: ClassName) => [...this.table(c)].filter(([, r]) => r.VM === ref).map(([r]) => r);
    return { ...row, VBDs: of("VBD"), VIFs: of("VIF") };
  }

  private defineMethods(): void {
    const def = (name: string, method: Method) => this.methods.set(name, method);
    const o = this.options;

    def("session.login_with_password", {
      // (uname, pwd) for API 1.1 clients, (uname, pwd, version, originator) since.
      arity: [2, 4],
      session: false,
      run: (uname, pwd) => {
        if (str(uname) !== o.user || str(pwd) !== o.password) throw new ApiFailure("SESSION_AUTHENTICATION_FAILED", [str(uname), "Authentication failure"]);
        return this.add("session", { this_user: uname });
      },
    });
    def("session.logout", { arity: 1, run: () => "" });

    def("task.destroy", {
      arity: 2,
      run: (ref) => {
        this.row("task", ref);
        this.table("task").delete(ref as string);
        this.tasks.delete(ref as string);
        return "";
      },
    });
    const taskField = (name: string, read: (t: Task) => XmlRpcValue) =>
      def(`task.${name}`, {
        arity: 2,
        run: (ref) => {
          this.row("task", ref);
          return read(this.tasks.get(ref as string)!);
        },
      });
    def("task.create", {
      // (session, label, description): a task the client owns, e.g. for an HTTP handler's task_id.
      arity: 3,
      run: (label, description) => this.createTask(str(label), str(description)),
    });
    def("task.cancel", {
      arity: 2,
      run: (ref) => {
        this.row("task", ref);
        const task = this.tasks.get(ref as string)!;
        if (task.status === "pending") {
          task.status = "cancelled";
          task.error = ["TASK_CANCELLED", ref as string];
          Object.assign(this.table("task").get(ref as string)!, { status: "cancelled", error_info: task.error });
        }
        return "";
      },
    });
    taskField("get_status", (t) => t.status);
    taskField("get_result", (t) => t.result);
    taskField("get_error_info", (t) => t.error);

    this.defineVmMethods(def);
    this.defineStorageMethods(def);
    this.defineEventMethods(def);
    // Introspection, as xapi's system.listMethods: every call name, the class-wide ones included.
    def("system.listMethods", {
      arity: 0,
      session: false,
      run: () => [
        ...this.methods.keys(),
        ...CLASSES.filter((c) => c !== "session").flatMap((c) => ["get_all", "get_all_records", "get_record", "get_by_uuid"].map((call) => `${c}.${call}`)),
      ].sort(),
    });
  }

  // ---- events (event.inject, event.from: xapi_event.ml) ------------------------------------

  private eventId = 0;
  private readonly eventLog: Array<{ id: number; class: string; operation: "add" | "mod" | "del"; ref: string; snapshot: Struct }> = [];
  private readonly lastSnapshot = new Map<string, { cls: string; json: string }>();

  /** Records what changed in the database since the last look, as add/mod/del events with increasing ids. */
  private recordEvents(): void {
    const live = new Set<string>();
    for (const cls of CLASSES) {
      if (cls === "session") continue;
      for (const [ref, row] of this.table(cls)) {
        live.add(ref);
        const json = JSON.stringify(row);
        const before = this.lastSnapshot.get(ref);
        if (before?.json === json) continue;
        this.lastSnapshot.set(ref, { cls: cls.toLowerCase(), json });
        this.eventLog.push({ id: ++this.eventId, class: cls.toLowerCase(), operation: before ? "mod" : "add", ref, snapshot: { ...row } });
      }
    }
    for (const [ref, before] of this.lastSnapshot) {
      if (live.has(ref)) continue;
      this.lastSnapshot.delete(ref);
      this.eventLog.push({ id: ++this.eventId, class: before.cls, operation: "del", ref, snapshot: {} });
    }
  }

  private token(): string {
    return String(this.eventId).padStart(16, "0");
  }

  private defineEventMethods(def: (name: string, m: Method) => void): void {
    def("event.inject", {
      // (session, class, ref): a "mod" event for the object; returns the token just past it.
      arity: 3,
      run: (cls, ref) => {
        const name = CLASSES.find((c) => c.toLowerCase() === str(cls).toLowerCase());
        if (!name) throw new ApiFailure("EVENT_SUBSCRIPTION_PARSE_FAILURE", [str(cls)]);
        const row = this.row(name, ref);
        this.recordEvents();
        this.eventLog.push({ id: ++this.eventId, class: name.toLowerCase(), operation: "mod", ref: ref as string, snapshot: { ...row } });
        return this.token();
      },
    });
    def("event.from", {
      // (session, classes, token, timeout): the events after `token` for `classes` ("*": all), waiting up to `timeout` seconds for one.
      arity: 4,
      run: async (classes, token, timeout) => {
        if (!Array.isArray(classes)) throw new ApiFailure("XMLRPC_UNMARSHAL_FAILURE", ["string set", JSON.stringify(classes)]);
        const wanted = new Set(classes.map((c) => str(c).toLowerCase().split("/")[0]!));
        const since = str(token) === "" ? 0 : Number(str(token));
        if (!Number.isInteger(since)) throw new ApiFailure("EVENT_FROM_TOKEN_PARSE_FAILURE", [str(token)]);
        const seconds = typeof timeout === "number" ? timeout : Number(timeout);
        const deadline = Date.now() + Math.max(0, seconds) * 1000;
        const matching = () => this.eventLog.filter((e) => e.id > since && (wanted.has("*") || wanted.has(e.class)));
        this.recordEvents();
        while (matching().length === 0 && Date.now() < deadline && !this.stopped) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          this.recordEvents();
        }
        const counts: Struct = {};
        for (const cls of CLASSES) if (cls !== "session" && (wanted.has("*") || wanted.has(cls.toLowerCase()))) counts[cls.toLowerCase()] = this.table(cls).size;
        return { events: matching().map((e) => ({ ...e, id: String(e.id), timestamp: String(e.id) })), valid_ref_counts: counts, token: this.token() };
      },
    });
  }

  /**
   * VM_BAD_POWER_STATE(vm, expected, actual) unless the VM is in one of
   * `allowed`: as xapi_vm_lifecycle.ml reports it, the states in lower case
   * (Record_util.power_to_string), the expected ones joined by ", ".
   */
  private powerStateOrFail(vm: string, row: Row, allowed: readonly PowerState[]): void {
    const state = String(row.power_state) as PowerState;
    if (!allowed.includes(state)) throw new ApiFailure("VM_BAD_POWER_STATE", [vm, allowed.map((p) => p.toLowerCase()).join(", "), state.toLowerCase()]);
  }

  private haltedOrFail(vm: string, row: Row): void {
    this.powerStateOrFail(vm, row, ["Halted"]);
  }

  private defineVmMethods(def: (name: string, m: Method) => void): void {
    def("VM.clone", {
      arity: 3,
      async: true,
      run: (vm, name) => {
        const source = this.row("VM", vm);
        this.haltedOrFail(vm as string, source);
        const { uuid: _uuid, ...fields } = source;
        // A clone gets a mac_seed of its own (xapi_vm_clone.ml), so its VIFs' MACs differ from the source's.
        const other = { ...(fields.other_config as Struct), mac_seed: randomUUID() };
        return this.add("VM", { ...structuredClone(fields), name_label: str(name), reference_label: "", other_config: other, guest_metrics: NULL_REF });
      },
    });
    def("VM.remove_from_other_config", {
      arity: 3,
      run: (vm, key) => {
        const row = this.row("VM", vm);
        const other = { ...(row.other_config as Struct) };
        delete other[str(key)];
        row.other_config = other;
        return "";
      },
    });
    def("VM.provision", {
      arity: 2,
      async: true,
      run: (vm) => this.provision(vm as string),
    });
    def("VM.set_memory_limits", {
      arity: 6,
      run: (vm, smin, smax, dmin, dmax) => {
        const row = this.row("VM", vm);
        this.haltedOrFail(vm as string, row);
        const [a, b, c, d] = [int64(smin), int64(smax), int64(dmin), int64(dmax)];
        if (!(a <= c && c <= d && d <= b)) {
          // vm_memory_constraints.ml: the ordering rule's own error, without parameters.
          throw new ApiFailure("MEMORY_CONSTRAINT_VIOLATION_ORDER");
        }
        Object.assign(row, { memory_static_min: String(a), memory_static_max: String(b), memory_dynamic_min: String(c), memory_dynamic_max: String(d) });
        return "";
      },
    });
    def("VM.set_VCPUs_max", {
      arity: 3,
      run: (vm, n) => {
        const row = this.row("VM", vm);
        this.haltedOrFail(vm as string, row);
        if (int64(n) < 1) throw new ApiFailure("VALUE_NOT_SUPPORTED", ["VCPUs_max", String(n), "must be at least 1"]);
        row.VCPUs_max = String(int64(n));
        return "";
      },
    });
    def("VM.set_VCPUs_at_startup", {
      arity: 3,
      run: (vm, n) => {
        const row = this.row("VM", vm);
        if (int64(n) < 1 || int64(n) > Number(row.VCPUs_max)) throw new ApiFailure("VALUE_NOT_SUPPORTED", ["VCPUs_at_startup", String(n), "must be between 1 and VCPUs_max"]);
        row.VCPUs_at_startup = String(int64(n));
        return "";
      },
    });
    def("VM.set_HVM_boot_params", { arity: 3, run: (vm, value) => ((this.row("VM", vm).HVM_boot_params = map(value)), "") });
    def("VM.set_platform", { arity: 3, run: (vm, value) => ((this.row("VM", vm).platform = map(value)), "") });
    def("VM.start", {
      arity: 4,
      async: true,
      run: async (vm, paused, force) => {
        const row = this.row("VM", vm);
        bool(force);
        // xapi_vm_lifecycle.ml checks the power state first, then the template rule.
        this.haltedOrFail(vm as string, row);
        if (row.is_a_template === true) throw new ApiFailure("VM_IS_TEMPLATE", [vm as string, "start"]);
        await this.startDomain(vm as string, bool(paused));
        return "";
      },
    });
    def("VM.unpause", {
      arity: 2,
      async: true,
      run: async (vm) => {
        const row = this.row("VM", vm);
        this.powerStateOrFail(vm as string, row, ["Paused"]);
        await this.domains.get(vm as string)!.unpause();
        row.power_state = "Running";
        return "";
      },
    });
    def("VM.hard_shutdown", {
      arity: 2,
      async: true,
      run: async (vm) => {
        const row = this.row("VM", vm);
        this.powerStateOrFail(vm as string, row, ["Paused", "Suspended", "Running"]);
        await this.stopDomain(vm as string);
        return "";
      },
    });
    def("VM.hard_reboot", {
      arity: 2,
      async: true,
      run: async (vm) => {
        const row = this.row("VM", vm);
        this.powerStateOrFail(vm as string, row, ["Paused", "Running"]);
        await this.rebootDomain(vm as string);
        return "";
      },
    });
    def("VM.create", {
      // xapi_vm.ml's create: the record's fields as given (validation waits for VM.start), a mac_seed
      // added to other_config when there is none, and always Halted.
      arity: 2,
      async: true,
      run: (r) => {
        const given = record(r, VM_CREATE_REQUIRED);
        const [smin, smax, dmin, dmax] = [given.memory_static_min, given.memory_static_max, given.memory_dynamic_min, given.memory_dynamic_max].map((v) => String(int64(v!)));
        const other = map(given.other_config!);
        other.mac_seed ??= randomUUID();
        return this.add("VM", {
          ...this.vmFields(str(given.name_label!)),
          name_description: str(given.name_description!),
          is_a_template: bool(given.is_a_template!),
          memory_static_min: smin!, memory_static_max: smax!, memory_dynamic_min: dmin!, memory_dynamic_max: dmax!,
          VCPUs_max: String(int64(given.VCPUs_max!)),
          VCPUs_at_startup: String(int64(given.VCPUs_at_startup!)),
          actions_after_reboot: str(given.actions_after_reboot!),
          HVM_boot_policy: str(given.HVM_boot_policy!),
          HVM_boot_params: map(given.HVM_boot_params!),
          platform: map(given.platform!),
          other_config: other,
        });
      },
    });
    def("VM.clean_shutdown", {
      // Running only (xapi_vm_lifecycle.ml). xenopsd's shutdown_wait_for_ack (xc/domain.ml) asks an HVM
      // guest without PV drivers nothing: Xenctrl.domain_shutdown ends the domain at once. The double's
      // domains are such guests (QEMU, no Xen platform device).
      arity: 2,
      async: true,
      run: async (vm) => {
        const row = this.row("VM", vm);
        this.powerStateOrFail(vm as string, row, ["Running"]);
        await this.stopDomain(vm as string);
        return "";
      },
    });
    def("VM.clean_reboot", {
      // Running only; as clean_shutdown, then a new domain (a new domid).
      arity: 2,
      async: true,
      run: async (vm) => {
        const row = this.row("VM", vm);
        this.powerStateOrFail(vm as string, row, ["Running"]);
        await this.rebootDomain(vm as string);
        return "";
      },
    });
    def("VIF.create", {
      // xapi_vif_helpers.ml's create: INVALID_DEVICE unless the device is an unsigned number, an empty
      // MAC generated from the VM's mac_seed, MAC_INVALID, then DEVICE_ALREADY_EXISTS.
      arity: 2,
      run: (r) => {
        const given = record(r, ["device", "network", "VM", "MAC", "MTU", "other_config", "qos_algorithm_type", "qos_algorithm_params"]);
        const vm = str(given.VM!);
        const vmRow = this.row("VM", vm);
        const network = str(given.network!);
        this.row("network", network);
        const device = str(given.device!);
        if (!/^\d+$/.test(device)) throw new ApiFailure("INVALID_DEVICE", [device]);
        let mac = str(given.MAC!);
        const seed = (vmRow.other_config as Struct).mac_seed;
        if (mac === "" && typeof seed === "string") mac = genMac(Number(device), seed);
        if (!validMac(mac)) throw new ApiFailure("MAC_INVALID", [mac]);
        const taken = [...this.table("VIF").values()].some((v) => v.VM === vm && Number(v.device) === Number(device));
        if (taken) throw new ApiFailure("DEVICE_ALREADY_EXISTS", [device]);
        return this.add("VIF", {
          device, network, VM: vm, MAC: mac, MTU: String(int64(given.MTU!)), currently_attached: false,
          other_config: map(given.other_config!), qos_algorithm_type: str(given.qos_algorithm_type!), qos_algorithm_params: map(given.qos_algorithm_params!),
        });
      },
    });
    def("VM.destroy", {
      arity: 2,
      async: true,
      run: (vm) => {
        const row = this.row("VM", vm);
        this.powerStateOrFail(vm as string, row, ["Halted", "Suspended"]);
        // Xapi_vm_helpers.destroy: the VM's VBDs and VIFs go with it.
        for (const cls of ["VBD", "VIF"] as const) for (const [ref, device] of this.table(cls)) if (device.VM === vm) this.table(cls).delete(ref);
        this.table("VM").delete(vm as string);
        this.lanAddresses.delete(vm as string);
        return "";
      },
    });
  }

  /** VM.provision: the disks other_config:disks asks for, then the VM is no longer a template. */
  private async provision(vm: string): Promise<XmlRpcValue> {
    const row = this.row("VM", vm);
    const spec = String((row.other_config as Struct).disks ?? "");
    const local = [...this.table("SR")].find(([, r]) => r.content_type === "user")![0];
    for (const disk of spec.matchAll(/<disk\s([^>]*)\/>/g)) {
      const attr = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(disk[1]!)?.[1] ?? "";
      const vdi = await this.createVdi({ name_label: `${row.name_label} provisioned disk`, SR: local, virtual_size: attr("size"), type: "system", sharable: false, read_only: false, other_config: {} });
      this.createVbd({ VM: vm, VDI: vdi, userdevice: attr("device"), bootable: attr("bootable") === "true", mode: "RW", type: "Disk", unpluggable: false, empty: false, other_config: {} });
    }
    row.is_a_template = false;
    return "";
  }

  private defineStorageMethods(def: (name: string, m: Method) => void): void {
    def("VDI.create", { arity: 2, run: (r) => this.createVdi(record(r, ["name_label", "SR", "virtual_size", "type", "sharable", "read_only", "other_config"])) });
    def("VDI.destroy", {
      arity: 2,
      async: true,
      run: async (vdi) => {
        const sr = String(this.row("VDI", vdi).SR);
        if (this.table("SR").get(sr)?.type === "udev") throw new ApiFailure("SR_OPERATION_NOT_SUPPORTED", [sr]);
        if (this.vdiAttached(vdi as string)) throw new ApiFailure("VDI_IN_USE", [vdi as string, "destroy"]);
        for (const [ref, vbd] of this.table("VBD")) if (vbd.VDI === vdi) this.table("VBD").delete(ref);
        this.table("VDI").delete(vdi as string);
        await rm(this.vdiFiles.get(vdi as string)!, { force: true });
        this.vdiFiles.delete(vdi as string);
        return "";
      },
    });
    def("VBD.create", {
      arity: 2,
      run: (r) => this.createVbd(record(r, ["VM", "VDI", "userdevice", "bootable", "mode", "type", "unpluggable", "empty", "other_config"])),
    });
    def("VBD.destroy", {
      arity: 2,
      run: (vbd) => {
        const row = this.row("VBD", vbd);
        if (row.currently_attached === true) throw new ApiFailure("DEVICE_ALREADY_ATTACHED", [vbd as string]);
        this.table("VBD").delete(vbd as string);
        return "";
      },
    });
    def("VBD.insert", {
      arity: 3,
      async: true,
      run: async (vbd, vdi) => {
        const row = this.row("VBD", vbd);
        this.row("VDI", vdi);
        if (row.type !== "CD") throw new ApiFailure("VBD_NOT_REMOVABLE_MEDIA", [vbd as string]);
        if (row.empty !== true) throw new ApiFailure("VBD_NOT_EMPTY", [vbd as string]);
        Object.assign(row, { VDI: vdi, empty: false });
        await this.domains.get(row.VM as string)?.changeMedium(slotOf(String(row.userdevice))!, this.vdiFiles.get(vdi as string)!);
        return "";
      },
    });
    def("VBD.eject", {
      arity: 2,
      async: true,
      run: async (vbd) => {
        const row = this.row("VBD", vbd);
        if (row.type !== "CD") throw new ApiFailure("VBD_NOT_REMOVABLE_MEDIA", [vbd as string]);
        if (row.empty === true) throw new ApiFailure("VBD_IS_EMPTY", [vbd as string]);
        Object.assign(row, { VDI: NULL_REF, empty: true });
        await this.domains.get(row.VM as string)?.changeMedium(slotOf(String(row.userdevice))!, null);
        return "";
      },
    });
  }

  private async createVdi(r: Struct): Promise<string> {
    const sr = str(r.SR!);
    // xapi_sr_operations.ml: an SR whose SM driver lacks VDI_CREATE (udev: physical drives) refuses it.
    if (this.row("SR", sr).type === "udev") throw new ApiFailure("SR_OPERATION_NOT_SUPPORTED", [sr]);
    const size = int64(r.virtual_size!);
    if (size < 0) throw new ApiFailure("VALUE_NOT_SUPPORTED", ["virtual_size", String(size), "negative"]);
    const smConfig = r.sm_config === undefined ? {} : map(r.sm_config);
    const uuid = randomUUID();
    let location: string = uuid;
    if (this.table("SR").get(sr)!.content_type === "iso") {
      // sm's ISOSR.py: the file is sm_config:path, which must match [a-z0-9.-]+\.(iso|img) (re.match:
      // at the start), else <uuid>.img; the SM's XenErrors reach the caller as SR_BACKEND_FAILURE_<code>.
      const path = smConfig.path as string | undefined;
      if (path !== undefined && !/^[a-z0-9.-]+\.(iso|img)/i.test(path)) {
        throw new ApiFailure("SR_BACKEND_FAILURE_78", ["", `VDI Creation failed [opterr=Invalid path "${path}"]`, ""]);
      }
      location = path ?? `${uuid}.img`;
      if ([...this.table("VDI").values()].some((v) => v.SR === sr && v.location === location)) {
        throw new ApiFailure("SR_BACKEND_FAILURE_43", ["", "The VDI already exists", ""]);
      }
    }
    const ref = this.add("VDI", {
      uuid,
      location,
      managed: true,
      sm_config: smConfig,
      name_label: str(r.name_label!),
      name_description: typeof r.name_description === "string" ? r.name_description : "",
      SR: sr,
      virtual_size: String(size),
      type: str(r.type!),
      sharable: bool(r.sharable!),
      read_only: bool(r.read_only!),
      other_config: map(r.other_config!),
    });
    const file = join(this.options.dir, "vdis", `${this.table("VDI").get(ref)!.uuid}.raw`);
    const handle = await open(file, "w");
    await handle.truncate(size);
    await handle.close();
    this.vdiFiles.set(ref, file);
    return ref;
  }

  /** VBD.create's rules, in xapi_vbd.ml's order. */
  private createVbd(r: Struct): string {
    const vm = str(r.VM!);
    this.row("VM", vm);
    const type = str(r.type!);
    const mode = str(r.mode!);
    const empty = bool(r.empty!);
    if (!["Disk", "CD", "Floppy"].includes(type)) throw new ApiFailure("XMLRPC_UNMARSHAL_FAILURE", ["vbd_type", type]);
    if (mode !== "RO" && mode !== "RW") throw new ApiFailure("XMLRPC_UNMARSHAL_FAILURE", ["vbd_mode", mode]);
    const vdi = str(r.VDI!);
    if (!empty) {
      const vdiType = String(this.row("VDI", vdi).type);
      // xapi_vbd.ml: only these VDI types can be a VBD's.
      if (!["system", "user", "ephemeral", "suspend", "crashdump", "metadata", "rrd", "pvs_cache"].includes(vdiType)) throw new ApiFailure("VDI_INCOMPATIBLE_TYPE", [vdi, vdiType]);
    }
    if (type === "CD" && mode !== "RO") throw new ApiFailure("VBD_CDS_MUST_BE_READONLY");
    if (type !== "CD" && empty) throw new ApiFailure("VBD_NOT_REMOVABLE_MEDIA", ["in constructor"]);
    if (mode === "RW" && !empty && this.table("VDI").get(vdi)!.read_only === true) throw new ApiFailure("VDI_READONLY", [vdi]);
    let userdevice = str(r.userdevice!);
    const used = new Set([...this.table("VBD").values()].filter((b) => b.VM === vm).map((b) => slotOf(String(b.userdevice))));
    if (userdevice === "autodetect") {
      const free = [0, 1, 2, 3].find((s) => !used.has(s));
      if (free === undefined) throw new ApiFailure("INVALID_DEVICE", [userdevice]);
      userdevice = String(free);
    }
    const slot = slotOf(userdevice);
    if (slot === undefined) throw new ApiFailure("INVALID_DEVICE", [userdevice]);
    if (used.has(slot)) throw new ApiFailure("DEVICE_ALREADY_EXISTS", [userdevice]);
    return this.add("VBD", {
      VM: vm,
      VDI: empty ? NULL_REF : vdi,
      userdevice,
      device: "",
      bootable: bool(r.bootable!),
      mode,
      type,
      unpluggable: bool(r.unpluggable!),
      empty,
      currently_attached: false,
      other_config: map(r.other_config!),
    });
  }

  // ---- domains --------------------------------------------------------------------------

  private async startDomain(vm: string, paused: boolean): Promise<void> {
    if (this.stopped) throw new ApiFailure("INTERNAL_ERROR", ["the test host is stopping"]);
    const row = this.row("VM", vm);
    const vbds = [...this.table("VBD")].filter(([, b]) => b.VM === vm);
    const disks: DomainDisk[] = vbds.map(([, b]) => ({
      slot: slotOf(String(b.userdevice))!,
      kind: b.type === "CD" ? "CD" : "Disk",
      // A VDI without a file of the double's (the DVD drive's) reads as an empty drive.
      file: b.empty === true ? null : (this.vdiFiles.get(String(b.VDI)) ?? null),
      readOnly: b.mode === "RO",
    }));
    // xapi_vm_helpers.ml (assert_can_see_SRs, choose_host): a host that sees the SR of every non-empty
    // VBD's VDI, else NO_HOSTS_AVAILABLE. A local SR is seen by its host only, a shared one by all. The
    // double takes the host of the VM's local SRs (the member, for Local storage), else the master.
    const srs = vbds.filter(([, b]) => b.empty !== true).map(([, b]) => String(this.table("VDI").get(String(b.VDI))!.SR));
    const local = [...new Set(srs.map((sr) => this.srHost.get(sr)).filter((h): h is string => h !== undefined))];
    if (local.length > 1) throw new ApiFailure("NO_HOSTS_AVAILABLE");
    const host = this.hosts.find((h) => h.ref === local[0]) ?? this.hosts.find((h) => h.master)!;
    const domid = this.nextDomid++;
    const boot = row.HVM_boot_params as Struct;
    const vifs = [...this.table("VIF").values()].filter((v) => v.VM === vm).sort((a, b) => Number(a.device) - Number(b.device));
    const address = vifs.length ? this.lanAddress(vm) : undefined;
    const nics: DomainNic[] = vifs.map((v, i) => ({ mac: String(v.MAC), reachableAt: i === 0 ? address : undefined }));
    const domain = await Domain.start({
      domid,
      name: String(row.name_label),
      dir: join(this.options.dir, "domains", String(domid)),
      memoryMiB: Math.max(32, Math.round(Number(row.memory_dynamic_max) / 1024 / 1024)),
      vcpus: Number(row.VCPUs_at_startup),
      uefi: boot.firmware === "uefi",
      nvram: join(this.options.dir, "nvram", `${row.uuid}.fd`),
      disks,
      paused,
      accel: this.options.accel,
      nics,
    });
    if (this.stopped) {
      // stopAll came while QEMU started (a restart after a guest reboot): no domain outlives the host.
      await domain.kill();
      throw new ApiFailure("INTERNAL_ERROR", ["the test host is stopping"]);
    }
    if (!this.table("VM").has(vm)) {
      // Destroyed while its domain was being built (xapi would refuse the destroy as
      // OTHER_OPERATION_IN_PROGRESS; the double has no operation locks): no domain without its VM.
      await domain.kill();
      throw new ApiFailure("HANDLE_INVALID", ["VM", vm]);
    }
    this.domains.set(vm, domain);
    this.domainsById.set(domid, domain);
    Object.assign(row, { power_state: paused ? "Paused" : "Running", domid: String(domid), resident_on: host.ref });
    for (const [, b] of vbds) b.currently_attached = true;
    for (const v of vifs) v.currently_attached = true;
    if (address) this.reportGuestAddress(vm, row, address);
    this.options.log(`domain ${domid}: VM "${row.name_label}" (QEMU pid ${domain.pid}, ${boot.firmware === "uefi" ? "OVMF" : "SeaBIOS"}, ${this.options.accel}) on ${host.address}`);
    void domain.ended.then((end) => this.domainEnded(vm, domain, end));
  }

  private domainEnded(vm: string, domain: Domain, end: DomainEnd): void {
    this.domainsById.delete(domain.domid);
    if (this.domains.get(vm) !== domain) return;
    this.domains.delete(vm);
    const why = end === "crashed" ? domain.stderr.trim().split("\n").filter(Boolean).slice(-3).join(" | ") : "";
    this.options.log(`domain ${domain.domid}: ended (${end})${why ? `: ${why}` : ""}`);
    if (end === "killed") return; // the API call that killed it sets the new state
    const row = this.table("VM").get(vm);
    if (!row) return;
    if (end !== "guest-reset" || this.stopped) {
      this.markHalted(vm, row);
      return;
    }
    // actions_after_reboot = restart: a guest reboot builds a new domain with a new domid.
    // xenopsd keeps power_state Running while it reboots a VM ("rebooting_vms" in
    // xenops_server.ml: no transient Halted); there is no domain (domid -1) until the new one.
    row.domid = "-1";
    const restart = this.startDomain(vm, false)
      .catch((error) => {
        this.options.log(`VM "${row.name_label}": restart after guest reboot failed: ${(error as Error).message}`);
        this.markHalted(vm, row);
      })
      .finally(() => this.restarts.delete(vm));
    this.restarts.set(vm, restart);
  }

  private markHalted(vm: string, row: Row): void {
    Object.assign(row, { power_state: "Halted", domid: "-1", resident_on: NULL_REF });
    for (const cls of ["VBD", "VIF"] as const) for (const b of this.table(cls).values()) if (b.VM === vm) b.currently_attached = false;
    // A halted VM has no guest metrics (xapi drops them when the VM halts).
    if (row.guest_metrics !== NULL_REF) this.table("VM_guest_metrics").delete(String(row.guest_metrics));
    row.guest_metrics = NULL_REF;
  }

  // ---- the double's network ---------------------------------------------------------------

  /** VMs with a VIF: the address at which the double's "LAN" reaches the guest (its port 22). */
  private readonly lanAddresses = new Map<string, string>();

  /**
   * The double's stand-in for a pool network: each VM with a VIF gets a loopback address of its own,
   * random in 127.1.0.1-127.254.255.254 (test hosts run side by side in npm test; 127.0.0.x is the
   * hosts'), kept across its domains as a DHCP lease would be, where the test host reaches the
   * guest's TCP port 22 (QEMU user networking forwards it; the guest gets its own address by DHCP
   * from QEMU).
   */
  private lanAddress(vm: string): string {
    let address = this.lanAddresses.get(vm);
    if (!address) {
      const taken = new Set(this.lanAddresses.values());
      do {
        const [a, b, c] = [...randomBytes(3)];
        address = `127.${1 + (a! % 254)}.${b}.${1 + (c! % 254)}`;
      } while (taken.has(address));
      this.lanAddresses.set(vm, address);
    }
    return address;
  }

  /**
   * What a guest agent (xe-guest-utilities) writes under attr/vif/0/ipv4/0 and xapi_guest_agent.ml
   * turns into VM_guest_metrics.networks "0/ip" and "0/ipv4/0". The double publishes it as the
   * domain starts; a real guest without an agent never reports one.
   */
  private reportGuestAddress(vm: string, row: Row, address: string): void {
    if (row.guest_metrics !== NULL_REF) this.table("VM_guest_metrics").delete(String(row.guest_metrics));
    const metrics = this.add("VM_guest_metrics", {
      os_version: {}, PV_drivers_version: {}, PV_drivers_up_to_date: false, PV_drivers_detected: false,
      networks: { "0/ip": address, "0/ipv4/0": address }, other: {}, live: true,
    });
    row.guest_metrics = metrics;
    this.options.log(`VM "${row.name_label}": guest port 22 reachable at ${address}:22 (VM_guest_metrics networks 0/ip; ${vm.slice(0, 20)}...)`);
  }

  private async stopDomain(vm: string): Promise<void> {
    // xenopsd runs one operation at a time per VM: a shutdown waits for a reboot in progress.
    await this.restarts.get(vm);
    const domain = this.domains.get(vm);
    this.domains.delete(vm);
    if (domain) await domain.kill();
    const row = this.table("VM").get(vm);
    if (row) this.markHalted(vm, row);
  }

  /**
   * VM.hard_reboot and VM.clean_reboot: xenopsd's VM_reboot replaces the domain in one operation
   * (rebooting_vms in xenops_server.ml), so XAPI never shows the VM Halted in between: it stays
   * Running, with no domain (domid -1) until the new one is built.
   */
  private async rebootDomain(vm: string): Promise<void> {
    await this.restarts.get(vm);
    const row = this.row("VM", vm);
    const domain = this.domains.get(vm);
    this.domains.delete(vm);
    row.domid = "-1";
    if (domain) await domain.kill();
    try {
      await this.startDomain(vm, false);
    } catch (error) {
      this.markHalted(vm, row);
      throw error;
    }
  }

  /** Test host shutdown: every domain killed, no restart. */
  async stopAll(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.restarts.values()]);
    await Promise.all([...this.domains.keys()].map((vm) => this.stopDomain(vm)));
  }

  /** Synchronous kill for signal handlers. */
  killAllNow(): void {
    this.stopped = true;
    for (const domain of this.domains.values()) domain.killNow();
  }

  runningDomains(): number {
    return this.domains.size;
  }
}
