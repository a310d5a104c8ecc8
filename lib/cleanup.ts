// Ctrl-C and termination must not leave temporary files behind. Code that makes
// something temporary registers a synchronous undo; on SIGINT/SIGTERM/SIGHUP
// every registered undo runs, then the process exits with 128 + signal number.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { constants } from "node:os";

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
    rmSync(path, { recursive: true, force: true });
  });
}
