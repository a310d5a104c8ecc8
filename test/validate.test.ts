// `fruix validate` end to end: real VMs under QEMU/TCG, real reports, and
// nothing left behind whatever happens.
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStringPromise } from "xml2js";
import { packageRoot } from "../lib/paths.js";
import { cleanupTempDirs, exampleFile, fruix, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

let store: string;
beforeAll(async () => {
  store = join(await tempDir(), "store");
});

/** QEMU processes started from a directory named like ours (so other users' VMs do not count). */
async function ourQemus(): Promise<string[]> {
  const { stdout } = await execa("pgrep", ["-af", `qemu-system-x86_64.*${tmpdir()}/fruix-validate`], { reject: false });
  return stdout.split("\n").filter(Boolean);
}

async function validateWorkDirs(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((d) => d.startsWith("fruix-validate-"));
}

/** Work directories made since `before` (a run may also sweep a killed run's older ones). */
async function newWorkDirs(before: readonly string[]): Promise<string[]> {
  return (await validateWorkDirs()).filter((d) => !before.includes(d));
}

describe("fruix validate image-boot direct-install", () => {
  let reportDir: string;
  let result: Awaited<ReturnType<typeof fruix>>;
  let before: string[];

  beforeAll(async () => {
    before = await validateWorkDirs();
    reportDir = join(await tempDir(), "report");
    // Two machines at once (--jobs 2): no socket, port, overlay, firmware-variable or work-directory collision.
    result = await fruix(["validate", "image-boot", "direct-install", "--jobs", "2", "--report-dir", reportDir], { FRUIX_STORE: store });
  }, 600_000);

  it("passes both scenarios and says so on stdout", () => {
    expect(result.exitCode, result.stderr.slice(-3000)).toBe(0);
    expect(result.stdout).toContain("image-boot=PASS\n");
    expect(result.stdout).toContain("direct-install=PASS\n");
    expect(result.stdout).toMatch(/^result=PASS$/m);
  });

  it("booted both scenarios' machines at once (--jobs 2)", async () => {
    expect(result.stderr).toContain("running up to 2 cells at once (--jobs)");
    const window = async (scenario: string) => {
      const r = JSON.parse(await readFile(join(reportDir, scenario, "result.json"), "utf8"));
      const boots = r.steps.filter((s: { name: string }) => /boot/.test(s.name));
      expect(boots.length).toBeGreaterThan(0);
      return [Date.parse(r.started), Date.parse(r.started) + r.seconds * 1000];
    };
    const [a, b] = [await window("image-boot"), await window("direct-install")];
    expect(a[0]! < b[1]! && b[0]! < a[1]!, `image-boot ${a}, direct-install ${b}`).toBe(true);
  });

  it("shows progress on stderr: steps with elapsed seconds, numbered checks", () => {
    expect(result.stderr).toMatch(/boot to the activation line: done in \d+\.\d\ds/);
    expect(result.stderr).toMatch(/check \d+: host name: PASS/);
  });

  it("names the acceleration it used, and why when it fell back", async () => {
    const report = await readFile(join(reportDir, "image-boot", "report.md"), "utf8");
    expect(report).toMatch(/^- acceleration (kvm \(probed: OVMF ran under KVM\)|tcg: KVM unusable \(.+\); falling back to TCG, which is slower)$/m);
  });

  it("writes the phase report: goal, result summary with closure_path, numbered checks, PASS line", async () => {
    const report = await readFile(join(reportDir, "image-boot", "report.md"), "utf8");
    expect(report).toMatch(/^## Goal$/m);
    expect(report).toMatch(/^closure_path=\/frx\/store\/[0-9a-f]{64}-fruix-system-fruix-minimal$/m);
    expect(report).toMatch(/^run_current_system_target=\/frx\/store\/[0-9a-f]{64}-fruix-system-fruix-minimal$/m);
    expect(report).toMatch(/^1\. PASS the activation line names the built closure$/m);
    expect(report).toMatch(/^13\. PASS httpd serves its index on port 8080$/m);
    expect(report).toMatch(/^`PASS image-boot` in \d+\.\d s$/m);
    const install = await readFile(join(reportDir, "direct-install", "report.md"), "utf8");
    expect(install).toMatch(/^\d+\. PASS install\.scm names the closure$/m);
  });

  it("records the exact QEMU command line each machine ran, in the report and result.json", async () => {
    const report = await readFile(join(reportDir, "image-boot", "report.md"), "utf8");
    const line = /^## Machines\n\nWhat the adapter ran, exactly:\n\nvm \(command line\):\n\n```text\n(.+)\n```$/m.exec(report)?.[1];
    expect(line).toMatch(/^qemu-system-x86_64 -name vm -machine q35 -accel (kvm|tcg) -m 512 /);
    expect(line).toContain(" -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd ");
    expect(line).toMatch(/ -chardev socket,id=serial0,path=\S+\/serial\.sock,server=on,wait=on /);
    expect(line).toMatch(/ -drive file=\S+\/disk0\.qcow2,if=virtio,format=qcow2,id=disk0,cache=unsafe /);
    const result = JSON.parse(await readFile(join(reportDir, "direct-install", "result.json"), "utf8"));
    expect(result.machines).toEqual([{ machine: "installed", kind: "command line", text: expect.stringMatching(/^qemu-system-x86_64 .* -drive file=\S+\.img,if=virtio,format=raw,id=disk0,cache=unsafe /) }]);
  });

  it("keeps each machine's full serial transcript", async () => {
    const transcript = await readFile(join(reportDir, "image-boot", "vm-serial.log"), "latin1");
    expect(transcript).toContain("Linux version");
    expect(transcript).toMatch(/fruix: activated \/frx\/store\/[0-9a-f]{64}-fruix-system-fruix-minimal/);
  });

  it("writes the run record and JUnit with one testcase per scenario and real durations", async () => {
    const json = JSON.parse(await readFile(join(reportDir, "matrix.json"), "utf8"));
    expect(json).toMatchObject({ kind: "fruix-matrix-run", matrixFile: "(command line)", complete: true });
    expect(json.cells.map((c: { project: string; scenario: string; status: string }) => `${c.project}/${c.scenario}=${c.status}`)).toEqual(["qemu/image-boot=passed", "qemu/direct-install=passed"]);
    const result = JSON.parse(await readFile(join(reportDir, "image-boot", "result.json"), "utf8"));
    expect([result.id, result.status]).toEqual(["image-boot", "PASS"]);
    const junit = await parseStringPromise(await readFile(join(reportDir, "junit.xml"), "utf8"));
    const cases = junit.testsuites.testsuite[0].testcase as Array<{ $: { name: string; time: string } }>;
    expect(cases.map((c) => c.$.name)).toEqual(["image-boot", "direct-install"]);
    for (const c of cases) expect(Number(c.$.time)).toBeGreaterThan(5);
    expect(junit.testsuites.$.failures).toBe("0");
  });

  it("leaves no QEMU process and no work directory behind", async () => {
    expect(await ourQemus()).toEqual([]);
    expect(await newWorkDirs(before)).toEqual([]);
  });
});

describe("the live transcript: fruix validate image-boot -v", () => {
  it("grows in the run directory while the VM boots (a hang is visible), and -v shows each console line on stderr", async () => {
    const reportDir = join(await tempDir(), "report");
    const file = join(reportDir, "image-boot", "vm-serial.log");
    const child = fruix(["validate", "image-boot", "-v", "--report-dir", reportDir], { FRUIX_STORE: store });
    let exited = false;
    void child.then(() => (exited = true));
    // Read the file while the scenario runs: the kernel's banner must be there before the scenario ends.
    let seen = "";
    while (!exited && !seen.includes("Linux version")) {
      await new Promise((r) => setTimeout(r, 200));
      seen = await readFile(file, "latin1").catch(() => "");
    }
    const stillRunning = !exited;
    const reportBefore = await stat(join(reportDir, "image-boot", "report.md")).then(() => true, () => false);
    const result = await child;
    expect(result.exitCode, result.stderr.slice(-3000)).toBe(0);
    expect(stillRunning).toBe(true);
    expect(reportBefore).toBe(false);
    expect(seen).toContain("Linux version");
    const final = await readFile(file, "latin1");
    expect(final.startsWith(seen)).toBe(true);
    expect(final.length).toBeGreaterThan(seen.length);
    expect(final).toMatch(/fruix: activated \/frx\/store\/[0-9a-f]{64}-fruix-system-fruix-minimal/);
    expect(result.stderr).toMatch(/^vm # .*Linux version/m);
    expect(result.stderr).toMatch(/^vm # fruix: activated \/frx\/store\/[0-9a-f]{64}-fruix-system-fruix-minimal$/m);
  }, 600_000);
});

describe("a FreeBSD declaration", () => {
  const refusal =
    "fruix: validate cannot run FreeBSD systems yet: no FreeBSD guest has been booted on this project's test host (docs/freebsd.md); build, image and install them with fruix system ...";
  const freebsd = join(packageRoot, "examples", "freebsd.scm");

  // FRUIX_FREEBSD_DIST names an empty directory: a scenario that got as far as
  // building would fail on the missing sets (exit 1, a FAIL report) instead.
  for (const [how, extra] of [
    ["a plain run", []],
    ["a one-project matrix run (--retries)", ["--retries", "0"]],
  ] as const) {
    it(`is refused by ${how} with one line before anything is built or booted, and no report directory`, async () => {
      const dir = await tempDir();
      const reportDir = join(dir, "report");
      const unopened = join(dir, "store");
      const result = await fruix(["validate", "image-boot", "direct-install", "--declaration", freebsd, "--report-dir", reportDir, ...extra], {
        FRUIX_STORE: unopened,
        FRUIX_FREEBSD_DIST: dir,
      });
      expect(result.stderr).toBe(refusal);
      expect(result.exitCode).toBe(2);
      expect(result.stdout).toBe("");
      await expect(stat(reportDir)).rejects.toThrow(/ENOENT/);
      await expect(stat(unopened)).rejects.toThrow(/ENOENT/); // not even a store was made
    });
  }
});

describe("a system that cannot find its root", () => {
  let declaration: string;

  beforeAll(async () => {
    const dir = await tempDir();
    declaration = join(dir, "broken.scm");
    const source = await readFile(exampleFile, "utf8");
    // A root= after Fruix's own wins in the initramfs; this disk does not exist.
    const broken = source.replace(
      '(host-name "fruix-minimal")',
      '(host-name "fruix-minimal")\n    (kernel-arguments (list "root=UUID=00000000-0000-4000-8000-000000000000" "fruix.rootwait=3"))',
    );
    expect(broken).not.toBe(source);
    await writeFile(declaration, broken);
  });

  it("fails fast with a FAIL report quoting the console line, and --keep keeps the machine's disk", async () => {
    const reportDir = join(await tempDir(), "report");
    const started = Date.now();
    const result = await fruix(
      ["validate", "image-boot", "--declaration", declaration, "--accel", "tcg", "--keep", "--report-dir", reportDir],
      { FRUIX_STORE: store },
    );
    const seconds = (Date.now() - started) / 1000;
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain("image-boot=FAIL\n");
    expect(seconds).toBeLessThan(120); // far below the 240 s boot timeout: the badness scan stopped it
    const report = await readFile(join(reportDir, "image-boot", "report.md"), "utf8");
    expect(report).toContain("fruix-initramfs: root device UUID=00000000-0000-4000-8000-000000000000 not found after 3s");
    expect(report).toMatch(/^`FAIL image-boot`/m);
    const junit = await readFile(join(reportDir, "junit.xml"), "utf8");
    expect(junit).toContain('failures="1"');
    expect(junit).toContain("fruix-initramfs: root device UUID=00000000-0000-4000-8000-000000000000 not found after 3s"); // the console's last lines
    const kept = /kept the machines' disks and state of image-boot in (\S+)/.exec(result.stderr)?.[1];
    expect(kept).toBeDefined();
    expect((await stat(join(kept!, "machine-vm", "disk0.qcow2"))).isFile()).toBe(true);
    expect(await ourQemus()).toEqual([]);
    await execa("rm", ["-rf", join(kept!, "..")]);
  }, 300_000);
});

/** The boot's wait at --timeout-scale 0.01: OVMF says nothing for its first seconds, so the 90 s x 0.01 silence limit ends it. */
const QUIET_BOOT = /vm: nothing on the console for 0\.9 s while waiting for \/fruix: activated .* \(a hang\?\); the last line: ""/;

describe("a validation that times out", () => {
  it("fails with the timeout in the report (here the silence limit, scaled once by the console) and leaves no QEMU process or work directory", async () => {
    const before = await validateWorkDirs();
    const reportDir = join(await tempDir(), "report");
    // 240 s and 90 s of silence, x 0.01: the firmware alone is quiet for longer than 0.9 s.
    const result = await fruix(["validate", "image-boot", "--accel", "tcg", "--timeout-scale", "0.01", "--report-dir", reportDir], { FRUIX_STORE: store });
    expect(result.exitCode).toBe(1);
    const report = await readFile(join(reportDir, "image-boot", "report.md"), "utf8");
    expect(report).toMatch(/^Kind: timeout$/m);
    expect(report).toMatch(QUIET_BOOT);
    expect(await ourQemus()).toEqual([]);
    expect(await newWorkDirs(before)).toEqual([]);
  }, 300_000);
});

describe("--debug-on-failure", () => {
  it("keeps the failed scenario's machine running, says how to attach and end it, and goes on when it is ended", async () => {
    const before = await validateWorkDirs();
    const reportDir = join(await tempDir(), "report");
    const heldDir = join(await tempDir(), "held");
    const env = { FRUIX_STORE: store, FRUIX_HELD_DIR: heldDir };
    // The boot's wait gives up after 0.9 s of a quiet console: a failure with a healthy machine behind it.
    const child = execa(process.execPath, [join(packageRoot, "dist/lib/cli/main.js"), "validate", "image-boot", "--accel", "tcg", "--timeout-scale", "0.01", "--debug-on-failure", "--quiet", "--report-dir", reportDir], {
      env,
      reject: false,
    });
    let stderr = "";
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes("waiting until its machines are ended")) resolve();
      });
      void child.then(() => reject(new Error(`fruix ended before keeping its machine: ${stderr}`)));
    });
    const serialPath = /^DEBUG: {3}serial console: socat -,rawer UNIX-CONNECT:(\S+)$/m.exec(stderr)?.[1];
    const qmpPath = /^DEBUG: {3}end it: +echo '\{"execute":"qmp_capabilities"\} \{"execute":"quit"\}' \| socat - UNIX-CONNECT:(\S+) +\(or: kill \d+\)$/m.exec(stderr)?.[1];
    expect(stderr).toMatch(/^DEBUG: vm: kept running for debugging \(--debug-on-failure\): QEMU pid \d+\nDEBUG: {3}attach: +fruix vm attach image-boot-vm {3}\(Ctrl-\] leaves it running\)$/m);
    expect(stderr).toMatch(/^DEBUG: {3}QMP: +socat - UNIX-CONNECT:\S+qmp\.sock/m);
    expect([serialPath, qmpPath]).toEqual([expect.stringMatching(/serial\.sock$/), expect.stringMatching(/qmp\.sock$/)]);
    expect((await ourQemus()).length).toBe(1);

    // A name that is not held: one line naming the held ones.
    const wrong = await execa(process.execPath, [join(packageRoot, "dist/lib/cli/main.js"), "vm", "attach", "image-boot-vn"], { env, reject: false });
    expect([wrong.exitCode, wrong.stderr.trim()]).toEqual([2, "fruix: no held machine 'image-boot-vn'; held now: image-boot-vm"]);

    // Attach as the operator would (no terminal here: the console streams): the guest goes on booting;
    // its shell answers; Ctrl-] leaves and the machine keeps running.
    const attach = execa(process.execPath, [join(packageRoot, "dist/lib/cli/main.js"), "vm", "attach", "image-boot-vm"], { env, reject: false });
    let console = "";
    attach.stdout!.on("data", (c: Buffer) => (console += c.toString("latin1")));
    for (let i = 0; i < 240 && !/fruix: activated/.test(console); i++) await new Promise((r) => setTimeout(r, 1000));
    expect(console).toMatch(/fruix: activated \/frx\/store\//);
    for (let i = 0; i < 30 && !console.includes("DEBUG-42"); i++) {
      attach.stdin!.write("echo DEBUG-$((6*7))\n");
      await new Promise((r) => setTimeout(r, 2000));
    }
    expect(console).toContain("DEBUG-42");
    attach.stdin!.write(Buffer.from([0x1d]));
    const left = await attach;
    expect([left.exitCode, left.stderr]).toEqual([0, expect.stringContaining("fruix: the console of image-boot-vm (image-boot); Ctrl-] leaves it running. To end it: echo")]);
    expect((await ourQemus()).length).toBe(1);
    // End it as the instructions say: QMP quit. The run then finishes, reports the failure, leaves nothing.
    const qmp = connect(qmpPath!);
    qmp.write('{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n');
    qmp.on("error", () => undefined);
    const result = await child;
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain("image-boot=FAIL\n");
    expect(await readFile(join(reportDir, "image-boot", "report.md"), "utf8")).toMatch(QUIET_BOOT);
    expect(await ourQemus()).toEqual([]);
    expect(await newWorkDirs(before)).toEqual([]);
    expect(await readdir(heldDir)).toEqual([]); // the record went with the machine
  }, 400_000);
});

