// What a validation run records: the data every reporter renders.

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

export interface Failure {
  readonly message: string;
  /** The check that failed, if a check did. */
  readonly check?: CheckRecord;
  /** The console that showed the failure, with its last lines. */
  readonly console?: { readonly machine: string; readonly lines: readonly string[] };
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
  readonly steps: readonly StepRecord[];
  readonly checks: readonly CheckRecord[];
  readonly results: ReadonlyArray<readonly [string, string]>;
  readonly failure?: Failure;
  /** Serial transcripts, as file names relative to the scenario's report folder. */
  readonly transcripts: ReadonlyArray<{ readonly machine: string; readonly file: string }>;
}

export interface RunReport {
  readonly runId: string;
  readonly started: string;
  readonly seconds: number;
  readonly fruixVersion: string;
  readonly scenarios: readonly ScenarioReport[];
}

export function passed(run: RunReport): boolean {
  return run.scenarios.length > 0 && run.scenarios.every((s) => s.status === "PASS");
}

/** A reporter turns a run into files; each is one small module (Playwright-style). */
export interface Reporter {
  readonly name: string;
  /** Files to write, relative to the run's report folder. */
  render(run: RunReport): Record<string, string>;
}
