// The matrix runner through the real engine: retries, flaky/failed/skipped
// classes, the run directory and its reporters. The scenarios here are
// test-only modules passed in as objects; they start no machine, but they run
// through the same engine (real adapter, real report files) as every scenario.
import { existsSync } from "node:fs";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStringPromise } from "xml2js";
import { hypervisorFactory } from "../hypervisors/index.js";
import { silentLogger } from "../lib/log.js";
import type { Store } from "../lib/store/index.js";
import { type Cell, type Project } from "../lib/validate/matrix.js";
import type { RunEvent, RunRecord } from "../lib/validate/report.js";
import { readRunDir } from "../lib/validate/run-dir.js";
import { jsonReporter } from "../lib/validate/reporters/json.js";
import { junitReporter } from "../lib/validate/reporters/junit.js";
import { markdownReporter } from "../lib/validate/reporters/markdown.js";
import { runValidation } from "../lib/validate/run.js";
import { declarationName } from "../lib/validate/engine.js";
import { fruixCommit } from "../lib/version.js";
import { defineScenario, type Scenario } from "../lib/validate/scenario.js";
import { cleanupTempDirs, exampleFile, freshStore, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

function testScenario(id: string, run: Scenario["run"]): Scenario {
  return defineScenario({ id, phase: "Test", title: `test scenario ${id}`, goal: "exercises the matrix runner", hypervisors: ["qemu"], run });
}

const project: Project = { name: "qemu-tcg", hypervisor: "qemu", accel: "tcg", timeoutScale: 1, requiresEnv: [], scenarios: [] };

describe("runValidation of a matrix with retries", () => {
  let reportDir: string;
  let run: RunRecord;
  let store: Store;
  let attemptsSeen: Record<string, number>;
  let workDirsBefore: string[];

  beforeAll(async () => {
    store = await freshStore();
    reportDir = join(await tempDir(), "run");
    const markers = await tempDir();
    attemptsSeen = { steady: 0, flaky: 0, broken: 0 };
    // Fails until an earlier attempt has left its marker: state that a retry sees differently.
    const flaky = testScenario("flaky", async (ctx) => {
      attemptsSeen.flaky! += 1;
      const marker = join(markers, "flaky-ran-before");
      const ranBefore = existsSync(marker);
      await writeFile(marker, "1");
      ctx.result("closure_path", "/frx/store/0000000000000000000000000000000000000000000000000000000000000000-fruix-system-test");
      ctx.check("an earlier attempt left its marker", ranBefore, true);
    });
    const steady = testScenario("steady", async (ctx) => {
      attemptsSeen.steady! += 1;
      ctx.check("one is one", 1, 1);
    });
    const broken = testScenario("broken", async (ctx) => {
      attemptsSeen.broken! += 1;
      await ctx.step("a step that fails", async () => ctx.check("two is three", 2, 3));
    });
    const cells: Array<Cell<Scenario>> = [
      { project, scenario: steady },
      { project, scenario: flaky },
      { project, scenario: broken },
      { project: { ...project, name: "elsewhere" }, scenario: steady, skip: "not set in the environment: FRUIX_NOWHERE" },
    ];
    workDirsBefore = (await readdir(tmpdir())).filter((d) => d.startsWith(`fruix-validate-${process.pid}-`));
    run = await runValidation(cells, {
      store,
      log: silentLogger,
      adapter: (p) => hypervisorFactory(p.hypervisor, { accel: p.accel, timeoutScale: p.timeoutScale, log: () => undefined }),
      declaration: exampleFile,
      keep: false,
      retries: 2,
      layout: "matrix",
      reportDir,
      runId: "matrix-test",
      matrixFile: "test.json",
      onlyProjects: [],
    }, [markdownReporter, jsonReporter, junitReporter()]);
  });

  afterAll(async () => {
    await store.close();
  });

  it("classes cells: passed first time, flaky, failed after every retry, skipped never run", () => {
    expect(run.cells.map((c) => `${c.project}/${c.scenario}=${c.status}:${c.attempts.map((a) => a.status).join(",")}`)).toEqual([
      "qemu-tcg/steady=passed:PASS",
      "qemu-tcg/flaky=flaky:FAIL,PASS",
      "qemu-tcg/broken=failed:FAIL,FAIL,FAIL",
      "elsewhere/steady=skipped:",
    ]);
    // The scenarios really ran that many times: a pass stops the retries, a skip never runs.
    expect(attemptsSeen).toEqual({ steady: 1, flaky: 2, broken: 3 });
    expect(run.cells[3]!.skipReason).toBe("not set in the environment: FRUIX_NOWHERE");
    expect(run.complete).toBe(true);
  });

  it("keeps every attempt's report, the failed ones included", async () => {
    const flaky = run.cells[1]!;
    expect(flaky.attempts.map((a) => a.folder)).toEqual(["qemu-tcg/flaky/attempt-1", "qemu-tcg/flaky/attempt-2"]);
    const first = await readFile(join(reportDir, flaky.attempts[0]!.report), "utf8");
    expect(first).toMatch(/^- attempt 1 of at most 3$/m);
    expect(first).toMatch(/^1\. FAIL an earlier attempt left its marker \(expected true, seen false\)$/m);
    expect(first).toMatch(/^`FAIL flaky`/m);
    const second = await readFile(join(reportDir, flaky.attempts[1]!.report), "utf8");
    expect(second).toMatch(/^`PASS flaky`/m);
    const result = JSON.parse(await readFile(join(reportDir, "qemu-tcg/flaky/attempt-1/result.json"), "utf8"));
    expect(result.status).toBe("FAIL");
    expect(result.attempt).toEqual({ number: 1, max: 3 });
    expect(flaky.attempts[0]!.failure).toBe("check 1 failed: an earlier attempt left its marker: expected true, seen false");
    expect(flaky.closurePath).toMatch(/-fruix-system-test$/);
    expect(flaky.hypervisorNotes).toEqual(["acceleration tcg (as requested)"]);
    expect((await readdir(join(reportDir, "qemu-tcg/broken"))).sort()).toEqual(["attempt-1", "attempt-2", "attempt-3"]);
    expect(existsSync(join(reportDir, "elsewhere"))).toBe(false);
  });

  it("writes matrix.json, which says the same as the returned run", async () => {
    const json = JSON.parse(await readFile(join(reportDir, "matrix.json"), "utf8"));
    expect(json).toEqual(JSON.parse(JSON.stringify(run)));
    expect(json.kind).toBe("fruix-matrix-run");
    // The sign-off's header names the commit Fruix ran from (this is a git checkout).
    expect(json.fruixCommit).toBe(fruixCommit());
    expect(json.fruixCommit).toMatch(/^[0-9a-f]{40}$/);
  });

  it("shows flaky distinctly in the Markdown summary", async () => {
    const summary = await readFile(join(reportDir, "summary.md"), "utf8");
    expect(summary).toContain("1 passed, 1 flaky, 1 failed, 1 skipped.");
    expect(summary).toMatch(/^\| qemu-tcg \| flaky \| FLAKY \| \[1: FAIL\]\(qemu-tcg\/flaky\/attempt-1\/report\.md\), \[2: PASS\]\(qemu-tcg\/flaky\/attempt-2\/report\.md\) \|/m);
    expect(summary).toMatch(/^\| elsewhere \| steady \| SKIPPED \(not set in the environment: FRUIX_NOWHERE\) \| none \|/m);
    expect(summary).toMatch(/^## Flaky cells$/m);
    expect(summary).toContain("- qemu-tcg/flaky, attempt 1: check 1 failed: an earlier attempt left its marker");
  });

  it("shows flaky distinctly in JUnit: flakyFailure, rerunFailure, skipped", async () => {
    const xml = await parseStringPromise(await readFile(join(reportDir, "junit.xml"), "utf8"));
    const suites = xml.testsuites.testsuite as Array<{ $: Record<string, string>; testcase: Array<Record<string, unknown> & { $: { name: string } }> }>;
    expect(suites.map((s) => s.$.name)).toEqual(["fruix validate qemu-tcg", "fruix validate elsewhere"]);
    expect(suites[0]!.$).toMatchObject({ tests: "3", failures: "1", skipped: "0", flaky: "1" });
    const [steady, flaky, broken] = suites[0]!.testcase;
    expect(Object.keys(steady!)).toEqual(["$"]);
    expect(Object.keys(flaky!).sort()).toEqual(["$", "flakyFailure"]);
    expect((flaky!.flakyFailure as unknown[]).length).toBe(1);
    expect((broken!.failure as unknown[]).length).toBe(1);
    expect((broken!.rerunFailure as unknown[]).length).toBe(2);
    expect(Object.keys(suites[1]!.testcase[0]!).sort()).toEqual(["$", "skipped"]);
    expect(xml.testsuites.$.failures).toBe("1");
  });

  it("after Ctrl-C or SIGTERM: JUnit has a running cell as <error>, an unstarted one <skipped>; the summary names both", async () => {
    const interrupted = { running: [{ project: "qemu-tcg", scenario: "late" }], notStarted: [{ project: "elsewhere", scenario: "later" }] };
    const stopped = { ...run, complete: false, cells: run.cells.slice(0, 1) };
    const files = junitReporter().onEvent({ type: "end", run: stopped, interrupted }) as Record<string, string>;
    const xml = await parseStringPromise(files["junit.xml"]!);
    expect(xml.testsuites.$).toMatchObject({ tests: "3", failures: "0", errors: "1" });
    const suites = xml.testsuites.testsuite as Array<{ $: Record<string, string>; testcase: Array<Record<string, Array<{ $: { message: string } }>> & { $: { name: string } }> }>;
    expect(suites.map((s) => [s.$.name, s.$.tests, s.$.errors, s.$.skipped])).toEqual([
      ["fruix validate qemu-tcg", "2", "1", "0"],
      ["fruix validate elsewhere", "1", "0", "1"],
    ]);
    expect(suites[0]!.testcase.map((t) => t.$.name)).toEqual(["steady", "late"]);
    expect(suites[0]!.testcase[1]!.error![0]!.$.message).toBe("the run was interrupted while this cell ran");
    expect(suites[1]!.testcase[0]!.skipped![0]!.$.message).toBe("the run was interrupted before this cell started");
    const summary = (markdownReporter.onEvent({ type: "end", run: stopped, interrupted }) as Record<string, string>)["summary.md"]!;
    expect(summary).toContain("**Interrupted** (Ctrl-C or SIGTERM): the run stopped while it ran qemu-tcg/late; not started: elsewhere/later.");
    const complete = (markdownReporter.onEvent({ type: "end", run }) as Record<string, string>)["summary.md"]!;
    expect(complete).not.toContain("Interrupted");
  });

  it("leaves no work directory behind", async () => {
    // Nothing new (the run may also have swept a killed run's older ones).
    expect((await readdir(tmpdir())).filter((d) => d.startsWith(`fruix-validate-${process.pid}-`) && !workDirsBefore.includes(d))).toEqual([]);
  });
});

describe("one run model: a plain run, and the event stream", () => {
  let reportDir: string;
  let store: Store;
  let run: RunRecord;
  const events: string[] = [];
  let recordDuringSecond: { complete: boolean; cells: string[] } | undefined;

  beforeAll(async () => {
    store = await freshStore();
    reportDir = join(await tempDir(), "run");
    const first = testScenario("first", async (ctx) => {
      await ctx.step("a step", async () => ctx.check("one is one", 1, 1));
      await ctx.step("another step", async () => ctx.result("key", "value"));
    });
    // Reads the run record while it runs: the first cell is there already, the run is not complete.
    const second = testScenario("second", async (ctx) => {
      const record = JSON.parse(await readFile(join(reportDir, "matrix.json"), "utf8"));
      recordDuringSecond = { complete: record.complete, cells: record.cells.map((c: { scenario: string; status: string }) => `${c.scenario}=${c.status}`) };
      ctx.check("two is two", 2, 2);
    });
    const recorder = {
      name: "recorder",
      onEvent(event: RunEvent) {
        if (event.type === "step-end") events.push(`step-end ${event.cell.scenario}: ${event.step.name}`);
        else if (event.type === "attempt-end") events.push(`attempt-end ${event.cell.scenario} ${event.report.status} ${event.record.folder}`);
        else if (event.type === "cell-end") events.push(`cell-end ${event.cell.scenario} ${event.cell.status}`);
        else events.push(`${event.type} complete=${event.run.complete} cells=${event.run.cells.length}`);
      },
    };
    run = await runValidation(
      [{ project, scenario: first }, { project, scenario: second }],
      {
        store,
        log: silentLogger,
        adapter: (p) => hypervisorFactory(p.hypervisor, { accel: p.accel, timeoutScale: p.timeoutScale, log: () => undefined }),
        declaration: exampleFile,
        keep: false,
        retries: 0,
        layout: "plain",
        reportDir,
        runId: "plain-test",
        matrixFile: "(command line)",
        onlyProjects: [],
      },
      [recorder, markdownReporter, jsonReporter, junitReporter()],
    );
  });

  afterAll(async () => {
    await store.close();
  });

  it("tells reporters begin, each step as it ends, each attempt, each cell, then end, in that order", () => {
    expect(events).toEqual([
      "begin complete=false cells=0",
      "step-end first: a step",
      "step-end first: another step",
      "attempt-end first PASS first",
      "cell-end first passed",
      "attempt-end second PASS second",
      "cell-end second passed",
      "end complete=true cells=2",
    ]);
  });

  it("rewrites matrix.json after each cell, so a run in progress can be read", () => {
    expect(recordDuringSecond).toEqual({ complete: false, cells: ["first=passed"] });
  });

  it("keeps a plain run's folders (<scenario>/), with no attempt line in its reports", async () => {
    expect(run.cells.map((c) => c.attempts.map((a) => a.report))).toEqual([["first/report.md"], ["second/report.md"]]);
    const report = await readFile(join(reportDir, "first", "report.md"), "utf8");
    expect(report).toMatch(/^`PASS first`/m);
    expect(report).not.toMatch(/^- attempt /m);
    expect(JSON.parse(await readFile(join(reportDir, "first", "result.json"), "utf8")).steps.map((s: { name: string }) => s.name)).toEqual(["a step", "another step"]);
  });

  it("writes the same record as a matrix run, which run-dir reads back; no file is left half-written", async () => {
    const read = await readRunDir(reportDir);
    expect(read.source).toMatchObject({ kind: "matrix", runId: "plain-test", complete: true });
    expect(read.cells.map((c) => `${c.scenario}=${c.status}`)).toEqual(["first=passed", "second=passed"]);
    expect((await readdir(reportDir)).sort()).toEqual(["first", "junit.xml", "matrix.json", "second", "summary.md"]);
    expect((await readdir(join(reportDir, "first"))).sort()).toEqual(["report.md", "result.json"]);
  });
});

describe("the declaration as reports name it", () => {
  it("is never an absolute host path: relative to Fruix's folder or the working directory, else its file name", () => {
    expect(declarationName("/src/fruix/examples/minimal.scm", "/elsewhere", "/src/fruix")).toBe("examples/minimal.scm");
    expect(declarationName("sys/web.scm", "/home/op/infra", "/src/fruix")).toBe("sys/web.scm");
    expect(declarationName("/tmp/fruix-test-1/decl.scm", "/home/op", "/src/fruix")).toBe("decl.scm");
  });
});
