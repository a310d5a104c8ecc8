// `fruix validate`: choose scenarios, run them on one hypervisor, write reports.
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { hypervisorFactory } from "../../hypervisors/index.js";
import { FruixError } from "../errors.js";
import { checkInstallTargetDevice } from "../system/installer.js";
import { createLogger } from "../log.js";
import { packageRoot } from "../paths.js";
import { Store } from "../store/index.js";
import { markLatest, runScenarios } from "../validate/engine.js";
import { passed } from "../validate/report.js";
import { jsonReporter } from "../validate/reporters/json.js";
import { junitReporter } from "../validate/reporters/junit.js";
import { markdownReporter } from "../validate/reporters/markdown.js";
import { loadScenarios, selectScenarios } from "../validate/registry.js";
import type { CommandContext } from "./commands.js";

const ACCELS = ["auto", "kvm", "tcg"] as const;

function runId(): string {
  return `${new Date().toISOString().replace(/[:.]/g, "-").replace(/-\d{3}Z$/, "Z")}-${randomBytes(2).toString("hex")}`;
}

export async function validateCommand(context: CommandContext): Promise<Record<string, string | number>> {
  const o = context.options;
  const all = await loadScenarios();
  const hypervisor = o.hypervisor ?? "qemu";
  if (o.list) {
    for (const s of all) process.stdout.write(`${s.id}\t${s.phase}\t${s.title}\t${s.hypervisors.join(",")}\n`);
    return {};
  }
  const scenarios = selectScenarios(all, { ids: context.args, grep: o.grep, hypervisor });
  const accel = o.accel ?? "auto";
  if (!ACCELS.includes(accel as never)) throw new FruixError(`--accel must be one of ${ACCELS.join(", ")}`, { exitCode: 2 });
  const timeoutScale = o["timeout-scale"] === undefined ? 1 : Number(o["timeout-scale"]);
  if (!(timeoutScale > 0)) throw new FruixError("--timeout-scale must be a positive number", { exitCode: 2 });

  const installTargetDevice =
    o["install-target-device"] === undefined ? undefined : checkInstallTargetDevice(o["install-target-device"]);
  const log = createLogger({ quiet: o.quiet });
  const id = runId();
  const reportsRoot = join(packageRoot, "reports");
  const reportDir = o["report-dir"] ? resolve(o["report-dir"]) : join(reportsRoot, id);
  const run = await runScenarios(scenarios, {
    store: await Store.open({ store: o.store }),
    log,
    hypervisor: hypervisorFactory(hypervisor, { accel: accel as (typeof ACCELS)[number], timeoutScale, log: (line) => log.info(line) }),
    declaration: o.declaration ?? join(packageRoot, "examples", "minimal.scm"),
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
