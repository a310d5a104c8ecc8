// `fruix report sign-off`: run directories (matrix and plain) merged into one
// Markdown and one HTML document; escaping, links, conflicts, test doubles,
// and one clear line for a missing or damaged run directory.
import { existsSync } from "node:fs";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CellRecord, RunRecord, ScenarioReport } from "../lib/validate/report.js";
import { jsonReporter } from "../lib/validate/reporters/json.js";
import { type LegacyPlainRun, readRunDir } from "../lib/validate/run-dir.js";
import { renderSignOffHtml } from "../lib/validate/sign-off-html.js";
import { buildSignOff, mdText, renderSignOffMarkdown, TREND_LENGTH } from "../lib/validate/sign-off.js";
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
    expect(markdown).toContain("| image-boot | [PASS](../runs/qemu%20shard%201/qemu/image-boot/attempt-1/report.md) (trend: FAIL → PASS) | SKIPPED | not run |");
    expect(markdown).toContain("| direct-install | [FLAKY](../runs/qemu%20shard%201/qemu/direct-install/attempt-2/report.md) | not run | [PASS](../runs/shard-2/xcp-ng/direct-install/attempt-1/report.md) |");
    expect(markdown).toContain("| switch-rollback | [FAIL](../runs/shard-2/qemu/switch-rollback/attempt-1/report.md) | not run | not run |");
    // Never labelled as XCP-ng itself: the cell that ran on the double is only in the double's column.
    expect(markdown).not.toMatch(/^\| direct-install \| [^|]+ \| \[PASS/m);
  });

  it("takes a cell found in an older run as history: the newest run decides, the older one is its trend, not a conflict", () => {
    expect(signOff.conflicts).toBe(0);
    expect(markdown).not.toMatch(/^## Conflicts$/m);
    const imageBoot = signOff.cells.find((c) => c.scenario === "image-boot" && c.column === "qemu")!;
    expect([imageBoot.status, imageBoot.deciding.sourceNumber, imageBoot.trend.map((e) => e.cell.status)]).toEqual(["passed", 1, ["failed", "passed"]]);
    expect(markdown).toMatch(/^\| image-boot \| qemu \| PASS \|.*\| 1 \|\n\| image-boot \| qemu \| FAIL \(older\) \|.*\| 3 \|$/m);
    expect(signOff.counts).toEqual({ passed: 2, flaky: 1, failed: 1, skipped: 1 });
    expect(signOff.verdict).toBe("FAIL");
  });

  it("names each failed cell's failure in the verdict line and in a Failures section, with its report and transcript", () => {
    const message = mdText(HOSTILE);
    expect(markdown).toContain(`**Verdict: FAIL** — 1 cell failed: switch-rollback on qemu: ${message}.`);
    expect(markdown).toContain(
      `- **switch-rollback on qemu** (run 2, attempt 1): ${message} — [report](../runs/shard-2/qemu/switch-rollback/attempt-1/report.md) [vm-serial.log](../runs/shard-2/qemu/switch-rollback/attempt-1/vm-serial.log)`,
    );
    expect(html).toContain('<a href="../runs/shard-2/qemu/switch-rollback/attempt-1/vm-serial.log">vm-serial.log</a></li>');
    expect(html).toMatch(/<p id="verdict" class="verdict failed">Verdict: FAIL — 1 cell failed: switch-rollback on qemu: &lt;script&gt;/);
  });

  it("links each attempt's report and transcript relative to the document, closure paths and durations", () => {
    expect(markdown).toContain("[report](../runs/qemu%20shard%201/qemu/direct-install/attempt-1/report.md)");
    expect(markdown).toContain("[vm-serial.log](../runs/qemu%20shard%201/qemu/direct-install/attempt-2/vm-serial.log)");
    expect(markdown).toContain("[report](../runs/plain/image-boot/report.md)");
    // Shortened in the tables, whole in the closures list (and on hover in HTML).
    expect(markdown).toMatch(/\| `\/frx\/store\/11111111…-fruix-system-fruix-minimal` \|/);
    expect(markdown).toContain(`- \`/frx/store/11111111…-fruix-system-fruix-minimal\`: \`${CLOSURE}\``);
    expect(html).toContain(`<code title="${CLOSURE}">/frx/store/11111111…-fruix-system-fruix-minimal</code>`);
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
    expect(html).toContain('<td class="failed"><a href="../runs/shard-2/qemu/switch-rollback/attempt-1/report.md">FAIL</a></td>');
  });

  it("lists every run it was made from", () => {
    expect(markdown).toMatch(/^1\. matrix run run-a, started 2025-01-02T03:04:05\.000Z, wall time 1 min 40 s, fruix 0\.1\.0, matrix matrix/m);
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
      "passed=2",
      "flaky=1",
      "failed=1",
      "skipped=1",
      "conflicts=0",
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

describe("history: run directories from several nights", () => {
  const SUT = { declaration: "examples/minimal.scm", declarationHash: "ab".repeat(32), base: ["linux-image-6.1.0-40-amd64 6.1.153-1", "systemd-boot-efi 252.39-1~deb12u1", "busybox-static 1:1.35.0-4+b4"] };

  it("the newest run of each cell decides; older runs are its trend (the last 7), never conflicts", async () => {
    const nights = ["FAIL", "PASS", "PASS", "FAIL", "PASS", "PASS", "PASS", "FAIL", "PASS"] as const;
    const dirs: string[] = [];
    for (const [k, result] of nights.entries()) {
      const started = `2025-02-${String(k + 1).padStart(2, "0")}T02:00:00.000Z`;
      dirs.push(await writeRun(join(root, "nights", `night-${k + 1}`), recordFiles(matrixRun(`night-${k + 1}`, [cell("qemu", "image-boot", result === "PASS" ? "passed" : "failed")], { started }))));
    }
    // Given in any order: start times decide which run is the newest.
    const runs = await Promise.all([...dirs].reverse().map(readRunDir));
    const s = buildSignOff(runs, root, new Date());
    expect([s.verdict, s.conflicts, s.counts.passed]).toEqual(["PASS", 0, 1]);
    expect(s.cells[0]!.trend).toHaveLength(TREND_LENGTH);
    const md = renderSignOffMarkdown(s);
    expect(md).toContain("(trend: PASS → FAIL → PASS → PASS → PASS → FAIL → PASS) |");
    expect(renderSignOffHtml(s)).toContain('<span class="trend">PASS → FAIL → PASS → PASS → PASS → FAIL → PASS</span>');
    // A failure last night fails the sign-off, whatever came before.
    const last = await writeRun(join(root, "nights", "night-10"), recordFiles(matrixRun("night-10", [cell("qemu", "image-boot", "failed")], { started: "2025-02-10T02:00:00.000Z" })));
    const failed = buildSignOff([...runs, await readRunDir(last)], root, new Date());
    expect([failed.verdict, failed.conflicts]).toEqual(["FAIL", 0]);
  });

  it("runs that started at the same moment and disagree are a conflict: both shown, the worse counts", async () => {
    const a = await writeRun(join(root, "same", "a"), recordFiles(matrixRun("same-a", [cell("qemu", "image-boot", "passed")])));
    const b = await writeRun(join(root, "same", "b"), recordFiles(matrixRun("same-b", [cell("qemu", "image-boot", "failed")])));
    const s = buildSignOff([await readRunDir(a), await readRunDir(b)], root, new Date());
    expect([s.verdict, s.conflicts]).toEqual(["FAIL", 1]);
    expect(renderSignOffMarkdown(s)).toContain("| image-boot | CONFLICT: PASS \\(run 1\\), FAIL \\(run 2\\) |");
    expect(renderSignOffMarkdown(s)).toContain("- image-boot on qemu: run 1 PASS, run 2 FAIL");
  });

  it("the header names Fruix's version and commit, the declaration and its hash, the base under test and each run's wall time", async () => {
    const commit = "0123456789abcdef0123456789abcdef01234567";
    const dir = await writeRun(join(root, "header"), recordFiles(matrixRun("h", [cell("qemu", "image-boot", "passed", { systemUnderTest: SUT })], { fruixCommit: commit, seconds: 133.4 })));
    const s = buildSignOff([await readRunDir(dir)], root, new Date());
    const md = renderSignOffMarkdown(s);
    expect(md).toContain(`- Fruix: ${mdText(`0.1.0 (commit ${commit})`)}`);
    expect(md).toContain(`- declaration: examples/minimal.scm, declaration hash ${"ab".repeat(32)}`);
    expect(md).toContain(`- kernel, loader and userland: ${SUT.base.map(mdText).join(", ")}`);
    expect(md).toContain("- run 1 (h): wall time 2 min 13 s");
    expect(renderSignOffHtml(s)).toContain("<li>kernel, loader and userland: linux-image-6.1.0-40-amd64 6.1.153-1, systemd-boot-efi 252.39-1~deb12u1, busybox-static 1:1.35.0-4+b4</li>");
    expect(md.indexOf("## Under test")).toBeLessThan(md.indexOf("## Scenario x hypervisor"));
  });

  it("holds no absolute host path: run directories are relative, host folders in messages are cut", async () => {
    const where = join(root, "host-paths", "run");
    const message = `qemu-img: Could not open '${join(tmpdir(), "fruix-validate-1234-abcd", "image-boot", "disk0.qcow2")}' and /home/ci/work/x.img`;
    const failing = cell("qemu", "image-boot", "failed", { systemUnderTest: { ...SUT, declaration: "examples/minimal.scm" } });
    const dir = await writeRun(where, recordFiles(matrixRun("hp", [{ ...failing, attempts: failing.attempts.map((a) => ({ ...a, failure: message })) }], { matrixFile: join(root, "matrix.json") })));
    const out = join(root, "host-paths", "out", "sign-off.md");
    const result = await fruix(["report", "sign-off", dir, "--output", out]);
    expect(result.exitCode, result.stderr).toBe(0);
    for (const file of [out, out.replace(/\.md$/, ".html")]) {
      const text = await readFile(file, "utf8");
      expect(text).toContain("disk0.qcow2");
      expect(text).toContain("../run");
      expect(text).not.toContain(root);
      expect(text).not.toContain(tmpdir() + "/");
      expect(text).not.toContain("/home/ci");
    }
  });
});

/** The RGBA pixels of a PNG (8-bit RGB or RGBA, not interlaced), as Chromium writes its screenshots. */
function decodePng(png: Buffer): { width: number; height: number; pixel: (x: number, y: number) => [number, number, number] } {
  expect(png.subarray(1, 4).toString()).toBe("PNG");
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.subarray(offset + 4, offset + 8).toString();
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([data[8], data[12]]).toEqual([8, 0]);
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      expect(channels).toBeGreaterThan(0);
    }
    if (type === "IDAT") idat.push(data);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x]!;
      const left = x >= channels ? out[y * stride + x - channels]! : 0;
      const up = y > 0 ? out[(y - 1) * stride + x]! : 0;
      const upLeft = y > 0 && x >= channels ? out[(y - 1) * stride + x - channels]! : 0;
      const p = left + up - upLeft;
      const [pa, pb, pc] = [Math.abs(p - left), Math.abs(p - up), Math.abs(p - upLeft)];
      const paeth = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
      out[y * stride + x] = (v + [0, left, up, (left + up) >> 1, paeth][filter]!) & 0xff;
    }
  }
  return { width, height, pixel: (x, y) => [out[y * stride + x * channels]!, out[y * stride + x * channels + 1]!, out[y * stride + x * channels + 2]!] };
}

