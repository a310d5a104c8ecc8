#!/usr/bin/env node
// Writes test/durations.json (seconds per test file) from vitest's own cache of
// the last run, for the sequencer (test/helpers/durations.ts) on clean clones.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");
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
const sorted = Object.fromEntries(Object.entries(durations).sort(([a], [b]) => a.localeCompare(b)));
writeFileSync(join(root, "test", "durations.json"), `${JSON.stringify(sorted, null, 2)}\n`);
console.log(`test/durations.json: ${Object.keys(sorted).length} files`);
