// The sign-off document (pure): run directories merged into one scenario x
// hypervisor table, with closure paths, durations, links to every attempt's
// report and transcripts, the hypervisors' notes and a verdict. A cell two
// runs disagree on is shown as a conflict, never overwritten.
import { join, relative, sep } from "node:path";
import { STATUS_WORD } from "./matrix.js";
import type { CellRecord, CellStatus } from "./report.js";
import type { RunContents, RunSource } from "./run-dir.js";

/** An adapter note that says the machine was a test double (the XCP-ng test host says so in its notes). */
const TEST_DOUBLE = /\btest double\b/i;

export interface Link {
  readonly text: string;
  /** Relative to the sign-off document, URL-encoded. */
  readonly href: string;
}

export interface SignOffAttempt {
  readonly number: number;
  readonly status: "PASS" | "FAIL";
  readonly seconds: number;
  readonly failure?: string;
  readonly report: Link;
  readonly transcripts: readonly Link[];
}

/** One run's result for a cell. */
export interface SignOffEntry {
  readonly source: RunSource;
  readonly sourceNumber: number;
  readonly cell: CellRecord;
  readonly attempts: readonly SignOffAttempt[];
}

export interface SignOffCell {
  readonly scenario: string;
  /** The column: the project, or "<project> (test double)" when it ran on one. */
  readonly column: string;
  readonly entries: readonly SignOffEntry[];
  /** The cell's status; with a conflict, the worst of its entries. */
  readonly status: CellStatus;
  readonly conflict: boolean;
}

export type Verdict = "PASS" | "FAIL" | "INCOMPLETE";

export interface SignOff {
  readonly generated: string;
  readonly sources: readonly RunSource[];
  readonly scenarios: readonly string[];
  readonly titles: ReadonlyMap<string, string>;
  readonly columns: readonly string[];
  readonly cells: readonly SignOffCell[];
  /** Each column's adapter notes (acceleration and why, a test double), without repeats. */
  readonly notes: ReadonlyMap<string, readonly string[]>;
  readonly counts: Record<CellStatus, number>;
  readonly conflicts: number;
  readonly verdict: Verdict;
  readonly verdictReason: string;
}

const WORST: readonly CellStatus[] = ["failed", "skipped", "flaky", "passed"];

function href(fromDir: string, file: string): string {
  return relative(fromDir, file).split(sep).map(encodeURIComponent).join("/");
}

export function columnOf(cell: CellRecord): string {
  return cell.hypervisorNotes.some((n) => TEST_DOUBLE.test(n)) ? `${cell.project} (test double)` : cell.project;
}

