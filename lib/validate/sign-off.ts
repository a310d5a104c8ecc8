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
  /** Every run's result for the cell, oldest run first. */
  readonly entries: readonly SignOffEntry[];
  /** The newest run's entry, which decides the cell (with a conflict, the worst of the newest). */
  readonly deciding: SignOffEntry;
  readonly status: CellStatus;
  /** Runs that started at the same moment (the newest) disagree on the cell: nothing says which is newer. */
  readonly conflict: boolean;
  /** The cell's results in its last runs (at most TREND_LENGTH), oldest first; one entry when it ran once. */
  readonly trend: readonly SignOffEntry[];
}

/** A failed cell: its deciding run's last attempt, with its message and files. */
export interface SignOffFailure {
  readonly cell: SignOffCell;
  readonly entry: SignOffEntry;
  readonly attempt: SignOffAttempt;
  readonly message: string;
}

export type Verdict = "PASS" | "FAIL" | "INCOMPLETE";

export interface SignOff {
  readonly generated: string;
  readonly sources: readonly RunSource[];
  /** Each run directory as a path relative to the document (never an absolute host path). */
  readonly sourceNames: readonly string[];
  /** Each run in one line (sourceLine, host paths removed). */
  readonly sourceLines: readonly string[];
  readonly scenarios: readonly string[];
  readonly titles: ReadonlyMap<string, string>;
  readonly columns: readonly string[];
  readonly cells: readonly SignOffCell[];
  readonly failures: readonly SignOffFailure[];
  /** Each column's adapter notes (acceleration and why, a test double), without repeats. */
  readonly notes: ReadonlyMap<string, readonly string[]>;
  /** What was under test, each without repeats: Fruix versions (with commits), declarations with their hash, the base's components, closures. */
  readonly fruix: readonly string[];
  readonly declarations: readonly string[];
  readonly base: readonly string[];
  readonly closures: readonly string[];
  readonly counts: Record<CellStatus, number>;
  readonly conflicts: number;
  readonly verdict: Verdict;
  readonly verdictReason: string;
}

/** How many of a cell's runs its trend shows. */
export const TREND_LENGTH = 7;

const WORST: readonly CellStatus[] = ["failed", "skipped", "flaky", "passed"];

function href(fromDir: string, file: string): string {
  return relative(fromDir, file).split(sep).map(encodeURIComponent).join("/");
}

export function columnOf(cell: CellRecord): string {
  return cell.hypervisorNotes.some((n) => TEST_DOUBLE.test(n)) ? `${cell.project} (test double)` : cell.project;
}

/** `/frx/store/<hash>-name` shortened to its first 8 hash digits (the whole path goes on hover and in the closures list). */
export function shortStorePath(path: string): string {
  return path.replace(/^(\/frx\/store\/)([0-9a-f]{8})[0-9a-f]{24,}-/, "$1$2…-");
}

