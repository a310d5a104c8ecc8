// Runs a validation: cells (projects x scenarios; a plain `fruix validate a b`
// is a one-project matrix) one after another, retrying failed ones, and tells
// the reporters each step, attempt and cell as it ends. The reporters' files
// are written here, each atomically:
//   <run>/matrix.json, summary.md, junit.xml
//   <run>/<attempt folder>/{report.md, result.json, <machine>-serial.log}
// where the attempt folder is `<scenario>` in a plain run and
// `<project>/<scenario>/attempt-<n>` in a matrix run.
import { mkdirSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Hypervisor } from "../../hypervisors/types.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import { onInterrupt } from "../cleanup.js";
import { symlinkAtomic, writeFileAtomic, writeFileAtomicSync } from "../store/atomic.js";
import { fruixCommit, fruixVersion } from "../version.js";
import { makeDirectories } from "../fs.js";
import { runAttempt } from "./engine.js";
import { inPool, longestFirst, Mutex } from "./jobs.js";
import { type Cell, classify, type Project, type Shard } from "./matrix.js";
import type { AttemptRecord, CellId, CellRecord, Reporter, RunEvent, RunRecord, ScenarioReport, StepRecord } from "./report.js";
import type { Scenario } from "./scenario.js";

/** Where a run's attempts keep their files. */
export type RunLayout = "plain" | "matrix";

/** Everything a run needs, built once (by the CLI) and read everywhere. */
export interface RunSettings {
  readonly store: Store;
  readonly log: Logger;
  /** Makes a project's adapter (a fresh one per attempt, so no state leaks between attempts). */
  readonly adapter: (project: Project) => () => Hypervisor;
  readonly declaration: string;
  readonly system?: string;
  /** Keep machine disks and state of failed attempts (their path is printed). */
  readonly keep: boolean;
  /** Each console line also goes to stderr as `<machine> # <line>`. */
  readonly verbose?: boolean;
  readonly retries: number;
  readonly layout: RunLayout;
  readonly reportDir: string;
  readonly runId: string;
  /** The matrix file, or "(command line)". */
  readonly matrixFile: string;
  readonly shard?: Shard;
  readonly onlyProjects: readonly string[];
  /** How many cells run at once (--jobs); 1 (the default here) runs them one after another. */
  readonly jobs?: number;
  /** --debug-on-failure: a failed attempt's machines keep running; the run waits until the operator ends them. */
  readonly debugOnFailure?: boolean;
  /** How long cells took last time, by `project/scenario`: with --jobs, the longest start first. */
  readonly lastSeconds?: ReadonlyMap<string, number>;
}

/** The seconds each cell of a run took, by `project/scenario` (pure; from a run's matrix.json). */
export function cellSeconds(run: Pick<RunRecord, "cells">): Map<string, number> {
  return new Map(run.cells.filter((c) => c.status !== "skipped").map((c) => [`${c.project}/${c.scenario}`, c.seconds]));
}

/** An attempt's folder, relative to the run directory (pure). */
export function attemptFolder(layout: RunLayout, cell: CellId, attempt: number): string {
  return layout === "plain" ? cell.scenario : `${cell.project}/${cell.scenario}/attempt-${attempt}`;
}

function attemptRecord(report: ScenarioReport, folder: string): AttemptRecord {
  return {
    number: report.attempt?.number ?? 1,
    status: report.status,
    seconds: report.seconds,
    folder,
    report: `${folder}/report.md`,
    transcripts: report.transcripts.map((t) => `${folder}/${t.file}`),
    failure: report.failure?.message,
    failureKind: report.failure?.kind,
  };
}

/** Sends an event to every reporter and writes the files they ask for. */
async function emit(settings: RunSettings, reporters: readonly Reporter[], event: RunEvent): Promise<void> {
  // Parallel cells emit too: one event at a time, in the order they came, so no two writes of a file race.
  const queued = (emitQueues.get(settings) ?? Promise.resolve()).then(() => emitNow(settings, reporters, event));
  emitQueues.set(settings, queued.catch(() => undefined));
  return queued;
}

const emitQueues = new WeakMap<RunSettings, Promise<unknown>>();

/**
 * The reporters' end files for a run stopped by Ctrl-C or SIGTERM, written at
 * once: the signal handler that calls this exits the process when it returns.
 * CI gets a junit.xml and summary.md that say which cells never finished.
 */
function emitOnInterrupt(settings: RunSettings, reporters: readonly Reporter[], event: RunEvent): void {
  for (const [path, text] of reportFiles(settings, reporters, event)) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomicSync(path, text);
  }
}

async function emitNow(settings: RunSettings, reporters: readonly Reporter[], event: RunEvent): Promise<void> {
  for (const [path, text] of reportFiles(settings, reporters, event)) {
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, text);
  }
}

/** Every reporter's files for `event`, in reporter order: [path in the run directory, text]. */
function* reportFiles(settings: RunSettings, reporters: readonly Reporter[], event: RunEvent): Generator<[string, string]> {
  for (const reporter of reporters) {
    for (const [file, text] of Object.entries(reporter.onEvent(event) ?? {})) yield [join(settings.reportDir, file), text];
  }
}

/** How a cell's lines start when cells run side by side (pure). */
export function cellLabel(layout: RunLayout, cell: Cell<Scenario>): string {
  return layout === "plain" ? `[${cell.scenario.id}]` : `[${cell.project.name}/${cell.scenario.id}]`;
}

