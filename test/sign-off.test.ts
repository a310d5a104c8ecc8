// `fruix report sign-off`: run directories (matrix and plain) merged into one
// Markdown and one HTML document; escaping, links, conflicts, test doubles,
// and one clear line for a missing or damaged run directory.
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CellRecord, RunRecord, ScenarioReport } from "../lib/validate/report.js";
import { jsonReporter } from "../lib/validate/reporters/json.js";
import { type LegacyPlainRun, readRunDir } from "../lib/validate/run-dir.js";
import { renderSignOffHtml } from "../lib/validate/sign-off-html.js";
import { buildSignOff, mdText, renderSignOffMarkdown } from "../lib/validate/sign-off.js";
import { cleanupTempDirs, fruix, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

const CLOSURE = "/frx/store/1111111111111111111111111111111111111111111111111111111111111111-fruix-system-fruix-minimal";
const HOSTILE = `<script>alert("x")</script> | *bold* [link](javascript:alert(1)) & done`;

function cell(project: string, scenario: string, status: CellRecord["status"], extra: Partial<CellRecord> = {}): CellRecord {
  const attempts =
    status === "skipped"
      ? []
      : (status === "flaky" ? ["FAIL", "PASS"] : [status === "passed" ? "PASS" : "FAIL"]).map((s, k) => ({
          number: k + 1,
          status: s as "PASS" | "FAIL",
          seconds: 30 + k,
          folder: `${project}/${scenario}/attempt-${k + 1}`,
          report: `${project}/${scenario}/attempt-${k + 1}/report.md`,
          transcripts: [`${project}/${scenario}/attempt-${k + 1}/vm-serial.log`],
          failure: s === "FAIL" ? HOSTILE : undefined,
        }));
  return {
    project,
    hypervisor: project.startsWith("xcp") ? "xcp-ng" : "qemu",
    scenario,
    phase: "Phase",
    title: scenario,
    status,
    seconds: attempts.reduce((t, a) => t + a.seconds, 0),
    closurePath: status === "skipped" ? undefined : CLOSURE,
    hypervisorNotes: status === "skipped" ? [] : ["acceleration tcg: KVM unusable (no /dev/kvm); falling back to TCG, which is slower"],
    attempts,
    ...extra,
  };
}

/** The run directory's record as the JSON reporter writes it at the end of a run. */
function recordFiles(run: RunRecord): Record<string, string> {
  return { ...jsonReporter.onEvent({ type: "end", run }) };
}

function matrixRun(runId: string, cells: CellRecord[], extra: Partial<RunRecord> = {}): RunRecord {
  return {
    kind: "fruix-matrix-run",
    formatVersion: 1,
    runId,
    started: "2025-01-02T03:04:05.000Z",
    seconds: 100,
    fruixVersion: "0.1.0",
    matrixFile: "matrix/nightly.json",
    onlyProjects: [],
    retries: 1,
    complete: true,
    cells,
    ...extra,
  };
}

function plainScenario(id: string, status: "PASS" | "FAIL"): ScenarioReport {
  return {
    id,
    phase: "Phase",
    title: id,
    goal: "goal",
    hypervisor: "qemu",
    status,
    started: "2025-01-01T00:00:00.000Z",
    seconds: 42.5,
    environment: ["acceleration tcg (as requested)", "system under test: x", "fruix 0.1.0"],
    hypervisorNotes: ["acceleration tcg (as requested)"],
    steps: [],
    checks: [],
    results: [["closure_path", CLOSURE]],
    failure: status === "FAIL" ? { message: "check 3 failed: host name" } : undefined,
    transcripts: [{ machine: "vm", file: "vm-serial.log" }],
  };
}

async function writeRun(dir: string, files: Record<string, string>): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  return dir;
}

let root: string;
let shard1: string;
let shard2: string;
let plain: string;

