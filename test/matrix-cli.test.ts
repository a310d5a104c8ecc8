// `fruix validate --matrix` through the command line: its errors, --list with
// shards, and one real run (image-boot under QEMU/TCG, with --retries) whose
// run directory `fruix report sign-off` then turns into a document.
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStringPromise } from "xml2js";
import { packageRoot } from "../lib/paths.js";
import { cleanupTempDirs, fruix, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

const nightly = join(packageRoot, "matrix", "nightly.json");

async function matrixFile(content: unknown): Promise<string> {
  const file = join(await tempDir(), "matrix.json");
  await writeFile(file, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  return file;
}

describe("fruix validate --matrix: bad input", () => {
  it("names every problem of the file on its own line, exits 2 and runs nothing", async () => {
    const file = await matrixFile('{\n  "retries": "two",\n  "projects": [\n    {"name": "q", "hypervisor": "vmware"}\n  ]\n}\n');
    const reportDir = join(await tempDir(), "r");
    const result = await fruix(["validate", "--matrix", file, "--report-dir", reportDir]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([
      `fruix: ${file}:2:14: 'retries' must be a whole number from 0 to 10`,
      `fruix: ${file}:4:33: unknown hypervisor 'vmware' (known: qemu, xcp-ng)`,
      `fruix: ${file}: 2 problems in the matrix file; nothing was run`,
    ]);
    expect(result.stdout).toBe("");
    expect(existsSync(reportDir)).toBe(false);
  });

  it("rejects a missing file, a bad shard, bad retries, an unknown project and options the file owns", async () => {
    const cases: Array<[string[], string]> = [
      [["--matrix", "/nonexistent/m.json"], "fruix: cannot read the matrix file /nonexistent/m.json: ENOENT"],
      [["--matrix", nightly, "--shard", "3/2"], "fruix: --shard must be i/n with 1 <= i <= n (e.g. --shard 2/3), not '3/2'"],
      [["--matrix", nightly, "--retries", "many"], "fruix: --retries needs a non-negative integer, at most 10, not 'many'"],
      [["--matrix", nightly, "--project", "vmware"], `fruix: unknown project vmware in ${nightly} (projects: qemu, xcp-ng)`],
      [["--matrix", nightly, "--accel", "tcg"], `fruix: --accel cannot be combined with --matrix: set it per project in ${nightly}`],
      [["--matrix", nightly, "image-boot"], `fruix: name scenarios in ${nightly}, not on the command line, with --matrix`],
      [["image-boot", "--project", "qemu"], "fruix: --project picks projects of a --matrix file"],
    ];
    for (const [args, line] of cases) {
      const result = await fruix(["validate", ...args, "--list"]);
      expect([result.exitCode, result.stderr.trim()]).toEqual([2, line]);
    }
  });
});

describe("fruix validate --matrix --list", () => {
  it("shards the nightly matrix into disjoint parts that make up the whole, the same on every call", async () => {
    const env = { FRUIX_XAPI_URL: "", FRUIX_XAPI_USER: "", FRUIX_XAPI_PASSWORD: "" };
    const list = async (...extra: string[]) => (await fruix(["validate", "--matrix", nightly, "--list", ...extra], env)).stdout.split("\n").filter(Boolean);
    const whole = await list();
    expect(whole).toContain("qemu/image-boot\trun");
    expect(whole).toContain("xcp-ng/image-boot\tskip: not set in the environment: FRUIX_XAPI_URL, FRUIX_XAPI_USER, FRUIX_XAPI_PASSWORD");
    // The xcp-ng project lists every phase but trial-fallback (QEMU's watchdog).
    expect(whole.filter((line) => line.startsWith("xcp-ng/")).map((line) => line.split("\t")[0]).sort()).toEqual(
      ["direct-install", "generation-layout", "image-boot", "installer-disk", "installer-iso", "switch-rollback"].map((id) => `xcp-ng/${id}`),
    );
    expect(whole.filter((line) => line.startsWith("qemu/"))).toContain("qemu/trial-fallback\trun");
    const shards = [await list("--shard", "1/3"), await list("--shard", "2/3"), await list("--shard", "3/3")];
    expect(shards.flat().sort()).toEqual([...whole].sort());
    expect(new Set(shards.flat()).size).toBe(whole.length);
    expect(await list("--shard", "2/3")).toEqual(shards[1]);
  });
});

/** QEMU processes started from a directory named like ours (so other users' VMs do not count). */
async function ourQemus(): Promise<string[]> {
  const { stdout } = await execa("pgrep", ["-af", `qemu-system-x86_64.*${tmpdir()}/fruix-validate`], { reject: false });
  return stdout.split("\n").filter(Boolean);
}

describe("a real matrix run: image-boot on QEMU with --retries, and a project whose environment is missing", () => {
  let reportDir: string;
  let result: Awaited<ReturnType<typeof fruix>>;
  let workDirsBefore: string[];

  beforeAll(async () => {
    const file = await matrixFile({
      scenarios: ["image-boot"],
      projects: [
        { name: "qemu-tcg", hypervisor: "qemu", accel: "tcg" },
        { name: "xcp-ng", hypervisor: "xcp-ng", requiresEnv: ["FRUIX_TEST_NEVER_SET"] },
      ],
    });
    workDirsBefore = (await readdir(tmpdir())).filter((d) => d.startsWith("fruix-validate-"));
    reportDir = join(await tempDir(), "run");
    const store = join(await tempDir(), "store");
    result = await fruix(["validate", "--matrix", file, "--retries", "1", "--report-dir", reportDir], { FRUIX_STORE: store });
  }, 900_000);

  it("passes the QEMU cell, skips the other with its reason, and exits 0", () => {
    expect(result.exitCode, result.stderr.slice(-3000)).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines).toContain("qemu-tcg/image-boot=PASS");
    expect(lines).toContain("xcp-ng/image-boot=SKIPPED");
    expect(lines).toEqual(expect.arrayContaining(["passed=1", "flaky=0", "failed=0", "skipped=1", "result=PASS"]));
    expect(result.stderr).toContain("SKIPPED xcp-ng/image-boot: not set in the environment: FRUIX_TEST_NEVER_SET");
  });

  it("writes the matrix layout: matrix.json, summary, JUnit, and the attempt's report and transcript", async () => {
    const matrix = JSON.parse(await readFile(join(reportDir, "matrix.json"), "utf8"));
    expect(matrix).toMatchObject({ kind: "fruix-matrix-run", retries: 1, complete: true });
    const [boot, skipped] = matrix.cells;
    expect(boot).toMatchObject({ project: "qemu-tcg", scenario: "image-boot", status: "passed", hypervisorNotes: ["acceleration tcg (as requested)"] });
    expect(boot.closurePath).toMatch(/^\/frx\/store\/[0-9a-f]{64}-fruix-system-fruix-minimal$/);
    expect(boot.attempts).toHaveLength(1); // it passed: no retry
    expect(skipped).toMatchObject({ project: "xcp-ng", status: "skipped", attempts: [] });
    const report = await readFile(join(reportDir, "qemu-tcg/image-boot/attempt-1/report.md"), "utf8");
    expect(report).toMatch(/^- attempt 1 of at most 2$/m);
    expect(report).toMatch(/^`PASS image-boot`/m);
    const transcript = await readFile(join(reportDir, "qemu-tcg/image-boot/attempt-1/vm-serial.log"), "latin1");
    expect(transcript).toMatch(/fruix: activated \/frx\/store\/[0-9a-f]{64}-fruix-system-fruix-minimal/);
    const junit = await parseStringPromise(await readFile(join(reportDir, "junit.xml"), "utf8"));
    expect(junit.testsuites.testsuite.map((s: { $: { name: string; skipped: string } }) => [s.$.name, s.$.skipped])).toEqual([
      ["fruix validate qemu-tcg", "0"],
      ["fruix validate xcp-ng", "1"],
    ]);
  });

  it("leaves no QEMU process and no work directory behind", async () => {
    expect(await ourQemus()).toEqual([]);
    // Nothing new (the run may also have swept a killed run's older ones).
    expect((await readdir(tmpdir())).filter((d) => d.startsWith("fruix-validate-") && !workDirsBefore.includes(d))).toEqual([]);
  });

  it("signs off: a document whose every link opens a file of the run, INCOMPLETE because of the skipped cell", async () => {
    const out = join(await tempDir(), "sign-off", "sign-off.md");
    const signOff = await fruix(["report", "sign-off", reportDir, "--output", out]);
    expect(signOff.exitCode, signOff.stderr).toBe(0);
    expect(signOff.stdout).toContain("verdict=INCOMPLETE");
    const markdown = await readFile(out, "utf8");
    // The grid cell links to the cell's newest report.
    expect(markdown).toMatch(/^\| image-boot \| \[PASS\]\([^)]+report\.md\) \| SKIPPED \|$/m);
    const links = [...markdown.matchAll(/\]\(([^)]+)\)/g)].map((m) => decodeURIComponent(m[1]!));
    expect(links.some((link) => link.endsWith("report.md"))).toBe(true);
    expect(links.some((link) => link.endsWith("-serial.log"))).toBe(true); // the transcript
    for (const link of links) expect(existsSync(resolve(dirname(out), link)), link).toBe(true);
  });
});
