// The machine-readable record of a run, and of each scenario.
import type { Reporter } from "../report.js";

export const jsonReporter: Reporter = {
  name: "json",
  render(run) {
    const files: Record<string, string> = { "results.json": JSON.stringify(run, null, 2) + "\n" };
    for (const s of run.scenarios) files[`${s.id}/result.json`] = JSON.stringify(s, null, 2) + "\n";
    return files;
  },
};
