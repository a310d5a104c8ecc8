// `fruix validate`: choose scenarios, run them, write the run directory. A
// plain `fruix validate a b` is a one-project matrix; --matrix reads the
// projects (hypervisors with their options) from a file. Either way the run's
// settings are built once, here, and one run model runs it (validate/run.ts).
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { HYPERVISOR_NAMES, hypervisorFactory } from "../../hypervisors/index.js";
import { FruixError } from "../errors.js";
import { makeDirectories } from "../fs.js";
import { checkInstallTargetDevice } from "./args.js";
import { createLogger } from "../log.js";
import { packageRoot } from "../paths.js";
import { Store } from "../store/index.js";
import { requireValidatableDeclaration } from "../validate/engine.js";
import { cellCounts, type RunRecord } from "../validate/report.js";
import { jsonReporter } from "../validate/reporters/json.js";
import { junitReporter } from "../validate/reporters/junit.js";
import { markdownReporter } from "../validate/reporters/markdown.js";
import { progressReporter } from "../validate/reporters/progress.js";
import { loadScenarios, selectScenarios } from "../validate/registry.js";
import { ACCELS, type Matrix, MatrixFileError, matrixCells, parseMatrix, parseRetries, parseShard, shardCells, STATUS_WORD } from "../validate/matrix.js";
import { defaultJobs, parseJobs } from "../validate/jobs.js";
import { cellSeconds, markLatest, type RunLayout, type RunSettings, runValidation } from "../validate/run.js";
import { readRunDir } from "../validate/run-dir.js";
import type { Scenario } from "../validate/scenario.js";
import { type CommandContext, Printout, type Result } from "./options.js";

function runId(): string {
  return `${new Date().toISOString().replace(/[:.]/g, "-").replace(/-\d{3}Z$/, "Z")}-${randomBytes(2).toString("hex")}`;
}

/** `--list`: id, phase, title and hypervisors of each scenario (tab-separated), or with --json one document. */
function scenarioListing(scenarios: readonly Scenario[]): Printout {
  const text = scenarios.map((s) => `${s.id}\t${s.phase}\t${s.title}\t${s.hypervisors.join(",")}\n`).join("");
  return new Printout(text, { scenarios: scenarios.map((s) => ({ id: s.id, phase: s.phase, title: s.title, hypervisors: s.hypervisors })) });
}

export async function validateCommand(context: CommandContext): Promise<Result | Printout> {
  const o = context.options;
  const all = await loadScenarios();
  if (o.project !== undefined && o.matrix === undefined) throw new FruixError("--project picks projects of a --matrix file", { exitCode: 2 });
  // --retries and --shard make even a command-line run a matrix run, with the matrix's folders.
  const layout: RunLayout = o.matrix !== undefined || o.retries !== undefined || o.shard !== undefined ? "matrix" : "plain";
  if (o.list && layout === "plain") return scenarioListing(selectScenarios(all, { ids: context.args, grep: o.grep, hypervisor: o.hypervisor }));
  const matrix = await matrixOf(context, all);
  const shard = o.shard === undefined ? undefined : parseShard(o.shard);
  const retries = o.retries === undefined ? matrix.retries : parseRetries(o.retries);
  const onlyProjects = o.project ?? [];
  const cells = shardCells(matrixCells(matrix, all, process.env, onlyProjects), shard);
  if (o.list) {
    const text = cells.map((c) => `${c.project.name}/${c.scenario.id}\t${c.skip ? `skip: ${c.skip}` : "run"}\n`).join("");
    return new Printout(text, { cells: cells.map((c) => ({ project: c.project.name, scenario: c.scenario.id, run: !c.skip, ...(c.skip ? { skip: c.skip } : {}) })) });
  }

  const log = createLogger({ quiet: o.quiet });
  const id = runId();
  const reportsRoot = join(packageRoot, "reports");
  const reportDir = o["report-dir"] ? resolve(o["report-dir"]) : join(reportsRoot, id);
  const declaration = o.declaration ?? matrix.declaration ?? join(packageRoot, "examples", "minimal.scm");
  const system = o.system ?? matrix.system;
  await requireValidatableDeclaration(declaration, system);
  const store = await Store.open({ store: o.store });
  if (shard) log.info(`shard ${shard.index}/${shard.total}: ${cells.length} cell${cells.length === 1 ? "" : "s"}`);
  const jobs = o.jobs === undefined ? defaultJobs() : parseJobs(o.jobs);
  const settings: RunSettings = {
    store,
    log,
    adapter: (project) => hypervisorFactory(project.hypervisor, { accel: project.accel, timeoutScale: project.timeoutScale, log: (line) => log.info(line) }),
    declaration,
    system,
    keep: o.keep ?? false,
    retries,
    layout,
    reportDir,
    runId: id,
    matrixFile: matrix.file,
    shard,
    onlyProjects,
    verbose: o.verbose ?? false,
    jobs,
    debugOnFailure: o["debug-on-failure"] ?? false,
    // With --jobs, the previous run of this checkout (before latest moves to this one) says which cells are long.
    lastSeconds: jobs > 1 ? await readRunDir(join(reportsRoot, "latest")).then((run) => cellSeconds(run), () => undefined) : undefined,
  };
  if (jobs > 1 && cells.filter((c) => !c.skip).length > 1) log.info(`running up to ${jobs} cells at once (--jobs)`);
  await makeDirectories(reportDir).catch((error: Error) => {
    throw new FruixError(`cannot create the report directory ${reportDir}: ${error.message}`, { cause: error });
  });
  // latest points at the run from its start: `tail -f reports/latest/.../vm-serial.log` follows a boot.
  if (!o["report-dir"]) await markLatest(reportsRoot, id);
  const run = await runValidation(cells, settings, [progressReporter(log, layout), markdownReporter, jsonReporter, junitReporter()]);
  return layout === "plain" ? plainResult(run, reportDir) : matrixResult(run, reportDir, matrix);
}

