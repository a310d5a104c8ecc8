// `fruix validate image-boot --hypervisor xcp-ng` against Fruix's XCP-ng test
// host (a TEST DOUBLE whose VMs run under QEMU/TCG: passing here is not passing
// against XCP-ng), then the console across reboots (a new domid each time),
// and nothing left behind.
import { readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readConfig } from "../hypervisors/xcp-ng/config.js";
import { XcpngHypervisor } from "../hypervisors/xcp-ng/index.js";
import { XapiSession } from "../hypervisors/xcp-ng/xapi.js";
import { packageRoot } from "../lib/paths.js";
import { ACTIVATED } from "../lib/validate/guest.js";
import { launchTestHost, type RunningTestHost } from "./doubles/xcp-ng/launch.js";
import { cleanupTempDirs, fruix, tempDir } from "./helpers/fixtures.js";

/** The result summary keys, in order, of `fruix validate installer-disk installer-iso switch-rollback` on QEMU. */
const RUNNING = ["current_generation", "current_link", "generation_closure", "gcroot_current", "gcroot_generation", "run_current_system_target", "host_name", "services_running"];
const QEMU_RESULT_KEYS = {
  "installer-disk": ["closure_path", "installer_disk_image", "install_target_device", "install_seconds", ...RUNNING, "install_metadata_path"],
  "installer-iso": ["closure_path", "iso_image", "install_target_device", "install_seconds", ...RUNNING, "install_metadata_path"],
  "switch-rollback": [
    "closure_path", "candidate_closure_path", "booted_initial", "items_sent", "bytes_sent",
    "switch_staged_generation", "booted_after_switch", "rollback_staged_generation", "booted_after_rollback",
  ],
};

let host: RunningTestHost;
let dir: string;
let store: string;
let hostsBefore: string[];

async function testHostDirs(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((d) => d.startsWith("fruix-xcpng-testhost-"));
}

async function ourQemus(): Promise<string[]> {
  const { stdout } = await execa("pgrep", ["-af", `qemu-system-x86_64.*${tmpdir()}/fruix-xcpng-testhost`], { reject: false });
  return stdout.split("\n").filter(Boolean);
}

async function validateWorkDirs(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((d) => d.startsWith("fruix-validate-"));
}

/** What the test double still holds: VMs (templates aside) and VDIs (its hosts' DVD drives aside), by name. */
async function leftOnHost(): Promise<{ vms: string[]; vdis: string[] }> {
  const config = readConfig(host.env);
  const xapi = await XapiSession.login(config.url, config.user, config.password);
  try {
    const vms = Object.values((await xapi.call("VM.get_all_records")) as Record<string, { is_a_template: boolean; name_label: string }>);
    const srs = (await xapi.call("SR.get_all_records")) as Record<string, { type: string }>;
    const vdis = Object.values((await xapi.call("VDI.get_all_records")) as Record<string, { name_label: string; SR: string }>);
    return {
      vms: vms.filter((vm) => !vm.is_a_template).map((vm) => vm.name_label),
      vdis: vdis.filter((vdi) => srs[vdi.SR]?.type !== "udev").map((vdi) => vdi.name_label),
    };
  } finally {
    await xapi.logout();
  }
}

/** The report's "key=value" result summary, as result.json records it: the keys, in order. */
async function resultKeys(reportDir: string, scenario: string): Promise<string[]> {
  const record = JSON.parse(await readFile(join(reportDir, scenario, "result.json"), "utf8")) as { results: Array<[string, string]> };
  return record.results.map(([key]) => key);
}

beforeAll(async () => {
  hostsBefore = await testHostDirs();
  dir = await tempDir("fruix-xcpng-validate-");
  store = join(dir, "store");
  host = await launchTestHost(join(dir, "testhost.env"));
}, 120_000);

afterAll(async () => {
  if (host && host.process.exitCode === undefined) await host.stop();
  await cleanupTempDirs();
});

