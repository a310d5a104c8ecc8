// Reads a run directory back as cells with paths relative to it: the run
// record every run writes (matrix.json), or the results.json that plain runs
// of fruix 0.1.0 wrote before there was one run model. Anything missing or
// malformed is one clear error naming the file.
import { readFile, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { FruixError } from "../errors.js";
import { RUN_RECORD_FILE } from "./reporters/json.js";
import type { CellRecord, CellStatus, RunRecord, ScenarioReport } from "./report.js";

/** results.json of a plain run written before the one run model (fruix 0.1.0): read, never written. */
export interface LegacyPlainRun {
  readonly runId: string;
  readonly started: string;
  readonly seconds: number;
  readonly fruixVersion: string;
  readonly scenarios: readonly ScenarioReport[];
}

export interface RunSource {
  /** As the operator named it, for messages. */
  readonly given: string;
  /** Absolute, symlinks resolved. */
  readonly dir: string;
  readonly kind: "matrix" | "plain";
  readonly runId: string;
  readonly started: string;
  readonly fruixVersion: string;
  /** The commit the run's Fruix came from, when it ran from a git checkout. */
  readonly fruixCommit?: string;
  /** The run's wall time, start to its last record. */
  readonly seconds?: number;
  readonly matrixFile?: string;
  readonly shard?: { readonly index: number; readonly total: number };
  /** False for a matrix run that was interrupted before its last cell. */
  readonly complete: boolean;
}

export interface RunContents {
  readonly source: RunSource;
  readonly cells: readonly CellRecord[];
}

const STATUSES: readonly CellStatus[] = ["passed", "flaky", "failed", "skipped"];

function bad(file: string, detail: string): never {
  throw new FruixError(`${file}: ${detail}`, { exitCode: 2 });
}

async function readJsonFile(file: string): Promise<unknown> {
  const text = await readFile(file, "utf8");
  try {
    return JSON.parse(text);
  } catch (error) {
    return bad(file, `not valid JSON (${(error as Error).message}); the run directory is damaged`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === "string";
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

function checkMatrix(file: string, data: unknown): RunRecord {
  if (!isObject(data) || data.kind !== "fruix-matrix-run") bad(file, "not a fruix matrix run (no \"kind\": \"fruix-matrix-run\")");
  if (data.formatVersion !== 1) bad(file, `matrix format version ${String(data.formatVersion)} is not one this fruix reads (1)`);
  for (const key of ["runId", "started", "fruixVersion", "matrixFile"]) if (!isString(data[key])) bad(file, `'${key}' is missing or not a string`);
  if (!Array.isArray(data.cells)) bad(file, "'cells' is missing or not a list");
  data.cells.forEach((cell: unknown, k: number) => {
    const where = `cell ${k + 1}`;
    if (!isObject(cell)) bad(file, `${where} is not an object`);
    for (const key of ["project", "hypervisor", "scenario", "phase", "title"]) if (!isString(cell[key])) bad(file, `${where}: '${key}' is missing or not a string`);
    if (!STATUSES.includes(cell.status as CellStatus)) bad(file, `${where} (${String(cell.project)}/${String(cell.scenario)}): status '${String(cell.status)}' is not one of ${STATUSES.join(", ")}`);
    if (!isNumber(cell.seconds) || !isStrings(cell.hypervisorNotes) || !Array.isArray(cell.attempts)) bad(file, `${where}: 'seconds', 'hypervisorNotes' or 'attempts' is missing or malformed`);
    cell.attempts.forEach((a: unknown, n: number) => {
      if (!isObject(a) || !isNumber(a.number) || (a.status !== "PASS" && a.status !== "FAIL") || !isNumber(a.seconds) || !isString(a.report) || !isString(a.folder) || !isStrings(a.transcripts)) {
        bad(file, `${where}: attempt ${n + 1} is malformed`);
      }
    });
  });
  return data as unknown as RunRecord;
}

function checkPlain(file: string, data: unknown): LegacyPlainRun {
  if (!isObject(data) || !Array.isArray(data.scenarios) || !isString(data.runId)) bad(file, "not a fruix validate run (no 'runId' and 'scenarios')");
  data.scenarios.forEach((s: unknown, k: number) => {
    if (!isObject(s) || !isString(s.id) || !isString(s.hypervisor) || (s.status !== "PASS" && s.status !== "FAIL") || !isNumber(s.seconds)) {
      bad(file, `scenario ${k + 1} is malformed (needs id, hypervisor, status PASS|FAIL, seconds)`);
    }
    if (!Array.isArray(s.transcripts) || !Array.isArray(s.results) || !isStrings(s.environment)) bad(file, `scenario ${k + 1} (${s.id}): 'transcripts', 'results' or 'environment' is malformed`);
  });
  return data as unknown as LegacyPlainRun;
}

/** A legacy plain run's scenario as a one-attempt cell; its project is its hypervisor. */
export function plainCell(s: ScenarioReport): CellRecord {
  return {
    project: s.hypervisor,
    hypervisor: s.hypervisor,
    scenario: s.id,
    phase: s.phase,
    title: s.title,
    status: s.status === "PASS" ? "passed" : "failed",
    seconds: s.seconds,
    closurePath: s.results.find(([k]) => k === "closure_path")?.[1],
    // Reports older than hypervisorNotes carried the adapter's notes only inside environment.
    hypervisorNotes: s.hypervisorNotes ?? s.environment.filter((e) => /^acceleration\b|test double/i.test(e)),
    attempts: [
      {
        number: 1,
        status: s.status,
        seconds: s.seconds,
        folder: s.id,
        report: `${s.id}/report.md`,
        transcripts: s.transcripts.map((t) => `${s.id}/${t.file}`),
        failure: s.failure?.message,
      },
    ],
  };
}

export async function readRunDir(given: string): Promise<RunContents> {
  let dir: string;
  try {
    dir = await realpath(given);
    if (!(await stat(dir)).isDirectory()) bad(given, "not a directory (give a run directory such as reports/<run-id>)");
  } catch (error) {
    if (error instanceof FruixError) throw error;
    return bad(given, "no such run directory");
  }
  const exists = (file: string) => stat(join(dir, file)).then(() => true, () => false);
  if (await exists(RUN_RECORD_FILE)) {
    const file = join(given, RUN_RECORD_FILE);
    const run = checkMatrix(file, await readJsonFile(join(dir, RUN_RECORD_FILE)));
    return {
      source: {
        given,
        dir,
        kind: "matrix",
        runId: run.runId,
        started: run.started,
        fruixVersion: run.fruixVersion,
        fruixCommit: isString(run.fruixCommit) ? run.fruixCommit : undefined,
        seconds: isNumber(run.seconds) ? run.seconds : undefined,
        matrixFile: run.matrixFile, shard: run.shard, complete: run.complete !== false },
      cells: run.cells,
    };
  }
  if (await exists("results.json")) {
    const file = join(given, "results.json");
    const run = checkPlain(file, await readJsonFile(join(dir, "results.json")));
    return {
      source: { given, dir, kind: "plain", runId: run.runId, started: String(run.started), fruixVersion: String(run.fruixVersion), seconds: isNumber(run.seconds) ? run.seconds : undefined, complete: true },
      cells: run.scenarios.map(plainCell),
    };
  }
  return bad(given, "not a fruix run directory (it has neither matrix.json nor results.json)");
}