async function runCell(
  cell: Cell<Scenario>,
  settings: RunSettings,
  reporters: readonly Reporter[],
  buildLock: Mutex,
  label: string | undefined,
): Promise<CellRecord> {
  const { project, scenario } = cell;
  const id: CellId = { project: project.name, scenario: scenario.id };
  const base = { project: project.name, hypervisor: project.hypervisor, scenario: scenario.id, phase: scenario.phase, title: scenario.title };
  if (cell.skip) return { ...base, status: "skipped", skipReason: cell.skip, seconds: 0, hypervisorNotes: [], attempts: [] };

  const max = settings.retries + 1;
  const reports: ScenarioReport[] = [];
  const attempts: AttemptRecord[] = [];
  const hypervisor = settings.adapter(project);
  for (let number = 1; number <= max; number += 1) {
    const folder = attemptFolder(settings.layout, id, number);
    // Steps end while the attempt runs: reporters hear of them at once (written in order, never awaited by the
    // scenario). A failed write is kept for after the attempt, never left as an unhandled rejection meanwhile.
    let pending = Promise.resolve();
    let stepWriteFailed: unknown;
    const onStep = (step: StepRecord) => {
      pending = pending
        .then(() => emit(settings, reporters, { type: "step-end", cell: id, attempt: number, step }))
        .catch((error: unknown) => {
          stepWriteFailed ??= error;
        });
    };
    const run = () =>
      runAttempt(
        scenario,
        {
          store: settings.store,
          log: settings.log,
          hypervisor,
          declaration: settings.declaration,
          system: settings.system,
          installTargetDevice: project.installTargetDevice,
          timeoutScale: project.timeoutScale,
          keep: settings.keep,
          verbose: settings.verbose,
          label,
          runId: settings.runId,
          onStep,
          buildLock,
          debugOnFailure: settings.debugOnFailure,
        },
        join(settings.reportDir, folder),
        settings.layout === "plain" ? undefined : { number, max },
      );
    const report = settings.layout === "plain" ? await run() : await settings.log.step(`${project.name}/${scenario.id}, attempt ${number} of ${max}`, run);
    await pending;
    if (stepWriteFailed !== undefined) throw stepWriteFailed;
    const record = attemptRecord(report, folder);
    reports.push(report);
    attempts.push(record);
    await emit(settings, reporters, { type: "attempt-end", cell: id, report, record });
    if (report.status === "PASS") break;
  }
  const last = reports.at(-1)!;
  return {
    ...base,
    status: classify(reports.map((r) => r.status)),
    seconds: reports.reduce((sum, r) => sum + r.seconds, 0),
    closurePath: last.results.find(([k]) => k === "closure_path")?.[1],
    hypervisorNotes: last.hypervisorNotes ?? [],
    systemUnderTest: [...reports].reverse().find((r) => r.systemUnderTest)?.systemUnderTest,
    attempts,
  };
}

/** Runs the cells (already sharded and filtered) and writes the run directory through the reporters. */
export async function runValidation(cells: ReadonlyArray<Cell<Scenario>>, settings: RunSettings, reporters: readonly Reporter[]): Promise<RunRecord> {
  const started = new Date();
  await makeDirectories(settings.reportDir);
  // Each cell's record at its place in the list: reports name the cells in list order, however many ran at once.
  const finished: Array<CellRecord | undefined> = new Array(cells.length);
  const records = (): CellRecord[] => finished.filter((r): r is CellRecord => r !== undefined);
  const commit = fruixCommit();
  const snapshot = (complete: boolean): RunRecord => ({
    kind: "fruix-matrix-run",
    formatVersion: 1,
    runId: settings.runId,
    started: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    fruixVersion,
    fruixCommit: commit,
    matrixFile: settings.matrixFile,
    shard: settings.shard,
    onlyProjects: settings.onlyProjects,
    retries: settings.retries,
    complete,
    cells: records(),
  });
  await emit(settings, reporters, { type: "begin", run: snapshot(false) });
  const running = new Set<number>();
  const ids = (keep: (index: number) => boolean) =>
    cells.flatMap((c, index) => (keep(index) ? [{ project: c.project.name, scenario: c.scenario.id }] : []));
  // Registered first, so it runs last, after every machine of the run was stopped.
  const forgetInterrupt = onInterrupt(() => {
    const interrupted = { running: ids((i) => running.has(i)), notStarted: ids((i) => !running.has(i) && finished[i] === undefined) };
    emitOnInterrupt(settings, reporters, { type: "end", run: snapshot(false), interrupted });
  });
  // Builds go into one store one at a time (the second cell finds the first one's items); machines run in parallel.
  const buildLock = new Mutex();
  const jobs = settings.jobs ?? 1;
  // Side by side, the longest start first; one at a time, list order.
  const order = jobs > 1 ? longestFirst(cells.map((c) => (c.skip ? 0 : settings.lastSeconds?.get(`${c.project.name}/${c.scenario.id}`)))) : undefined;
  try {
    await inPool(cells, jobs, async (cell, index) => {
      running.add(index);
      // Side by side, every progress and console line says which cell it belongs to.
      const label = jobs > 1 && cells.length > 1 ? cellLabel(settings.layout, cell) : undefined;
      const work = () => runCell(cell, settings, reporters, buildLock, label);
      const record = label ? await settings.log.labelled(label, work) : await work();
      finished[index] = record;
      running.delete(index);
      await emit(settings, reporters, { type: "cell-end", cell: record, run: snapshot(false) });
    }, order);
    const run = snapshot(true);
    await emit(settings, reporters, { type: "end", run });
    return run;
  } finally {
    forgetInterrupt();
  }
}

/** Points `<reports>/latest` at a run's folder (atomically). */
export async function markLatest(reportsRoot: string, runId: string): Promise<void> {
  await symlinkAtomic(runId, join(reportsRoot, "latest"));
}