beforeAll(async () => {
  root = await tempDir();
  shard1 = await writeRun(
    join(root, "runs", "qemu shard 1"), // a space: links must be encoded
    recordFiles(
      matrixRun("run-a", [cell("qemu", "image-boot", "passed"), cell("qemu", "direct-install", "flaky"), cell("xcp-ng", "image-boot", "skipped", { skipReason: "FRUIX_XAPI_URL is not set" })], {
        shard: { index: 1, total: 2 },
      }),
    ),
  );
  shard2 = await writeRun(
    join(root, "runs", "shard-2"),
    recordFiles(
      matrixRun("run-b", [
        cell("qemu", "switch-rollback", "failed"),
        cell("xcp-ng", "direct-install", "passed", { hypervisorNotes: ["XCP-ng test double (hypervisors/xcp-ng/testhost): not a real XCP-ng pool"] }),
      ], { shard: { index: 2, total: 2 } }),
    ),
  );
  const run: LegacyPlainRun = { runId: "plain-run", started: "2025-01-01T00:00:00.000Z", seconds: 50, fruixVersion: "0.1.0", scenarios: [plainScenario("image-boot", "FAIL")] };
  // A plain run as fruix 0.1.0 wrote it before the one run model: results.json only.
  plain = await writeRun(join(root, "runs", "plain"), { "results.json": JSON.stringify(run, null, 2) + "\n" });
});

describe("reading run directories", () => {
  it("reads a run record (matrix.json) and a plain run's results.json as fruix 0.1.0 wrote it, as cells", async () => {
    const m = await readRunDir(shard1);
    expect(m.source).toMatchObject({ kind: "matrix", runId: "run-a", shard: { index: 1, total: 2 }, complete: true });
    expect(m.cells.map((c) => `${c.project}/${c.scenario}=${c.status}`)).toEqual(["qemu/image-boot=passed", "qemu/direct-install=flaky", "xcp-ng/image-boot=skipped"]);
    const p = await readRunDir(plain);
    expect(p.source).toMatchObject({ kind: "plain", runId: "plain-run" });
    expect(p.cells).toEqual([
      expect.objectContaining({
        project: "qemu",
        scenario: "image-boot",
        status: "failed",
        closurePath: CLOSURE,
        hypervisorNotes: ["acceleration tcg (as requested)"],
        attempts: [expect.objectContaining({ report: "image-boot/report.md", transcripts: ["image-boot/vm-serial.log"], failure: "check 3 failed: host name" })],
      }),
    ]);
  });

  it("says in one line what is wrong with a missing, empty or damaged run directory", async () => {
    const missing = join(root, "nope");
    await expect(readRunDir(missing)).rejects.toThrow(`${missing}: no such run directory`);
    const empty = await writeRun(join(root, "empty"), {});
    await expect(readRunDir(empty)).rejects.toThrow(`${empty}: not a fruix run directory (it has neither matrix.json nor results.json)`);
    const corrupt = await writeRun(join(root, "corrupt"), { "matrix.json": '{"kind": "fruix-matrix-run", "cells": [' });
    await expect(readRunDir(corrupt)).rejects.toThrow(new RegExp(`^${corrupt}/matrix\\.json: not valid JSON \\(.+\\); the run directory is damaged$`));
    const wrong = await writeRun(join(root, "wrong"), { "matrix.json": JSON.stringify(matrixRun("r", [{ ...cell("qemu", "image-boot", "passed"), status: "green" as never }])) });
    await expect(readRunDir(wrong)).rejects.toThrow(`${wrong}/matrix.json: cell 1 (qemu/image-boot): status 'green' is not one of passed, flaky, failed, skipped`);
  });
});

