// Trial boots in a real VM under TCG: the trial-fallback scenario's three
// candidates (a panic, a failed HTTP check, a good one), staged from the host
// with reconfigure --trial's copy and switch --trial.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupTempDirs, fruix, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

describe("fruix validate trial-fallback", () => {
  let reportDir: string;
  let result: Awaited<ReturnType<typeof fruix>>;

  beforeAll(async () => {
    const dir = await tempDir();
    reportDir = join(dir, "report");
    result = await fruix(["validate", "trial-fallback", "--accel", "tcg", "--report-dir", reportDir], { FRUIX_STORE: join(dir, "store") });
  }, 1_200_000);

  it("passes", () => {
    expect(result.exitCode, result.stderr.slice(-3000)).toBe(0);
    expect(result.stdout).toContain("trial-fallback=PASS\n");
  });

  it("reports one summary line per candidate", async () => {
    const report = await readFile(join(reportDir, "trial-fallback", "report.md"), "utf8");
    for (const line of ["trial_a=fell-back", "trial_b=fell-back", "trial_c=blessed"]) expect(report).toContain(line);
    for (const check of ["PASS (a) the candidate's boot panics", "PASS (b) the helper marks it bad and reboots", "PASS (c) the watchdog guards the trial boot", "PASS (c) it survives the reboot"]) {
      expect(report).toContain(check);
    }
    expect(report).toContain("`PASS trial-fallback`");
  });
});
