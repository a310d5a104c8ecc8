// The phase report, in the style of the workflow's own reports: goal,
// validated result summary, numbered checks, PASS/FAIL line.
import { cellCounts, type CellId, type Interruption, type Reporter, type RunRecord, type ScenarioReport } from "../report.js";
import { STATUS_WORD } from "../matrix.js";

function scenarioMarkdown(s: ScenarioReport): string {
  const lines = [
    `# ${s.phase}: ${s.title}`,
    "",
    `Date: ${s.started.slice(0, 10)}`,
    "",
    "## Goal",
    "",
    s.goal,
    "",
    "## Environment",
    "",
    `- hypervisor: ${s.hypervisor}`,
    ...(s.attempt ? [`- attempt ${s.attempt.number} of at most ${s.attempt.max}`] : []),
    ...s.environment.map((e) => `- ${e}`),
    "",
    "## Steps",
    "",
    ...s.steps.map((step, i) => `${i + 1}. ${step.name} — ${step.passed ? "done" : "FAILED"} in ${step.seconds.toFixed(1)} s`),
    "",
    "## Validated result summary",
    "",
    "```text",
    ...s.results.map(([k, v]) => `${k}=${v}`),
    "```",
    "",
    "## Checks",
    "",
    ...s.checks.map((c) => `${c.number}. ${c.passed ? "PASS" : "FAIL"} ${c.name}${c.passed ? "" : ` (expected ${c.expected}, seen ${c.actual})`}`),
  ];
  if (s.failure) {
    lines.push("", "## Failure", "", ...(s.failure.kind ? [`Kind: ${s.failure.kind}`, ""] : []), s.failure.message);
    if (s.failure.check) {
      lines.push("", `Check ${s.failure.check.number}, ${s.failure.check.name}:`, "", `- expected: ${s.failure.check.expected}`, `- seen: ${s.failure.check.actual}`);
    }
    if (s.failure.console) {
      lines.push("", `Last lines of the ${s.failure.console.machine} console:`, "", "```text", ...s.failure.console.lines, "```");
    }
  }
  if (s.machines?.length) {
    lines.push("", "## Machines", "", "What the adapter ran, exactly:");
    for (const m of s.machines) lines.push("", `${m.machine} (${m.kind}):`, "", "```text", m.text, "```");
  }
  lines.push(
    "",
    "## Transcripts",
    "",
    ...(s.transcripts.length ? s.transcripts.map((t) => `- ${t.machine}: [${t.file}](${t.file})`) : ["- none (no machine was started)"]),
    "",
    "## Result",
    "",
    `\`${s.status} ${s.id}\` in ${s.seconds.toFixed(1)} s`,
    "",
  );
  return lines.join("\n");
}

/** Text for one line or table cell: no line breaks, no column bars. */
export function inlineText(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").replace(/\|/g, "\\|");
}

/** summary.md: one row per cell, flaky and skipped cells spelled out. */
function summaryMarkdown(run: RunRecord, interrupted?: Interruption): string {
  const counts = cellCounts(run.cells);
  const shard = run.shard ? `, shard ${run.shard.index}/${run.shard.total}` : "";
  const lines = [
    `# Validation run ${run.runId}`,
    "",
    `Matrix ${run.matrixFile}${shard}, retries ${run.retries}. Started ${run.started}, ${run.seconds.toFixed(1)} s, fruix ${run.fruixVersion}.`,
    "",
    `${counts.passed} passed, ${counts.flaky} flaky, ${counts.failed} failed, ${counts.skipped} skipped.`,
    "",
    ...(interrupted ? [interruptedLine(interrupted), ""] : []),
    "| project | scenario | result | attempts | seconds | closure |",
    "| --- | --- | --- | --- | --- | --- |",
    ...run.cells.map((c) => {
      const attempts = c.attempts.map((a) => `[${a.number}: ${a.status}](${a.report})`).join(", ") || "none";
      const result = c.status === "skipped" ? `SKIPPED (${inlineText(c.skipReason ?? "")})` : STATUS_WORD[c.status];
      return `| ${c.project} | ${c.scenario} | ${result} | ${attempts} | ${c.seconds.toFixed(1)} | ${c.closurePath ? `\`${c.closurePath}\`` : ""} |`;
    }),
    "",
  ];
  const flaky = run.cells.filter((c) => c.status === "flaky");
  if (flaky.length) {
    lines.push("## Flaky cells", "", "Each failed first and passed on a retry; the failed attempts' reports and transcripts are kept.", "");
    for (const c of flaky) {
      for (const a of c.attempts.filter((x) => x.status === "FAIL")) lines.push(`- ${c.project}/${c.scenario}, attempt ${a.number}: ${inlineText(a.failure ?? "failed")} ([report](${a.report}))`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

/** What a run stopped by Ctrl-C or SIGTERM did not finish (its table holds only the cells that did). */
function interruptedLine({ running, notStarted }: Interruption): string {
  const names = (cells: readonly CellId[]) => cells.map((c) => `${c.project}/${c.scenario}`).join(", ") || "none";
  return `**Interrupted** (Ctrl-C or SIGTERM): the run stopped while it ran ${names(running)}; not started: ${names(notStarted)}.`;
}

/** Each attempt's phase report as it ends; the run's summary at the end. */
export const markdownReporter: Reporter = {
  name: "markdown",
  onEvent(event) {
    if (event.type === "attempt-end") return { [event.record.report]: scenarioMarkdown(event.report) };
    if (event.type === "end") return { "summary.md": summaryMarkdown(event.run, event.interrupted) };
  },
};
