// A shell in the guest, reached through the console log: commands with their
// exit codes and output. The first implementation frames each command with
// markers on the serial console (the openQA pattern); another (SSH, a guest
// agent) would offer the same two calls.
import { FruixError } from "../../lib/errors.js";
import type { ConsoleLog } from "./log.js";

export interface RunResult {
  readonly exitCode: number;
  readonly output: string;
}

export interface GuestShell {
  /** Runs `command` and returns its exit code and output (stdout and stderr together). */
  run(command: string, opts?: { timeoutMs?: number }): Promise<RunResult>;
  /** Runs `command`, which must exit 0, and returns its output; else throws GuestCommandFailed. */
  succeed(command: string, opts?: { timeoutMs?: number }): Promise<string>;
}

/**
 * A command in the guest exited non-zero: an assertion about the guest
 * failed, not the machine or the host (those throw other errors).
 */
export class GuestCommandFailed extends FruixError {
  override readonly name = "GuestCommandFailed";
  constructor(
    readonly machine: string,
    readonly command: string,
    /** The command's exit status (FruixError's exitCode is the process's). */
    readonly status: number,
    readonly output: string,
  ) {
    super(`'${command}' exited ${status}: ${output}`);
  }
}

let runCounter = 0;

export class MarkerShell implements GuestShell {
  constructor(private readonly console: ConsoleLog) {}

  /**
   * Types the command between two markers and reads what lies between them.
   * The markers are split in the typed text (`S""TART`), so the echo of the
   * command line never matches them.
   */
  async run(command: string, opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    const tag = `FRX${++runCounter}x${process.pid}`;
    this.console.send(`echo ${tag}-S""TART; { ${command}\n} 2>&1; echo ${tag}-E""ND-$?\n`);
    const match = await this.console.waitFor(new RegExp(`${tag}-START\\r?\\n([\\s\\S]*?)${tag}-END-(\\d+)\\r?\\n`), {
      timeoutMs: opts.timeoutMs ?? 30_000,
    });
    return { exitCode: Number(match[2]), output: match[1]!.replace(/\r/g, "").replace(/\n$/, "") };
  }

  async succeed(command: string, opts: { timeoutMs?: number } = {}): Promise<string> {
    const { exitCode, output } = await this.run(command, opts);
    if (exitCode !== 0) throw new GuestCommandFailed(this.console.name, command, exitCode, output);
    return output;
  }
}
