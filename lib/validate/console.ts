// A machine's serial console: the full transcript, expect-style waits, and
// marker-framed command execution (the openQA pattern), with a scan for signs
// of a failed boot that fails every wait at once instead of at its timeout.
// Adapters feed it bytes (attach); it knows nothing about any hypervisor.
import type { Readable, Writable } from "node:stream";
import { FruixError } from "../errors.js";

/** Lines that mean the boot has failed; waiting longer cannot help. */
export const BADNESS: readonly RegExp[] = [
  /Kernel panic - not syncing.*/,
  /^.*\bOops: \d{4}.*$/m,
  /fruix-initramfs: .*/,
  // The in-guest installer refused or failed; it says why in this one line.
  /fruix-installer: error: .*/,
  /^mountroot>.*$/m,
  /KVM internal error.*/,
];

/** The boot failed on the console; `lines` are the offending lines and what led to them. */
export class BootFailure extends FruixError {
  override readonly name = "BootFailure";
  constructor(
    readonly console: string,
    readonly lines: readonly string[],
  ) {
    super(`${console}: the boot failed: ${lines.find((l) => BADNESS.some((b) => b.test(l))) ?? lines.at(-1)}`);
  }
}

export class ConsoleTimeout extends FruixError {
  override readonly name = "ConsoleTimeout";
}

export interface ConsoleOptions {
  /** Multiplies every timeout (TCG is slower than KVM). */
  readonly timeoutScale?: number;
  readonly badness?: readonly RegExp[];
}

interface Waiter {
  readonly pattern: RegExp;
  readonly resolve: (match: RegExpMatchArray) => void;
  readonly reject: (error: Error) => void;
}

export interface RunResult {
  readonly exitCode: number;
  readonly output: string;
}

let runCounter = 0;

export class SerialConsole {
  private text = "";
  /** Where the next wait starts looking: text before it has been consumed. */
  private cursor = 0;
  private scanned = 0;
  private waiters = new Set<Waiter>();
  private failure: Error | undefined;
  private input: Writable | undefined;
  private readonly timeoutScale: number;
  private readonly badness: readonly RegExp[];

  constructor(
    readonly name: string,
    options: ConsoleOptions = {},
  ) {
    this.timeoutScale = options.timeoutScale ?? 1;
    this.badness = options.badness ?? BADNESS;
  }

  /** Connects the console to a machine's serial port (again, after a reconnect). */
  attach(output: Readable, input: Writable): void {
    this.input = input;
    output.on("data", (chunk: Buffer) => this.receive(chunk.toString("latin1")));
  }

  /** The machine is gone: every wait fails with `error` from now on. */
  fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const waiter of this.waiters) waiter.reject(error);
    this.waiters.clear();
  }

  transcript(): string {
    return this.text;
  }

  /** The last `count` lines of the transcript, for failure reports. */
  tail(count = 30): string[] {
    return this.text.replace(/\r/g, "").split("\n").slice(-count);
  }

  send(text: string): void {
    if (!this.input) throw new FruixError(`${this.name}: the console is not attached`);
    this.input.write(text);
  }

  /**
   * Waits for `pattern` in output not yet consumed by an earlier wait. Give
   * base timeouts: the console applies --timeout-scale itself.
   */
  waitFor(pattern: RegExp, opts: { timeoutMs: number }): Promise<RegExpMatchArray> {
    if (this.failure) return Promise.reject(this.failure);
    const timeoutMs = opts.timeoutMs * this.timeoutScale;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const seconds = (timeoutMs / 1000).toFixed(timeoutMs < 10_000 ? 1 : 0);
        reject(new ConsoleTimeout(`${this.name}: no ${pattern} on the console within ${seconds} s`));
      }, timeoutMs);
      const waiter: Waiter = {
        pattern,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.add(waiter);
      this.match();
    });
  }

  /**
   * Runs a shell command on the console's shell and returns its exit code and
   * output (stdout and stderr). The markers are split in the typed text
   * (`S""TART`), so the echo of the command line never matches them.
   */
  async run(command: string, opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    const tag = `FRX${++runCounter}x${process.pid}`;
    this.send(`echo ${tag}-S""TART; { ${command}\n} 2>&1; echo ${tag}-E""ND-$?\n`);
    const match = await this.waitFor(new RegExp(`${tag}-START\\r?\\n([\\s\\S]*?)${tag}-END-(\\d+)\\r?\\n`), {
      timeoutMs: opts.timeoutMs ?? 30_000,
    });
    return { exitCode: Number(match[2]), output: match[1]!.replace(/\r/g, "").replace(/\n$/, "") };
  }

  private receive(chunk: string): void {
    this.text += chunk;
    this.scan();
    this.match();
  }

  /** Looks at each complete new line once for signs of a failed boot. */
  private scan(): void {
    const end = this.text.lastIndexOf("\n");
    if (end < this.scanned || this.failure) return;
    const fresh = this.text.slice(this.scanned, end + 1);
    this.scanned = end + 1;
    for (const line of fresh.replace(/\r/g, "").split("\n")) {
      if (this.badness.some((b) => b.test(line))) {
        const context = this.text.slice(0, this.scanned).replace(/\r/g, "").split("\n").filter(Boolean).slice(-15);
        this.fail(new BootFailure(this.name, context));
        return;
      }
    }
  }

  private match(): void {
    for (const waiter of this.waiters) {
      const rest = this.text.slice(this.cursor);
      const m = rest.match(waiter.pattern);
      if (m && m.index !== undefined) {
        this.cursor += m.index + m[0].length;
        this.waiters.delete(waiter);
        waiter.resolve(m);
      }
    }
  }
}
