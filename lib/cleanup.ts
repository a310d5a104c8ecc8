// Ctrl-C and termination must not leave temporary files behind. Code that makes
// something temporary registers a synchronous undo; on SIGINT/SIGTERM/SIGHUP
// every registered undo runs, then the process exits with 128 + signal number.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";

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
  return onInterrupt(() => {
    spawnSync("chmod", ["-R", "u+w", path], { stdio: "ignore" });
    // Retried: a child killed just before may still be finishing a write (ENOTEMPTY).
    rmSync(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  });
}

/**
 * A new directory `<parent>/<prefix><random>` whose removal on interrupt is
 * registered before it exists. (mkdtemp first, then removeOnInterrupt, left a
 * gap: a Ctrl-C handled after the directory was made but before the callback
 * ran left it behind.) `forget` unregisters it; removing it is the caller's.
 */
export async function temporaryDirectory(prefix: string, parent = tmpdir()): Promise<{ path: string; forget: () => void }> {
  const path = join(parent, prefix + randomBytes(6).toString("hex"));
  const forget = removeOnInterrupt(path);
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (error) {
    forget();
    throw error;
  }
  return { path, forget };
}