/** Merges run directories' cells; links are made relative to `outputDir`, where the document goes. */
export function buildSignOff(runs: readonly RunContents[], outputDir: string, generated: Date): SignOff {
  const byKey = new Map<string, { scenario: string; column: string; entries: SignOffEntry[] }>();
  const scenarios: string[] = [];
  const columns: string[] = [];
  const titles = new Map<string, string>();
  const notes = new Map<string, string[]>();
  runs.forEach((run, k) => {
    for (const cell of run.cells) {
      const column = columnOf(cell);
      if (!scenarios.includes(cell.scenario)) scenarios.push(cell.scenario);
      if (!columns.includes(column)) columns.push(column);
      if (!titles.has(cell.scenario)) titles.set(cell.scenario, `${cell.phase}: ${cell.title}`);
      const columnNotes = notes.get(column) ?? [];
      for (const n of cell.hypervisorNotes) if (!columnNotes.includes(n)) columnNotes.push(n);
      notes.set(column, columnNotes);
      const link = (file: string, text: string): Link => ({ text, href: href(outputDir, join(run.source.dir, file)) });
      const attempts = cell.attempts.map((a) => ({
        number: a.number,
        status: a.status,
        seconds: a.seconds,
        failure: a.failure,
        report: link(a.report, "report"),
        transcripts: a.transcripts.map((t) => link(t, t.split("/").at(-1)!)),
      }));
      const key = `${column}\0${cell.scenario}`;
      const slot = byKey.get(key) ?? { scenario: cell.scenario, column, entries: [] };
      slot.entries.push({ source: run.source, sourceNumber: k + 1, cell, attempts });
      byKey.set(key, slot);
    }
  });
  const cells: SignOffCell[] = [...byKey.values()].map((slot) => {
    const statuses = new Set(slot.entries.map((e) => e.cell.status));
    const status = WORST.find((s) => statuses.has(s))!;
    return { ...slot, status, conflict: slot.entries.length > 1 };
  });
  const counts: Record<CellStatus, number> = { passed: 0, flaky: 0, failed: 0, skipped: 0 };
  for (const c of cells) counts[c.status] += 1;
  const conflicts = cells.filter((c) => c.conflict).length;
  const interrupted = runs.filter((r) => !r.source.complete);
  let verdict: Verdict;
  let verdictReason: string;
  if (counts.failed > 0) {
    verdict = "FAIL";
    verdictReason = `${counts.failed} cell${counts.failed === 1 ? "" : "s"} failed`;
  } else if (cells.length === 0 || counts.skipped > 0 || interrupted.length > 0) {
    verdict = "INCOMPLETE";
    verdictReason =
      cells.length === 0
        ? "the run directories hold no cells"
        : [
            counts.skipped > 0 ? `${counts.skipped} cell${counts.skipped === 1 ? " was" : "s were"} skipped (never run, so not passed)` : "",
            interrupted.length > 0 ? `${interrupted.map((r) => r.source.given).join(", ")} did not finish` : "",
          ]
            .filter(Boolean)
            .join("; ");
  } else {
    verdict = "PASS";
    verdictReason = counts.flaky > 0 ? `every cell passed; ${counts.flaky} only on a retry (flaky)` : "every cell passed on its first attempt";
  }
  return { generated: generated.toISOString(), sources: runs.map((r) => r.source), scenarios, titles, columns, cells, notes, counts, conflicts, verdict, verdictReason };
}

export function cellAt(signOff: SignOff, scenario: string, column: string): SignOffCell | undefined {
  return signOff.cells.find((c) => c.scenario === scenario && c.column === column);
}

/** What a grid cell says: PASS, FLAKY, FAIL, SKIPPED, "not run", or each run's word when runs disagree. */
export function gridWord(cell: SignOffCell | undefined): string {
  if (!cell) return "not run";
  if (!cell.conflict) return STATUS_WORD[cell.status];
  return `CONFLICT: ${cell.entries.map((e) => `${STATUS_WORD[e.cell.status]} (run ${e.sourceNumber})`).join(", ")}`;
}

export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - m * 60)} s`;
}

export function sourceLine(source: RunSource): string {
  const parts = [`${source.kind === "matrix" ? "matrix run" : "run"} ${source.runId}`, `started ${source.started}`, `fruix ${source.fruixVersion}`];
  if (source.matrixFile) parts.push(`matrix ${source.matrixFile}`);
  if (source.shard) parts.push(`shard ${source.shard.index}/${source.shard.total}`);
  if (!source.complete) parts.push("INTERRUPTED (not every cell ran)");
  return parts.join(", ");
}

// --- Markdown ----------------------------------------------------------------

/** Escapes text for Markdown (also inside a table cell): it shows as written, never as markup. */
export function mdText(text: string): string {
  return text
    .replace(/\s*\n\s*/g, " ")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/[\\`*_[\]{}()#+!|~]/g, "\\$&");
}

function mdCode(text: string): string {
  return text.includes("`") || text.includes("\n") ? mdText(text) : `\`${text}\``;
}

const mdLink = (link: Link): string => `[${mdText(link.text)}](${link.href.replace(/[()]/g, (c) => encodeURIComponent(c))})`;

