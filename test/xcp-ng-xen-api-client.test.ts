// A real XAPI client as the test double's judge: Vates' `xen-api` package,
// the client Xen Orchestra uses, connects to the XCP-ng test host the way it
// connects to a pool (JSON-RPC at /jsonrpc first), reads records, follows an
// Async call through event.from as its watchTask does, and gets XAPI's error
// codes back. Fruix's own adapter keeps XML-RPC (test/xcp-ng-xapi.test.ts).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "xen-api";
import { ENV } from "../hypervisors/xcp-ng/config.js";
import { launchTestHost, type RunningTestHost } from "./doubles/xcp-ng/launch.js";
import { cleanupTempDirs, tempDir } from "./helpers/fixtures.js";

interface XapiClient {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  call(method: string, ...args: unknown[]): Promise<unknown>;
  getAllRecords(type: string): Promise<Array<Record<string, unknown>>>;
  getRecord(type: string, ref: string): Promise<Record<string, unknown>>;
  watchTask(ref: string): Promise<unknown>;
  readonly pool: Record<string, unknown>;
  readonly status: string;
}

let host: RunningTestHost;
let xapi: XapiClient;

beforeAll(async () => {
  const dir = await tempDir("fruix-xen-api-");
  host = await launchTestHost(join(dir, "testhost.env"));
  const password = readFileSync(host.env[ENV.passwordFile]!, "utf8").trim();
  // The member's address, as Fruix's settings give it: the client must follow HOST_IS_SLAVE to the master.
  xapi = createClient({ url: host.env[ENV.url]!, auth: { user: host.env[ENV.user]!, password }, allowUnauthorized: true, watchEvents: ["task", "VM"] }) as XapiClient;
  await xapi.connect();
}, 120_000);

afterAll(async () => {
  await xapi?.disconnect();
  if (host) await host.stop();
  await cleanupTempDirs();
});

describe("the double's JSON-RPC endpoint, as xapi's api_server.ml answers", () => {
  const post = async (path: string, body: string, type = "application/json") => {
    const res = await fetch(new URL(path, host.env[ENV.url]!), { method: "POST", body, headers: { "Content-Type": type } });
    return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
  };
  const login = (jsonrpc?: string) => JSON.stringify({ ...(jsonrpc ? { jsonrpc } : {}), method: "session.login_with_password", params: ["root", "wrong"], id: 7 });

  it("answers JSON-RPC 2.0 failures as error {code: 1, message: CODE, data: [params]}", async () => {
    const answer = await post("/jsonrpc", login("2.0"));
    expect(answer).toMatchObject({ status: 200, type: "application/json" });
    // The member sends every session call to the master.
    expect(JSON.parse(answer.text)).toEqual({ jsonrpc: "2.0", error: { code: 1, message: "HOST_IS_SLAVE", data: [expect.any(String)] }, id: 7 });
  });

  it("answers JSON-RPC 1.0 with result and error side by side, the error as [CODE, params...]", async () => {
    expect(JSON.parse((await post("/jsonrpc", login())).text)).toEqual({ result: null, error: ["HOST_IS_SLAVE", expect.any(String)], id: 7 });
  });

  it("sends any other POST path to the XML-RPC handler (the longest matching prefix is /)", async () => {
    const xml = '<?xml version="1.0"?><methodCall><methodName>session.login_with_password</methodName><params><param><value>root</value></param><param><value>x</value></param></params></methodCall>';
    const answer = await post("/some/other/path", xml, "text/xml");
    expect(answer).toMatchObject({ status: 200, type: "text/xml" });
    expect(answer.text).toContain("HOST_IS_SLAVE");
  });
});

