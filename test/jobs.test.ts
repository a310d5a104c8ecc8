// `fruix validate --jobs N`: the default from cores and memory, the pool, and
// a run of N cells at once that writes the same reports as a serial run. The
// scenarios here start no machine (test/validate.test.ts boots two at once);
// they run through the real engine and reporters.
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hypervisorFactory } from "../hypervisors/index.js";
import { createLogger } from "../lib/log.js";
import type { Store } from "../lib/store/index.js";
import { manPage } from "../lib/cli/man.js";
import { defaultJobs, inPool, longestFirst, Mutex, parseJobs } from "../lib/validate/jobs.js";
import type { Cell, Project } from "../lib/validate/matrix.js";
import { jsonReporter } from "../lib/validate/reporters/json.js";
import { junitReporter } from "../lib/validate/reporters/junit.js";
import { markdownReporter } from "../lib/validate/reporters/markdown.js";
import { runValidation } from "../lib/validate/run.js";
import { defineScenario, type Scenario } from "../lib/validate/scenario.js";
import { cleanupTempDirs, exampleFile, freshStore, fruix, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

const GiB = 1024 ** 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the default number of jobs", () => {
  it("is one per core, at most one per 1.5 GiB of memory, at least one", () => {
    expect(defaultJobs(2, 23 * GiB)).toBe(2);
    expect(defaultJobs(16, 4 * GiB)).toBe(2);
    expect(defaultJobs(8, 1 * GiB)).toBe(1);
    expect(defaultJobs(1, 64 * GiB)).toBe(1);
  });

  it("is stated in --help, with the machine's own figure", async () => {
    const help = await fruix(["validate", "--help"]);
    const text = help.stdout.replace(/\s+/g, " ");
    expect(text).toContain(`--jobs N run up to N scenarios (or matrix cells) at once, each with its own machines; builds stay one at a time (default: one per core, at most one per 1.5 GiB of memory; ${defaultJobs()} on this machine)`);
  });

  it("is stated in the man page without a figure: the page is built once and read on other machines", () => {
    const page = manPage("1.2.3").replace(/\s+/g, " ");
    expect(page).toContain("one per core, at most one per 1.5 GiB of memory)");
    expect(page).not.toMatch(/on this machine/);
  });

  it("refuses anything but a whole number from 1 to 64, in one line, exit 2", async () => {
    expect(parseJobs("3")).toBe(3);
    for (const bad of ["0", "-1", "two", "1.5", "65"]) expect(() => parseJobs(bad)).toThrow(`--jobs needs a whole number from 1 to 64, not '${bad}'`);
    const result = await fruix(["validate", "image-boot", "--jobs", "0"]);
    expect([result.exitCode, result.stderr.trim()]).toEqual([2, "fruix: --jobs needs a whole number from 1 to 64, not '0'"]);
  });
});

