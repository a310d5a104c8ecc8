// Matrix runs (pure): the matrix file (projects = hypervisors with their
// options, x scenarios), the cells it makes, shard selection, and how a
// cell's attempts are classed. Running the cells is run.ts's job.
import { dirname, resolve } from "node:path";
import { FruixError } from "../errors.js";
import { checkInstallTargetDevice } from "../cli/args.js";
import { type JsonNode, JsonSyntaxError, type Position, readJson } from "./json-source.js";
import type { CellStatus, Status } from "./report.js";

export const ACCELS = ["auto", "kvm", "tcg"] as const;
export type AccelChoice = (typeof ACCELS)[number];
export const MAX_RETRIES = 10;

/** One column of the matrix: a hypervisor adapter with its options (Playwright's "project"). */
export interface Project {
  /** Unique in the file; names the project's folder in the run directory. */
  readonly name: string;
  readonly hypervisor: string;
  readonly accel: AccelChoice;
  readonly timeoutScale: number;
  /** Environment variables the project needs; when one is unset or empty its cells are SKIPPED, never run. */
  readonly requiresEnv: readonly string[];
  readonly installTargetDevice?: string;
  /** The scenario ids of this project's cells, in order. */
  readonly scenarios: readonly string[];
}

export interface Matrix {
  readonly file: string;
  readonly retries: number;
  /** Absolute path (a relative one is read from the matrix file's folder). */
  readonly declaration?: string;
  readonly system?: string;
  readonly projects: readonly Project[];
}

/** What the file is checked against: the scenarios there are, and the adapters. */
export interface Known {
  readonly scenarios: ReadonlyArray<{ readonly id: string; readonly title: string; readonly hypervisors: readonly string[] }>;
  readonly hypervisors: readonly string[];
}

/** Every problem found in a matrix file, one `file:line:column: what` line each. */
export class MatrixFileError extends FruixError {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"} in the matrix file; nothing was run`, { exitCode: 2 });
  }
}

const TOP_FIELDS = ["retries", "scenarios", "grep", "declaration", "system", "projects"];
const PROJECT_FIELDS = ["name", "hypervisor", "accel", "timeoutScale", "requiresEnv", "installTargetDevice", "scenarios", "grep"];
/** A key that is a comment: JSON has none, so `"//": "..."` is accepted anywhere. */
const COMMENT = "//";

type ObjectNode = Extract<JsonNode, { kind: "object" }>;

