#!/usr/bin/env node
// The `fruix` command: results as key=value lines on stdout (or one JSON object
// with --json), progress on stderr, one clear line and a non-zero exit on error.
// The command line is read against the command table (table.ts, parse.ts);
// this file only prints and dispatches.
import { handleInterrupts, sweepTemporaries } from "../cleanup.js";
import { DeclarationError, FruixError } from "../errors.js";
import { unusableDirectory } from "../fs.js";
import { setProgress } from "../progress/index.js";
import { helpText } from "./help.js";
import { metaCommands, versionLine } from "./meta.js";
import { type Options, Printout, type Result } from "./options.js";
import { parseCommandLine } from "./parse.js";
import { type CommandSpec, commandName } from "./table.js";

function print(output: Result | Printout, json: boolean): void {
  if (output instanceof Printout) process.stdout.write(json ? `${JSON.stringify(output.json)}\n` : output.text);
  else if (json) process.stdout.write(JSON.stringify(output) + "\n");
  else for (const [key, value] of Object.entries(output)) process.stdout.write(`${key}=${value}\n`);
}

/** A store directory that cannot be one is refused before any work: one line, exit 2. */
async function checkStore(command: CommandSpec, options: Options): Promise<void> {
  if (!command.options.includes("store")) return;
  const [source, dir] = options.store !== undefined ? ["--store", options.store] : ["FRUIX_STORE", process.env.FRUIX_STORE];
  if (dir === undefined || dir === "") return;
  const problem = await unusableDirectory(dir);
  if (problem) throw new FruixError(`${source} ${dir}: ${problem}`, { exitCode: 2 });
}

export async function main(argv: string[]): Promise<number> {
  const invocation = parseCommandLine(argv);
  switch (invocation.kind) {
    case "help":
      process.stdout.write(`${helpText(invocation.topic)}\n`);
      return 0;
    case "usage": // `fruix` or `fruix system` alone: what there is, on stderr
      process.stderr.write(`${helpText(invocation.topic)}\n`);
      return 2;
    case "version":
      process.stdout.write(`${versionLine()}\n`);
      return 0;
  }
  const { command, args, options } = invocation;
  // Meters (downloads, hashing, image writes, uploads) on stderr: one line redrawn on a terminal, plain lines otherwise.
  setProgress({
    mode: options.quiet ? "off" : process.stderr.isTTY ? "terminal" : "plain",
    write: (text) => void process.stderr.write(text),
    columns: () => process.stderr.columns,
  });
  await checkStore(command, options);
  // What a SIGKILLed run left in TMPDIR goes first (its makers are gone).
  await sweepTemporaries();
  const name = commandName(command);
  // The build commands load the store, the builders and (validate) the adapters: only when asked for.
  const run = metaCommands[name] ?? (await import("./commands.js")).commands[name];
  if (!run) throw new Error(`the command table names 'fruix ${name}', which has no implementation`);
  const output = await run({ args, options });
  // A command may set exit_code (validate: 1 when a scenario failed); it is not printed.
  if (output instanceof Printout) {
    print(output, options.json ?? false);
    return 0;
  }
  const { exit_code: exitCode, ...result } = output;
  print(result, options.json ?? false);
  return typeof exitCode === "number" ? exitCode : 0;
}

function report(error: unknown): number {
  if (error instanceof DeclarationError) {
    process.stderr.write(`${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof FruixError) {
    process.stderr.write(`fruix: ${error.message}\n`);
    return error.exitCode;
  }
  if (process.env.FRUIX_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? error}\n`);
  else process.stderr.write(`fruix: internal error: ${(error as Error)?.message ?? error} (FRUIX_DEBUG=1 shows the trace)\n`);
  return 70;
}

handleInterrupts();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.exitCode = report(error);
  },
);
