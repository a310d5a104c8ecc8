// The sign-off document as one self-contained HTML page (inline style, no
// scripts, nothing fetched); every piece of text from a run is escaped.
import { STATUS_WORD } from "./matrix.js";
import { cellAt, columnOf, duration, gridWord, type Link, type SignOff, type SignOffEntry, sourceLine } from "./sign-off.js";

export function htmlText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
code { font-size: 0.9em; word-break: break-all; }
.passed { background: #dff5df; } .flaky { background: #fff1c2; } .failed { background: #f9d6d6; }
.skipped { background: #e8e8e8; } .missing { color: #888; } .conflict { outline: 2px solid #c00; }
.verdict { font-size: 1.3em; font-weight: bold; }`;

const a = (link: Link): string => `<a href="${htmlText(link.href)}">${htmlText(link.text)}</a>`;

function attempts(e: SignOffEntry): string {
  if (e.attempts.length === 0) return htmlText(e.cell.skipReason ? `skipped: ${e.cell.skipReason}` : "no attempt");
  return e.attempts
    .map((x) => `${x.number}: ${x.status} ${htmlText(duration(x.seconds))} ${a(x.report)}${x.transcripts.map((t) => ` ${a(t)}`).join("")}`)
    .join("<br>");
}

export function renderSignOffHtml(s: SignOff): string {
  const out: string[] = [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    "<title>Fruix validation sign-off</title>",
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    "<h1>Fruix validation sign-off</h1>",
    `<p class="verdict ${s.verdict === "PASS" ? "passed" : s.verdict === "FAIL" ? "failed" : "skipped"}">Verdict: ${s.verdict} — ${htmlText(s.verdictReason)}.</p>`,
    `<p>${s.counts.passed} passed, ${s.counts.flaky} flaky, ${s.counts.failed} failed, ${s.counts.skipped} skipped${s.conflicts ? `, ${s.conflicts} conflicting` : ""}; generated ${htmlText(s.generated)} from ${s.sources.length} run director${s.sources.length === 1 ? "y" : "ies"}.</p>`,
    "<h2>Scenario x hypervisor</h2>",
    "<table>",
    `<tr><th>scenario</th>${s.columns.map((c) => `<th>${htmlText(c)}</th>`).join("")}</tr>`,
  ];
  for (const scenario of s.scenarios) {
    const cells = s.columns.map((column) => {
      const cell = cellAt(s, scenario, column);
      const cls = cell ? `${cell.status}${cell.conflict ? " conflict" : ""}` : "missing";
      return `<td class="${cls}">${htmlText(gridWord(cell))}</td>`;
    });
    out.push(`<tr><th title="${htmlText(s.titles.get(scenario) ?? "")}">${htmlText(scenario)}</th>${cells.join("")}</tr>`);
  }
  out.push("</table>", "<h2>Cells</h2>", "<table>", "<tr><th>scenario</th><th>hypervisor</th><th>result</th><th>closure</th><th>duration</th><th>attempts (report, transcripts)</th><th>run</th></tr>");
  for (const cell of s.cells) {
    for (const e of cell.entries) {
      out.push(
        `<tr><td>${htmlText(cell.scenario)}</td><td>${htmlText(cell.column)}</td>` +
          `<td class="${e.cell.status}${cell.conflict ? " conflict" : ""}">${STATUS_WORD[e.cell.status]}${cell.conflict ? " (conflict)" : ""}</td>` +
          `<td>${e.cell.closurePath ? `<code>${htmlText(e.cell.closurePath)}</code>` : ""}</td>` +
          `<td>${htmlText(duration(e.cell.seconds))}</td><td>${attempts(e)}</td><td>${e.sourceNumber}</td></tr>`,
      );
    }
  }
  out.push("</table>");
  const flaky = s.cells.flatMap((c) => c.entries.filter((e) => e.cell.status === "flaky"));
  if (flaky.length) {
    out.push("<h2>Flaky cells</h2>", "<p>Each failed, then passed on a retry; the failed attempts' reports and transcripts are kept.</p>", "<ul>");
    for (const e of flaky) {
      for (const x of e.attempts.filter((y) => y.status === "FAIL")) {
        out.push(`<li>${htmlText(`${e.cell.scenario} on ${columnOf(e.cell)}`)}, attempt ${x.number}: ${htmlText(x.failure ?? "failed")} (${a(x.report)})</li>`);
      }
    }
    out.push("</ul>");
  }
  const conflicts = s.cells.filter((c) => c.conflict);
  if (conflicts.length) {
    out.push("<h2>Conflicts</h2>", "<p>These cells appear in more than one run directory; every result is shown and the worst counts.</p>", "<ul>");
    for (const c of conflicts) out.push(`<li>${htmlText(`${c.scenario} on ${c.column}: ${c.entries.map((e) => `run ${e.sourceNumber} ${STATUS_WORD[e.cell.status]}`).join(", ")}`)}</li>`);
    out.push("</ul>");
  }
  const skipped = s.cells.flatMap((c) => c.entries.filter((e) => e.cell.status === "skipped"));
  if (skipped.length) {
    out.push("<h2>Skipped cells</h2>", "<p>Never run, so never counted as passed.</p>", "<ul>");
    for (const e of skipped) out.push(`<li>${htmlText(`${e.cell.scenario} on ${e.cell.project}: ${e.cell.skipReason ?? "no reason recorded"}`)}</li>`);
    out.push("</ul>");
  }
  out.push("<h2>Hypervisor notes</h2>", "<ul>");
  for (const column of s.columns) {
    const notes = s.notes.get(column) ?? [];
    out.push(`<li><b>${htmlText(column)}</b>: ${notes.length ? notes.map(htmlText).join("; ") : "no notes"}</li>`);
  }
  out.push("</ul>", "<h2>Runs</h2>", "<ol>");
  for (const source of s.sources) out.push(`<li>${htmlText(sourceLine(source))} — ${htmlText(source.given)}</li>`);
  out.push("</ol>", "</body>", "</html>", "");
  return out.join("\n");
}
