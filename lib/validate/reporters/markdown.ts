// The phase report, in the style of the workflow's own reports: goal,
// validated result summary, numbered checks, PASS/FAIL line.
import type { Reporter, RunReport, ScenarioReport } from "../report.js";

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
    lines.push("", "## Failure", "", s.failure.message);
    if (s.failure.check) {
      lines.push("", `Check ${s.failure.check.number}, ${s.failure.check.name}:`, "", `- expected: ${s.failure.check.expected}`, `- seen: ${s.failure.check.actual}`);
    }
    if (s.failure.console) {
      lines.push("", `Last lines of the ${s.failure.console.machine} console:`, "", "```text", ...s.failure.console.lines, "```");
    }
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

function summaryMarkdown(run: RunReport): string {
  return [
    `# Validation run ${run.runId}`,
    "",
    `Started ${run.started}, ${run.seconds.toFixed(1)} s, fruix ${run.fruixVersion}.`,
    "",
    "| scenario | hypervisor | result | seconds | closure | report |",
    "| --- | --- | --- | --- | --- | --- |",
    ...run.scenarios.map((s) => {
      const closure = s.results.find(([k]) => k === "closure_path")?.[1] ?? "";
      return `| ${s.id} | ${s.hypervisor} | ${s.status} | ${s.seconds.toFixed(1)} | \`${closure}\` | [report](${s.id}/report.md) |`;
    }),
    "",
  ].join("\n");
}

export const markdownReporter: Reporter = {
  name: "markdown",
  render(run) {
    const files: Record<string, string> = { "summary.md": summaryMarkdown(run) };
    for (const s of run.scenarios) files[`${s.id}/report.md`] = scenarioMarkdown(s);
    return files;
  },
};
