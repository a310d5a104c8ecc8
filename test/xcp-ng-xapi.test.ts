// The xcp-ng adapter's XAPI client against Fruix's XCP-ng test host (a TEST
// DOUBLE, not XCP-ng): every XAPI error path the adapter meets, the raw VDI
// handlers' rules (Content-Length, no chunked bodies, 302 to the SR's host),
// VDI_IN_USE retried, and the `xl console` endpoint. VMs here start paused
// (QEMU -S), so they cost no CPU.
import { X509Certificate } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readConfig, type XcpngConfig } from "../hypervisors/xcp-ng/config.js";
import { destroyVdi, guestAddress, vbdRecord, vdiRecord, vifRecord, XcpngMachine } from "../hypervisors/xcp-ng/machine.js";
import { SshConsoleHost } from "../hypervisors/xcp-ng/ssh-console.js";
import { launchTestHost, type RunningTestHost } from "./doubles/xcp-ng/launch.js";
import { rpc, XapiError, XapiSession } from "../hypervisors/xcp-ng/xapi.js";
import { encodeResponse, success } from "../hypervisors/xcp-ng/xmlrpc.js";
import { FruixError } from "../lib/errors.js";
import { cleanupTempDirs, tempDir } from "./helpers/fixtures.js";

let host: RunningTestHost;
let config: XcpngConfig;
let xapi: XapiSession;
let dir: string;

async function ourQemus(): Promise<string[]> {
  const { stdout } = await execa("pgrep", ["-af", `qemu-system-x86_64.*${tmpdir()}/fruix-xcpng-testhost`], { reject: false });
  return stdout.split("\n").filter(Boolean);
}

async function xapiFailure(promise: Promise<unknown>): Promise<XapiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof XapiError) return error;
    throw error;
  }
  throw new Error("expected a XAPI failure, the call succeeded");
}

async function template(): Promise<string> {
  const records = (await xapi.call("VM.get_all_records")) as Record<string, { is_a_template: boolean; reference_label: string }>;
  return Object.entries(records).find(([, r]) => r.is_a_template && r.reference_label === "other-install-media")![0];
}

async function sr(name: string): Promise<string> {
  return ((await xapi.call("SR.get_by_name_label", name)) as string[])[0]!;
}

/** A provisioned, empty VM (no disks), as the adapter makes them. */
async function newVm(name: string): Promise<string> {
  const vm = (await xapi.callAsync("VM.clone", await template(), name)) as string;
  await xapi.call("VM.remove_from_other_config", vm, "disks");
  await xapi.callAsync("VM.provision", vm);
  return vm;
}

async function newVdi(bytes: Buffer, srName = "Local storage"): Promise<string> {
  const file = join(dir, `upload-${bytes.length}-${Date.now()}.raw`);
  await writeFile(file, bytes);
  const vdi = (await xapi.call("VDI.create", vdiRecord("test", await sr(srName), bytes.length, "test"))) as string;
  await xapi.importRawVdi(vdi, file);
  return vdi;
}

beforeAll(async () => {
  dir = await tempDir("fruix-xcpng-test-");
  host = await launchTestHost(join(dir, "testhost.env"));
  config = readConfig(host.env);
  xapi = await XapiSession.login(config.url, config.user, config.password);
}, 120_000);

afterAll(async () => {
  await xapi?.logout();
  if (host) await host.stop();
  await cleanupTempDirs();
});

describe("sessions", () => {
  it("the env file names a pool member; login follows HOST_IS_SLAVE to the master", async () => {
    expect(config.url.hostname).toBe("127.0.0.2");
    const failure = await xapiFailure(rpc(config.url, "session.login_with_password", [config.user, config.password, "1.0", "fruix"]));
    expect([failure.code, ...failure.params]).toEqual(["HOST_IS_SLAVE", "127.0.0.1"]);
    expect(xapi.url.hostname).toBe("127.0.0.1");
    expect(xapi.url.port).toBe(config.url.port);
  });

  it("a wrong password is one clear error, without the password", async () => {
    const error = await XapiSession.login(config.url, config.user, "wrong-password").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FruixError);
    expect((error as Error).message).toBe(`XAPI ${xapi.url.origin}: login as root refused (SESSION_AUTHENTICATION_FAILED)`);
    expect((error as Error).message).not.toContain("wrong-password");
  });

  it("a call with a session that is not one fails with SESSION_INVALID", async () => {
    const failure = await xapiFailure(rpc(xapi.url, "VM.get_all", ["OpaqueRef:not-a-session"]));
    expect([failure.code, ...failure.params]).toEqual(["SESSION_INVALID", "OpaqueRef:not-a-session"]);
    expect(failure.message).toBe("VM.get_all: SESSION_INVALID (session reference withheld)");
  });

  it("login takes 2 to 4 parameters; other counts are MESSAGE_PARAMETER_COUNT_MISMATCH", async () => {
    const failure = await xapiFailure(rpc(xapi.url, "session.login_with_password", ["root"]));
    expect([failure.code, ...failure.params]).toEqual(["MESSAGE_PARAMETER_COUNT_MISMATCH", "session.login_with_password", "4", "1"]);
  });
});

