// Is the process that left this lock / temporary still running?
//
// A pid alone can be reused after its process dies, which would make a dead holder look
// alive forever; where /proc exists (Linux) we also compare the process start time.

import { readFileSync } from "node:fs";
import { hostname } from "node:os";

export interface ProcessIdentity {
  readonly pid: number;
  /** Start time in clock ticks since boot (Linux /proc/<pid>/stat field 22); absent elsewhere. */
  readonly start?: string;
  readonly host: string;
}

let self: ProcessIdentity | undefined;

export function currentProcess(): ProcessIdentity {
  if (self === undefined || self.pid !== process.pid) {
    const start = processStartTime(process.pid);
    self = { pid: process.pid, host: hostname(), ...(start === undefined ? {} : { start }) };
  }
  return self;
}

/** Whether a process with this pid exists (EPERM means it exists but is not ours). */
export function isPidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether the identified process still runs. A holder on another host cannot be checked
 * from here, so it is assumed alive (a shared state dir across hosts is not supported).
 */
export function isProcessAlive(owner: ProcessIdentity): boolean {
  if (owner.host !== currentProcess().host) return true;
  if (!isPidAlive(owner.pid)) return false;
  if (owner.start === undefined) return true;
  const now = processStartTime(owner.pid);
  return now === undefined || now === owner.start;
}

/** Parses `/proc/<pid>/stat`; the command name may contain spaces and parens, so split after the last ')'. */
export function parseProcStatStartTime(stat: string): string | undefined {
  const close = stat.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(" ");
  // Fields after the name start at field 3 (state); starttime is field 22.
  return fields[22 - 3];
}

function processStartTime(pid: number): string | undefined {
  try {
    return parseProcStatStartTime(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}