describe("the pool", () => {
  it("runs at most N at once, starts them in order and returns the results in order", async () => {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const results = await inPool([50, 10, 30, 5, 20, 1], 3, async (ms, k) => {
      started.push(k);
      most = Math.max(most, ++running);
      await sleep(ms);
      running -= 1;
      return ms * 2;
    });
    expect(results).toEqual([100, 20, 60, 10, 40, 2]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(most).toBe(3);
  });

  it("stops starting work after an error and throws it once the running work settled", async () => {
    const done: number[] = [];
    await expect(
      inPool([1, 2, 3, 4, 5], 2, async (n) => {
        await sleep(n * 10);
        if (n === 2) throw new Error("two failed");
        done.push(n);
      }),
    ).rejects.toThrow("two failed");
    expect(done).toEqual([1, 3]);
  });

  it("starts in a given order (never-timed first, then the longest first) and still returns results in list order", async () => {
    expect(longestFirst([5, undefined, 30, 5, 0])).toEqual([1, 2, 0, 3, 4]);
    expect(longestFirst([])).toEqual([]);
    const started: number[] = [];
    const results = await inPool(["a", "b", "c", "d"], 1, async (x, k) => (started.push(k), x.toUpperCase()), [2, 0, 3, 1]);
    expect([started, results]).toEqual([[2, 0, 3, 1], ["A", "B", "C", "D"]]);
  });

  it("a mutex runs one at a time, in order, and survives a failure", async () => {
    const mutex = new Mutex();
    const log: string[] = [];
    const job = (name: string, ms: number, fail = false) =>
      mutex.run(async () => {
        log.push(`${name}+`);
        await sleep(ms);
        log.push(`${name}-`);
        if (fail) throw new Error(name);
      });
    const all = await Promise.allSettled([job("a", 30), job("b", 5, true), job("c", 1)]);
    expect(all.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(log).toEqual(["a+", "a-", "b+", "b-", "c+", "c-"]);
  });
});

/** Report text without what differs between any two runs: times, dates, durations, the run's own directory. */
function steady(text: string): string {
  return text
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "TIME")
    .replace(/Date: \d{4}-\d\d-\d\d/g, "Date: DAY")
    .replace(/\d+\.\d+( s|s|")/g, "N$1")
    .replace(/"(seconds|time)": [\d.]+/g, '"$1": N')
    .replace(/time="[\d.]+"/g, 'time="N"')
    .replace(/\| [\d.]+ \|/g, "| N |");
}

async function filesOf(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(path.slice(dir.length + 1), steady(await readFile(path, "utf8")));
  }
  return files;
}

describe("a run with --jobs 3 against the same run with --jobs 1", () => {
  let store: Store;
  const windows = new Map<number, Array<[number, number]>>();
  const dirs = new Map<number, string>();
  const progress = new Map<number, string[]>();
  const startOrder = new Map<number, string[]>();

  beforeAll(async () => {
    store = await freshStore();
    const project: Project = { name: "qemu-tcg", hypervisor: "qemu", accel: "tcg", timeoutScale: 1, requiresEnv: [], scenarios: [] };
    for (const jobs of [1, 3]) {
      const seen: Array<[number, number]> = [];
      windows.set(jobs, seen);
      startOrder.set(jobs, []);
      const lines: string[] = [];
      progress.set(jobs, lines);
      // Different lengths, so a parallel run finishes them out of order.
      const scenario = (id: string, ms: number, pass: boolean): Scenario =>
        defineScenario({
          id,
          phase: "Test",
          title: `test scenario ${id}`,
          goal: "exercises --jobs",
          hypervisors: ["qemu"],
          run: async (ctx) => {
            const start = Date.now();
            startOrder.get(jobs)!.push(id);
            await ctx.step("wait", () => sleep(ms));
            seen.push([start, Date.now()]);
            ctx.result("waited_ms", ms);
            ctx.check("the scenario passes", pass, true);
          },
        });
      const cells: Array<Cell<Scenario>> = [
        { project, scenario: scenario("slow", 600, true) },
        { project, scenario: scenario("failing", 50, false) },
        { project, scenario: scenario("quick", 10, true) },
        { project, scenario: scenario("medium", 300, true) },
        { project: { ...project, name: "elsewhere" }, scenario: scenario("skipped", 1, true), skip: "not set in the environment: FRUIX_NOWHERE" },
      ];
      const reportDir = join(await tempDir(), "run");
      dirs.set(jobs, reportDir);
      await runValidation(
        cells,
        {
          store,
          log: createLogger({ write: (line) => lines.push(line) }),
          adapter: (p) => hypervisorFactory(p.hypervisor, { accel: p.accel, timeoutScale: p.timeoutScale, log: () => undefined }),
          declaration: exampleFile,
          keep: false,
          retries: 1,
          layout: "matrix",
          reportDir,
          runId: "jobs-test",
          matrixFile: "test.json",
          onlyProjects: [],
          jobs,
          // What the last run took: with --jobs 3, the longest starts first; the reports keep list order.
          lastSeconds: new Map([["qemu-tcg/slow", 1], ["qemu-tcg/failing", 2], ["qemu-tcg/quick", 3], ["qemu-tcg/medium", 99]]),
        },
        [markdownReporter, jsonReporter, junitReporter()],
      );
    }
  });

  afterAll(async () => {
    await store.close();
  });

  it("ran cells at once with --jobs 3, and one after another with --jobs 1", () => {
    const overlaps = (w: Array<[number, number]>) => w.some(([s1, e1], i) => w.some(([s2], j) => i !== j && s2 >= s1 && s2 < e1));
    expect(overlaps(windows.get(1)!)).toBe(false);
    expect(overlaps(windows.get(3)!)).toBe(true);
  });

  it("starts the cells the last run found longest first with --jobs 3, and in list order with --jobs 1", () => {
    // The three longest start together (in no fixed order among themselves); "slow", the shortest last time, waits.
    expect(startOrder.get(3)!.slice(0, 3).sort()).toEqual(["failing", "medium", "quick"]);
    expect(startOrder.get(1)!.slice(0, 4)).toEqual(["slow", "failing", "failing", "quick"]);
  });

  it("labels every progress line with its cell when cells run side by side, and no line when they run one at a time", () => {
    const parallel = progress.get(3)!;
    expect(parallel.length).toBeGreaterThan(10);
    for (const line of parallel) expect(line).toMatch(/^\[qemu-tcg\/(slow|failing|quick|medium)\] /);
    expect(parallel).toContain("[qemu-tcg/failing]   FAIL failing: check 1 failed: the scenario passes: expected true, seen false");
    for (const line of progress.get(1)!) expect(line).not.toMatch(/^\[/);
  });

  it("writes the same files with the same content (times aside): matrix.json, JUnit, the summary, every attempt's report", async () => {
    const serial = await filesOf(dirs.get(1)!);
    const parallel = await filesOf(dirs.get(3)!);
    expect([...parallel.keys()].sort()).toEqual([...serial.keys()].sort());
    expect([...serial.keys()]).toEqual(expect.arrayContaining(["matrix.json", "junit.xml", "summary.md", "qemu-tcg/failing/attempt-2/report.md"]));
    for (const [file, text] of serial) expect(parallel.get(file), file).toBe(text);
    const cells = JSON.parse(await readFile(join(dirs.get(3)!, "matrix.json"), "utf8")).cells.map((c: { scenario: string }) => c.scenario);
    expect(cells).toEqual(["slow", "failing", "quick", "medium", "skipped"]);
  });
});
