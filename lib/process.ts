// Is the process that left this lock / temporary still running?
//
// A pid alone can be reused after its process dies, which would make a dead holder look
// alive forever; where /proc exists (Linux) we also compare the process start time.
//
// Temporaries (the store's `.tmp-<pid>-*`, the `fruix-*-<pid>-*` directories in TMPDIR) carry
// their maker's pid in their name: SIGKILL runs no cleanup, so the next run removes those
// whose maker is gone. A reused pid only keeps a leftover longer, never removes a live one's.

import { readFileSync } from "node:fs";
import { readdir, readlink } from "node:fs/promises";
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

/** `<label><pid>-<token>`: the name of a temporary made by process `pid`. */
export function ownedName(label: string, pid: number, token: string): string {
  return `${label}${pid}-${token}`;
}

/**
 * Whether `name` is a temporary's name per `pattern` (its first group the maker's pid, as
 * ownedName puts it) whose maker no longer runs. A name that does not match is never one.
 */
export function isLeftover(name: string, pattern: RegExp): boolean {
  const m = pattern.exec(name);
  return m !== null && !isPidAlive(Number(m[1]));
}

/**
 * Those of `dirs` (real paths) a running process still uses: its working directory or an open
 * file is inside. A maker killed by SIGKILL can leave children behind (a QEMU, a tar) that
 * still use its temporary directory. Read from /proc; processes we may not inspect are not
 * seen (they cannot enter a 0700 directory of ours either).
 */
export async function directoriesInUse(dirs: readonly string[]): Promise<Set<string>> {
  const used = new Set<string>();
  if (dirs.length === 0) return used;
  const inside = (target: string) => dirs.filter((d) => target === d || target.startsWith(d + "/"));
  for (const pid of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^[0-9]+$/.test(pid)) continue;
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const link of ["cwd", ...fds.map((fd) => `fd/${fd}`)]) {
      const target = await readlink(`/proc/${pid}/${link}`).catch(() => undefined);
      if (target !== undefined) for (const d of inside(target)) used.add(d);
    }
  }
  return used;
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