/** Reads and checks a matrix file; throws MatrixFileError listing every problem. */
export function parseMatrix(text: string, file: string, known: Known): Matrix {
  const problems: Array<{ at: Position; line: string }> = [];
  const problem = (at: Position, detail: string) => problems.push({ at, line: `${file}:${at.line}:${at.column}: ${detail}` });
  let root: JsonNode;
  try {
    root = readJson(text);
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    throw new MatrixFileError(file, [`${file}:${error.at.line}:${error.at.column}: ${error.message}`]);
  }
  if (root.kind !== "object") throw new MatrixFileError(file, [`${file}:${root.at.line}:${root.at.column}: a matrix file is one JSON object`]);

  const fields = (node: ObjectNode, allowed: readonly string[], what: string): Map<string, JsonNode> => {
    const seen = new Map<string, JsonNode>();
    for (const { key, keyAt, value } of node.entries) {
      if (key === COMMENT) continue;
      if (!allowed.includes(key)) problem(keyAt, `unknown field '${key}' in ${what} (known: ${allowed.join(", ")})`);
      else if (seen.has(key)) problem(keyAt, `'${key}' is given twice in ${what}`);
      else seen.set(key, value);
    }
    return seen;
  };
  const text_ = (node: JsonNode | undefined, what: string): string | undefined => {
    if (node === undefined) return undefined;
    if (node.kind === "string" && node.value !== "") return node.value;
    problem(node.at, `${what} must be a non-empty string`);
    return undefined;
  };
  const strings = (node: JsonNode | undefined, what: string): Array<{ value: string; at: Position }> | undefined => {
    if (node === undefined) return undefined;
    if (node.kind !== "array" || node.items.length === 0) {
      problem(node.at, `${what} must be a non-empty list of strings`);
      return undefined;
    }
    const out: Array<{ value: string; at: Position }> = [];
    for (const item of node.items) {
      if (item.kind === "string" && item.value !== "") out.push({ value: item.value, at: item.at });
      else problem(item.at, `${what} must hold non-empty strings`);
    }
    return out;
  };

  /** The scenario ids a selection names, in order: listed ids (each known), else all; then grep on id and title. */
  const selectScenarios = (idsNode: JsonNode | undefined, grepNode: JsonNode | undefined, where: string): { ids?: string[]; grep?: RegExp } => {
    const listed = strings(idsNode, `'scenarios' in ${where}`);
    const ids = listed?.filter(({ value, at }) => {
      const ok = known.scenarios.some((s) => s.id === value);
      if (!ok) problem(at, `unknown scenario '${value}' (known: ${known.scenarios.map((s) => s.id).join(", ")})`);
      return ok;
    });
    const grepText = text_(grepNode, `'grep' in ${where}`);
    let grep: RegExp | undefined;
    if (grepText !== undefined) {
      try {
        grep = new RegExp(grepText);
      } catch (error) {
        problem(grepNode!.at, `'grep': ${(error as Error).message}`);
      }
    }
    return { ids: ids?.map((s) => s.value), grep };
  };

  const top = fields(root, TOP_FIELDS, "the matrix");
  let retries = 0;
  const retriesNode = top.get("retries");
  if (retriesNode) {
    if (retriesNode.kind === "number" && Number.isInteger(retriesNode.value) && retriesNode.value >= 0 && retriesNode.value <= MAX_RETRIES) {
      retries = retriesNode.value;
    } else problem(retriesNode.at, `'retries' must be a whole number from 0 to ${MAX_RETRIES}`);
  }
  const declaration = text_(top.get("declaration"), "'declaration'");
  const system = text_(top.get("system"), "'system'");
  const shared = selectScenarios(top.get("scenarios"), top.get("grep"), "the matrix");

  const projects: Project[] = [];
  const projectsNode = top.get("projects");
  if (!projectsNode) problem(root.at, "the matrix needs 'projects': a list of { \"name\", \"hypervisor\", ... }");
  else if (projectsNode.kind !== "array" || projectsNode.items.length === 0) problem(projectsNode.at, "'projects' must be a non-empty list of objects");
  else {
    const names = new Set<string>();
    for (const node of projectsNode.items) {
      if (node.kind !== "object") {
        problem(node.at, "each project must be an object");
        continue;
      }
      const before = problems.length;
      const f = fields(node, PROJECT_FIELDS, "a project");
      const name = text_(f.get("name"), "a project's 'name'");
      const where = name === undefined ? "a project" : `project '${name}'`;
      if (!f.has("name")) problem(node.at, "a project needs a 'name'");
      else if (name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) problem(f.get("name")!.at, `project name '${name}' must be letters, digits, '.', '_' or '-' (it names a folder)`);
      else if (name !== undefined && names.has(name)) problem(f.get("name")!.at, `two projects are named '${name}'`);
      if (name !== undefined) names.add(name);

      const hypervisor = text_(f.get("hypervisor"), `'hypervisor' in ${where}`);
      if (!f.has("hypervisor")) problem(node.at, `${where} needs a 'hypervisor' (known: ${known.hypervisors.join(", ")})`);
      else if (hypervisor !== undefined && !known.hypervisors.includes(hypervisor)) {
        problem(f.get("hypervisor")!.at, `unknown hypervisor '${hypervisor}' (known: ${known.hypervisors.join(", ")})`);
      }
      const accel = text_(f.get("accel"), `'accel' in ${where}`) ?? "auto";
      if (!ACCELS.includes(accel as AccelChoice)) problem(f.get("accel")!.at, `'accel' must be one of ${ACCELS.join(", ")}`);
      let timeoutScale = 1;
      const scaleNode = f.get("timeoutScale");
      if (scaleNode) {
        if (scaleNode.kind === "number" && scaleNode.value > 0) timeoutScale = scaleNode.value;
        else problem(scaleNode.at, "'timeoutScale' must be a positive number");
      }
      const requiresEnv = strings(f.get("requiresEnv"), `'requiresEnv' in ${where}`) ?? [];
      for (const v of requiresEnv) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.value)) problem(v.at, `'${v.value}' is not an environment variable name`);
      }
      const device = text_(f.get("installTargetDevice"), `'installTargetDevice' in ${where}`);
      if (device !== undefined) {
        try {
          checkInstallTargetDevice(device, "'installTargetDevice'");
        } catch (error) {
          problem(f.get("installTargetDevice")!.at, (error as Error).message);
        }
      }
      // A project's own 'scenarios' or 'grep' replaces the matrix's selection.
      const own = f.has("scenarios") || f.has("grep") ? selectScenarios(f.get("scenarios"), f.get("grep"), where) : shared;
      const explicit = own.ids !== undefined;
      const grep = own.grep;
      const scenarios = (own.ids ?? known.scenarios.map((s) => s.id))
        .filter((id) => !grep || grep.test(id) || grep.test(known.scenarios.find((s) => s.id === id)!.title))
        // Listed by id, a scenario the hypervisor cannot run is a SKIPPED cell; otherwise it is simply not selected.
        .filter((id) => explicit || hypervisor === undefined || known.scenarios.find((s) => s.id === id)!.hypervisors.includes(hypervisor));
      if (problems.length === before && scenarios.length === 0) problem(node.at, `${where} selects no scenario (check 'scenarios' and 'grep')`);
      if (problems.length === before) {
        projects.push({ name: name!, hypervisor: hypervisor!, accel: accel as AccelChoice, timeoutScale, requiresEnv: requiresEnv.map((v) => v.value), installTargetDevice: device, scenarios });
      }
    }
  }
  if (problems.length > 0) {
    // In the order they appear in the file (the checks find them in another order).
    const sorted = [...problems].sort((a, b) => a.at.line - b.at.line || a.at.column - b.at.column);
    throw new MatrixFileError(file, sorted.map((p) => p.line));
  }
  return { file, retries, declaration: declaration === undefined ? undefined : resolve(dirname(file), declaration), system, projects };
}

