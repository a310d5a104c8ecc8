// How many cells a run boots at once (`fruix validate --jobs N`), and the
// pool that runs them: pure logic, apart from reading the machine's size.
import { availableParallelism, totalmem } from "node:os";
import { FruixError } from "../errors.js";

/** What one cell's machine needs: 512 MiB of guest memory, QEMU, and the build's share. */
export const MEMORY_PER_JOB = 1.5 * 1024 ** 3;
export const MAX_JOBS = 64;

/** One job per core, at most one per 1.5 GiB of memory, at least one. */
export function defaultJobs(cores = availableParallelism(), memory = totalmem()): number {
  return Math.max(1, Math.min(cores, Math.floor(memory / MEMORY_PER_JOB), MAX_JOBS));
}

export function parseJobs(value: string, option = "--jobs"): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_JOBS) {
    throw new FruixError(`${option} needs a whole number from 1 to ${MAX_JOBS}, not '${value}'`, { exitCode: 2 });
  }
  return Number(value);
}

/**
 * The order to start items in so that a long one is not left alone at the
 * end: those never timed first (they may be long), then the longest first;
 * ties keep list order (pure).
 */
export function longestFirst(expectedSeconds: ReadonlyArray<number | undefined>): number[] {
  const rank = (i: number) => expectedSeconds[i] ?? Infinity;
  return expectedSeconds.map((_, i) => i).sort((a, b) => rank(b) - rank(a) || a - b);
}

/**
 * Runs `work` for every item, at most `jobs` at once, each started in list
 * order (or in `order`, a permutation of the indices); resolves with the
 * results in list order. The first error stops new starts and is thrown once
 * the running ones have settled.
 */
export async function inPool<T, R>(
  items: readonly T[],
  jobs: number,
  work: (item: T, index: number) => Promise<R>,
  order: readonly number[] = items.map((_, i) => i),
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < order.length) {
      const index = order[next++]!;
      try {
        results[index] = await work(items[index]!, index);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  if (failed) throw failed.error;
  return results;
}

/** One at a time: what parallel cells must not do together (building into the one store). */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
