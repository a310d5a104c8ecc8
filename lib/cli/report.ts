// `fruix report sign-off RUN_DIR... --output FILE.md`: one Markdown and one
// HTML document from one or more run directories (matrix or plain runs).
import { mkdir, realpath, rename, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { dirname, resolve } from "node:path";
import { FruixError } from "../errors.js";
import { packageRoot } from "../paths.js";
import { readRunDir, type RunContents } from "../validate/run-dir.js";
import { renderSignOffHtml } from "../validate/sign-off-html.js";
import { buildSignOff, renderSignOffMarkdown } from "../validate/sign-off.js";
import type { CommandContext } from "./options.js";

async function writeWhole(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

export async function signOffCommand(context: CommandContext): Promise<Record<string, string | number>> {
  const output = context.options.output;
  if (context.args.length === 0 || !output) throw new FruixError("expected RUN_DIR... and --output FILE.md: fruix report sign-off RUN_DIR... --output FILE.md", { exitCode: 2 });
  const markdown = resolve(output);
  const html = markdown.endsWith(".md") ? `${markdown.slice(0, -3)}.html` : `${markdown}.html`;

  // Every directory is read (and checked) before anything is written.
  const runs: RunContents[] = [];
  const seen = new Set<string>();
  for (const dir of context.args) {
    const run = await readRunDir(dir);
    if (seen.has(run.source.dir)) continue; // the same directory twice (e.g. reports/latest and its target) is one run
    seen.add(run.source.dir);
    runs.push(run);
  }
  await mkdir(dirname(markdown), { recursive: true });
  // No absolute path of this host goes into the document (it is uploaded and attached to releases).
  const hostPaths = [tmpdir(), homedir(), process.cwd(), packageRoot];
  const signOff = buildSignOff(runs, await realpath(dirname(markdown)), new Date(), [...hostPaths, ...(await Promise.all(hostPaths.map((p) => realpath(p).catch(() => p))))]);
  await writeWhole(markdown, renderSignOffMarkdown(signOff));
  await writeWhole(html, renderSignOffHtml(signOff));
  return {
    sign_off: markdown,
    sign_off_html: html,
    runs: runs.length,
    cells: signOff.cells.length,
    ...signOff.counts,
    conflicts: signOff.conflicts,
    verdict: signOff.verdict,
  };
}