describe("calls", () => {
  it("counts parameters with the session: MESSAGE_PARAMETER_COUNT_MISMATCH(method, expected, received)", async () => {
    const failure = await xapiFailure(xapi.call("VM.get_power_state"));
    expect([failure.code, ...failure.params]).toEqual(["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_power_state", "2", "1"]);
  });

  it("an unknown method is MESSAGE_METHOD_UNKNOWN", async () => {
    const failure = await xapiFailure(xapi.call("VM.frobnicate", "x"));
    expect([failure.code, ...failure.params]).toEqual(["MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"]);
  });

  it("a reference that is not an object of the class is HANDLE_INVALID(class, ref)", async () => {
    const failure = await xapiFailure(xapi.call("VM.get_power_state", "OpaqueRef:nope"));
    expect([failure.code, ...failure.params]).toEqual(["HANDLE_INVALID", "VM", "OpaqueRef:nope"]);
    const srRef = await sr("Local storage");
    const wrongClass = await xapiFailure(xapi.call("VM.get_power_state", srRef));
    expect([wrongClass.code, ...wrongClass.params]).toEqual(["HANDLE_INVALID", "VM", srRef]);
  });

  it("Async.* failures come back through the task as XapiErrors (VM_IS_TEMPLATE for an unprovisioned clone)", async () => {
    const clone = (await xapi.callAsync("VM.clone", await template(), "test-template-clone")) as string;
    const failure = await xapiFailure(xapi.callAsync("VM.start", clone, true, false));
    expect([failure.code, ...failure.params]).toEqual(["VM_IS_TEMPLATE", clone, "start"]);
    expect(await xapi.call("task.get_all")).toEqual([]); // every task destroyed
    await xapi.callAsync("VM.destroy", clone);
  });

  it("provision without removing other_config:disks makes the template's disk, so userdevice 0 is taken", async () => {
    const vm = (await xapi.callAsync("VM.clone", await template(), "test-provisioned-disk")) as string;
    await xapi.callAsync("VM.provision", vm);
    const vdi = await newVdi(Buffer.alloc(4096, 1));
    const failure = await xapiFailure(xapi.call("VBD.create", vbdRecord(vm, vdi, "0", "Disk")));
    expect([failure.code, ...failure.params]).toEqual(["DEVICE_ALREADY_EXISTS", "0"]);
    const vbds = (await xapi.call("VM.get_VBDs", vm).catch(() => [])) as string[];
    const made = await Promise.all(vbds.map(async (b) => (await xapi.call("VBD.get_VDI", b)) as string));
    await xapi.callAsync("VM.destroy", vm);
    for (const v of [vdi, ...made]) await destroyVdi(xapi, v);
  });

  it("VBD.create: a CD must be read-only, only a CD may be empty, a slot is used once", async () => {
    const vm = await newVm("test-vbd-rules");
    const cdRw = await xapiFailure(xapi.call("VBD.create", { ...vbdRecord(vm, null, "3", "CD"), mode: "RW" }));
    expect([cdRw.code, ...cdRw.params]).toEqual(["VBD_CDS_MUST_BE_READONLY"]);
    const emptyDisk = await xapiFailure(xapi.call("VBD.create", vbdRecord(vm, null, "1", "Disk")));
    expect([emptyDisk.code, ...emptyDisk.params]).toEqual(["VBD_NOT_REMOVABLE_MEDIA", "in constructor"]);
    const cd = (await xapi.call("VBD.create", vbdRecord(vm, null, "3", "CD"))) as string;
    const again = await xapiFailure(xapi.call("VBD.create", vbdRecord(vm, null, "3", "CD")));
    expect([again.code, ...again.params]).toEqual(["DEVICE_ALREADY_EXISTS", "3"]);
    const badSlot = await xapiFailure(xapi.call("VBD.create", vbdRecord(vm, null, "9", "CD")));
    expect([badSlot.code, ...badSlot.params]).toEqual(["INVALID_DEVICE", "9"]);
    const eject = await xapiFailure(xapi.callAsync("VBD.eject", cd));
    expect([eject.code, ...eject.params]).toEqual(["VBD_IS_EMPTY", cd]);
    const iso = await newVdi(Buffer.alloc(2048, 7), "ISO library");
    await xapi.callAsync("VBD.insert", cd, iso);
    const insert = await xapiFailure(xapi.callAsync("VBD.insert", cd, iso));
    expect([insert.code, ...insert.params]).toEqual(["VBD_NOT_EMPTY", cd]);
    await xapi.callAsync("VBD.eject", cd);
    expect(await xapi.call("VBD.get_empty", cd)).toBe(true);
    await xapi.callAsync("VM.destroy", vm);
    await destroyVdi(xapi, iso);
  });

  it("memory limits must be ordered; VCPUs_at_startup cannot pass VCPUs_max", async () => {
    const vm = await newVm("test-limits");
    const mem = await xapiFailure(xapi.call("VM.set_memory_limits", vm, "512", "256", "512", "512"));
    expect([mem.code, ...mem.params]).toEqual(["MEMORY_CONSTRAINT_VIOLATION_ORDER"]);
    const cpus = await xapiFailure(xapi.call("VM.set_VCPUs_at_startup", vm, "2"));
    expect(cpus.code).toBe("VALUE_NOT_SUPPORTED");
    await xapi.callAsync("VM.destroy", vm);
  });
});

