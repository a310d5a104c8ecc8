// The sign-off document as one self-contained HTML page (inline style, no
// scripts, nothing fetched); every piece of text from a run is escaped.
import { STATUS_WORD } from "./matrix.js";
import { cellAt, columnOf, duration, gridLink, gridWord, type Link, shortStorePath, type SignOff, type SignOffEntry, TREND_LENGTH, trendWords } from "./sign-off.js";

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
.verdict { font-size: 1.3em; font-weight: bold; } .trend { color: #555; font-size: 0.85em; }
.older { color: #666; }`;

const a = (link: Link): string => `<a href="${htmlText(link.href)}">${htmlText(link.text)}</a>`;

function attempts(e: SignOffEntry): string {
  if (e.attempts.length === 0) return htmlText(e.cell.skipReason ? `skipped: ${e.cell.skipReason}` : "no attempt");
  return e.attempts
    .map((x) => `${x.number}: ${x.status} ${htmlText(duration(x.seconds))} ${a(x.report)}${x.transcripts.map((t) => ` ${a(t)}`).join("")}`)
    .join("<br>");
}

const closure = (path: string): string => `<code title="${htmlText(path)}">${htmlText(shortStorePath(path))}</code>`;

export function renderSignOffHtml(s: SignOff): string {
  const verdictClass = s.verdict === "PASS" ? "passed" : s.verdict === "FAIL" ? "failed" : "skipped";
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
    `<p id="verdict" class="verdict ${verdictClass}">Verdict: ${s.verdict} — ${htmlText(s.verdictReason)}.</p>`,
    `<p>${s.counts.passed} passed, ${s.counts.flaky} flaky, ${s.counts.failed} failed, ${s.counts.skipped} skipped${s.conflicts ? `, ${s.conflicts} conflicting` : ""}; generated ${htmlText(s.generated)} from ${s.sources.length} run director${s.sources.length === 1 ? "y" : "ies"}.</p>`,
    "<h2>Under test</h2>",
    '<ul id="under-test">',
    `<li>Fruix: ${s.fruix.map(htmlText).join("; ")}</li>`,
    `<li>declaration: ${s.declarations.length ? s.declarations.map(htmlText).join("; ") : "not recorded"}</li>`,
    `<li>kernel, loader and userland: ${s.base.length ? s.base.map(htmlText).join(", ") : "not recorded"}</li>`,
    ...s.sources.map((source, k) => `<li>run ${k + 1} (${htmlText(source.runId)}): wall time ${source.seconds === undefined ? "not recorded" : htmlText(duration(source.seconds))}</li>`),
    "</ul>",
  ];
  if (s.failures.length) {
    out.push("<h2>Failures</h2>", "<p>Each failed cell's newest run: its last attempt's failure, report and transcripts.</p>", '<ul id="failures">');
    for (const f of s.failures) {
      out.push(
        `<li><b>${htmlText(`${f.cell.scenario} on ${f.cell.column}`)}</b> (run ${f.entry.sourceNumber}, attempt ${f.attempt.number}): ${htmlText(f.message)} — ${[f.attempt.report, ...f.attempt.transcripts].map(a).join(" ")}</li>`,
      );
    }
    out.push("</ul>");
  }
  out.push(
    "<h2>Scenario x hypervisor</h2>",
    `<p>Each cell links to its newest run's report; a cell that ran in several runs shows its trend (last ${TREND_LENGTH}, oldest first).</p>`,
    '<table id="grid">',
    `<tr><th>scenario</th>${s.columns.map((c) => `<th>${htmlText(c)}</th>`).join("")}</tr>`,
  );
  for (const scenario of s.scenarios) {
    const cells = s.columns.map((column) => {
      const cell = cellAt(s, scenario, column);
      const cls = cell ? `${cell.status}${cell.conflict ? " conflict" : ""}` : "missing";
      const link = gridLink(cell);
      const word = htmlText(gridWord(cell));
      const trend = cell ? trendWords(cell) : "";
      return `<td class="${cls}">${link && !cell?.conflict ? a({ text: gridWord(cell), href: link.href }) : word}${trend ? `<br><span class="trend">${htmlText(trend)}</span>` : ""}</td>`;
    });
    out.push(`<tr><th title="${htmlText(s.titles.get(scenario) ?? "")}">${htmlText(scenario)}</th>${cells.join("")}</tr>`);
  }
  out.push(
    "</table>",
    "<h2>Cells</h2>",
    "<p>One row per cell and run, newest run first; the first row of a cell decides it.</p>",
    "<table>",
    "<tr><th>scenario</th><th>hypervisor</th><th>result</th><th>closure</th><th>duration</th><th>attempts (report, transcripts)</th><th>run</th></tr>",
  );
  for (const cell of s.cells) {
    for (const e of [...cell.entries].reverse()) {
      const newest = e.source.started === cell.deciding.source.started;
      const role = newest ? (cell.conflict ? " (conflict)" : "") : " (older)";
      out.push(
        `<tr${newest ? "" : ' class="older"'}><td>${htmlText(cell.scenario)}</td><td>${htmlText(cell.column)}</td>` +
          `<td class="${e.cell.status}${newest && cell.conflict ? " conflict" : ""}">${STATUS_WORD[e.cell.status]}${role}</td>` +
          `<td>${e.cell.closurePath ? closure(e.cell.closurePath) : ""}</td>` +
          `<td>${htmlText(duration(e.cell.seconds))}</td><td>${attempts(e)}</td><td>${e.sourceNumber}</td></tr>`,
      );
    }
  }
  out.push("</table>");
  const flaky = s.cells.filter((c) => c.status === "flaky").map((c) => c.deciding);
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
    out.push("<h2>Conflicts</h2>", "<p>Runs that started at the same moment disagree on these cells; every result is shown and the worst counts.</p>", "<ul>");
    for (const c of conflicts) {
      const newest = c.entries.filter((e) => e.source.started === c.deciding.source.started);
      out.push(`<li>${htmlText(`${c.scenario} on ${c.column}: ${newest.map((e) => `run ${e.sourceNumber} ${STATUS_WORD[e.cell.status]}`).join(", ")}`)}</li>`);
    }
    out.push("</ul>");
  }
  const skipped = s.cells.filter((c) => c.status === "skipped").map((c) => c.deciding);
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
  out.push("</ul>");
  if (s.closures.length) {
    out.push("<h2>Closures</h2>", "<p>The closure paths the tables shorten, whole.</p>", "<ul>");
    for (const c of s.closures) out.push(`<li><details><summary>${htmlText(shortStorePath(c))}</summary><code>${htmlText(c)}</code></details></li>`);
    out.push("</ul>");
  }
  out.push("<h2>Runs</h2>", "<ol>");
  s.sourceLines.forEach((line, k) => out.push(`<li>${htmlText(line)} — ${htmlText(s.sourceNames[k]!)}</li>`));
  out.push("</ol>", "</body>", "</html>", "");
  return out.join("\n");
}
