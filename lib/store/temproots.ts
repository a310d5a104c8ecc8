// Temporary GC roots: items a live process is using but has not rooted yet — the references
// of a build in progress, and the items it has just added (the builder adds a kernel item,
// then a closure referring to it, and roots only the closure at the end). Like Nix's temp
// roots, they last as long as the process (or until `release`). GC treats the files of live
// processes as roots and deletes those of dead ones.
//
// File: `<state>/temproots/<pid>-<random>`, one store path per line, append-only.

import { appendFile, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { randomToken } from "./atomic.js";
import { isStorePath } from "./paths.js";
import { isPidAlive } from "../process.js";
import { isErrno } from "./tree.js";

export class TempRoots {
  private readonly file: string;
  private readonly added = new Set<string>();

  constructor(dir: string) {
    this.file = join(dir, `${process.pid}-${randomToken()}`);
  }

  /** Registers store paths; they are on disk (visible to GC) when this resolves. */
  async add(paths: readonly string[]): Promise<void> {
    const fresh = paths.filter((p) => !this.added.has(p));
    if (fresh.length === 0) return;
    await appendFile(this.file, fresh.map((p) => p + "\n").join(""), { mode: 0o644 });
    for (const p of fresh) this.added.add(p);
  }

  async release(): Promise<void> {
    this.added.clear();
    await rm(this.file, { force: true });
  }
}

/** Store paths held by live processes; files of dead processes are deleted unless `dryRun`. */
export async function liveTempRoots(dir: string, dryRun: boolean): Promise<Set<string>> {
  const live = new Set<string>();
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (e) {
    if (isErrno(e, "ENOENT")) return live;
    throw e;
  }
  for (const entry of entries) {
    const m = /^([0-9]+)-/.exec(entry);
    if (m === null) continue;
    const file = join(dir, entry);
    if (!isPidAlive(Number(m[1]))) {
      if (!dryRun) await rm(file, { force: true });
      continue;
    }
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      if (isErrno(e, "ENOENT")) continue;
      throw e;
    }
    // A line being appended right now may be cut short; it is not a store path then, and its
    // writer re-checks its references under the lock after appending anyway.
    for (const line of text.split("\n")) if (isStorePath(line)) live.add(line);
  }
  return live;
}
