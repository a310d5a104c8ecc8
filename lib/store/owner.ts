// A state directory belongs to one store. Shared by two, each store's verify would report the
// other's records as "content is missing", and gc roots and memo entries would cross over. So
// the state directory records its store when it is first used (`<state>/store-dir`) and
// refuses any other.

import { link, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FruixError } from "../errors.js";
import { tempSibling } from "./atomic.js";
import type { StoreLayout } from "./location.js";
import { isErrno } from "./tree.js";

/** The file, in a state directory, that names the store directory it belongs to. */
export const STORE_RECORD = "store-dir";

/** The store `stateDir` is recorded for; undefined when it records none (new, or made before records). */
export async function recordedStore(stateDir: string): Promise<string | undefined> {
  try {
    return (await readFile(join(stateDir, STORE_RECORD), "utf8")).replace(/\n$/, "");
  } catch (e) {
    if (isErrno(e, "ENOENT", "ENOTDIR")) return undefined;
    throw new FruixError(`cannot read ${join(stateDir, STORE_RECORD)}: ${(e as Error).message}`, { cause: e });
  }
}

/** The refusal, or undefined when `recorded` is this layout's store (pure). */
export function ownerProblem(layout: StoreLayout, recorded: string | undefined, sameDirectory: boolean): string | undefined {
  if (recorded === undefined || recorded === layout.storeDir || sameDirectory) return undefined;
  return (
    `state directory ${layout.stateDir} belongs to the store ${recorded}, not ${layout.storeDir} ` +
    `(recorded in ${join(layout.stateDir, STORE_RECORD)}); give each store its own state directory`
  );
}

/** Refuses, with a FruixError and before anything is changed, a state directory recorded for another store. */
export async function checkOwner(layout: StoreLayout): Promise<"recorded" | "unrecorded"> {
  const recorded = await recordedStore(layout.stateDir);
  if (recorded === undefined) return "unrecorded";
  const problem = ownerProblem(layout, recorded, recorded !== layout.storeDir && (await sameDirectory(recorded, layout.storeDir)));
  if (problem !== undefined) throw new FruixError(problem);
  return "recorded";
}

/**
 * Records the store in its (existing) state directory. The record is linked into place from a
 * complete temporary file: link(2) fails if another process recorded first, and the check
 * after it then decides, so two stores can never both claim one state directory.
 */
export async function recordOwner(layout: StoreLayout): Promise<void> {
  const file = join(layout.stateDir, STORE_RECORD);
  const tmp = tempSibling(file);
  try {
    await writeFile(tmp, layout.storeDir + "\n", { mode: 0o644, flag: "wx" });
    await link(tmp, file).catch((e: unknown) => {
      if (!isErrno(e, "EEXIST")) throw e;
    });
  } catch (e) {
    // A state directory this user may only read (`fruix store verify` of another user's
    // store) stays unrecorded; whoever may write to it records it.
    if (isErrno(e, "EACCES", "EPERM", "EROFS")) return;
    throw new FruixError(`cannot record the store in ${file}: ${(e as Error).message}`, { cause: e });
  } finally {
    await rm(tmp, { force: true });
  }
  await checkOwner(layout);
}

/** Whether two paths name one directory (a store reached through a symlink is the same store). */
async function sameDirectory(a: string, b: string): Promise<boolean> {
  try {
    return (await realpath(a)) === (await realpath(b));
  } catch {
    return false; // the recorded store is gone: not this one
  }
}
