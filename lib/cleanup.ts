// Ctrl-C and termination must not leave temporary files behind. Code that makes
// something temporary registers a synchronous undo; on SIGINT/SIGTERM/SIGHUP
// every registered undo runs, then the process exits with 128 + signal number.
// SIGKILL runs nothing: temporary directories carry their maker's pid in their
// name, and the next run removes those whose maker is gone (sweepTemporaries).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { lstat, mkdir, readdir, realpath } from "node:fs/promises";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { refuseInPlan } from "./plan.js";
import { directoriesInUse, isLeftover, ownedName } from "./process.js";

const undos = new Set<() => void>();
let installed = false;

function onSignal(signal: NodeJS.Signals): void {
  for (const undo of [...undos].reverse()) {
    try {
      undo();
    } catch {
      // Best effort: the next undo still deserves its chance.
    }
  }
  process.stderr.write(`fruix: interrupted (${signal}); temporary files removed\n`);
  process.exit(128 + (constants.signals[signal] ?? 1));
}

/** Installs the signal handlers (the CLI does this once at start). */
export function handleInterrupts(): void {
  if (installed) return;
  installed = true;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onSignal);
}

/** Registers `undo` until the returned function is called. */
export function onInterrupt(undo: () => void): () => void {
  undos.add(undo);
  return () => undos.delete(undo);
}

/** Registers removal of a temporary path (read-only store content included). */
export function removeOnInterrupt(path: string): () => void {
  return onInterrupt(() => removeForcibly(path));
}

/** `rm -rf`, read-only directories (store content, unpacked packages) included. */
function removeForcibly(path: string): void {
  spawnSync("chmod", ["-R", "u+w", path], { stdio: "ignore" });
  // Retried: a child killed just before may still be finishing a write (ENOTEMPTY).
  rmSync(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
}

/**
 * The names temporaryDirectory gives: `fruix-<label>-<pid>-<12 hex digits>`, the pid
 * its maker's. Nothing else matches: the kept kind ends `-kept-<hex>`, and what
 * mkdtemp makes (`fruix-test-XXXXXX`) lacks the pid and the 12 hex digits.
 */
export const TEMPORARY_NAME = /^fruix-(?:.+-)?([0-9]+)-[0-9a-f]{12}$/;

export interface TemporaryOptions {
  /** Where to make it; default the system's temporary directory (TMPDIR). */
  readonly parent?: string;
  /** The caller may leave it behind on purpose (`validate --keep`): named without a pid, never swept. */
  readonly keep?: boolean;
}

/**
 * A new directory `<parent>/<prefix><pid>-<random>` whose removal on interrupt is
 * registered before it exists. (mkdtemp first, then removeOnInterrupt, left a
 * gap: a Ctrl-C handled after the directory was made but before the callback
 * ran left it behind.) `forget` unregisters it; removing it is the caller's.
 * `prefix` is `fruix-<label>-`. The first one in `parent` sweeps it first.
 */
export async function temporaryDirectory(prefix: string, options: TemporaryOptions = {}): Promise<{ path: string; forget: () => void }> {
  if (!/^fruix-.*-$/.test(prefix)) throw new Error(`temporary directory prefix ${prefix} is not fruix-<label>-`);
  refuseInPlan(`temporary directory ${prefix}`);
  const parent = options.parent ?? tmpdir();
  await sweepTemporaries(parent);
  const token = randomBytes(6).toString("hex");
  const path = join(parent, options.keep ? `${prefix}kept-${token}` : ownedName(prefix, process.pid, token));
  const forget = removeOnInterrupt(path);
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (error) {
    forget();
    throw error;
  }
  return { path, forget };
}

const swept = new Map<string, Promise<string[]>>();

/**
 * Removes the temporary directories in `parent` (default TMPDIR) whose maker is
 * gone: killed by SIGKILL, or by a power cut, it ran no undo. Only names
 * TEMPORARY_NAME matches, only directories, only this user's; a running
 * process's are kept, and so are those a running process still uses. Once per
 * directory and process; best effort (another run may be removing the same).
 * Returns what it removed (real paths).
 */
export function sweepTemporaries(parent = tmpdir()): Promise<string[]> {
  let sweep = swept.get(parent);
  if (sweep === undefined) {
    sweep = sweepOnce(parent);
    swept.set(parent, sweep);
  }
  return sweep;
}

async function sweepOnce(parent: string): Promise<string[]> {
  // Real paths, to compare with what /proc shows.
  const real = await realpath(parent).catch(() => undefined);
  const entries = real === undefined ? [] : await readdir(real).catch(() => [] as string[]);
  const candidates: string[] = [];
  for (const name of entries) {
    if (!isLeftover(name, TEMPORARY_NAME)) continue;
    const path = join(real!, name);
    const st = await lstat(path).catch(() => undefined);
    if (st !== undefined && st.isDirectory() && st.uid === process.getuid?.()) candidates.push(path);
  }
  // A child the dead maker left running (a QEMU) may still use its directory: it stays until then.
  const inUse = await directoriesInUse(candidates);
  const removed: string[] = [];
  for (const path of candidates.filter((c) => !inUse.has(c))) {
    try {
      removeForcibly(path);
      removed.push(path);
    } catch {
      // Left for the next run: nothing here depends on it being gone.
    }
  }
  return removed;
}