describe("fruix validate installer-disk installer-iso switch-rollback --hypervisor xcp-ng (against the test double)", () => {
  let result: Awaited<ReturnType<typeof fruix>>;
  let reportDir: string;
  let workDirsBefore: string[];

  beforeAll(async () => {
    workDirsBefore = await validateWorkDirs();
    reportDir = join(dir, "phases");
    result = await fruix(["validate", "installer-disk", "installer-iso", "switch-rollback", "--hypervisor", "xcp-ng", "--report-dir", reportDir], { ...host.env, FRUIX_STORE: store });
  }, 2_400_000);

  it("passes all three", async () => {
    // On failure: stderr's end, the host's log and the end of each console transcript.
    const consoles: string[] = [];
    for (const id of ["installer-disk", "installer-iso", "switch-rollback"]) {
      for (const machine of ["installer", "installed"]) {
        const text = await readFile(join(reportDir, id, `${machine}-serial.log`), "latin1").catch(() => undefined);
        if (text !== undefined) consoles.push(`--- ${id}/${machine}-serial.log:\n${text.slice(-1500)}`);
      }
    }
    expect(result.exitCode, `${result.stderr.slice(-3000)}\n--- the test host's log:\n${host.log().slice(-3000)}\n${consoles.join("\n")}`).toBe(0);
    for (const id of ["installer-disk", "installer-iso", "switch-rollback"]) expect(result.stdout).toContain(`${id}=PASS\n`);
    expect(result.stdout).toMatch(/^result=PASS$/m);
  });

  it("each report carries the result summary keys the scenario gives on QEMU", async () => {
    expect(await resultKeys(reportDir, "installer-disk")).toEqual(QEMU_RESULT_KEYS["installer-disk"]);
    expect(await resultKeys(reportDir, "installer-iso")).toEqual(QEMU_RESULT_KEYS["installer-iso"]);
    expect(await resultKeys(reportDir, "switch-rollback")).toEqual(QEMU_RESULT_KEYS["switch-rollback"]);
  });

  it("the installers were told the disks as the double's guests see them (virtio: vdb, vda), and installed there", async () => {
    const disk = await readFile(join(reportDir, "installer-disk", "report.md"), "utf8");
    expect(disk).toMatch(/^install_target_device=\/dev\/vdb$/m);
    expect(await readFile(join(reportDir, "installer-disk", "installer-serial.log"), "latin1")).toMatch(/fruix-installer: installed \S+ onto \/dev\/vdb/);
    const iso = await readFile(join(reportDir, "installer-iso", "report.md"), "utf8");
    expect(iso).toMatch(/^install_target_device=\/dev\/vda$/m);
    expect(await readFile(join(reportDir, "installer-iso", "installer-serial.log"), "latin1")).toMatch(/fruix-installer: installed \S+ onto \/dev\/vda/);
    expect(iso).toMatch(/^- guests see their disks as virtio disks/m);
  });

  it("switch-rollback reached the guest's SSH at the address its guest metrics give, and each reboot was a new domain", async () => {
    const report = await readFile(join(reportDir, "switch-rollback", "report.md"), "utf8");
    const address = /the guest's port 22 was reached at (127\.\d+\.\d+\.\d+):22/.exec(report)?.[1];
    expect(address).toBeDefined();
    expect(result.stderr).toContain(`installed: guest port 22 at ${address}:22 (VM_guest_metrics networks)`);
    expect(host.log()).toContain(`guest port 22 reachable at ${address}:22`);
    // Boot, reboot into generation 2, reboot into generation 1: three domains of the one VM.
    // The VM's name, from the report's XAPI record of what ran (other scenarios have an "installed" VM too).
    const name = (JSON.parse(/^installed \(XAPI VM record\):\n\n```text\n([\s\S]+?)\n```$/m.exec(report)?.[1] ?? "{}") as { name_label?: string }).name_label;
    expect(name).toMatch(/^fruix-\w+-installed$/);
    const domains = [...host.log().matchAll(new RegExp(`domain (\\d+): VM "${name}"`, "g"))].map((m) => m[1]);
    expect(new Set(domains).size).toBe(3);
    expect((await readFile(join(reportDir, "switch-rollback", "installed-serial.log"), "latin1")).match(/fruix: activated /g)).toHaveLength(3);
  });

  it("leaves no VM, VDI, QEMU process or work directory behind", async () => {
    expect(await leftOnHost()).toEqual({ vms: [], vdis: [] });
    expect(await ourQemus()).toEqual([]);
    expect((await validateWorkDirs()).filter((d) => !workDirsBefore.includes(d))).toEqual([]);
  });

  it("Ctrl-C while the installer runs exits 130 and leaves no VM, VDI, QEMU process or work directory", async () => {
    const before = await validateWorkDirs();
    const child = execa(process.execPath, [join(packageRoot, "dist/lib/cli/main.js"), "validate", "installer-iso", "--hypervisor", "xcp-ng", "--report-dir", join(dir, "interrupted")], {
      env: { ...host.env, FRUIX_STORE: store },
      reject: false,
    });
    const logBefore = host.log().length;
    const running = () => /domain \d+: VM "fruix-\w+-installer"/.test(host.log().slice(logBefore));
    for (let i = 0; i < 600 && !running() && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 500));
    expect(running(), "the installer VM runs").toBe(true);
    child.kill("SIGINT");
    const interrupted = await child;
    expect(interrupted.exitCode).toBe(130);
    expect(await leftOnHost()).toEqual({ vms: [], vdis: [] });
    expect(await ourQemus()).toEqual([]);
    expect((await validateWorkDirs()).filter((d) => !before.includes(d))).toEqual([]);
  }, 600_000);
});

