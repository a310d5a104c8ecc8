#!/usr/bin/env node
// Writes test/durations.json (seconds per test file) from vitest's own cache of
// the last run, for the sequencer (test/helpers/durations.ts) on clean clones.
// bench/suite.mjs reads the same cache through lastRunDurations().
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const root = join(import.meta.dirname, "..", "..");

/** Seconds per test file of this checkout (with its hooks: what vitest itself records), from the last run. */
export function lastRunDurations() {
  const cacheRoot = join(root, "node_modules", ".vite", "vitest");
  const durations = {};
  for (const dir of readdirSync(cacheRoot)) {
    const { results } = JSON.parse(readFileSync(join(cacheRoot, dir, "results.json"), "utf8"));
    for (const [key, { duration }] of results) {
      const file = key.replace(/^[^:]*:/, "");
      // The cache is shared by every checkout using this node_modules: keep this one's files.
      if (file.startsWith("test/") && duration > 0 && existsSync(join(root, file))) durations[file] = Math.round(duration / 100) / 10;
    }
  }
  return durations;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const durations = lastRunDurations();
  const sorted = Object.fromEntries(Object.entries(durations).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(join(root, "test", "durations.json"), `${JSON.stringify(sorted, null, 2)}\n`);
  console.log(`test/durations.json: ${Object.keys(sorted).length} files`);
}