/** Folders that name the host, not the run: left in a message they would say where someone's files live. */
const HOST_PATH = /(?<![\w.~-])\/(?:tmp|home|root|work|Users|mnt|srv|opt|var\/tmp|builds|__w|github\/workspace)(?:\/[^\s'"`<>()[\]{},;]*)?/g;

/**
 * Makes text from the runs say no absolute host path: the run directories
 * become their path relative to the document, other known folders `…`, and any
 * other host path its last component. Guest paths (/frx, /run, /var/lib, /dev) stay.
 */
export function hostPathScrubber(known: ReadonlyArray<readonly [string, string]>): (text: string) => string {
  const prefixes = [...known].filter(([p]) => p.length > 1).sort((a, b) => b[0].length - a[0].length);
  return (text) => {
    let out = text;
    for (const [prefix, replacement] of prefixes) out = out.split(prefix).join(replacement);
    return out.replace(HOST_PATH, (m) => `…/${m.split("/").filter(Boolean).at(-1) ?? ""}`);
  };
}

function distinct<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}

/**
 * Merges run directories' cells; links are made relative to `outputDir`, where
 * the document goes. A cell found in several runs is history: the newest run
 * (by start time) decides, older ones are its trend. `hostPaths` are folders
 * of this host that must not appear in the document (temporary, home, working).
 */
export function buildSignOff(runs: readonly RunContents[], outputDir: string, generated: Date, hostPaths: readonly string[] = []): SignOff {
  const sourceNames = runs.map((r) => relative(outputDir, r.source.dir).split(sep).join("/") || ".");
  const scrub = hostPathScrubber([
    ...runs.map((r, k): [string, string] => [r.source.dir, sourceNames[k]!]),
    [outputDir, "."],
    ...hostPaths.map((p): [string, string] => [p, "…"]),
  ]);
  const byKey = new Map<string, { scenario: string; column: string; entries: SignOffEntry[] }>();
  const scenarios: string[] = [];
  const columns: string[] = [];
  const titles = new Map<string, string>();
  const notes = new Map<string, string[]>();
  runs.forEach((run, k) => {
    for (const raw of run.cells) {
      const cell: CellRecord = {
        ...raw,
        skipReason: raw.skipReason === undefined ? undefined : scrub(raw.skipReason),
        hypervisorNotes: raw.hypervisorNotes.map(scrub),
      };
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
        failure: a.failure === undefined ? undefined : scrub(a.failure),
        report: link(a.report, "report"),
        transcripts: a.transcripts.map((t) => link(t, t.split("/").at(-1)!)),
      }));
      const key = `${column}\0${cell.scenario}`;
      const slot = byKey.get(key) ?? { scenario: cell.scenario, column, entries: [] };
      slot.entries.push({ source: run.source, sourceNumber: k + 1, cell, attempts });
      byKey.set(key, slot);
    }
  });
  const started = (e: SignOffEntry) => Date.parse(e.source.started) || 0;
  const cells: SignOffCell[] = [...byKey.values()].map((slot) => {
    const entries = [...slot.entries].sort((a, b) => started(a) - started(b) || a.sourceNumber - b.sourceNumber);
    const newest = started(entries.at(-1)!);
    const latest = entries.filter((e) => started(e) === newest);
    const status = WORST.find((s) => latest.some((e) => e.cell.status === s))!;
    const deciding = [...latest].reverse().find((e) => e.cell.status === status)!;
    const conflict = new Set(latest.map((e) => e.cell.status)).size > 1;
    return { scenario: slot.scenario, column: slot.column, entries, deciding, status, conflict, trend: entries.slice(-TREND_LENGTH) };
  });
  const failures: SignOffFailure[] = cells
    .filter((c) => c.status === "failed")
    .map((cell) => {
      const attempt = cell.deciding.attempts.at(-1)!;
      return { cell, entry: cell.deciding, attempt, message: attempt?.failure ?? "failed (no message recorded)" };
    });
  const counts: Record<CellStatus, number> = { passed: 0, flaky: 0, failed: 0, skipped: 0 };
  for (const c of cells) counts[c.status] += 1;
  const conflicts = cells.filter((c) => c.conflict).length;
  const interrupted = runs.filter((r) => !r.source.complete).map((r) => sourceNames[runs.indexOf(r)]!);
  let verdict: Verdict;
  let verdictReason: string;
  if (counts.failed > 0) {
    verdict = "FAIL";
    verdictReason = `${counts.failed} cell${counts.failed === 1 ? "" : "s"} failed: ${failures.map((f) => `${f.cell.scenario} on ${f.cell.column}: ${f.message}`).join("; ")}`;
  } else if (cells.length === 0 || counts.skipped > 0 || interrupted.length > 0) {
    verdict = "INCOMPLETE";
    verdictReason =
      cells.length === 0
        ? "the run directories hold no cells"
        : [
            counts.skipped > 0 ? `${counts.skipped} cell${counts.skipped === 1 ? " was" : "s were"} skipped (never run, so not passed)` : "",
            interrupted.length > 0 ? `${interrupted.join(", ")} did not finish` : "",
          ]
            .filter(Boolean)
            .join("; ");
  } else {
    verdict = "PASS";
    verdictReason = counts.flaky > 0 ? `every cell passed; ${counts.flaky} only on a retry (flaky)` : "every cell passed on its first attempt";
  }
  const sut = cells.flatMap((c) => c.entries.flatMap((e) => (e.cell.systemUnderTest ? [e.cell.systemUnderTest] : [])));
  return {
    generated: generated.toISOString(),
    sources: runs.map((r) => r.source),
    sourceNames,
    sourceLines: runs.map((r) => scrub(sourceLine(r.source))),
    scenarios,
    titles,
    columns,
    cells,
    failures,
    notes,
    fruix: distinct(runs.map((r) => `${r.source.fruixVersion}${r.source.fruixCommit ? ` (commit ${r.source.fruixCommit})` : " (commit not recorded)"}`)),
    declarations: distinct(sut.map((s) => `${scrub(s.declaration)}${s.system ? ` (system ${s.system})` : ""}, declaration hash ${s.declarationHash}`)),
    base: distinct(sut.flatMap((s) => s.base)),
    closures: distinct(cells.flatMap((c) => c.entries.flatMap((e) => (e.cell.closurePath ? [e.cell.closurePath] : [])))),
    counts,
    conflicts,
    verdict,
    verdictReason,
  };
}

export function cellAt(signOff: SignOff, scenario: string, column: string): SignOffCell | undefined {
  return signOff.cells.find((c) => c.scenario === scenario && c.column === column);
}

/** What a grid cell says: PASS, FLAKY, FAIL, SKIPPED, "not run", or each newest run's word when they disagree. */
export function gridWord(cell: SignOffCell | undefined): string {
  if (!cell) return "not run";
  if (!cell.conflict) return STATUS_WORD[cell.status];
  const newest = cell.entries.filter((e) => e.source.started === cell.deciding.source.started);
  return `CONFLICT: ${newest.map((e) => `${STATUS_WORD[e.cell.status]} (run ${e.sourceNumber})`).join(", ")}`;
}

