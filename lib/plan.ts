// `--dry-run`: the build code runs as usual, but inside a Plan. Recipes whose
// item exists report it; the others are recorded instead of built, and stand
// for their item with a placeholder path, so what follows can still be planned.
// Code that writes (store adds, temporary directories, caches) asks
// `planning()` first and writes nothing when it returns a Plan.
import { AsyncLocalStorage } from "node:async_hooks";

export interface PlanEntries {
  /** Store paths that exist already (in-guest form). */
  readonly exists: string[];
  /** Items that would be built, by name. */
  readonly build: string[];
  /** Packages or files that would be downloaded. */
  readonly download: string[];
  /** What would be done to things outside the store (a target disk). */
  readonly write: string[];
  /** Set when planning had to stop: what comes next needs an unbuilt item's content. */
  stoppedAt?: string;
}

export class Plan {
  readonly entries: PlanEntries = { exists: [], build: [], download: [], write: [] };

  exists(path: string): void {
    if (!this.entries.exists.includes(path)) this.entries.exists.push(path);
  }

  build(name: string): void {
    if (!this.entries.build.includes(name)) this.entries.build.push(name);
  }

  download(what: string): void {
    if (!this.entries.download.includes(what)) this.entries.download.push(what);
  }

  write(what: string): void {
    this.entries.write.push(what);
  }
}

/** Thrown when the next step needs the content of an item that would be built: planning ends there. */
export class PlanStop extends Error {
  constructor(readonly item: string) {
    super(`the rest needs the content of ${item}, which would be built first`);
  }
}

const current = new AsyncLocalStorage<Plan>();

/** The Plan being made, when this code runs under --dry-run. */
export function planning(): Plan | undefined {
  return current.getStore();
}

/** Runs `fn` as a dry run recording into `plan`; a PlanStop ends it normally. */
export async function withPlan(plan: Plan, fn: () => Promise<void>): Promise<Plan> {
  try {
    await current.run(plan, fn);
  } catch (error) {
    if (!(error instanceof PlanStop)) throw error;
    plan.entries.stoppedAt = error.item;
  }
  return plan;
}

/** A safety net: code that would write under --dry-run is a bug, said as such. */
export function refuseInPlan(what: string): void {
  if (planning()) throw new Error(`--dry-run would have written: ${what}`);
}

/** A placeholder hash (a real sha256 is never all zeros): the path of an item not built. */
export const PLACEHOLDER_HASH = "0".repeat(64);

export function isPlaceholder(storePath: string): boolean {
  return storePath.startsWith(`/frx/store/${PLACEHOLDER_HASH}-`);
}
