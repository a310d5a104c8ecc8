#!/usr/bin/env node
// The test suite's wall time against issue 19's target (npm test under 10
// minutes), beside the floor its own CPU sets: CPU-bound work cannot finish in
// less than its CPU seconds divided by the cores, however it is scheduled.
// The suite has no plain tool to race; that floor is its yardstick. With
// --accounting (root and Debian's acct) the CPU is split by command (QEMU,
// node, dpkg-deb, ...) from process accounting, which sees the whole machine:
// run it on an idle one. Not in `npm run bench`: it takes as long as the suite.
// Needs `npm run build` first.
//
//   node bench/suite.mjs [--accounting] [vitest's file filters, to try it on a few files]
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { lastRunDurations } from "../test/helpers/record-durations.mjs";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const TARGET = 600;
const accounting = process.argv.includes("--accounting");
const filters = process.argv.slice(2).filter((a) => a !== "--accounting");

const work = mkdtempSync(join(tmpdir(), "fruix-bench-suite-"));
const pacct = join(work, "pacct");
let accountingOn = false;
const stopAccounting = () => {
  if (accountingOn) spawnSync("accton", ["off"]);
  accountingOn = false;
};
process.on("exit", () => {
  stopAccounting();
  rmSync(work, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));

if (accounting) {
  if (process.getuid?.() !== 0) throw new Error("--accounting needs root (accton switches the machine's process accounting)");
  if (spawnSync("sh", ["-c", "command -v accton && command -v dump-acct"]).status !== 0) throw new Error("--accounting needs Debian's acct package (accton, dump-acct)");
  writeFileSync(pacct, "");
  execFileSync("accton", [pacct], { stdio: "ignore" });
  accountingOn = true;
}

/** CPU seconds of this process's reaped descendants (utime and stime of every waited-for child, and theirs). */
function childrenCpuSeconds() {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
  const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));
  return (Number(fields[13]) + Number(fields[14])) / ticks; // cutime, cstime
}

const json = join(work, "vitest.json");
const started = process.hrtime.bigint();
const cpuBefore = childrenCpuSeconds();
const run = spawnSync(process.execPath, [join(root, "node_modules", "vitest", "vitest.mjs"), "run", ...filters], {
  cwd: root,
  env: { ...process.env, FRUIX_TEST_JSON: json },
  stdio: "inherit",
});
const wall = Number(process.hrtime.bigint() - started) / 1e9;
const cpu = childrenCpuSeconds() - cpuBefore;
stopAccounting();

const report = JSON.parse(readFileSync(json, "utf8"));
// Per file with its hooks (where the scenarios run), as vitest records it for its sequencer; the JSON report's times leave hooks out.
const files = Object.entries(lastRunDurations())
  .filter(([file]) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .map(([file, seconds]) => ({ file, seconds }))
  .sort((a, b) => b.seconds - a.seconds);
const cores = availableParallelism();
console.log(`tests_passed=${report.numPassedTests}`);
console.log(`tests_failed=${report.numFailedTests}`);
console.log(`suite_wall_seconds=${wall.toFixed(0)}`);
console.log(`suite_cpu_seconds=${cpu.toFixed(0)}`);
console.log(`cores=${cores}`);
console.log(`cpu_floor_seconds=${(cpu / cores).toFixed(0)}`);
console.log(`test_file_seconds=${files.reduce((sum, f) => sum + f.seconds, 0).toFixed(0)}`);
for (const f of files.slice(0, 10)) console.log(`file ${f.file} ${f.seconds.toFixed(0)}`);

if (accounting) {
  // dump-acct: command|version|user ticks|system ticks|elapsed|... (ticks of 1/100 s, acct v3)
  const byCommand = new Map();
  for (const line of execFileSync("dump-acct", [pacct], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 }).split("\n")) {
    const [command, , user, system] = line.split("|").map((s) => s.trim());
    if (!command) continue;
    const name = command.startsWith("node") ? "node" : command;
    const entry = byCommand.get(name) ?? { seconds: 0, processes: 0 };
    entry.seconds += (Number(user) + Number(system)) / 100;
    entry.processes += 1;
    byCommand.set(name, entry);
  }
  for (const [name, { seconds, processes }] of [...byCommand].sort((a, b) => b[1].seconds - a[1].seconds).slice(0, 8)) {
    console.log(`cpu_by_command ${name} ${seconds.toFixed(0)} s in ${processes} processes`);
  }
}

console.log(`target_seconds=${TARGET}`);
const met = wall < TARGET;
const why = filters.length ? " (only the files given, not the suite)" : !met && cpu / cores >= TARGET ? " (the CPU floor alone is over the target)" : "";
console.log(`result=${met ? "PASS" : "MISS"}${why}`);
process.exitCode = report.numFailedTests === 0 && report.success && met ? 0 : 1;
