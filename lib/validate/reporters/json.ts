// The machine-readable record of a run, and of each scenario.
import type { MatrixReporter, Reporter } from "../report.js";

export const jsonReporter: Reporter = {
  name: "json",
  render(run) {
    return { "results.json": JSON.stringify(run, null, 2) + "\n" };
  },
  renderScenario(scenario) {
    return { "result.json": JSON.stringify(scenario, null, 2) + "\n" };
  },
};

/** matrix.json: the matrix run, every cell with every attempt; `fruix report sign-off` reads it. */
export const matrixJsonReporter: MatrixReporter = {
  name: "json",
  render(run) {
    return { "matrix.json": JSON.stringify(run, null, 2) + "\n" };
  },
};
