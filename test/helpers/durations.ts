// Test files start longest first (vitest `sequence.sequencer`): two run at a
// time, and a long file started last would run alone at the end. On a clean
// clone vitest has no timings of its own, so the last recorded ones are
// committed in test/durations.json (`node test/helpers/record-durations.mjs`
// after a full run writes it from vitest's cache). A file in neither starts
// first, as vitest does with files it has not timed.
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

const recorded: Record<string, number> = JSON.parse(readFileSync(join(import.meta.dirname, "..", "durations.json"), "utf8"));

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const seconds = (spec: TestSpecification): number => {
      const file = relative(root, spec.moduleId);
      const cached = this.ctx.cache.getFileTestResults(`${spec.project.name}:${file}`);
      return cached ? cached.duration / 1000 : (recorded[file] ?? Infinity);
    };
    return [...files].sort((a, b) => seconds(b) - seconds(a));
  }
}
