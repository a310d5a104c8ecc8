// The store-wide lock for short critical sections (commit of an add, gc, root changes).
//
// Why not proper-lockfile: it judges staleness by mtime, so after a SIGKILL the next process
// waits out the stale period, and breaking a stale lock is a check-then-delete race (two
// breakers can each delete the lock the other just took). We need prompt recovery (< 2 s)
// and no such race, with nothing but atomic file-system operations:
//
// The lock directory holds numbered *tickets*; only the highest-numbered one matters. A
// ticket is written once, atomically (link(2) of a complete temp file, which fails if the
// name exists), and says either "held by <pid, start time, host, token>" or "free".
//   acquire: read the highest ticket n; if it is free, or held by a dead process, create
//            ticket n+1 saying "held by me". Exactly one contender can create n+1. Then
//            list again: if a higher ticket appeared, ours was a stale re-creation of a
//            deleted number (see cleanup) and we lost; remove it and start over.
//   release: create ticket n+2 saying "free", then delete ticket n+1.
//   cleanup: a holder deletes tickets below its own; the highest is never deleted, so
//            the highest number only grows and no ticket's meaning ever changes.
// A SIGKILLed holder leaves its ticket behind; the next contender sees its pid is dead
// (process.ts also checks the start time against pid reuse) and takes n+1 at once.
// Contenders poll with a short backoff (5 ms .. 100 ms); contenders in one process queue
// behind each other first, so they do not poll against themselves.

import { link, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FruixError } from "../errors.js";
import { randomToken } from "./atomic.js";
import { currentProcess, isProcessAlive, type ProcessIdentity } from "../process.js";
import { isErrno } from "./tree.js";

export interface LockOptions {
  /** Give up with a FruixError after this long; default: wait as long as the holder lives. */
  readonly timeoutMs?: number;
  /** Called once if the lock is held by another live process, e.g. to tell the operator. */
  readonly onWait?: (holder: ProcessIdentity) => void;
}

export interface LockHandle {
  release(): Promise<void>;
}

type Ticket = { held: false } | ({ held: true; token: string } & ProcessIdentity);

const TICKET = /^[0-9]+$/;
const POLL_MIN_MS = 5;
const POLL_MAX_MS = 100;

/** In-process queues, by lock directory: one contender per process polls at a time. */
const localQueues = new Map<string, Promise<void>>();

export class StoreLock {
  constructor(readonly dir: string) {}

  async withLock<T>(fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
    const handle = await this.acquire(opts);
    try {
      return await fn();
    } finally {
      await handle.release();
    }
  }

  async acquire(opts: LockOptions = {}): Promise<LockHandle> {
    const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    const leaveQueue = await this.joinLocalQueue(deadline);
    try {
      const ticket = await this.acquireTicket(deadline, opts.onWait);
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          try {
            await this.releaseTicket(ticket);
          } finally {
            leaveQueue();
          }
        },
      };
    } catch (e) {
      leaveQueue();
      throw e;
    }
  }

  /** Waits for earlier contenders of this process; returns the function that lets the next one go. */
  private async joinLocalQueue(deadline: number): Promise<() => void> {
    const previous = localQueues.get(this.dir) ?? Promise.resolve();
    let leave!: () => void;
    const mine = new Promise<void>((resolve) => (leave = resolve));
    const tail = previous.then(() => mine);
    localQueues.set(this.dir, tail);
    const done = () => {
      leave();
      if (localQueues.get(this.dir) === tail) localQueues.delete(this.dir);
    };
    if (deadline === Infinity) {
      await previous;
    } else {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), Math.max(0, deadline - Date.now()))));
      const won = await Promise.race([previous.then(() => false), timedOut]);
      clearTimeout(timer);
      if (won) {
        done();
        throw new FruixError(`timed out waiting for the store lock ${this.dir} (another operation of this process holds it)`);
      }
    }
    return done;
  }

  private async acquireTicket(deadline: number, onWait?: (holder: ProcessIdentity) => void): Promise<number> {
    const me: Ticket = { held: true, ...currentProcess(), token: randomToken() };
    let delay = POLL_MIN_MS;
    let told = false;
    for (;;) {
      const top = await this.highestTicket();
      if (top >= 0) {
        const t = await this.readTicket(top);
        if (t === "missing") continue; // superseded while we looked; list again
        if (t.held && isProcessAlive(t)) {
          if (Date.now() >= deadline) throw this.timeoutError(t);
          if (!told) {
            told = true;
            onWait?.(t);
          }
          await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
          delay = Math.min(POLL_MAX_MS, delay * 2);
          continue;
        }
      }
      const mine = top + 1;
      if (!(await this.createTicket(mine, me))) continue;
      if ((await this.highestTicket()) > mine) {
        // Ours re-created a number that had already been superseded and cleaned up.
        await rm(this.ticketPath(mine), { force: true });
        continue;
      }
      await this.deleteTicketsBelow(mine);
      return mine;
    }
  }

  private async releaseTicket(mine: number): Promise<void> {
    if (!(await this.createTicket(mine + 1, { held: false }))) {
      // Only possible if someone judged us dead while we ran: a bug, not an operator error.
      throw new Error(`store lock ${this.dir}: ticket ${mine + 1} appeared while we held ticket ${mine}`);
    }
    await rm(this.ticketPath(mine), { force: true });
  }

  private timeoutError(holder: ProcessIdentity): FruixError {
    return new FruixError(`timed out waiting for the store lock ${this.dir} (held by pid ${holder.pid} on ${holder.host})`);
  }

  private ticketPath(n: number): string {
    return join(this.dir, String(n));
  }

  private async highestTicket(): Promise<number> {
    let top = -1;
    for (const name of await readdir(this.dir)) {
      if (TICKET.test(name)) top = Math.max(top, Number(name));
    }
    return top;
  }

  private async readTicket(n: number): Promise<Ticket | "missing"> {
    let text: string;
    try {
      text = await readFile(this.ticketPath(n), "utf8");
    } catch (e) {
      if (isErrno(e, "ENOENT")) return "missing";
      throw e;
    }
    return parseTicket(text);
  }

  /** Atomically creates ticket `n` with its full content; false if it already exists. */
  private async createTicket(n: number, t: Ticket): Promise<boolean> {
    const tmp = join(this.dir, `.tmp-${process.pid}-${randomToken()}`);
    await writeFile(tmp, JSON.stringify(t) + "\n", { flag: "wx" });
    try {
      await link(tmp, this.ticketPath(n));
      return true;
    } catch (e) {
      if (isErrno(e, "EEXIST")) return false;
      throw e;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private async deleteTicketsBelow(n: number): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (TICKET.test(name) && Number(name) < n) await rm(join(this.dir, name), { force: true });
    }
  }
}

/** A ticket that cannot be parsed is treated as free: better than a store locked forever. */
export function parseTicket(text: string): Ticket {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (v["held"] === true && typeof v["pid"] === "number" && typeof v["host"] === "string") {
      return {
        held: true,
        pid: v["pid"],
        host: v["host"],
        token: String(v["token"] ?? ""),
        ...(typeof v["start"] === "string" ? { start: v["start"] } : {}),
      };
    }
  } catch {
    // fall through
  }
  return { held: false };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
