// The generation scenarios in real VMs: the layout's ten checks on an installed
// target, and switch/rollback across reboots with the in-guest helper.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupTempDirs, fruix, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

describe("fruix validate generation-layout switch-rollback", () => {
  let reportDir: string;
  let result: Awaited<ReturnType<typeof fruix>>;

  beforeAll(async () => {
    const dir = await tempDir();
    reportDir = join(dir, "report");
    result = await fruix(["validate", "generation-layout", "switch-rollback", "--accel", "tcg", "--report-dir", reportDir], {
      FRUIX_STORE: join(dir, "store"),
    });
  }, 900_000);

  it("passes both", () => {
    expect(result.exitCode, result.stderr.slice(-3000)).toBe(0);
    expect(result.stdout).toContain("generation-layout=PASS\n");
    expect(result.stdout).toContain("switch-rollback=PASS\n");
  });

  it("reports the layout with the summary lines of the phase 19.2 report", async () => {
    const report = await readFile(join(reportDir, "generation-layout", "report.md"), "utf8");
    const closure = /^closure_path=(\S+)$/m.exec(report)?.[1];
    expect(closure).toMatch(/^\/frx\/store\/[0-9a-f]{64}-fruix-system-fruix-minimal$/);
    for (const line of [
      "current_generation=1",
      "current_link=generations/1",
      `generation_closure=${closure}`,
      `gcroot_current=${closure}`,
      `gcroot_generation=${closure}`,
      `run_current_system_target=${closure}`,
      "generation_layout=explicit",
      "generation_layout_validation=ok",
    ]) {
      expect(report).toContain(`\n${line}\n`);
    }
    // ... and in the report's order.
    const order = ["closure_path", "current_generation", "current_link", "generation_closure", "gcroot_current", "gcroot_generation", "run_current_system_target", "generation_layout", "generation_layout_validation"];
    const at = order.map((key) => report.indexOf(`\n${key}=`));
    expect(at).toEqual(at.slice().sort((x, y) => x - y));
    expect(report).toMatch(/^10\. PASS install boot validation remains intact/m);
  });

  it("records each step's values: staged 2, booted 2 on the candidate, booted 1 after rollback", async () => {
    const report = await readFile(join(reportDir, "switch-rollback", "report.md"), "utf8");
    const a = /^closure_path=(\S+)$/m.exec(report)?.[1];
    const b = /^candidate_closure_path=(\S+)$/m.exec(report)?.[1];
    expect(b).toMatch(/-fruix-system-fruix-minimal-next$/);
    expect(report).toContain(`\nbooted_initial=1 ${a}\n`);
    expect(report).toContain("\nswitch_staged_generation=2\n");
    expect(report).toContain("\nrollback_staged_generation=1\n");
    expect(report).toContain(`\nbooted_after_switch=2 ${b}\n`);
    expect(report).toContain(`\nbooted_after_rollback=1 ${a}\n`);
    expect(report).toMatch(/^items_sent=[1-9]\d*$/m); // over SSH, into the guest's dropbear
    expect(report).toMatch(/^\d+\. PASS a host key that does not match known_hosts is refused$/m);
    expect(report).toMatch(/^\d+\. PASS the host key survived the reboot and nothing is sent twice$/m);
    const transcript = await readFile(join(reportDir, "switch-rollback", "installed-serial.log"), "latin1");
    expect(transcript.match(/fruix: activated \S+/g)).toEqual([`fruix: activated ${a}`, `fruix: activated ${b}`, `fruix: activated ${a}`]);
  });
});