describe("the sign-off document", () => {
  let markdown: string;
  let html: string;
  let signOff: ReturnType<typeof buildSignOff>;

  beforeAll(async () => {
    const runs = [await readRunDir(shard1), await readRunDir(shard2), await readRunDir(plain)];
    signOff = buildSignOff(runs, join(root, "out"), new Date("2025-01-03T00:00:00Z"));
    markdown = renderSignOffMarkdown(signOff);
    html = renderSignOffHtml(signOff);
  });

  it("merges shards into one scenario x hypervisor table; the test double gets its own column", () => {
    expect(signOff.columns).toEqual(["qemu", "xcp-ng", "xcp-ng (test double)"]);
    expect(markdown).toContain("| scenario | qemu | xcp-ng | xcp-ng \\(test double\\) |");
    expect(markdown).toMatch(/^\| image-boot \| CONFLICT: PASS \\\(run 1\\\), FAIL \\\(run 3\\\) \| SKIPPED \| not run \|$/m);
    expect(markdown).toMatch(/^\| direct-install \| FLAKY \| not run \| PASS \|$/m);
    expect(markdown).toMatch(/^\| switch-rollback \| FAIL \| not run \| not run \|$/m);
    // Never labelled as XCP-ng itself: the cell that ran on the double is only in the double's column.
    expect(markdown).not.toMatch(/^\| direct-install \| [A-Z]+ \| PASS/m);
  });

  it("shows a conflict instead of overwriting it, and counts the worse result", () => {
    expect(signOff.conflicts).toBe(1);
    expect(markdown).toMatch(/^## Conflicts$/m);
    expect(markdown).toContain("- image-boot on qemu: run 1 PASS, run 3 FAIL");
    expect(signOff.counts).toEqual({ passed: 1, flaky: 1, failed: 2, skipped: 1 });
    expect(signOff.verdict).toBe("FAIL");
    expect(markdown).toContain("**Verdict: FAIL** — 2 cells failed.");
  });

  it("links each attempt's report and transcript relative to the document, closure paths and durations", () => {
    expect(markdown).toContain("[report](../runs/qemu%20shard%201/qemu/direct-install/attempt-1/report.md)");
    expect(markdown).toContain("[vm-serial.log](../runs/qemu%20shard%201/qemu/direct-install/attempt-2/vm-serial.log)");
    expect(markdown).toContain("[report](../runs/plain/image-boot/report.md)");
    expect(markdown).toContain(`\`${CLOSURE}\``);
    expect(markdown).toMatch(/\| direct-install \| qemu \| FLAKY \| `[^`]+` \| 1 min 1 s \| 1: FAIL 30\.0 s .*<br>2: PASS 31\.0 s /);
    expect(html).toContain('<a href="../runs/qemu%20shard%201/qemu/direct-install/attempt-1/report.md">report</a>');
  });

  it("carries the hypervisor notes: TCG fallback, and the test double's own words", () => {
    expect(markdown).toContain("- **qemu**: acceleration tcg: KVM unusable \\(no /dev/kvm\\); falling back to TCG, which is slower; acceleration tcg \\(as requested\\)");
    expect(markdown).toContain("- **xcp-ng \\(test double\\)**: XCP-ng test double \\(hypervisors/xcp-ng/testhost\\): not a real XCP-ng pool");
    expect(html).toContain("<li><b>xcp-ng (test double)</b>: XCP-ng test double (hypervisors/xcp-ng/testhost): not a real XCP-ng pool</li>");
  });

  it("lists skipped cells with their reason and never counts them as passed", () => {
    expect(markdown).toContain("- image-boot on xcp-ng: FRUIX\\_XAPI\\_URL is not set");
    expect(html).toContain("<li>image-boot on xcp-ng: FRUIX_XAPI_URL is not set</li>");
    expect(html).toContain('<td class="skipped">SKIPPED</td>');
  });

  it("escapes what runs wrote, in Markdown and in HTML", () => {
    expect(markdown).not.toContain("<script>");
    expect(markdown).toContain("&lt;script&gt;alert\\(\"x\"\\)&lt;/script&gt; \\| \\*bold\\* \\[link\\]\\(javascript:alert\\(1\\)\\) &amp; done");
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; | *bold* [link](javascript:alert(1)) &amp; done");
    expect(mdText("a|b\nc")).toBe("a\\|b c");
  });

  it("is one self-contained HTML page: no scripts, no external resources", () => {
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).toMatch(/<style>[^<]+<\/style>/);
    expect(html).not.toMatch(/<script|<link|src=|https?:/);
    expect(html).toContain('<td class="failed conflict">CONFLICT: PASS (run 1), FAIL (run 3)</td>');
  });

  it("lists every run it was made from", () => {
    expect(markdown).toMatch(/^1\. matrix run run-a, started 2025-01-02T03:04:05\.000Z, fruix 0\.1\.0, matrix matrix/m);
    expect(markdown).toContain("shard 1/2");
    expect(markdown).toMatch(/^3\. run plain-run, /m);
  });
});

describe("verdicts", () => {
  it("is PASS only when every cell passed (flaky included, said so), INCOMPLETE with skipped cells or an interrupted run", async () => {
    const a = await writeRun(join(root, "v", "a"), recordFiles(matrixRun("a", [cell("qemu", "image-boot", "passed"), cell("qemu", "direct-install", "flaky")])));
    const pass = buildSignOff([await readRunDir(a)], root, new Date());
    expect([pass.verdict, pass.verdictReason]).toEqual(["PASS", "every cell passed; 1 only on a retry (flaky)"]);
    const b = await writeRun(join(root, "v", "b"), recordFiles(matrixRun("b", [cell("xcp-ng", "image-boot", "skipped", { skipReason: "unset" })])));
    const skipped = buildSignOff([await readRunDir(a), await readRunDir(b)], root, new Date());
    expect([skipped.verdict, skipped.verdictReason]).toEqual(["INCOMPLETE", "1 cell was skipped (never run, so not passed)"]);
    const c = await writeRun(join(root, "v", "c"), recordFiles(matrixRun("c", [cell("qemu", "image-boot", "passed")], { complete: false })));
    expect(buildSignOff([await readRunDir(c)], root, new Date()).verdict).toBe("INCOMPLETE");
  });
});

describe("fruix report sign-off (the command)", () => {
  it("writes the Markdown and the HTML document and prints what it found", async () => {
    const out = join(root, "out", "sign-off.md");
    // reports/latest and its target are the same run: read once.
    await symlink(plain, join(root, "runs", "latest"));
    const result = await fruix(["report", "sign-off", shard1, shard2, plain, join(root, "runs", "latest"), "--output", out]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout.split("\n")).toEqual([
      `sign_off=${out}`,
      `sign_off_html=${join(root, "out", "sign-off.html")}`,
      "runs=3",
      "cells=5",
      "passed=1",
      "flaky=1",
      "failed=2",
      "skipped=1",
      "conflicts=1",
      "verdict=FAIL",
    ]);
    expect(await readFile(out, "utf8")).toMatch(/^# Fruix validation sign-off$/m);
    expect(await readFile(join(root, "out", "sign-off.html"), "utf8")).toContain("<h1>Fruix validation sign-off</h1>");
  });

  it("fails with one line, and writes nothing, when a run directory is missing or damaged", async () => {
    const out = join(root, "bad", "sign-off.md");
    const missing = await fruix(["report", "sign-off", shard1, join(root, "nope"), "--output", out]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr.trim()).toBe(`fruix: ${join(root, "nope")}: no such run directory`);
    const corrupt = await writeRun(join(root, "corrupt2"), { "results.json": "{" });
    const bad = await fruix(["report", "sign-off", corrupt, "--output", out]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/^fruix: .*corrupt2\/results\.json: not valid JSON/);
    const usage = await fruix(["report", "sign-off", shard1]);
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr.trim()).toBe("fruix: expected RUN_DIR... and --output FILE.md: fruix report sign-off RUN_DIR... --output FILE.md");
    await expect(readFile(out)).rejects.toThrow(/ENOENT/);
  });
});
