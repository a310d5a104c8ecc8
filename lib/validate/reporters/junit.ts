// JUnit XML for CI: one testsuite per project, one testcase per cell, with
// real durations and each failure's last console lines.
import type { CellId, CellRecord, Interruption, Reporter, RunRecord, ScenarioReport } from "../report.js";

function escape(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/**
 * Retries use the Surefire rerun elements CI servers understand: a flaky cell
 * passes with a <flakyFailure> per failed attempt; a failed cell has its last
 * failure as <failure> and the earlier ones as <rerunFailure>; a skipped cell
 * is <skipped> with the reason.
 */
function junitXml(run: RunRecord, reports: ReadonlyMap<string, ScenarioReport>, interrupted?: Interruption): string {
  const stopped = [...(interrupted?.running ?? []), ...(interrupted?.notStarted ?? [])];
  const projects = [...new Set([...run.cells, ...stopped].map((c) => c.project))];
  const caseHead = (c: CellId, seconds: number) => `    <testcase classname="fruix.validate.${escape(c.project)}" name="${escape(c.scenario)}" time="${seconds.toFixed(3)}">`;
  // A run stopped by Ctrl-C or SIGTERM: a cell it was running is an <error>, one it never started <skipped>.
  const unfinished = (c: CellId, running: boolean): string => {
    const head = caseHead(c, 0);
    const body = running ? '      <error message="the run was interrupted while this cell ran"/>' : '      <skipped message="the run was interrupted before this cell started"/>';
    return `${head}\n${body}\n    </testcase>`;
  };
  const testcase = (c: CellRecord): string => {
    const head = caseHead(c, c.seconds);
    const failed = c.attempts.filter((a) => a.status === "FAIL");
    const element = (name: string, a: (typeof failed)[number]) => {
      const console = reports.get(a.report)?.failure?.console;
      const lines = console ? [`last lines of the ${console.machine} console:`, ...console.lines] : [];
      const detail = [`attempt ${a.number}: ${a.failure ?? "failed"}`, `report: ${a.report}`, ...lines].join("\n");
      return `      <${name} message="${escape(a.failure ?? "failed")}">${escape(detail)}</${name}>`;
    };
    const body: string[] = [];
    if (c.status === "skipped") body.push(`      <skipped message="${escape(c.skipReason ?? "skipped")}"/>`);
    if (c.status === "flaky") body.push(...failed.map((a) => element("flakyFailure", a)));
    if (c.status === "failed") {
      body.push(element("failure", failed.at(-1)!), ...failed.slice(0, -1).map((a) => element("rerunFailure", a)));
    }
    return body.length ? `${head}\n${body.join("\n")}\n    </testcase>` : `${head}</testcase>`;
  };
  const suites = projects.map((project) => {
    const cells = run.cells.filter((c) => c.project === project);
    const running = (interrupted?.running ?? []).filter((c) => c.project === project);
    const notStarted = (interrupted?.notStarted ?? []).filter((c) => c.project === project);
    const count = (status: string) => cells.filter((c) => c.status === status).length;
    const seconds = cells.reduce((sum, c) => sum + c.seconds, 0);
    const tests = cells.length + running.length + notStarted.length;
    return [
      `  <testsuite name="fruix validate ${escape(project)}" tests="${tests}" failures="${count("failed")}" errors="${running.length}" skipped="${count("skipped") + notStarted.length}" flaky="${count("flaky")}" time="${seconds.toFixed(3)}" timestamp="${run.started}">`,
      ...cells.map(testcase),
      ...running.map((c) => unfinished(c, true)),
      ...notStarted.map((c) => unfinished(c, false)),
      "  </testsuite>",
    ].join("\n");
  });
  const failures = run.cells.filter((c) => c.status === "failed").length;
  const xml = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="fruix validate" tests="${run.cells.length + stopped.length}" failures="${failures}" errors="${interrupted?.running.length ?? 0}" time="${run.seconds.toFixed(3)}">`,
    ...suites,
    "</testsuites>",
    "",
  ];
  return xml.join("\n");
}

/** Keeps each attempt's report (for its console lines) and writes junit.xml at the end. */
export function junitReporter(): Reporter {
  const reports = new Map<string, ScenarioReport>();
  return {
    name: "junit",
    onEvent(event) {
      if (event.type === "attempt-end") reports.set(event.record.report, event.report);
      if (event.type === "end") return { "junit.xml": junitXml(event.run, reports, event.interrupted) };
    },
  };
}