// --- cells -----------------------------------------------------------------

/** One cell: a scenario on a project. `skip` says why it will not run (it is then reported SKIPPED, never PASS). */
export interface Cell<S extends CellScenario = CellScenario> {
  readonly project: Project;
  readonly scenario: S;
  readonly skip?: string;
}

export interface CellScenario {
  readonly id: string;
  readonly hypervisors: readonly string[];
}

export const cellKey = (project: string, scenario: string): string => `${project}/${scenario}`;

/**
 * Every cell of the matrix, in a fixed order: projects as the file lists them,
 * each project's scenarios in its order. The same file and the same scenarios
 * give the same list on every machine, which is what sharding relies on.
 */
export function matrixCells<S extends CellScenario>(
  matrix: Matrix,
  scenarios: readonly S[],
  env: Readonly<Record<string, string | undefined>>,
  onlyProjects: readonly string[] = [],
): Array<Cell<S>> {
  const unknown = onlyProjects.filter((name) => !matrix.projects.some((p) => p.name === name));
  if (unknown.length > 0) {
    throw new FruixError(`unknown project ${unknown.join(", ")} in ${matrix.file} (projects: ${matrix.projects.map((p) => p.name).join(", ")})`, { exitCode: 2 });
  }
  const byId = new Map(scenarios.map((s) => [s.id, s]));
  const cells: Array<Cell<S>> = [];
  for (const project of matrix.projects) {
    if (onlyProjects.length > 0 && !onlyProjects.includes(project.name)) continue;
    const missing = project.requiresEnv.filter((name) => !env[name]);
    for (const id of project.scenarios) {
      const scenario = byId.get(id);
      if (!scenario) throw new FruixError(`scenario '${id}' of ${matrix.file} is not loaded`);
      let skip: string | undefined;
      if (!scenario.hypervisors.includes(project.hypervisor)) skip = `${id} does not run on ${project.hypervisor} (it supports ${scenario.hypervisors.join(", ")})`;
      else if (missing.length > 0) skip = `not set in the environment: ${missing.join(", ")}`;
      cells.push({ project, scenario, skip });
    }
  }
  return cells;
}

// --- shards ----------------------------------------------------------------

/** Shard `index` of `total`, counted from 1 as in `--shard 2/3`. */
export interface Shard {
  readonly index: number;
  readonly total: number;
}

export function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(match?.[1]);
  const total = Number(match?.[2]);
  if (!match || total < 1 || index < 1 || index > total) {
    throw new FruixError(`--shard must be i/n with 1 <= i <= n (e.g. --shard 2/3), not '${text}'`, { exitCode: 2 });
  }
  return { index, total };
}

/**
 * The cells shard i of n runs: every n-th cell, starting at the i-th. Dealing
 * round-robin spreads each project's scenarios over the shards; the shards are
 * disjoint and together are the whole list.
 */
export function shardCells<T>(cells: readonly T[], shard: Shard | undefined): T[] {
  if (!shard) return [...cells];
  return cells.filter((_, k) => k % shard.total === shard.index - 1);
}

// --- retries ---------------------------------------------------------------

/** How a cell's attempts are classed: passed first time, flaky (passed on a retry), or failed (last attempt failed). */
export function classify(attempts: readonly Status[]): CellStatus {
  if (attempts.length === 0) return "skipped";
  if (attempts.at(-1) === "FAIL") return "failed";
  return attempts.length === 1 ? "passed" : "flaky";
}

/** The word tables and key=value lines use for a cell status. */
export const STATUS_WORD: Readonly<Record<CellStatus, string>> = { passed: "PASS", flaky: "FLAKY", failed: "FAIL", skipped: "SKIPPED" };

export function parseRetries(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > MAX_RETRIES) throw new FruixError(`--retries needs a non-negative integer, at most ${MAX_RETRIES}, not '${text}'`, { exitCode: 2 });
  return n;
}