describe("the HTML page in a real browser (Debian's chromium, headless)", () => {
  const chromium = "/usr/bin/chromium";
  it.skipIf(!existsSync(chromium))("renders the grid with its colours and links: a screenshot, and the DOM the browser built", async () => {
    const out = join(root, "browser", "sign-off.md");
    const result = await fruix(["report", "sign-off", shard1, shard2, plain, "--output", out]);
    expect(result.exitCode, result.stderr).toBe(0);
    const page = `file://${out.replace(/\.md$/, ".html")}`;
    const profile = join(root, "browser", "profile");
    const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage", `--user-data-dir=${profile}`, "--window-size=1200,900", "--hide-scrollbars"];
    const shot = join(root, "browser", "shot.png");
    const taken = await execa(chromium, [...flags, `--screenshot=${shot}`, page], { reject: false, timeout: 90_000, env: { ...process.env, HOME: profile } });
    expect(existsSync(shot), taken.stderr.slice(-2000)).toBe(true);
    const { width, height, pixel } = decodePng(await readFile(shot));
    expect([width, height]).toEqual([1200, 900]);
    // Not blank: the grid's PASS, FAIL and FLAKY cells show in their colours (#dff5df, #f9d6d6, #fff1c2).
    const seen = new Set<string>();
    for (let y = 0; y < height; y += 2) for (let x = 0; x < width; x += 2) seen.add(pixel(x, y).join(","));
    expect(seen.size).toBeGreaterThan(20);
    for (const colour of ["223,245,223", "249,214,214", "255,241,194"]) expect(seen, `colour ${colour} on the page`).toContain(colour);
    // The DOM the browser built from the page: the grid, one row per scenario, cells linking to their reports.
    const dom = await execa(chromium, [...flags, "--dump-dom", page], { reject: false, timeout: 90_000, env: { ...process.env, HOME: profile } });
    const grid = /<table id="grid">([\s\S]*?)<\/table>/.exec(dom.stdout)?.[1];
    expect(grid, dom.stderr.slice(-2000)).toBeDefined();
    expect(grid!.match(/<tr>/g)).toHaveLength(1 + 3);
    expect(grid).toContain('<a href="../runs/shard-2/qemu/switch-rollback/attempt-1/report.md">FAIL</a>');
    expect(dom.stdout).toMatch(/<ul id="failures">\s*<li><b>switch-rollback on qemu<\/b>/);
  });
});
