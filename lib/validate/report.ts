// What a validation run records, and the events reporters receive while it
// runs: the data every reporter renders.

export type Status = "PASS" | "FAIL";

export interface CheckRecord {
  readonly number: number;
  readonly name: string;
  readonly expected: string;
  readonly actual: string;
  readonly passed: boolean;
}

export interface StepRecord {
  readonly name: string;
  readonly seconds: number;
  readonly passed: boolean;
}

/**
 * What failed: a check's expectation (`check`), a command in the guest
 * (`guest-command`), the boot as the console showed it (`boot`), a wait on the
 * console (`timeout`), or the machinery around the guest (`infrastructure`:
 * adapter, QMP, XAPI, host tools, the build).
 */
export type FailureKind = "check" | "guest-command" | "boot" | "timeout" | "infrastructure";

export interface Failure {
  readonly message: string;
  /** Absent in reports older than this field. */
  readonly kind?: FailureKind;
  /** The check that failed, if a check did. */
  readonly check?: CheckRecord;
  /** The console that showed the failure, with its last lines. */
  readonly console?: { readonly machine: string; readonly lines: readonly string[] };
}

/** What a run validated: the declaration (never an absolute host path), its hash, and the base it was built from. */
export interface SystemUnderTestRecord {
  /** The declaration file: relative to Fruix's folder or the working directory, else its name. */
  readonly declaration: string;
  readonly system?: string;
  /** The declared system's hash (before validation's instrumentation). */
  readonly declarationHash: string;
  /** Kernel, loader and userland the base came from, as `name version` (Debian packages, FreeBSD sets). */
  readonly base: readonly string[];
}

export interface ScenarioReport {
  readonly id: string;
  readonly phase: string;
  readonly title: string;
  readonly goal: string;
  readonly hypervisor: string;
  readonly status: Status;
  readonly started: string; // ISO 8601
  readonly seconds: number;
  readonly environment: readonly string[];
  /**
   * What the adapter said about itself (acceleration and why, a test double, ...);
   * also the first lines of `environment`. Absent in reports older than this field.
   */
  readonly hypervisorNotes?: readonly string[];
  /** In a run with retries: which attempt this is, of how many allowed. */
  readonly attempt?: { readonly number: number; readonly max: number };
  readonly steps: readonly StepRecord[];
  readonly checks: readonly CheckRecord[];
  readonly results: ReadonlyArray<readonly [string, string]>;
  readonly failure?: Failure;
  /** The system the attempt built from the declaration; absent if it failed before building, and in older reports. */
  readonly systemUnderTest?: SystemUnderTestRecord;
  /** What the adapter ran for each machine: QEMU's exact command line, or the VM's XAPI record (absent in older reports). */
  readonly machines?: ReadonlyArray<{ readonly machine: string; readonly kind: string; readonly text: string }>;
  /** Serial transcripts, as file names relative to the scenario's report folder. */
  readonly transcripts: ReadonlyArray<{ readonly machine: string; readonly file: string }>;
}

// --- a run: cells of projects x scenarios -----------------------------------

/** A matrix cell's class: passed first time, flaky (failed, then passed on a retry), failed, or skipped (never run). */
export type CellStatus = "passed" | "flaky" | "failed" | "skipped";

export interface AttemptRecord {
  readonly number: number;
  readonly status: Status;
  readonly seconds: number;
  /** Paths relative to the run directory. */
  readonly folder: string;
  readonly report: string;
  readonly transcripts: readonly string[];
  readonly failure?: string;
  readonly failureKind?: FailureKind;
}

export interface CellRecord {
  readonly project: string;
  readonly hypervisor: string;
  readonly scenario: string;
  readonly phase: string;
  readonly title: string;
  readonly status: CellStatus;
  readonly skipReason?: string;
  /** All attempts together. */
  readonly seconds: number;
  /** The closure the last attempt validated, when it got that far. */
  readonly closurePath?: string;
  readonly hypervisorNotes: readonly string[];
  /** The last attempt's system under test that got that far (absent in older runs). */
  readonly systemUnderTest?: SystemUnderTestRecord;
  /** Every attempt, failed ones included; their files are kept. */
  readonly attempts: readonly AttemptRecord[];
}

/**
 * matrix.json: the record of every run, plain or matrix (a plain run is a
 * one-project matrix); what `fruix report sign-off` reads.
 */
export interface RunRecord {
  readonly kind: "fruix-matrix-run";
  readonly formatVersion: 1;
  readonly runId: string;
  readonly started: string;
  readonly seconds: number;
  readonly fruixVersion: string;
  /** The commit Fruix ran from, in a git checkout (absent otherwise, and in older runs). */
  readonly fruixCommit?: string;
  readonly matrixFile: string;
  /** Shard i of n, when the run was one. */
  readonly shard?: { readonly index: number; readonly total: number };
  /** --project filters, if any. */
  readonly onlyProjects: readonly string[];
  readonly retries: number;
  /** False while the run is still going (or if it was interrupted). */
  readonly complete: boolean;
  readonly cells: readonly CellRecord[];
}

// --- reporters ----------------------------------------------------------------

/** A cell as events name it. */
export interface CellId {
  readonly project: string;
  readonly scenario: string;
}

/**
 * What a run tells its reporters, in order: begin; per attempt, its steps as
 * they end and then the attempt; per cell, its end; last, end. `run` is the
 * record so far (only finished cells; `complete` false until end).
 */
export type RunEvent =
  | { readonly type: "begin"; readonly run: RunRecord }
  | { readonly type: "step-end"; readonly cell: CellId; readonly attempt: number; readonly step: StepRecord }
  | { readonly type: "attempt-end"; readonly cell: CellId; readonly report: ScenarioReport; readonly record: AttemptRecord }
  | { readonly type: "cell-end"; readonly cell: CellRecord; readonly run: RunRecord }
  | { readonly type: "end"; readonly run: RunRecord; readonly interrupted?: Interruption };

/** At the end of a run stopped by Ctrl-C or SIGTERM (the run record then says complete: false). */
export interface Interruption {
  /** Cells that were running: their machines were stopped, their reports not written. */
  readonly running: readonly CellId[];
  /** Cells that had not started. */
  readonly notStarted: readonly CellId[];
}

/** Files a reporter asks for: path relative to the run directory -> text. The run writes each atomically. */
export type ReportFiles = Readonly<Record<string, string>>;

/**
 * A reporter turns events into files of the run directory, or into output
 * (Playwright-style; each is one small module).
 */
export interface Reporter {
  readonly name: string;
  onEvent(event: RunEvent): ReportFiles | void;
}

export function cellCounts(cells: readonly CellRecord[]): Record<CellStatus, number> {
  const counts: Record<CellStatus, number> = { passed: 0, flaky: 0, failed: 0, skipped: 0 };
  for (const c of cells) counts[c.status] += 1;
  return counts;
}