function mdAttempts(entry: SignOffEntry): string {
  if (entry.attempts.length === 0) return entry.cell.skipReason ? `skipped: ${mdText(entry.cell.skipReason)}` : "no attempt";
  return entry.attempts
    .map((a) => `${a.number}: ${a.status} ${duration(a.seconds)} ${mdLink(a.report)}${a.transcripts.map((t) => ` ${mdLink(t)}`).join("")}`)
    .join("<br>");
}

export function renderSignOffMarkdown(s: SignOff): string {
  const lines = [
    "# Fruix validation sign-off",
    "",
    `**Verdict: ${s.verdict}** — ${mdText(s.verdictReason)}.`,
    "",
    `${s.counts.passed} passed, ${s.counts.flaky} flaky, ${s.counts.failed} failed, ${s.counts.skipped} skipped` +
      (s.conflicts ? `, ${s.conflicts} conflicting` : "") +
      `; generated ${s.generated} from ${s.sources.length} run director${s.sources.length === 1 ? "y" : "ies"}.`,
    "",
    "## Scenario x hypervisor",
    "",
    `| scenario | ${s.columns.map(mdText).join(" | ")} |`,
    `| --- |${s.columns.map(() => " --- |").join("")}`,
    ...s.scenarios.map((scenario) => `| ${mdText(scenario)} | ${s.columns.map((column) => mdText(gridWord(cellAt(s, scenario, column)))).join(" | ")} |`),
    "",
    "## Cells",
    "",
    "| scenario | hypervisor | result | closure | duration | attempts (report, transcripts) | run |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const cell of s.cells) {
    for (const e of cell.entries) {
      const closure = e.cell.closurePath ? mdCode(e.cell.closurePath) : "";
      lines.push(
        `| ${mdText(cell.scenario)} | ${mdText(cell.column)} | ${STATUS_WORD[e.cell.status]}${cell.conflict ? " (conflict)" : ""} | ${closure} | ${duration(e.cell.seconds)} | ${mdAttempts(e)} | ${e.sourceNumber} |`,
      );
    }
  }
  lines.push("");
  const flaky = s.cells.flatMap((c) => c.entries.filter((e) => e.cell.status === "flaky"));
  if (flaky.length) {
    lines.push("## Flaky cells", "", "Each failed, then passed on a retry; the failed attempts' reports and transcripts are kept.", "");
    for (const e of flaky) {
      for (const a of e.attempts.filter((x) => x.status === "FAIL")) {
        lines.push(`- ${mdText(`${e.cell.scenario} on ${columnOf(e.cell)}`)}, attempt ${a.number}: ${mdText(a.failure ?? "failed")} (${mdLink(a.report)})`);
      }
    }
    lines.push("");
  }
  const conflicts = s.cells.filter((c) => c.conflict);
  if (conflicts.length) {
    lines.push("## Conflicts", "", "These cells appear in more than one run directory; every result is shown and the worst counts.", "");
    for (const c of conflicts) lines.push(`- ${mdText(`${c.scenario} on ${c.column}`)}: ${c.entries.map((e) => `run ${e.sourceNumber} ${STATUS_WORD[e.cell.status]}`).join(", ")}`);
    lines.push("");
  }
  const skipped = s.cells.flatMap((c) => c.entries.filter((e) => e.cell.status === "skipped"));
  if (skipped.length) {
    lines.push("## Skipped cells", "", "Never run, so never counted as passed.", "");
    for (const e of skipped) lines.push(`- ${mdText(`${e.cell.scenario} on ${e.cell.project}: ${e.cell.skipReason ?? "no reason recorded"}`)}`);
    lines.push("");
  }
  lines.push("## Hypervisor notes", "");
  for (const column of s.columns) {
    const notes = s.notes.get(column) ?? [];
    lines.push(`- **${mdText(column)}**: ${notes.length ? notes.map(mdText).join("; ") : "no notes"}`);
  }
  lines.push("", "## Runs", "");
  s.sources.forEach((source, k) => lines.push(`${k + 1}. ${mdText(sourceLine(source))} — ${mdText(source.given)}`));
  lines.push("");
  return lines.join("\n");
}
