#!/usr/bin/env node
// Parallel runs: the six QEMU scenarios with `fruix validate --jobs 2` against
// `--jobs 1`, side by side in one run (alternating, after a warm-up run that
// builds every store item, so both measure validation, not the first build).
// Target: --jobs 2 under 75 s on the project's 2-core machine (133 s serial).
// Needs `npm run build` first.
//
//   node bench/jobs.mjs [--runs N]
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cli = join(root, "dist", "lib", "cli", "main.js");
const runsIndex = process.argv.indexOf("--runs");
const runs = runsIndex < 0 ? 1 : Number(process.argv[runsIndex + 1]);
const TARGET = 75;
const SCENARIOS = ["image-boot", "direct-install", "generation-layout", "switch-rollback", "installer-disk", "installer-iso"];

const work = mkdtempSync(join(tmpdir(), "fruix-bench-jobs-"));
process.on("exit", () => {
  spawnSync("chmod", ["-R", "u+w", work]);
  rmSync(work, { recursive: true, force: true });
});
const env = { ...process.env, FRUIX_STORE: join(work, "var", "store") };

function validate(jobs, label) {
  const reportDir = join(work, `report-${label}`);
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [cli, "validate", ...SCENARIOS, "--accel", "tcg", "--jobs", String(jobs), "--quiet", "--report-dir", reportDir], { env, encoding: "utf8" });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`fruix validate --jobs ${jobs} failed:\n${result.stdout}${result.stderr}`);
  const cells = JSON.parse(readFileSync(join(reportDir, "matrix.json"), "utf8")).cells;
  return { seconds, scenarioSeconds: Object.fromEntries(cells.map((c) => [c.scenario, c.seconds])) };
}

process.stderr.write("warm-up: --jobs 1 (builds every store item once)\n");
const warm = validate(1, "warm");
process.stderr.write(`  ${warm.seconds.toFixed(1)} s\n`);
const serial = [];
const parallel = [];
for (let i = 0; i < runs; i++) {
  const s = validate(1, `serial-${i}`);
  serial.push(s.seconds);
  process.stderr.write(`--jobs 1: ${s.seconds.toFixed(1)} s ${JSON.stringify(s.scenarioSeconds)}\n`);
  const p = validate(2, `parallel-${i}`);
  parallel.push(p.seconds);
  process.stderr.write(`--jobs 2: ${p.seconds.toFixed(1)} s ${JSON.stringify(p.scenarioSeconds)}\n`);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = median(serial);
const p = median(parallel);
console.log(`jobs1_seconds=${s.toFixed(1)}`);
console.log(`jobs2_seconds=${p.toFixed(1)}`);
console.log(`speedup=${(s / p).toFixed(2)}`);
console.log(`target_seconds=${TARGET}`);
console.log(`result=${p < TARGET ? "PASS" : "MISS"}`);
process.exitCode = p < TARGET ? 0 : 1;