/** A plain run's stdout: one `<scenario>=PASS|FAIL` line each. */
function plainResult(run: RunRecord, reportDir: string): Record<string, string | number> {
  const result: Record<string, string | number> = { run_id: run.runId, report_dir: reportDir };
  for (const c of run.cells) result[c.scenario] = STATUS_WORD[c.status];
  const passed = run.cells.length > 0 && run.cells.every((c) => c.status === "passed");
  result.result = passed ? "PASS" : "FAIL";
  result.exit_code = passed ? 0 : 1;
  return result;
}

function machineOptions(context: CommandContext) {
  const o = context.options;
  const accel = (o.accel ?? "auto") as (typeof ACCELS)[number];
  if (!ACCELS.includes(accel)) throw new FruixError(`--accel must be one of ${ACCELS.join(", ")}`, { exitCode: 2 });
  const timeoutScale = o["timeout-scale"] === undefined ? 1 : Number(o["timeout-scale"]);
  if (!(timeoutScale > 0)) throw new FruixError("--timeout-scale must be a positive number", { exitCode: 2 });
  const installTargetDevice =
    o["install-target-device"] === undefined ? undefined : checkInstallTargetDevice(o["install-target-device"]);
  return { accel, timeoutScale, installTargetDevice };
}

/** The matrix to run: the --matrix file, or the command line's scenarios on one hypervisor as a one-project matrix. */
async function matrixOf(context: CommandContext, all: readonly Scenario[]): Promise<Matrix> {
  const o = context.options;
  const file = o.matrix;
  if (file === undefined) {
    const hypervisor = o.hypervisor ?? "qemu";
    const scenarios = selectScenarios(all, { ids: context.args, grep: o.grep, hypervisor }).map((s) => s.id);
    const { accel, timeoutScale, installTargetDevice } = machineOptions(context);
    hypervisorFactory(hypervisor, { accel, timeoutScale, log: () => undefined }); // checks the name
    return { file: "(command line)", retries: 0, projects: [{ name: hypervisor, hypervisor, accel, timeoutScale, requiresEnv: [], installTargetDevice, scenarios }] };
  }
  // Everything a cell runs with comes from the file; a second source would be ambiguous.
  const clash = (["hypervisor", "accel", "timeout-scale", "install-target-device", "grep"] as const).filter((name) => o[name] !== undefined);
  if (clash.length > 0) throw new FruixError(`--${clash[0]} cannot be combined with --matrix: set it per project in ${file}`, { exitCode: 2 });
  if (context.args.length > 0) throw new FruixError(`name scenarios in ${file}, not on the command line, with --matrix`, { exitCode: 2 });
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new FruixError(`cannot read the matrix file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { exitCode: 2 });
  }
  try {
    return parseMatrix(text, file, { scenarios: all, hypervisors: HYPERVISOR_NAMES });
  } catch (error) {
    if (error instanceof MatrixFileError) for (const problem of error.problems) process.stderr.write(`fruix: ${problem}\n`);
    throw error;
  }
}

/** A matrix run's stdout: a line per cell, the counts, and flaky cells as warnings on stderr. */
function matrixResult(run: RunRecord, reportDir: string, matrix: Matrix): Record<string, string | number> {
  // Flaky cells pass, but nobody should miss them: this goes to stderr even with --quiet.
  const flaky = run.cells.filter((c) => c.status === "flaky");
  if (flaky.length > 0) {
    process.stderr.write(`WARNING: ${flaky.length} flaky cell${flaky.length === 1 ? "" : "s"} (failed, then passed on a retry):\n`);
    for (const c of flaky) {
      for (const a of c.attempts.filter((x) => x.status === "FAIL")) {
        process.stderr.write(`WARNING:   ${c.project}/${c.scenario} attempt ${a.number}: ${a.failure ?? "failed"} (${join(reportDir, a.report)})\n`);
      }
    }
  }

  const counts = cellCounts(run.cells);
  const result: Record<string, string | number> = { run_id: run.runId, report_dir: reportDir, matrix: matrix.file };
  if (run.shard) result.shard = `${run.shard.index}/${run.shard.total}`;
  for (const c of run.cells) result[`${c.project}/${c.scenario}`] = STATUS_WORD[c.status];
  Object.assign(result, counts);
  // A skipped cell is never a pass: with nothing run, the result says SKIPPED.
  result.result = counts.failed > 0 ? "FAIL" : counts.passed + counts.flaky > 0 ? "PASS" : "SKIPPED";
  result.exit_code = counts.failed > 0 ? 1 : 0;
  return result;
}