describe("ISO SRs, VIFs, guest metrics and clean shutdown (xen-api's and sm's rules)", () => {
  it("VDI.create in an ISO SR: sm_config:path must be an .iso/.img file name, and a new one (sm's ISOSR.py)", async () => {
    const isoSr = await sr("ISO library");
    const bad = await xapiFailure(xapi.call("VDI.create", vdiRecord("bad", isoSr, 2048, "d", { path: "../escape.iso" })));
    expect([bad.code, ...bad.params]).toEqual(["SR_BACKEND_FAILURE_78", "", 'VDI Creation failed [opterr=Invalid path "../escape.iso"]', ""]);
    const iso = (await xapi.call("VDI.create", vdiRecord("good", isoSr, 2048, "d", { path: "fruix-test.iso" }))) as string;
    expect(await xapi.call("VDI.get_location", iso)).toBe("fruix-test.iso");
    const twice = await xapiFailure(xapi.call("VDI.create", vdiRecord("again", isoSr, 2048, "d", { path: "fruix-test.iso" })));
    expect([twice.code, ...twice.params]).toEqual(["SR_BACKEND_FAILURE_43", "", "The VDI already exists", ""]);
    // A user disk SR names its files itself: the path is no concern of it.
    const disk = (await xapi.call("VDI.create", vdiRecord("disk", await sr("Local storage"), 2048, "d", { path: "../escape.iso" }))) as string;
    for (const v of [iso, disk]) await destroyVdi(xapi, v);
  });

  it("a VM starts only on a host that sees every SR of its disks and CD: NO_HOSTS_AVAILABLE (xapi_vm_helpers.ml); a DVD drive's SR makes no VDI", async () => {
    const dvdSr = await sr("DVD drives");
    const create = await xapiFailure(xapi.call("VDI.create", vdiRecord("x", dvdSr, 2048, "d")));
    expect([create.code, ...create.params]).toEqual(["SR_OPERATION_NOT_SUPPORTED", dvdSr]);
    // The master's drive, and a disk on the member's local SR: no host sees both.
    const drive = Object.entries((await xapi.call("VDI.get_all_records")) as Record<string, { SR: string }>).filter(([, v]) => v.SR === dvdSr).map(([ref]) => ref);
    expect(drive).toHaveLength(1);
    const vm = await newVm("test-no-host");
    const disk = await newVdi(Buffer.alloc(4096, 1));
    await xapi.call("VBD.create", vbdRecord(vm, disk, "0", "Disk"));
    await xapi.call("VBD.create", vbdRecord(vm, drive[0]!, "3", "CD"));
    const start = await xapiFailure(xapi.callAsync("VM.start", vm, true, false));
    expect([start.code, ...start.params]).toEqual(["NO_HOSTS_AVAILABLE"]);
    expect(await xapi.call("VM.get_power_state", vm)).toBe("Halted");
    const destroyDrive = await xapiFailure(xapi.callAsync("VDI.destroy", drive[0]!));
    expect([destroyDrive.code, ...destroyDrive.params]).toEqual(["SR_OPERATION_NOT_SUPPORTED", dvdSr]);
    await xapi.callAsync("VM.destroy", vm);
    await destroyVdi(xapi, disk);
  });

  it("VBD.create refuses a VDI whose type no VBD may have: VDI_INCOMPATIBLE_TYPE (xapi_vbd.ml)", async () => {
    const vm = await newVm("test-vdi-type");
    const vdi = (await xapi.call("VDI.create", { ...vdiRecord("statefile", await sr("Local storage"), 4096, "d"), type: "ha_statefile" })) as string;
    const failure = await xapiFailure(xapi.call("VBD.create", vbdRecord(vm, vdi, "1", "Disk")));
    expect([failure.code, ...failure.params]).toEqual(["VDI_INCOMPATIBLE_TYPE", vdi, "ha_statefile"]);
    await xapi.callAsync("VM.destroy", vm);
    await destroyVdi(xapi, vdi);
  });

  it("VIF.create: a numeric device, a valid MAC (empty: made from the VM's mac_seed), a device used once (xapi_vif_helpers.ml)", async () => {
    const vm = await newVm("test-vif-rules");
    const network = ((await xapi.call("network.get_by_name_label", "Pool-wide network associated with eth0")) as string[])[0]!;
    const device = await xapiFailure(xapi.call("VIF.create", { ...vifRecord(vm, network), device: "eth0" }));
    expect([device.code, ...device.params]).toEqual(["INVALID_DEVICE", "eth0"]);
    const mac = await xapiFailure(xapi.call("VIF.create", { ...vifRecord(vm, network), MAC: "00:16:3e:zz:00:01" }));
    expect([mac.code, ...mac.params]).toEqual(["MAC_INVALID", "00:16:3e:zz:00:01"]);
    const noNetwork = await xapiFailure(xapi.call("VIF.create", vifRecord(vm, "OpaqueRef:nonsense")));
    expect([noNetwork.code, ...noNetwork.params]).toEqual(["HANDLE_INVALID", "network", "OpaqueRef:nonsense"]);
    const vif = (await xapi.call("VIF.create", vifRecord(vm, network))) as string;
    expect(await xapi.call("VIF.get_MAC", vif)).toMatch(/^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/);
    expect(await xapi.call("VM.get_VIFs", vm)).toEqual([vif]);
    const again = await xapiFailure(xapi.call("VIF.create", vifRecord(vm, network)));
    expect([again.code, ...again.params]).toEqual(["DEVICE_ALREADY_EXISTS", "0"]);
    await xapi.callAsync("VM.destroy", vm);
    expect((await xapiFailure(xapi.call("VIF.get_record", vif))).code).toBe("HANDLE_INVALID");
  });

  it("clean shutdown and clean reboot need a running VM: VM_BAD_POWER_STATE(vm, running, halted)", async () => {
    const vm = await newVm("test-clean-halted");
    for (const call of ["VM.clean_shutdown", "VM.clean_reboot"]) {
      const failure = await xapiFailure(xapi.callAsync(call, vm));
      expect([failure.code, ...failure.params]).toEqual(["VM_BAD_POWER_STATE", vm, "running", "halted"]);
    }
    await xapi.callAsync("VM.destroy", vm);
  });

  it("VM.hard_reboot replaces the domain without the VM ever showing Halted (xenopsd's VM_reboot), and gives a new domid", async () => {
    const vm = await newVm("test-hard-reboot");
    await xapi.callAsync("VM.start", vm, true, false);
    try {
      const before = Number(await xapi.call("VM.get_domid", vm));
      const task = xapi.callAsync("VM.hard_reboot", vm);
      let done = false;
      void task.finally(() => (done = true)).catch(() => undefined);
      const seen = new Set<string>();
      while (!done) seen.add(String(await xapi.call("VM.get_power_state", vm)));
      await task;
      expect([...seen]).not.toContain("Halted");
      expect(await xapi.call("VM.get_power_state", vm)).toBe("Running");
      expect(Number(await xapi.call("VM.get_domid", vm))).toBeGreaterThan(before);
    } finally {
      await xapi.callAsync("VM.hard_shutdown", vm);
      await xapi.callAsync("VM.destroy", vm);
    }
  });

  it("a started VM with a VIF reports an address in its guest metrics, where its port 22 answers; a halted one has none", async () => {
    const vm = await newVm("test-guest-metrics");
    const network = ((await xapi.call("network.get_by_name_label", "Pool-wide network associated with eth0")) as string[])[0]!;
    await xapi.call("VIF.create", vifRecord(vm, network));
    expect(await xapi.call("VM.get_guest_metrics", vm)).toBe("OpaqueRef:NULL");
    await xapi.callAsync("VM.start", vm, true, false);
    try {
      const metrics = (await xapi.call("VM.get_guest_metrics", vm)) as string;
      const address = guestAddress((await xapi.call("VM_guest_metrics.get_networks", metrics)) as Record<string, string>);
      expect(address).toMatch(/^127\.\d+\.\d+\.\d+$/);
      // QEMU's user network listens there for the guest's port 22 (the guest, paused, does not answer yet).
      await new Promise<void>((resolve, reject) => {
        const socket = connect(22, address!, () => (socket.destroy(), resolve()));
        socket.once("error", reject);
      });
      const paused = await xapiFailure(xapi.callAsync("VM.clean_shutdown", vm));
      expect([paused.code, ...paused.params]).toEqual(["VM_BAD_POWER_STATE", vm, "running", "paused"]);
    } finally {
      await xapi.callAsync("VM.hard_shutdown", vm);
    }
    expect(await xapi.call("VM.get_guest_metrics", vm)).toBe("OpaqueRef:NULL");
    await xapi.callAsync("VM.destroy", vm);
  });
});

