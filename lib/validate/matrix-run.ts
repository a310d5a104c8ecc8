// Runs a matrix's cells one after another, retrying failed ones, and writes
// the run directory:
//   <run>/matrix.json, summary.md, junit.xml
//   <run>/<project>/<scenario>/attempt-<n>/{report.md, result.json, <machine>-serial.log}
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import type { Hypervisor } from "../../hypervisors/types.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import { fruixVersion } from "../version.js";
import { runAttempt } from "./engine.js";
import { type Cell, classify, type Project, type Shard, STATUS_WORD } from "./matrix.js";
import type { AttemptRecord, CellRecord, MatrixReporter, MatrixRunReport, Reporter, ScenarioReport } from "./report.js";
import type { Scenario } from "./scenario.js";

export interface MatrixRunOptions {
  readonly store: Store;
  readonly log: Logger;
  /** Makes a project's adapter (a fresh one per attempt, so no state leaks between attempts). */
  readonly adapter: (project: Project) => () => Hypervisor;
  readonly declaration: string;
  readonly system?: string;
  readonly keep: boolean;
  readonly retries: number;
  readonly reportDir: string;
  readonly runId: string;
  readonly matrixFile: string;
  readonly shard?: Shard;
  readonly onlyProjects: readonly string[];
  /** Per-attempt files (report.md, result.json). */
  readonly scenarioReporters: readonly Reporter[];
  /** Run-level files (matrix.json, summary.md, junit.xml). */
  readonly reporters: readonly MatrixReporter[];
}

function attemptRecord(report: ScenarioReport, folder: string, runDir: string): AttemptRecord {
  const rel = (file: string) => relative(runDir, join(folder, file)).split("\\").join("/");
  return {
    number: report.attempt?.number ?? 1,
    status: report.status,
    seconds: report.seconds,
    folder: rel("."),
    report: rel("report.md"),
    transcripts: report.transcripts.map((t) => rel(t.file)),
    failure: report.failure?.message,
  };
}

async function runCell(cell: Cell<Scenario>, options: MatrixRunOptions): Promise<CellRecord> {
  const { project, scenario } = cell;
  const base = { project: project.name, hypervisor: project.hypervisor, scenario: scenario.id, phase: scenario.phase, title: scenario.title };
  if (cell.skip) {
    options.log.info(`SKIPPED ${project.name}/${scenario.id}: ${cell.skip}`);
    return { ...base, status: "skipped", skipReason: cell.skip, seconds: 0, hypervisorNotes: [], attempts: [] };
  }
  const max = options.retries + 1;
  const reports: ScenarioReport[] = [];
  const attempts: AttemptRecord[] = [];
  const attemptOptions = {
    store: options.store,
    log: options.log,
    hypervisor: options.adapter(project),
    declaration: options.declaration,
    system: options.system,
    installTargetDevice: project.installTargetDevice,
    timeoutScale: project.timeoutScale,
    keep: options.keep,
    runId: options.runId,
    reporters: options.scenarioReporters,
  };
  for (let number = 1; number <= max; number += 1) {
    const folder = join(options.reportDir, project.name, scenario.id, `attempt-${number}`);
    const report = await options.log.step(`${project.name}/${scenario.id}, attempt ${number} of ${max}`, () =>
      runAttempt(scenario, attemptOptions, folder, { number, max }),
    );
    reports.push(report);
    attempts.push(attemptRecord(report, folder, options.reportDir));
    if (report.status === "PASS") break;
    if (number < max) options.log.info(`attempt ${number} of ${project.name}/${scenario.id} failed (${report.failure?.message}); retrying`);
  }
  const last = reports.at(-1)!;
  const status = classify(reports.map((r) => r.status));
  options.log.info(`${STATUS_WORD[status]} ${project.name}/${scenario.id} (${attempts.length} attempt${attempts.length === 1 ? "" : "s"})`);
  return {
    ...base,
    status,
    seconds: reports.reduce((sum, r) => sum + r.seconds, 0),
    closurePath: last.results.find(([k]) => k === "closure_path")?.[1],
    hypervisorNotes: last.hypervisorNotes ?? [],
    attempts,
  };
}

async function writeRunFiles(dir: string, run: MatrixRunReport, reporters: readonly MatrixReporter[]): Promise<void> {
  for (const reporter of reporters) {
    for (const [file, text] of Object.entries(reporter.render(run))) {
      const path = join(dir, file);
      await mkdir(dirname(path), { recursive: true });
      // Written whole then renamed: a reader (or a crash) never sees half a file.
      await writeFile(`${path}.tmp`, text);
      await rename(`${path}.tmp`, path);
    }
  }
}

/** Runs the cells (already sharded and filtered) and writes the run directory; matrix.json is rewritten after each cell. */
export async function runMatrix(cells: ReadonlyArray<Cell<Scenario>>, options: MatrixRunOptions): Promise<MatrixRunReport> {
  const started = new Date();
  await mkdir(options.reportDir, { recursive: true });
  const records: CellRecord[] = [];
  const snapshot = (complete: boolean): MatrixRunReport => ({
    kind: "fruix-matrix-run",
    formatVersion: 1,
    runId: options.runId,
    started: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    fruixVersion,
    matrixFile: options.matrixFile,
    shard: options.shard,
    onlyProjects: options.onlyProjects,
    retries: options.retries,
    complete,
    cells: [...records],
  });
  const progress = options.reporters.filter((r) => r.name === "json");
  for (const cell of cells) {
    records.push(await runCell(cell, options));
    await writeRunFiles(options.reportDir, snapshot(false), progress);
  }
  const run = snapshot(true);
  await writeRunFiles(options.reportDir, run, options.reporters);
  return run;
}
