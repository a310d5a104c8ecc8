// `fruix validate`: choose scenarios, run them on one hypervisor, write reports;
// or, with --matrix (or --retries/--shard), run a matrix of projects x scenarios.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { HYPERVISOR_NAMES, hypervisorFactory } from "../../hypervisors/index.js";
import { FruixError } from "../errors.js";
import { checkInstallTargetDevice } from "./args.js";
import { createLogger } from "../log.js";
import { packageRoot } from "../paths.js";
import { Store } from "../store/index.js";
import { markLatest, requireValidatableDeclaration, runScenarios } from "../validate/engine.js";
import { passed } from "../validate/report.js";
import { jsonReporter } from "../validate/reporters/json.js";
import { junitReporter } from "../validate/reporters/junit.js";
import { markdownReporter } from "../validate/reporters/markdown.js";
import { loadScenarios, selectScenarios } from "../validate/registry.js";
import { ACCELS, type Matrix, MatrixFileError, matrixCells, parseMatrix, parseRetries, parseShard, shardCells, STATUS_WORD } from "../validate/matrix.js";
import { runMatrix } from "../validate/matrix-run.js";
import { matrixJsonReporter } from "../validate/reporters/json.js";
import { matrixJunitReporter } from "../validate/reporters/junit.js";
import { matrixMarkdownReporter } from "../validate/reporters/markdown.js";
import { cellCounts } from "../validate/report.js";
import type { Scenario } from "../validate/scenario.js";
import type { CommandContext } from "./commands.js";

function runId(): string {
  return `${new Date().toISOString().replace(/[:.]/g, "-").replace(/-\d{3}Z$/, "Z")}-${randomBytes(2).toString("hex")}`;
}

export async function validateCommand(context: CommandContext): Promise<Record<string, string | number>> {
  const o = context.options;
  const all = await loadScenarios();
  if (o.project !== undefined && o.matrix === undefined) throw new FruixError("--project picks projects of a --matrix file", { exitCode: 2 });
  if (o.matrix !== undefined || o.retries !== undefined || o.shard !== undefined) return matrixCommand(context, all);
  const hypervisor = o.hypervisor ?? "qemu";
  if (o.list) {
    for (const s of all) process.stdout.write(`${s.id}\t${s.phase}\t${s.title}\t${s.hypervisors.join(",")}\n`);
    return {};
  }
  const scenarios = selectScenarios(all, { ids: context.args, grep: o.grep, hypervisor });
  const { accel, timeoutScale, installTargetDevice } = machineOptions(context);
  const log = createLogger({ quiet: o.quiet });
  const id = runId();
  const reportsRoot = join(packageRoot, "reports");
  const reportDir = o["report-dir"] ? resolve(o["report-dir"]) : join(reportsRoot, id);
  const declaration = o.declaration ?? join(packageRoot, "examples", "minimal.scm");
  await requireValidatableDeclaration(declaration, o.system);
  const run = await runScenarios(scenarios, {
    store: await Store.open({ store: o.store }),
    log,
    hypervisor: hypervisorFactory(hypervisor, { accel, timeoutScale, log: (line) => log.info(line) }),
    declaration,
    system: o.system,
    installTargetDevice,
    timeoutScale,
    keep: o.keep ?? false,
    reportDir,
    runId: id,
    reporters: [markdownReporter, jsonReporter, junitReporter],
  });
  if (!o["report-dir"]) await markLatest(reportsRoot, id);

  const result: Record<string, string | number> = { run_id: id, report_dir: reportDir };
  for (const s of run.scenarios) result[s.id] = s.status;
  result.result = passed(run) ? "PASS" : "FAIL";
  result.exit_code = passed(run) ? 0 : 1;
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

async function matrixCommand(context: CommandContext, all: readonly Scenario[]): Promise<Record<string, string | number>> {
  const o = context.options;
  const matrix = await matrixOf(context, all);
  const shard = o.shard === undefined ? undefined : parseShard(o.shard);
  const retries = o.retries === undefined ? matrix.retries : parseRetries(o.retries);
  const onlyProjects = o.project ?? [];
  const cells = shardCells(matrixCells(matrix, all, process.env, onlyProjects), shard);
  if (o.list) {
    for (const c of cells) process.stdout.write(`${c.project.name}/${c.scenario.id}\t${c.skip ? `skip: ${c.skip}` : "run"}\n`);
    return {};
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
  const run = await runMatrix(cells, {
    store,
    log,
    adapter: (project) => hypervisorFactory(project.hypervisor, { accel: project.accel, timeoutScale: project.timeoutScale, log: (line) => log.info(line) }),
    declaration,
    system,
    keep: o.keep ?? false,
    retries,
    reportDir,
    runId: id,
    matrixFile: matrix.file,
    shard,
    onlyProjects,
    scenarioReporters: [markdownReporter, jsonReporter],
    reporters: [matrixJsonReporter, matrixMarkdownReporter, matrixJunitReporter],
  });
  if (!o["report-dir"]) await markLatest(reportsRoot, id);

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
  const result: Record<string, string | number> = { run_id: id, report_dir: reportDir, matrix: matrix.file };
  if (shard) result.shard = `${shard.index}/${shard.total}`;
  for (const c of run.cells) result[`${c.project}/${c.scenario}`] = STATUS_WORD[c.status];
  Object.assign(result, counts);
  // A skipped cell is never a pass: with nothing run, the result says SKIPPED.
  result.result = counts.failed > 0 ? "FAIL" : counts.passed + counts.flaky > 0 ? "PASS" : "SKIPPED";
  result.exit_code = counts.failed > 0 ? 1 : 0;
  return result;
}