describe("Xen Orchestra's xen-api client against the XCP-ng test double", () => {
  it("connects (JSON-RPC at /jsonrpc) and reads the pool, hosts, SRs, networks and VMs", async () => {
    expect(xapi.status).toBe("connected");
    expect(xapi.pool.name_label).toBe("fruix-xcpng-testhost");
    const hosts = await xapi.getAllRecords("host");
    expect(hosts.map((h) => h.name_label).sort()).toEqual(["xcpng-testhost-master", "xcpng-testhost-member"]);
    expect((await xapi.getAllRecords("SR")).map((sr) => sr.name_label).sort()).toEqual(["DVD drives", "ISO library", "Local storage"]);
    expect((await xapi.getAllRecords("network")).map((n) => n.bridge)).toEqual(["xenbr0"]);
    const templates = (await xapi.getAllRecords("VM")).filter((vm) => vm.is_a_template === true);
    expect(templates.map((vm) => vm.name_label)).toContain("Other install media");
  });

  it("follows an Async call to its result through event.from, as watchTask does", async () => {
    const template = (await xapi.getAllRecords("VM")).find((vm) => vm.name_label === "Other install media")!;
    const task = (await xapi.call("Async.VM.clone", template.$ref, "xen-api client's clone")) as string;
    expect(task).toMatch(/^OpaqueRef:/);
    const clone = (await xapi.watchTask(task)) as string;
    expect(clone).toMatch(/^OpaqueRef:/);
    expect((await xapi.getRecord("VM", clone)).name_label).toBe("xen-api client's clone");
    await xapi.call("VM.destroy", clone);
    await expect(xapi.getRecord("VM", clone)).rejects.toMatchObject({ code: "HANDLE_INVALID" });
  });

  it("runs one VM lifecycle: VM.create, VM.start, VM.clean_shutdown, VM.destroy", async () => {
    const MiB = 1024 * 1024;
    // Every field datamodel_vm.ml gives no default; ints as JSON numbers, as a JSON-RPC client sends them.
    const record = {
      name_label: "xen-api lifecycle", name_description: "made by xen-api's client", user_version: 1, is_a_template: false, affinity: "OpaqueRef:NULL",
      memory_static_max: 64 * MiB, memory_dynamic_max: 64 * MiB, memory_dynamic_min: 64 * MiB, memory_static_min: 64 * MiB,
      VCPUs_params: {}, VCPUs_max: 1, VCPUs_at_startup: 1,
      actions_after_shutdown: "destroy", actions_after_reboot: "restart", actions_after_crash: "destroy",
      PV_bootloader: "", PV_kernel: "", PV_ramdisk: "", PV_args: "", PV_bootloader_args: "", PV_legacy_args: "",
      HVM_boot_policy: "BIOS order", HVM_boot_params: { order: "c" }, platform: {}, PCI_bus: "", other_config: {}, recommendations: "",
    };
    const { PV_args: _, ...incomplete } = record;
    await expect(xapi.call("VM.create", incomplete)).rejects.toMatchObject({ code: "FIELD_TYPE_ERROR", params: ["PV_args"] });
    const vm = (await xapi.watchTask((await xapi.call("Async.VM.create", record)) as string)) as string;
    const created = await xapi.getRecord("VM", vm);
    // xapi's JSON-RPC writes int fields as JSON numbers (XML-RPC: strings); VM.create adds a mac_seed.
    expect(created).toMatchObject({ power_state: "Halted", domid: -1, memory_static_max: 64 * MiB, VCPUs_max: 1 });
    expect((created.other_config as Record<string, string>).mac_seed).toMatch(/^[0-9a-f-]{36}$/);
    await expect(xapi.call("VM.clean_shutdown", vm)).rejects.toMatchObject({ code: "VM_BAD_POWER_STATE", params: [vm, "running", "halted"] });
    try {
      await xapi.watchTask((await xapi.call("Async.VM.start", vm, false, false)) as string);
      const running = await xapi.getRecord("VM", vm);
      expect(running.power_state).toBe("Running");
      expect(await xapi.call("VM.get_domid", vm)).toBeGreaterThan(0);
      await expect(xapi.call("VM.destroy", vm)).rejects.toMatchObject({ code: "VM_BAD_POWER_STATE", params: [vm, "halted, suspended", "running"] });
      await xapi.watchTask((await xapi.call("Async.VM.clean_shutdown", vm)) as string);
      expect(await xapi.getRecord("VM", vm)).toMatchObject({ power_state: "Halted", domid: -1, resident_on: "OpaqueRef:NULL" });
    } finally {
      await xapi.call("VM.hard_shutdown", vm).catch(() => undefined);
      await xapi.call("VM.destroy", vm);
    }
    await expect(xapi.getRecord("VM", vm)).rejects.toMatchObject({ code: "HANDLE_INVALID" });
    expect(host.log()).toMatch(/domain \d+: VM "xen-api lifecycle" \(QEMU pid \d+, SeaBIOS/);
  }, 120_000);

  it("gets XAPI's error code and parameters for a call XAPI refuses", async () => {
    await expect(xapi.call("VM.get_record", "OpaqueRef:nonsense")).rejects.toMatchObject({ code: "HANDLE_INVALID", params: ["VM", "OpaqueRef:nonsense"] });
    await expect(xapi.call("VM.no_such_call")).rejects.toMatchObject({ code: "MESSAGE_METHOD_UNKNOWN" });
  });
});
