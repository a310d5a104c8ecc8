// The machine-readable record: each attempt's result.json as it ends, and
// matrix.json, rewritten after every cell (complete: false) and at the end;
// `fruix report sign-off` reads it.
import type { Reporter, RunRecord } from "../report.js";

const json = (value: unknown) => JSON.stringify(value, null, 2) + "\n";

export const RUN_RECORD_FILE = "matrix.json";

function runRecord(run: RunRecord) {
  return { [RUN_RECORD_FILE]: json(run) };
}

export const jsonReporter: Reporter = {
  name: "json",
  onEvent(event) {
    switch (event.type) {
      case "attempt-end":
        return { [`${event.record.folder}/result.json`]: json(event.report) };
      case "begin":
      case "cell-end":
      case "end":
        return runRecord(event.run);
    }
  },
};
