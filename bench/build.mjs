#!/usr/bin/env node
// System build speed on examples/minimal.scm, through the real `fruix` command:
//   no-op rebuild of an existing closure      (target < 0.5 s)
//   cold build into a fresh, empty store, Debian downloads already cached   (target < 10 s)
//   cold closure with the base already in the store (a changed host name)   (target < 10 s)
// Needs `npm run build` first. Prints one line per figure and exits 1 when a target is missed.
//
//   node bench/build.mjs [--runs N]
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cli = join(root, "dist", "lib", "cli", "main.js");
const example = join(root, "examples", "minimal.scm");
const runsIndex = process.argv.indexOf("--runs");
const runs = runsIndex < 0 ? 5 : Number(process.argv[runsIndex + 1]);

const work = mkdtempSync(join(tmpdir(), "fruix-bench-build-"));
process.on("exit", () => {
  spawnSync("chmod", ["-R", "u+w", work]);
  rmSync(work, { recursive: true, force: true });
});

function build(file, store) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [cli, "system", "build", file, "--quiet"], {
    env: { ...process.env, FRUIX_STORE: store },
    encoding: "utf8",
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`fruix system build failed: ${result.stderr}`);
  return seconds;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Warm the download cache (and the apt answer cache) once, outside the measurements.
build(example, join(work, "warm", "store"));

const cold = [];
const closureOnly = [];
const noop = [];
for (let i = 0; i < runs; i++) {
  const store = join(work, `run-${i}`, "store");
  cold.push(build(example, store));
  noop.push(build(example, store));
  const variant = join(work, `variant-${i}.scm`);
  writeFileSync(variant, readFileSync(example, "utf8").replace('(host-name "fruix-minimal")', `(host-name "fruix-bench-${i}")`));
  closureOnly.push(build(variant, store));
}

const figures = [
  ["no-op rebuild", median(noop), 0.5],
  ["cold build, fresh store, downloads cached", median(cold), 10],
  ["cold closure, base in store", median(closureOnly), 10],
];
let missed = false;
for (const [name, seconds, target] of figures) {
  const ok = seconds < target;
  missed ||= !ok;
  console.log(`${name}: ${seconds.toFixed(3)} s (median of ${runs}; target < ${target} s) ${ok ? "ok" : "MISSED"}`);
}
process.exitCode = missed ? 1 : 0;