describe("raw VDI upload and download", () => {
  let vdi: string;
  const bytes = Buffer.from(Array.from({ length: 1 << 16 }, (_, i) => (i * 7) & 0xff));

  beforeAll(async () => {
    vdi = (await xapi.call("VDI.create", vdiRecord("test-raw", await sr("Local storage"), bytes.length, "test"))) as string;
  });

  /** The import URL with this session (what importRawVdi builds), on the master. */
  function importUrl(): URL {
    const url = new URL("/import_raw_vdi", xapi.url);
    // The session is private to XapiSession; a fresh one from the same credentials works the same.
    return url;
  }

  async function session(): Promise<string> {
    return (await rpc(xapi.url, "session.login_with_password", [config.user, config.password, "1.0", "test"])) as string;
  }

  it("uploads with a Content-Length, through the master's 302 to the member that sees the SR, and downloads the same bytes", async () => {
    const file = join(dir, "pattern.raw");
    await writeFile(file, bytes);
    await xapi.importRawVdi(vdi, file);
    const back = join(dir, "pattern-back.raw");
    await xapi.exportRawVdi(vdi, back);
    expect((await readFile(back)).equals(bytes)).toBe(true);
  });

  it("the master answers 302 for a VDI on the member's SR", async () => {
    const url = importUrl();
    url.search = new URLSearchParams({ session_id: await session(), vdi, format: "raw" }).toString();
    const res = await new Promise<http.IncomingMessage>((resolve) => http.request(url, { method: "PUT", headers: { "Content-Length": 0 } }, resolve).end());
    res.resume();
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toMatch(/^http:\/\/127\.0\.0\.2:\d+\/import_raw_vdi\?/);
  });

  async function put(headers: Record<string, string | number>, body: Buffer, chunked = false, extra: Record<string, string> = {}): Promise<number> {
    return (await putFull(headers, body, chunked, extra)).status;
  }

  async function putFull(headers: Record<string, string | number>, body: Buffer, chunked = false, extra: Record<string, string> = {}): Promise<{ status: number; task?: string }> {
    const url = new URL("/import_raw_vdi", config.url); // the member sees the SR
    url.search = new URLSearchParams({ session_id: await session(), vdi, format: "raw", ...extra }).toString();
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: "PUT", headers }, (res) => {
        res.resume();
        res.on("close", () => resolve({ status: res.statusCode!, task: res.headers["task-id"] as string | undefined }));
      });
      req.on("error", reject);
      if (chunked) {
        req.write(body.subarray(0, 10));
        req.end(body.subarray(10));
      } else req.end(body);
    });
  }

  it("refuses a chunked body with 404 and fails the task, as current XAPI's import code does", async () => {
    const answer = await putFull({}, Buffer.alloc(100), true);
    expect(answer.status).toBe(404);
    const mine = (await xapi.call("task.create", "test", "test")) as string;
    expect(await put({}, Buffer.alloc(100), true, { task_id: mine })).toBe(404);
    expect(await xapi.call("task.get_status", mine)).toBe("failure");
    expect(await xapi.call("task.get_error_info", mine)).toEqual(["INTERNAL_ERROR", "Cannot handle encoding: chunked"]);
    await xapi.call("task.destroy", mine);
  });

  it("refuses a body without Content-Length with 411", async () => {
    const url = new URL(config.url.href);
    const status = await new Promise<string>((resolve) => {
      const socket = connect(Number(url.port), url.hostname, async () => {
        socket.write(`PUT /import_raw_vdi?session_id=${encodeURIComponent(await session())}&vdi=${encodeURIComponent(vdi)}&format=raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      });
      let text = "";
      socket.on("data", (c) => (text += c.toString()));
      socket.on("close", () => resolve(text.split("\r\n")[0]!));
    });
    expect(status).toBe("HTTP/1.1 411 Length Required");
  });

  it("answers 200 before reading the body and reports a failure through the task (a body larger than the VDI)", async () => {
    const answer = await putFull({ "Content-Length": bytes.length + 1 }, Buffer.alloc(bytes.length + 1));
    expect(answer.status).toBe(200);
    expect(answer.task).toMatch(/^OpaqueRef:/);
    expect(await xapi.call("task.get_status", answer.task!)).toBe("failure");
    expect(((await xapi.call("task.get_error_info", answer.task!)) as string[])[0]).toBe("INTERNAL_ERROR");
    await xapi.call("task.destroy", answer.task!);
    // With the caller's task_id, the outcome goes to that task.
    const mine = (await xapi.call("task.create", "test", "test")) as string;
    expect(await put({ "Content-Length": 16 }, Buffer.alloc(16, 3), false, { task_id: mine })).toBe(200);
    expect(await xapi.call("task.get_status", mine)).toBe("success");
    await xapi.call("task.destroy", mine);
    expect(await put({ "Content-Length": 16 }, Buffer.alloc(16, 3), false, { task_id: "OpaqueRef:no-task" })).toBe(500);
  });

  it("refuses an unknown format with 404, a bad session with 401", async () => {
    const url = new URL("/import_raw_vdi", config.url);
    url.search = new URLSearchParams({ session_id: await session(), vdi, format: "vhd" }).toString();
    const vhd = await new Promise<number>((resolve) => http.request(url, { method: "PUT", headers: { "Content-Length": 0 } }, (r) => (r.resume(), resolve(r.statusCode!))).end());
    expect(vhd).toBe(404);
    url.search = new URLSearchParams({ session_id: "OpaqueRef:bogus", vdi, format: "raw" }).toString();
    const bad = await new Promise<number>((resolve) => http.request(url, { method: "PUT", headers: { "Content-Length": 0 } }, (r) => (r.resume(), resolve(r.statusCode!))).end());
    expect(bad).toBe(401);
  });

  it("the adapter reads a failed upload from its task, one clear error, and destroys the task", async () => {
    const big = join(dir, "too-big.raw");
    await writeFile(big, Buffer.alloc(bytes.length * 2));
    // (requests above without a task_id left the handler's own tasks, as XAPI would)
    const tasksBefore = await xapi.call("task.get_all");
    const error = await xapiFailure(xapi.importRawVdi(vdi, big));
    expect(error.code).toBe("INTERNAL_ERROR");
    expect(error.message).toMatch(/^import_raw_vdi of .*too-big\.raw: INTERNAL_ERROR "body of \d+ bytes is larger than the VDI/);
    expect(await xapi.call("task.get_all")).toEqual(tasksBefore);
  });

  it("the adapter turns a refused request (an HTTP error) into one clear error", async () => {
    const file = join(dir, "small.raw");
    await writeFile(file, Buffer.alloc(16));
    const tasksBefore = await xapi.call("task.get_all");
    await expect(xapi.importRawVdi("OpaqueRef:no-such-vdi", file)).rejects.toThrow(/^import_raw_vdi of .*small\.raw to 127\.0\.0\.\d:\d+ answered HTTP 404$/);
    expect(await xapi.call("task.get_all")).toEqual(tasksBefore);
  });

  it("gives up on a task that never ends: one error naming the call and the task, the task cancelled", async () => {
    const impatient = await XapiSession.login(config.url, config.user, config.password, { taskTimeoutMs: { async: 300 } });
    const task = (await impatient.call("task.create", "never ends", "")) as string;
    const started = Date.now();
    await expect(impatient.waitForTask(task, "Async.VM.start", 300)).rejects.toThrow(`XAPI ${impatient.url.origin}: Async.VM.start did not finish within 0 s (task ${task}, status pending); cancelled it`);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await impatient.call("task.get_status", task)).toBe("cancelled");
    await impatient.call("task.destroy", task);
    await impatient.logout();
  });
});

describe("a running VM (paused: QEMU -S)", () => {
  let vm: string;
  let vdi: string;

  beforeAll(async () => {
    vm = await newVm("test-running");
    await xapi.call("VM.set_HVM_boot_params", vm, { firmware: "uefi", order: "dc" });
    vdi = await newVdi(Buffer.alloc(1 << 20));
    await xapi.call("VBD.create", vbdRecord(vm, vdi, "0", "Disk"));
    await xapi.callAsync("VM.start", vm, true, false);
  }, 60_000);

  it("runs as a QEMU process, Paused, resident on the member, with a domid", async () => {
    expect(await xapi.call("VM.get_power_state", vm)).toBe("Paused");
    expect(Number(await xapi.call("VM.get_domid", vm))).toBeGreaterThan(0);
    expect(await xapi.call("host.get_address", await xapi.call("VM.get_resident_on", vm))).toBe("127.0.0.2");
    expect((await ourQemus()).length).toBeGreaterThan(0);
  });

  it("cannot be destroyed while running: VM_BAD_POWER_STATE(vm, expected, actual)", async () => {
    const failure = await xapiFailure(xapi.callAsync("VM.destroy", vm));
    expect([failure.code, ...failure.params]).toEqual(["VM_BAD_POWER_STATE", vm, "halted, suspended", "paused"]);
    const unpaused = await xapiFailure(xapi.callAsync("VM.start", vm, true, false));
    expect([unpaused.code, ...unpaused.params]).toEqual(["VM_BAD_POWER_STATE", vm, "halted", "paused"]);
  });

  it("serves xl console for its domid; an unknown domid ends at once with xl's complaint", async () => {
    const ssh = new SshConsoleHost("127.0.0.2", config, () => undefined);
    try {
      const missing = await ssh.attach(999);
      let stderr = "";
      missing.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number>((resolve) => missing.on("exit", (c: number) => resolve(c)));
      expect(code).toBe(1);
      expect(stderr).toContain("domain 999 does not exist");
      const domid = Number(await xapi.call("VM.get_domid", vm));
      const channel = await ssh.attach(domid);
      expect(channel.readable).toBe(true);
      channel.close();
    } finally {
      ssh.close();
    }
  });

  it("refuses an SSH host whose key is not the configured one", async () => {
    const wrong = { ...config, ssh: { ...config.ssh, hostKeySha256: `SHA256:${"A".repeat(43)}` } };
    const ssh = new SshConsoleHost("127.0.0.2", wrong, () => undefined);
    await expect(ssh.attach(1)).rejects.toThrow(/host key SHA256:\S+ is not FRUIX_XCPNG_SSH_HOST_KEY/);
    ssh.close();
  });

  it("its VDI is VDI_IN_USE; destroyVdi retries until the VM halts, then destroys it", async () => {
    const failure = await xapiFailure(xapi.callAsync("VDI.destroy", vdi));
    expect([failure.code, ...failure.params]).toEqual(["VDI_IN_USE", vdi, "destroy"]);
    const halt = new Promise((r) => setTimeout(r, 1500)).then(() => xapi.callAsync("VM.hard_shutdown", vm));
    const refused = await destroyVdi(xapi, vdi, 30_000);
    await halt;
    expect(refused).toBeGreaterThan(0);
    const gone = await xapiFailure(xapi.call("VDI.get_uuid", vdi));
    expect(gone.code).toBe("HANDLE_INVALID");
    expect(await xapi.call("VM.get_power_state", vm)).toBe("Halted");
    await xapi.callAsync("VM.destroy", vm);
  }, 60_000);
});

// The adapter itself (XcpngMachine), not hand-built calls: a real domain
// (OVMF under QEMU, no bootable disk), so kept short; destroy() is checked to
// leave no VM, VDI, QEMU process or work directory.
describe("through the adapter (XcpngMachine)", () => {
  let machine: XcpngMachine;
  let workDir: string;
  let qemuPid: number;
  const lines: string[] = [];
  const internals = () => machine as unknown as { vm: string; cdVbd: string; channel: { close(): void } | undefined; attachedDomid: number; vdis: { ref: string }[] };

  beforeAll(async () => {
    workDir = join(dir, "machine-work");
    await mkdir(workDir);
    const disk = join(dir, "machine-disk.raw");
    await writeFile(disk, Buffer.alloc(1 << 20));
    machine = new XcpngMachine({ name: "adapter", memoryMiB: 128, disks: [{ path: disk, mode: "overlay" }], cdrom: null, workDir }, { config, timeoutScale: 1, log: (l) => lines.push(l) });
    await machine.start();
    const label = /VM (fruix-[0-9a-f]+-adapter) cloned/.exec(lines.join("\n"))![1]!;
    qemuPid = Number(new RegExp(`VM "${label}" \\(QEMU pid (\\d+)`).exec(host.log())![1]);
    process.kill(qemuPid, 0);
  }, 90_000);

  afterAll(async () => {
    await machine?.destroy().catch(() => undefined);
  });

  it("inserts an ISO into the read-only CD drive and ejects it", async () => {
    const iso = join(dir, "adapter.iso");
    await writeFile(iso, Buffer.alloc(4096, 0x43));
    const { cdVbd } = internals();
    expect(await xapi.call("VBD.get_mode", cdVbd)).toBe("RO");
    expect(await xapi.call("VBD.get_type", cdVbd)).toBe("CD");
    expect(await xapi.call("VBD.get_empty", cdVbd)).toBe(true);
    await machine.insertCdrom(iso);
    expect(await xapi.call("VBD.get_empty", cdVbd)).toBe(false);
    const vdi = (await xapi.call("VBD.get_VDI", cdVbd)) as string;
    expect(await xapi.call("SR.get_name_label", await xapi.call("VDI.get_SR", vdi))).toBe("ISO library");
    // A second insert ejects the first ISO itself (VBD.insert alone would be VBD_NOT_EMPTY).
    await machine.insertCdrom(iso);
    expect(await xapi.call("VBD.get_VDI", cdVbd)).not.toBe(vdi);
    await machine.ejectCdrom();
    expect(await xapi.call("VBD.get_empty", cdVbd)).toBe(true);
    await expect(machine.ejectCdrom()).rejects.toThrow(/VBD_IS_EMPTY/);
  }, 60_000);

  it("attaches the console again when the xl console channel closes while the domain runs", async () => {
    const before = internals().channel!;
    const domid = internals().attachedDomid;
    expect(domid).toBeGreaterThan(0);
    const attaches = () => host.log().split(`xl console -t serial ${domid} attached`).length - 1;
    const count = attaches();
    before.close();
    const deadline = Date.now() + 20_000;
    while (!(internals().channel && internals().channel !== before)) {
      if (Date.now() > deadline) throw new Error("the console was not attached again");
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(internals().attachedDomid).toBe(domid);
    expect(await xapi.call("VM.get_power_state", internals().vm)).toBe("Running");
    expect(attaches()).toBe(count + 1);
  }, 30_000);

  let debugHold: { instructions: readonly string[]; ended: Promise<void> } | undefined;
  let debugEnded = false;

  it("records the VM's XAPI record as it started (the report's Machines section)", async () => {
    const invocation = machine.invocation()!;
    expect(invocation.kind).toBe("XAPI VM record");
    const record = JSON.parse(invocation.text);
    expect(record.uuid).toBe(await xapi.call("VM.get_uuid", internals().vm));
    expect(record).toMatchObject({ name_label: expect.stringMatching(/^fruix-[0-9a-f]+-adapter$/), HVM_boot_params: { firmware: "uefi" }, VCPUs_at_startup: "1" });
  });

  it("--debug-on-failure: names the VM, its uuid, domain and console, lets go of the console, and ends when the VM halts", async () => {
    const vm = internals().vm;
    const uuid = (await xapi.call("VM.get_uuid", vm)) as string;
    const domid = internals().attachedDomid;
    debugHold = await machine.keepForDebugging();
    void debugHold.ended.then(() => (debugEnded = true));
    const text = debugHold.instructions.join("\n");
    expect(text).toMatch(new RegExp(`^adapter: kept running for debugging \\(--debug-on-failure\\): VM fruix-[0-9a-f]+-adapter, uuid ${uuid}, domain ${domid} on 127\\.0\\.0\\.\\d+$`, "m"));
    expect(text).toMatch(new RegExp(`serial console: ssh -p \\d+ \\S+@127\\.0\\.0\\.\\d+ xl console -t serial ${domid}$`, "m"));
    expect(text).toContain(`end it:         xe vm-shutdown uuid=${uuid} force=true`);
    expect(internals().channel).toBeUndefined();
    await new Promise((r) => setTimeout(r, 3000));
    expect(internals().channel).toBeUndefined(); // not attached again: the console is the operator's
    expect(debugEnded).toBe(false);
  }, 30_000);

  it("powerOff halts the VM; on a halted VM it is a no-op (XAPI would answer VM_BAD_POWER_STATE), and waitForPowerOff returns", async () => {
    await machine.powerOff();
    const vm = internals().vm;
    expect(await xapi.call("VM.get_power_state", vm)).toBe("Halted");
    const again = await xapiFailure(xapi.callAsync("VM.hard_shutdown", vm));
    expect([again.code, ...again.params]).toEqual(["VM_BAD_POWER_STATE", vm, "paused, suspended, running", "halted"]);
    await machine.powerOff();
    await machine.waitForPowerOff(2000);
    expect(() => process.kill(qemuPid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
    // The kept machine has ended: --debug-on-failure's wait is over.
    await debugHold!.ended;
    expect(debugEnded).toBe(true);
  }, 60_000);

  it("destroy removes the VM, its VDIs and its work directory; destroyVdi of a VDI already gone counts as destroyed", async () => {
    const { vm, vdis } = internals();
    expect(vdis.length).toBe(3); // the disk and two ISOs
    await machine.destroy();
    expect((await xapiFailure(xapi.call("VM.get_uuid", vm))).code).toBe("HANDLE_INVALID");
    for (const vdi of vdis) expect((await xapiFailure(xapi.call("VDI.get_uuid", vdi.ref))).code).toBe("HANDLE_INVALID");
    expect(await destroyVdi(xapi, vdis[0]!.ref)).toBe(0);
    await expect(stat(workDir)).rejects.toThrow(/ENOENT/);
    await machine.destroy(); // idempotent
  }, 60_000);
});

// The test double serves plain HTTP only, so the TLS pin is checked against a
// local HTTPS server with a throwaway self-signed certificate.
describe("FRUIX_XAPI_TLS_SHA256 against an HTTPS server (not the double: it serves HTTP only)", () => {
  let server: https.Server;
  let url: URL;
  let fingerprint: string;
  let requests = 0;

  beforeAll(async () => {
    const key = join(dir, "tls-key.pem");
    const cert = join(dir, "tls-cert.pem");
    await execa("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=xapi.test"]);
    const pem = await readFile(cert, "utf8");
    fingerprint = new X509Certificate(pem).fingerprint256;
    server = https.createServer({ key: await readFile(key), cert: pem }, (req, res) => {
      requests++;
      req.resume();
      req.on("end", () => res.end(encodeResponse(success("OpaqueRef:tls-session"))));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  it("talks to the server whose certificate is pinned", async () => {
    const before = requests;
    expect(await rpc(url, "session.login_with_password", ["root", "pw"], { tlsSha256: fingerprint })).toBe("OpaqueRef:tls-session");
    expect(requests).toBe(before + 1);
  });

  it("refuses another certificate before sending a byte of the request (the password)", async () => {
    const before = requests;
    const wrong = fingerprint.replace(/^../, fingerprint.startsWith("00") ? "11" : "00");
    await expect(rpc(url, "session.login_with_password", ["root", "pw"], { tlsSha256: wrong })).rejects.toThrow(
      `XAPI ${url.origin}: TLS certificate ${fingerprint} is not FRUIX_XAPI_TLS_SHA256`,
    );
    await expect(XapiSession.login(url, "root", "pw", { tlsSha256: wrong })).rejects.toThrow(/is not FRUIX_XAPI_TLS_SHA256/);
    expect(requests).toBe(before);
  });

  it("without a pin accepts the self-signed certificate (and the report says it is not checked)", async () => {
    expect(await rpc(url, "session.login_with_password", ["root", "pw"])).toBe("OpaqueRef:tls-session");
  });
});

describe("stopping the test host", () => {
  it("SIGTERM kills every VM and removes its files and the env file", async () => {
    const other = await launchTestHost(join(dir, "second.env"));
    const cfg = readConfig(other.env);
    const session = await XapiSession.login(cfg.url, cfg.user, cfg.password);
    const records = (await session.call("VM.get_all_records")) as Record<string, { reference_label: string }>;
    const tpl = Object.entries(records).find(([, r]) => r.reference_label === "other-install-media")![0];
    const vm = (await session.callAsync("VM.clone", tpl, "left-running")) as string;
    await session.call("VM.remove_from_other_config", vm, "disks");
    await session.callAsync("VM.provision", vm);
    await session.callAsync("VM.start", vm, true, false);
    const workDir = /files in (\S+)/.exec(other.log())![1]!;
    const pid = other.process.pid!;
    process.kill(pid, 0); // the test host runs (throws ESRCH otherwise)
    expect((await execa("pgrep", ["-f", `qemu-system-x86_64.*${workDir}`], { reject: false })).stdout).not.toBe("");
    expect(await other.stop()).toBe(0);
    expect((await execa("pgrep", ["-f", `qemu-system-x86_64.*${workDir}`], { reject: false })).stdout).toBe("");
    expect((await execa("ls", [workDir], { reject: false })).exitCode).not.toBe(0);
    expect((await execa("ls", [join(dir, "second.env")], { reject: false })).exitCode).not.toBe(0);
    expect(other.log()).toContain("XCP-ng TEST DOUBLE");
    // ... and has exited: no process with its pid is left.
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
  }, 120_000);
});
