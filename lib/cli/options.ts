// The command line's options and what every command is given: shared by
// main.ts (which parses) and the commands (which read), so neither imports
// the other.
import type { parseArgs, ParseArgsConfig } from "node:util";

export const OPTIONS = {
  system: { type: "string" },
  store: { type: "string" },
  json: { type: "boolean" },
  quiet: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  "dry-run": { type: "boolean" },
  "root-size": { type: "string" },
  "disk-capacity": { type: "string" },
  target: { type: "string" },
  "install-target-device": { type: "string" },
  force: { type: "boolean" },
  list: { type: "boolean" },
  grep: { type: "string" },
  hypervisor: { type: "string" },
  accel: { type: "string" },
  "timeout-scale": { type: "string" },
  keep: { type: "boolean" },
  "report-dir": { type: "string" },
  declaration: { type: "string" },
  to: { type: "string" },
  identity: { type: "string" },
  "known-hosts": { type: "string" },
  "accept-new-host-key": { type: "boolean" },
  matrix: { type: "string" },
  project: { type: "string", multiple: true },
  shard: { type: "string" },
  retries: { type: "string" },
  output: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

/** The parsed options, as node's parseArgs types them. */
export type Options = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>["values"];

export interface CommandContext {
  readonly args: readonly string[];
  readonly options: Options;
}

export type Command = (context: CommandContext) => Promise<Record<string, string | number>>;
