// Meters for long byte-counted work (downloads, hashing, image writes, uploads).
// On a terminal one line is rewritten in place; otherwise a plain line at most
// every `plainIntervalMs`; off (--quiet), nothing. The clock and the writer are
// given, so the throttling is tested without waiting.
import { doneLine, fitLine, progressLine, type ProgressState } from "./render.js";

export type ProgressMode = "terminal" | "plain" | "off";

export interface ProgressOptions {
  readonly mode: ProgressMode;
  readonly write: (text: string) => void;
  readonly now?: () => number;
  /** The terminal's width (the line is cut to it). */
  readonly columns?: () => number | undefined;
  readonly terminalIntervalMs?: number;
  readonly plainIntervalMs?: number;
}

export interface Meter {
  /** Adds `bytes` to what is done. */
  advance(bytes: number): void;
  /** Sets what is done (a size polled from a file). */
  update(done: number): void;
  /** The work ended: a last line saying how much in how long (not on failure). */
  end(ok?: boolean): void;
}

const ERASE = "\r\x1b[K";

export class Progress {
  private readonly now: () => number;
  /** The meter whose line the terminal shows, unfinished. */
  private drawn: object | undefined;

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? Date.now;
  }

  start(label: string, total?: number): Meter {
    const { mode, write } = this.options;
    const started = this.now();
    let done = 0;
    let shown = started;
    let finished = false;
    const token = {};
    const state = (): ProgressState => ({ label, done, total, elapsedMs: this.now() - started });
    const show = (force: boolean) => {
      if (mode === "off" || finished) return;
      const now = this.now();
      const interval = mode === "terminal" ? (this.options.terminalIntervalMs ?? 100) : (this.options.plainIntervalMs ?? 5000);
      if (!force && now - shown < interval) return;
      shown = now;
      if (mode === "terminal") {
        write(`${ERASE}${fitLine(progressLine(state()), this.options.columns?.())}`);
        this.drawn = token;
      } else {
        write(`${progressLine(state())}\n`);
      }
    };
    return {
      advance: (bytes) => {
        done += bytes;
        show(false);
      },
      update: (value) => {
        done = value;
        show(false);
      },
      end: (ok = true) => {
        if (finished) return;
        finished = true;
        if (mode === "off") return;
        if (mode === "terminal" && this.drawn === token) {
          write(ERASE);
          this.drawn = undefined;
        }
        if (ok) write(`${doneLine(state())}\n`);
      },
    };
  }
}