/** The cell's last results, oldest first ("FAIL → PASS"); empty when it ran once (or only in runs of one moment). */
export function trendWords(cell: SignOffCell): string {
  const nights = new Set(cell.trend.map((e) => e.source.started)).size;
  return nights > 1 ? cell.trend.map((e) => STATUS_WORD[e.cell.status]).join(" → ") : "";
}

/** The deciding run's last attempt report, where the grid cell links to (none for a skipped cell). */
export function gridLink(cell: SignOffCell | undefined): Link | undefined {
  const attempt = cell?.deciding.attempts.at(-1);
  return attempt ? attempt.report : undefined;
}

export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - m * 60)} s`;
}

export function sourceLine(source: RunSource): string {
  const parts = [`${source.kind === "matrix" ? "matrix run" : "run"} ${source.runId}`, `started ${source.started}`];
  if (source.seconds !== undefined) parts.push(`wall time ${duration(source.seconds)}`);
  parts.push(`fruix ${source.fruixVersion}${source.fruixCommit ? ` (${source.fruixCommit.slice(0, 12)})` : ""}`);
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

function mdGrid(cell: SignOffCell | undefined): string {
  const link = gridLink(cell);
  const word = mdText(gridWord(cell));
  const trend = cell ? trendWords(cell) : "";
  return `${link && !cell?.conflict ? `[${word}](${link.href.replace(/[()]/g, (c) => encodeURIComponent(c))})` : word}${trend ? ` (trend: ${mdText(trend)})` : ""}`;
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
    "## Under test",
    "",
    `- Fruix: ${s.fruix.map(mdText).join("; ")}`,
    `- declaration: ${s.declarations.length ? s.declarations.map(mdText).join("; ") : "not recorded"}`,
    `- kernel, loader and userland: ${s.base.length ? s.base.map(mdText).join(", ") : "not recorded"}`,
    ...s.sources.map((source, k) => `- run ${k + 1} (${mdText(source.runId)}): wall time ${source.seconds === undefined ? "not recorded" : duration(source.seconds)}`),
    "",
  ];
  if (s.failures.length) {
    lines.push("## Failures", "", "Each failed cell's newest run: its last attempt's failure, report and transcripts.", "");
    for (const f of s.failures) {
      lines.push(
        `- **${mdText(`${f.cell.scenario} on ${f.cell.column}`)}** (run ${f.entry.sourceNumber}, attempt ${f.attempt.number}): ${mdText(f.message)} — ${[f.attempt.report, ...f.attempt.transcripts].map(mdLink).join(" ")}`,
      );
    }
    lines.push("");
  }
  lines.push(
    "## Scenario x hypervisor",
    "",
    "Each cell links to its newest run's report; a cell that ran in several runs shows its trend (last " + TREND_LENGTH + ", oldest first).",
    "",
    `| scenario | ${s.columns.map(mdText).join(" | ")} |`,
    `| --- |${s.columns.map(() => " --- |").join("")}`,
    ...s.scenarios.map((scenario) => `| ${mdText(scenario)} | ${s.columns.map((column) => mdGrid(cellAt(s, scenario, column))).join(" | ")} |`),
    "",
    "## Cells",
    "",
    "One row per cell and run, newest run first; the first row of a cell decides it.",
    "",
    "| scenario | hypervisor | result | closure | duration | attempts (report, transcripts) | run |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const cell of s.cells) {
    for (const e of [...cell.entries].reverse()) {
      const closure = e.cell.closurePath ? mdCode(shortStorePath(e.cell.closurePath)) : "";
      const newest = e.source.started === cell.deciding.source.started;
      const role = newest ? (cell.conflict ? " (conflict)" : "") : " (older)";
      lines.push(
        `| ${mdText(cell.scenario)} | ${mdText(cell.column)} | ${STATUS_WORD[e.cell.status]}${role} | ${closure} | ${duration(e.cell.seconds)} | ${mdAttempts(e)} | ${e.sourceNumber} |`,
      );
    }
  }
  lines.push("");
  const flaky = s.cells.filter((c) => c.status === "flaky").map((c) => c.deciding);
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
    lines.push("## Conflicts", "", "Runs that started at the same moment disagree on these cells; every result is shown and the worst counts.", "");
    for (const c of conflicts) {
      const newest = c.entries.filter((e) => e.source.started === c.deciding.source.started);
      lines.push(`- ${mdText(`${c.scenario} on ${c.column}`)}: ${newest.map((e) => `run ${e.sourceNumber} ${STATUS_WORD[e.cell.status]}`).join(", ")}`);
    }
    lines.push("");
  }
  const skipped = s.cells.filter((c) => c.status === "skipped").map((c) => c.deciding);
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
  if (s.closures.length) {
    lines.push("", "## Closures", "", "The closure paths the tables shorten, whole.", "");
    for (const c of s.closures) lines.push(`- ${mdCode(shortStorePath(c))}: ${mdCode(c)}`);
  }
  lines.push("", "## Runs", "");
  s.sourceLines.forEach((line, k) => lines.push(`${k + 1}. ${mdText(line)} — ${mdText(s.sourceNames[k]!)}`));
  lines.push("");
  return lines.join("\n");
}
