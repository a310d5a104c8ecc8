// Progress on stderr: each attempt's and each cell's outcome as it ends (the
// nested, timed step lines come from the logger itself).
import type { Logger } from "../../log.js";
import { STATUS_WORD } from "../matrix.js";
import type { Reporter } from "../report.js";
import type { RunLayout } from "../run.js";

export function progressReporter(log: Logger, layout: RunLayout): Reporter {
  return {
    name: "progress",
    onEvent(event) {
      if (event.type === "attempt-end") {
        const { cell, report } = event;
        if (layout === "plain") log.info(`${report.status} ${report.id} (${report.seconds.toFixed(1)} s)`);
        else if (report.status === "FAIL" && report.attempt && report.attempt.number < report.attempt.max) {
          log.info(`attempt ${report.attempt.number} of ${cell.project}/${cell.scenario} failed (${report.failure?.message}); retrying`);
        }
      }
      if (event.type === "cell-end" && layout === "matrix") {
        const c = event.cell;
        if (c.status === "skipped") log.info(`SKIPPED ${c.project}/${c.scenario}: ${c.skipReason}`);
        else log.info(`${STATUS_WORD[c.status]} ${c.project}/${c.scenario} (${c.attempts.length} attempt${c.attempts.length === 1 ? "" : "s"})`);
      }
    },
  };
}
