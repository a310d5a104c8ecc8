// JUnit XML for CI: one testcase per scenario, with its real duration.
import type { CellRecord, MatrixReporter, Reporter } from "../report.js";

function escape(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

export const junitReporter: Reporter = {
  name: "junit",
  render(run) {
    const failures = run.scenarios.filter((s) => s.status === "FAIL").length;
    const cases = run.scenarios.map((s) => {
      const head = `  <testcase classname="fruix.validate.${escape(s.hypervisor)}" name="${escape(s.id)}" time="${s.seconds.toFixed(3)}">`;
      if (!s.failure) return `${head}</testcase>`;
      const detail = [s.failure.message, ...(s.failure.console?.lines ?? [])].join("\n");
      return `${head}\n    <failure message="${escape(s.failure.message)}">${escape(detail)}</failure>\n  </testcase>`;
    });
    const xml = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      `<testsuite name="fruix validate" tests="${run.scenarios.length}" failures="${failures}" errors="0" time="${run.seconds.toFixed(3)}" timestamp="${run.started}">`,
      ...cases,
      "</testsuite>",
      "",
    ];
    return { "junit.xml": xml.join("\n") };
  },
};

/**
 * A matrix run in JUnit XML: one testsuite per project, one testcase per cell.
 * Retries use the Surefire rerun elements CI servers understand: a flaky cell
 * passes with a <flakyFailure> per failed attempt; a failed cell has its last
 * failure as <failure> and the earlier ones as <rerunFailure>; a skipped cell
 * is <skipped> with the reason.
 */
export const matrixJunitReporter: MatrixReporter = {
  name: "junit",
  render(run) {
    const projects = [...new Set(run.cells.map((c) => c.project))];
    const testcase = (c: CellRecord): string => {
      const head = `    <testcase classname="fruix.validate.${escape(c.project)}" name="${escape(c.scenario)}" time="${c.seconds.toFixed(3)}">`;
      const failed = c.attempts.filter((a) => a.status === "FAIL");
      const element = (name: string, a: (typeof failed)[number]) =>
        `      <${name} message="${escape(a.failure ?? "failed")}">${escape(`attempt ${a.number}: ${a.failure ?? "failed"}\nreport: ${a.report}`)}</${name}>`;
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
      const count = (status: string) => cells.filter((c) => c.status === status).length;
      const seconds = cells.reduce((sum, c) => sum + c.seconds, 0);
      return [
        `  <testsuite name="fruix validate ${escape(project)}" tests="${cells.length}" failures="${count("failed")}" errors="0" skipped="${count("skipped")}" flaky="${count("flaky")}" time="${seconds.toFixed(3)}" timestamp="${run.started}">`,
        ...cells.map(testcase),
        "  </testsuite>",
      ].join("\n");
    });
    const failures = run.cells.filter((c) => c.status === "failed").length;
    const xml = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      `<testsuites name="fruix validate --matrix" tests="${run.cells.length}" failures="${failures}" errors="0" time="${run.seconds.toFixed(3)}">`,
      ...suites,
      "</testsuites>",
      "",
    ];
    return { "junit.xml": xml.join("\n") };
  },
};
