// JUnit XML for CI: one testcase per scenario, with its real duration.
import type { Reporter } from "../report.js";

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
