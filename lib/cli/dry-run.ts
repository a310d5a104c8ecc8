// `--dry-run` of the build commands: the command runs inside a Plan (lib/plan.ts)
// and prints what it recorded instead of its results.
import { Plan, withPlan, type PlanEntries } from "../plan.js";
import { Printout } from "./options.js";

/** The plan as lines (repeated keys, in this order) and as one JSON object (pure). */
export function planPrintout(entries: PlanEntries): Printout {
  const lines = [
    "dry_run=true",
    ...entries.download.map((d) => `would_download=${d}`),
    ...entries.build.map((b) => `would_build=${b}`),
    ...entries.exists.map((e) => `exists=${e}`),
    ...entries.write.map((w) => `would_write=${w}`),
    // The steps after it need its content: they cannot be named before it exists, and would run too.
    ...(entries.stoppedAt ? [`more_after=${entries.stoppedAt}`] : []),
  ];
  const json = {
    dry_run: true,
    would_download: entries.download,
    would_build: entries.build,
    exists: entries.exists,
    would_write: entries.write,
    ...(entries.stoppedAt ? { more_after: entries.stoppedAt } : {}),
  };
  return new Printout(lines.join("\n") + "\n", json);
}

export async function dryRun(fn: () => Promise<void>): Promise<Printout> {
  return planPrintout((await withPlan(new Plan(), fn)).entries);
}
