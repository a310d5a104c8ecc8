// Garbage collection: delete every item no GC root (nor a live process's temp root) reaches,
// temporaries left by dead processes, and metadata records whose item is gone.
//
// The decision and the unlinking from final names happen under the store lock; victims are
// first renamed to `.gc-<pid>-<random>` and deleted after the lock is released, so adds are
// not blocked while big trees are removed (a gc killed meanwhile leaves `.gc-*` trash that
// the next gc removes).

import { readdir, readlink, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { FruixError } from "../errors.js";
import { randomToken } from "./atomic.js";
import { computeClosure } from "./closure.js";
import { exists, itemHostPath, readRecord, removeRecord } from "./db.js";
import type { StoreLayout } from "./location.js";
import type { LockOptions, StoreLock } from "./lock.js";
import { baseNameOfRecordFile } from "./metadata.js";
import { isLeftover } from "../process.js";
import { compareBytes, parseBaseName, parseStorePath, splitStorePath, tempName, TEMP_NAME } from "./paths.js";
import { liveTempRoots } from "./temproots.js";
import { isErrno, removeTree, treeSize } from "./tree.js";

export interface GcOptions {
  /** Report what would be removed, remove nothing. */
  readonly dryRun?: boolean;
}

export interface GcResult {
  /** Store paths of the items removed (or that would be), sorted. */
  readonly removed: string[];
  /** Host paths of other leftovers removed: temporaries of dead processes, orphan metadata records. */
  readonly leftovers: string[];
  /** Apparent bytes freed (regular file contents plus symlink targets). */
  readonly freedBytes: number;
  readonly dryRun: boolean;
}

export async function collectGarbage(
  layout: StoreLayout,
  lock: StoreLock,
  lockOptions: LockOptions,
  opts: GcOptions,
): Promise<GcResult> {
  const dryRun = opts.dryRun === true;
  const removed: string[] = [];
  const leftovers: string[] = [];
  const toDelete: string[] = [];
  let freedBytes = 0;

  await lock.withLock(async () => {
    const live = new Set(await liveItems(layout, dryRun));
    const entries = await readdir(layout.storeDir);
    const present = new Set(entries);

    for (const entry of entries) {
      const host = join(layout.storeDir, entry);
      const item = parseBaseName(entry);
      if (item !== undefined) {
        if (live.has(item.path)) continue;
        removed.push(item.path);
        freedBytes += await treeSize(host);
        if (!dryRun) {
          // Off its final name first, then the record: a crash in between leaves an orphan
          // record, never content without a record under a final name.
          const trash = join(layout.storeDir, tempName("gc", process.pid, randomToken()));
          await rename(host, trash);
          await removeRecord(layout, item);
          toDelete.push(trash);
        }
        continue;
      }
      if (isLeftover(entry, TEMP_NAME)) {
        leftovers.push(host);
        freedBytes += await treeSize(host);
        toDelete.push(host);
      }
    }

    for (const file of await readdir(layout.dbDir)) {
      const base = baseNameOfRecordFile(file);
      const orphan = base !== undefined && parseBaseName(base) !== undefined && !present.has(base);
      if (orphan || isLeftover(file, TEMP_NAME)) {
        leftovers.push(join(layout.dbDir, file));
        toDelete.push(join(layout.dbDir, file));
      }
    }
    for (const dir of [layout.rootsDir, layout.lockDir]) {
      for (const file of await readdir(dir)) {
        if (isLeftover(file, TEMP_NAME)) {
          leftovers.push(join(dir, file));
          toDelete.push(join(dir, file));
        }
      }
    }
    if (!dryRun) {
      // Orphan records go under the lock too: an add writes its record just before its rename.
      for (const p of toDelete) if (p.startsWith(layout.dbDir)) await rm(p, { force: true });
    }
  }, lockOptions);

  if (!dryRun) for (const p of toDelete) await removeTree(p);
  return { removed: removed.sort(compareBytes), leftovers: leftovers.sort(compareBytes), freedBytes, dryRun };
}

/** The closure of the GC roots and live temp roots. Rooted content without a record is kept (verify reports it). */
async function liveItems(layout: StoreLayout, dryRun: boolean): Promise<string[]> {
  const starts: string[] = [];
  for (const name of await readdir(layout.rootsDir)) {
    if (name.startsWith(".")) continue;
    try {
      const target = await readlink(join(layout.rootsDir, name));
      starts.push(splitStorePath(target).item.path);
    } catch (e) {
      if (!isErrno(e, "ENOENT", "EINVAL") && !(e instanceof FruixError)) throw e;
      // Not a symlink, gone meanwhile, or not pointing into the store: it roots nothing.
    }
  }
  starts.push(...(await liveTempRoots(layout.tempRootsDir, dryRun)));
  return computeClosure(
    starts,
    async (p) => {
      const item = parseStorePath(p);
      if (!(await exists(itemHostPath(layout, item)))) return undefined;
      // A malformed record throws: better to stop than to delete what it might reference.
      return (await readRecord(layout, item))?.references ?? [];
    },
    () => {},
  );
}
