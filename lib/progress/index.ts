// The progress meters of this process: the CLI chooses how they show (terminal,
// plain lines, or off); library code only starts meters. Without a choice
// (tests, library use) meters are silent.
import { Progress, type Meter, type ProgressOptions } from "./meter.js";

let current = new Progress({ mode: "off", write: () => undefined });

export function setProgress(options: ProgressOptions): void {
  current = new Progress(options);
}

/** A meter for `label`: `total` bytes when known. */
export function meter(label: string, total?: number): Meter {
  return current.start(label, total);
}

/** Runs `fn` with a meter that ends with it (and shows no "done" line when it fails). */
export async function metered<T>(label: string, total: number | undefined, fn: (m: Meter) => Promise<T>): Promise<T> {
  const m = meter(label, total);
  try {
    const value = await fn(m);
    m.end(true);
    return value;
  } catch (error) {
    m.end(false);
    throw error;
  }
}

export type { Meter, ProgressMode } from "./meter.js";