describe("fruix validate image-boot --hypervisor xcp-ng (against the test double)", () => {
  let result: Awaited<ReturnType<typeof fruix>>;
  let reportDir: string;

  beforeAll(async () => {
    reportDir = join(dir, "report");
    result = await fruix(["validate", "image-boot", "--hypervisor", "xcp-ng", "--report-dir", reportDir], { ...host.env, FRUIX_STORE: store });
  }, 600_000);

  it("passes", () => {
    expect(result.exitCode, result.stderr.slice(-3000)).toBe(0);
    expect(result.stdout).toContain("image-boot=PASS\n");
    expect(result.stdout).toMatch(/^result=PASS$/m);
  });

  it("went through XAPI: HOST_IS_SLAVE followed, the upload redirected to the SR's host", () => {
    expect(result.stderr).toMatch(/is a pool member; logging in to the master at 127\.0\.0\.1:\d+/);
    expect(result.stderr).toMatch(/import_raw_vdi redirected to 127\.0\.0\.2:\d+/);
    expect(host.log()).toMatch(/domain \d+: VM "fruix-\w+-vm" \(QEMU pid \d+, OVMF, (tcg|kvm)\) on 127\.0\.0\.2/);
    expect(host.log()).toMatch(/ssh: xl console -t serial \d+ attached/);
  });

  it("the report says it ran against the XCP-ng TEST DOUBLE, and carries no secret", async () => {
    const report = await readFile(join(reportDir, "image-boot", "report.md"), "utf8");
    expect(report).toMatch(/^- host: XCP-ng TEST DOUBLE .*passing against it is not passing against XCP-ng$/m);
    expect(report).toMatch(/^`PASS image-boot`/m);
    // What ran: the VM's XAPI record as it started.
    const record = JSON.parse(/^vm \(XAPI VM record\):\n\n```text\n([\s\S]+?)\n```$/m.exec(report)?.[1] ?? "null");
    expect(record).toMatchObject({ name_label: expect.stringMatching(/^fruix-\w+-vm$/), HVM_boot_params: { firmware: "uefi" }, platform: { "device-model": "qemu-upstream-uefi" } });
    expect(record.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(record.domid)).toBeGreaterThan(0);
    const password = (await readFile(host.env.FRUIX_XAPI_PASSWORD_FILE!, "utf8")).trim();
    for (const file of ["image-boot/report.md", "image-boot/result.json", "matrix.json", "junit.xml"]) {
      expect(await readFile(join(reportDir, file), "utf8")).not.toContain(password);
    }
    expect(result.stderr).not.toContain(password);
    expect(result.stderr).not.toMatch(/session_id=/);
  });

  it("the console follows the VM across a guest reboot and a hard reboot, each a new domain", async () => {
    const image = /^disk_image=\/frx\/store\/(\S+)$/m.exec(await readFile(join(reportDir, "image-boot", "report.md"), "utf8"))?.[1];
    expect(image).toBeDefined();
    const log: string[] = [];
    const hypervisor = new XcpngHypervisor({ accel: "auto", timeoutScale: 1, log: (l) => log.push(l), env: host.env });
    const vm = await hypervisor.createMachine({ name: "reboots", disks: [{ path: join(store, image!), mode: "overlay" }], workDir: join(dir, "machine") });
    const domains = () => [...host.log().matchAll(/domain (\d+): VM "fruix-\w+-reboots"/g)].map((m) => m[1]);
    try {
      await vm.start();
      await vm.console.waitFor(ACTIVATED, { timeoutMs: 240_000 });
      // The guest reboots itself: Xen (and the double) build a new domain; the console follows.
      // `reboot -f` is typed once, when the shell answers: typed again and again until a second
      // domain showed up, it could land in that domain's console and reboot it too.
      let shell = false;
      for (let i = 0; i < 12 && !shell; i++) shell = await vm.shell.run("true", { timeoutMs: 5_000 }).then(() => true, () => false);
      expect(shell, "the validation shell answers after activation").toBe(true);
      vm.console.send("reboot -f\n");
      await vm.console.waitFor(ACTIVATED, { timeoutMs: 240_000 });
      await vm.reboot();
      await vm.console.waitFor(ACTIVATED, { timeoutMs: 240_000 });
      const seen = domains();
      expect(seen.length).toBe(3);
      expect(new Set(seen).size).toBe(3);
      expect(vm.console.transcript().match(/fruix: activated /g)?.length).toBe(3);
    } finally {
      await vm.destroy();
    }
    expect(await ourQemus()).toEqual([]);
  }, 900_000);

  it("a missing setting is one clear line and exit 2", async () => {
    const { FRUIX_XAPI_URL: _, ...rest } = host.env;
    const bad = await fruix(["validate", "image-boot", "--hypervisor", "xcp-ng", "--report-dir", join(dir, "bad")], { ...rest, FRUIX_STORE: store });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.trim().split("\n").at(-1)).toBe("fruix: the xcp-ng adapter needs FRUIX_XAPI_URL (see docs/xcp-ng.md)");
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  it("stopping the test host leaves no QEMU process and no temporary directory", async () => {
    expect(await host.stop()).toBe(0);
    expect(await ourQemus()).toEqual([]);
    expect(await testHostDirs()).toEqual(hostsBefore);
  });
});
