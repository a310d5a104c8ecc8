// What every command is given and what it returns: shared by main.ts (which
// parses and prints) and the commands (which read), so neither imports the other.
import type { Options } from "./table.js";

export type { Options };

export interface CommandContext {
  readonly args: readonly string[];
  /** Checked against the command table already: only the command's own options, valid values. */
  readonly options: Options;
}

/** key=value lines on stdout (one JSON object with --json). exit_code, when a number, is the exit status and is not printed. */
export type Result = Record<string, string | number>;

/** Output that is not key=value lines (a listing): `text` as it is, or `json` as one JSON document with --json. */
export class Printout {
  constructor(
    readonly text: string,
    readonly json: unknown,
  ) {}
}

export type Command = (context: CommandContext) => Promise<Result | Printout>;
