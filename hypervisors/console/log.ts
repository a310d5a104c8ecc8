// A machine's console log: the serial transcript, written to its file as the
// bytes arrive (a hang is visible while it happens), expect-style waits, and
// a scan of each complete line for signs of a failed boot that fails every
// wait at once instead of at its timeout. The patterns come from the layers
// that know them: the hypervisor adapter and the guest's family profile.
// Adapters feed it bytes (attach); it knows nothing about any hypervisor.
import { closeSync, openSync, writeSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { FruixError } from "../../lib/errors.js";

/** The boot failed on the console; `lines` are the offending lines and what led to them. */
export class BootFailure extends FruixError {
  override readonly name = "BootFailure";
  constructor(
    readonly console: string,
    readonly lines: readonly string[],
    /** The line that matched a failure pattern. */
    readonly line: string = lines.at(-1) ?? "",
  ) {
    super(`${console}: the boot failed: ${line}`);
  }
}

export class ConsoleTimeout extends FruixError {
  override readonly name = "ConsoleTimeout";
}

export interface ConsoleLogOptions {
  /** Multiplies every timeout (TCG is slower than KVM). */
  readonly timeoutScale?: number;
  /** Lines that mean the boot has failed: waiting longer cannot help. */
  readonly failurePatterns?: readonly RegExp[];
  /** Where the transcript goes, byte for byte, as it arrives (created or truncated now). */
  readonly transcriptFile?: string;
  /** Called with each complete console line (carriage returns and terminal control codes removed). */
  readonly onLine?: (line: string) => void;
  /** Called with every chunk as it arrives, unsplit. */
  readonly onData?: (chunk: Buffer) => void;
}

interface Waiter {
  readonly pattern: RegExp;
  readonly resolve: (match: RegExpMatchArray) => void;
  readonly reject: (error: Error) => void;
}

/** Escape sequences and other control codes: they would redraw the terminal of whoever reads the lines. */
const CONTROL = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]/g;

export class ConsoleLog {
  private text = "";
  /** Where the next wait starts looking: text before it has been consumed. */
  private cursor = 0;
  /** The end of the last complete line already scanned and passed on. */
  private scanned = 0;
  private waiters = new Set<Waiter>();
  private failure: Error | undefined;
  /** When the machine last said anything (Date.now()). */
  private lastOutput = Date.now();
  private input: Writable | undefined;
  private fd: number | undefined;
  private readonly timeoutScale: number;
  private readonly failurePatterns: readonly RegExp[];
  private readonly onLine: ((line: string) => void) | undefined;
  private readonly onData: ((chunk: Buffer) => void) | undefined;

  constructor(
    readonly name: string,
    options: ConsoleLogOptions = {},
  ) {
    this.timeoutScale = options.timeoutScale ?? 1;
    this.failurePatterns = options.failurePatterns ?? [];
    this.onLine = options.onLine;
    this.onData = options.onData;
    if (options.transcriptFile) this.fd = openSync(options.transcriptFile, "w");
  }

  /** Connects the console to a machine's serial port (again, after a reconnect). */
  attach(output: Readable, input: Writable): void {
    this.input = input;
    output.on("data", (chunk: Buffer) => this.receive(chunk));
  }

  /** The machine is gone: every wait fails with `error` from now on. */
  fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const waiter of this.waiters) waiter.reject(error);
    this.waiters.clear();
  }

  /**
   * Ends the transcript file (idempotent): an unfinished last line is passed
   * on, and bytes arriving later stay in memory only.
   */
  close(): void {
    if (this.scanned < this.text.length) this.passOn(this.text.slice(this.scanned));
    this.scanned = this.text.length;
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }

  transcript(): string {
    return this.text;
  }

  /** The last `count` lines of the transcript, for failure reports. */
  tail(count = 30): string[] {
    return this.text.replace(/\r/g, "").split("\n").slice(-count);
  }

  send(text: string | Buffer): void {
    if (!this.input) throw new FruixError(`${this.name}: the console is not attached`);
    this.input.write(text);
  }

  /**
   * Waits for `pattern` in output not yet consumed by an earlier wait. Give
   * base timeouts: the console applies --timeout-scale itself. With
   * `silenceMs`, a console that says nothing at all for that long fails the
   * wait at once (a hang), long before `timeoutMs`.
   */
  waitFor(pattern: RegExp, opts: { timeoutMs: number; silenceMs?: number }): Promise<RegExpMatchArray> {
    if (this.failure) return Promise.reject(this.failure);
    const timeoutMs = opts.timeoutMs * this.timeoutScale;
    const silenceMs = opts.silenceMs === undefined ? undefined : opts.silenceMs * this.timeoutScale;
    const started = Date.now();
    const seconds = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 1 : 0);
    return new Promise((resolve, reject) => {
      const stop = () => {
        clearTimeout(timer);
        clearInterval(watch);
      };
      const give = (error: Error) => {
        this.waiters.delete(waiter);
        stop();
        reject(error);
      };
      const timer = setTimeout(() => give(new ConsoleTimeout(`${this.name}: no ${pattern} on the console within ${seconds(timeoutMs)} s`)), timeoutMs);
      const watch =
        silenceMs === undefined
          ? undefined
          : setInterval(() => {
              if (Date.now() - Math.max(this.lastOutput, started) < silenceMs) return;
              const last = this.tail(5).map((line) => line.replace(CONTROL, "").trim()).filter(Boolean).at(-1) ?? "";
              give(new ConsoleTimeout(`${this.name}: nothing on the console for ${seconds(silenceMs)} s while waiting for ${pattern} (a hang?); the last line: ${JSON.stringify(last)}`));
            }, Math.min(1000, silenceMs / 4));
      const waiter: Waiter = {
        pattern,
        resolve: (m) => {
          stop();
          resolve(m);
        },
        reject: (e) => {
          stop();
          reject(e);
        },
      };
      this.waiters.add(waiter);
      this.match();
    });
  }

  private receive(chunk: Buffer): void {
    // Written before anything else looks at it: the file is never behind what a failure quotes.
    if (this.fd !== undefined) writeSync(this.fd, chunk);
    this.lastOutput = Date.now();
    this.onData?.(chunk);
    this.text += chunk.toString("latin1");
    this.scan();
    this.match();
  }

  private passOn(line: string): void {
    this.onLine?.(line.replace(CONTROL, ""));
  }

  /** Looks at each complete new line once: passes it on, and checks it for signs of a failed boot. */
  private scan(): void {
    const end = this.text.lastIndexOf("\n");
    if (end < this.scanned) return;
    const fresh = this.text.slice(this.scanned, end + 1);
    this.scanned = end + 1;
    const lines = fresh.replace(/\r/g, "").split("\n").slice(0, -1);
    for (const line of lines) this.passOn(line);
    if (this.failure) return;
    const bad = lines.find((line) => this.failurePatterns.some((p) => p.test(line)));
    if (bad !== undefined) {
      const context = this.text.slice(0, this.scanned).replace(/\r/g, "").split("\n").filter(Boolean).slice(-15);
      this.fail(new BootFailure(this.name, context, bad));
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
