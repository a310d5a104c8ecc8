// The native-build scenario in a real VM under TCG: a development-enabled
// guest builds BusyBox from its source store over SSH, the result is
// promoted, and a system whose BusyBox is the promoted world boots.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupTempDirs, fruix, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

describe("fruix validate native-build", () => {
  let reportDir: string;
  let result: Awaited<ReturnType<typeof fruix>>;

  beforeAll(async () => {
    const dir = await tempDir();
    reportDir = join(dir, "report");
    result = await fruix(["validate", "native-build", "--accel", "tcg", "--report-dir", reportDir], { FRUIX_STORE: join(dir, "store") });
  }, 3_600_000);

  it("passes", () => {
    expect(result.exitCode, result.stderr.slice(-3000)).toBe(0);
    expect(result.stdout).toContain("native-build=PASS\n");
  });

  it("names the run id and every promoted store path, and the running BusyBox is the promoted one", async () => {
    const report = await readFile(join(reportDir, "native-build", "report.md"), "utf8");
    expect(report).toMatch(/run_id=\d{8}T\d{6}Z-[0-9a-f]{6}/);
    expect(report).toMatch(/promoted_world=\/frx\/store\/[0-9a-f]{64}-fruix-native-world-/);
    expect(report).toMatch(/promoted_result_bundle=\/frx\/store\/[0-9a-f]{64}-fruix-native-build-result-/);
    expect(report).toContain("PASS /bin/busybox is the natively built binary (its sha256 is the promoted item's)");
    expect(report).toContain("`PASS native-build`");
  });
});
