// Replace-by-rename helpers: readers see the old file or the new one, never a partial one.

import { randomBytes } from "node:crypto";
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { rename, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { tempName } from "./paths.js";

export function randomToken(): string {
  return randomBytes(6).toString("hex");
}

/** A temporary name beside `path`, marked with our pid so GC can tell whether we are alive. */
export function tempSibling(path: string): string {
  return join(dirname(path), tempName("tmp", process.pid, randomToken()));
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = tempSibling(path);
  try {
    await writeFile(tmp, data, { mode, flag: "wx" });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** writeFileAtomic for a signal handler, which cannot wait: the process exits when it returns. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = tempSibling(path);
  try {
    writeFileSync(tmp, data, { mode, flag: "wx" });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export async function symlinkAtomic(target: string, path: string): Promise<void> {
  const tmp = tempSibling(path);
  try {
    await symlink(target, tmp);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