describe("interrupting a validation", () => {
  it("Ctrl-C with two scenarios running at once (--jobs 2) stops both machines and leaves nothing", async () => {
    const before = await validateWorkDirs();
    const reportDir = join(await tempDir(), "r");
    const child = execa(process.execPath, [join(packageRoot, "dist/lib/cli/main.js"), "validate", "image-boot", "direct-install", "--jobs", "2", "--accel", "tcg", "--report-dir", reportDir], {
      env: { FRUIX_STORE: store },
      reject: false,
    });
    let both = false;
    for (let i = 0; i < 240 && !both && child.exitCode === null; i++) {
      both = (await ourQemus()).length === 2;
      if (!both) await new Promise((r) => setTimeout(r, 500));
    }
    expect(both, "two QEMU processes at once").toBe(true);
    child.kill("SIGINT");
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(await ourQemus()).toEqual([]);
    expect(await newWorkDirs(before)).toEqual([]);
    // CI still gets its JUnit and summary: both cells were running when the run stopped.
    const junit = await parseStringPromise(await readFile(join(reportDir, "junit.xml"), "utf8"));
    expect(junit.testsuites.$).toMatchObject({ tests: "2", failures: "0", errors: "2" });
    expect(junit.testsuites.testsuite[0].testcase.map((t: { $: { name: string } }) => t.$.name).sort()).toEqual(["direct-install", "image-boot"]);
    expect(await readFile(join(reportDir, "summary.md"), "utf8")).toMatch(/\*\*Interrupted\*\* \(Ctrl-C or SIGTERM\): the run stopped while it ran (qemu\/image-boot, qemu\/direct-install|qemu\/direct-install, qemu\/image-boot); not started: none\./);
    expect(JSON.parse(await readFile(join(reportDir, "matrix.json"), "utf8")).complete).toBe(false);
  }, 300_000);

  it("Ctrl-C during a boot exits 130 and leaves no QEMU process or work directory", async () => {
    const before = await validateWorkDirs();
    const child = execa(process.execPath, [join(packageRoot, "dist/lib/cli/main.js"), "validate", "image-boot", "--accel", "tcg", "--report-dir", join(await tempDir(), "r")], {
      env: { FRUIX_STORE: store },
      reject: false,
      all: true,
    });
    await new Promise<void>((resolve) => {
      child.all!.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("vm: qemu-system-x86_64")) resolve();
      });
    });
    await new Promise((r) => setTimeout(r, 1500)); // let the machine run
    expect((await ourQemus()).length).toBeGreaterThan(0);
    child.kill("SIGINT");
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(await ourQemus()).toEqual([]);
    expect(await newWorkDirs(before)).toEqual([]);
  }, 300_000);
});

describe("the validate command line", () => {
  it("lists scenarios with phase, title and hypervisors", async () => {
    const result = await fruix(["validate", "--list"]);
    expect(result.stdout).toMatch(/^image-boot\tImage boot\t.+\tqemu,xcp-ng$/m);
    expect(result.stdout).toMatch(/^direct-install\tDirect install\t.+\tqemu,xcp-ng$/m);
  });

  it("rejects an unknown scenario, naming the known ones", async () => {
    const result = await fruix(["validate", "no-such-phase"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim()).toMatch(/^fruix: unknown scenario no-such-phase \(known: .*image-boot.*\)$/);
  });

  it("rejects a bad --accel and an unknown hypervisor", async () => {
    expect((await fruix(["validate", "image-boot", "--accel", "fast"])).stderr.trim()).toBe("fruix: --accel must be one of auto, kvm, tcg, not 'fast'");
    expect((await fruix(["validate", "image-boot", "--hypervisor", "vmware"])).stderr.trim()).toMatch(/^fruix: /);
  });
});
