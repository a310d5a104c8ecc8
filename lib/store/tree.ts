// File-tree chores shared by add, gc and verify: ordered listing, normalization,
// deletion of read-only trees, apparent size.
//
// Walks use synchronous calls on purpose: items are often tens of thousands of small files,
// and an async fs call costs a thread-pool round trip (tens of µs) where the syscall costs
// one or two. Long walks yield to the event loop every few milliseconds (Ticker) so timers
// and child-process pipes of the same process keep running.

import { chmodSync, lstatSync, lutimesSync, readdirSync, utimesSync, type Stats } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { FruixError } from "../errors.js";
import { isExecutableMode } from "./serialize.js";

/** Every entry's mtime (and atime) after normalization: 1 s after the epoch, as Nix does. */
export const NORMALIZED_TIME = 1;

/** Lets a synchronous walk yield to the event loop when it has run for a while. */
export class Ticker {
  private last = performance.now();
  constructor(private readonly sliceMs = 10) {}

  async tick(): Promise<void> {
    const now = performance.now();
    if (now - this.last < this.sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.last = performance.now();
  }
}

/**
 * Entry names of `dir` in byte order of their UTF-8 encoding. Names that are not valid
 * UTF-8 are refused: they could not round-trip through strings, so their hash would be
 * meaningless.
 */
export function sortedEntriesSync(dir: string): string[] {
  const raw = readdirSync(dir, { encoding: "buffer" });
  for (const b of raw) {
    if (!Buffer.from(b.toString("utf8"), "utf8").equals(b)) {
      throw new FruixError(`file name is not valid UTF-8 in ${dir}: ${JSON.stringify(b.toString("latin1"))}`);
    }
  }
  return raw.sort(Buffer.compare).map((b) => b.toString("utf8"));
}

export function fileTypeName(st: Stats): string {
  if (st.isDirectory()) return "directory";
  if (st.isFile()) return "regular file";
  if (st.isSymbolicLink()) return "symbolic link";
  if (st.isFIFO()) return "fifo";
  if (st.isSocket()) return "socket";
  if (st.isBlockDevice() || st.isCharacterDevice()) return "device node";
  return "unknown file type";
}

/**
 * Puts a freshly built tree into canonical on-disk form: files 0444 (0555 if any execute
 * bit was set), directories 0555, every mtime = NORMALIZED_TIME. Ownership is left alone.
 * The root itself may be a directory or a regular file; it may not be a symlink.
 */
export async function normalizeTree(root: string): Promise<void> {
  const st = lstatSync(root);
  if (st.isSymbolicLink()) {
    throw new FruixError(`cannot store ${root}: an item must be a directory or a regular file, not a symbolic link`);
  }
  await normalizeEntry(root, st, new Ticker());
}

async function normalizeEntry(path: string, st: Stats, ticker: Ticker): Promise<void> {
  await ticker.tick();
  if (st.isDirectory()) {
    // Make sure we can list and enter it even if the build left it unreadable.
    chmodSync(path, 0o755);
    for (const name of readdirSync(path)) {
      const child = join(path, name);
      await normalizeEntry(child, lstatSync(child), ticker);
    }
    // Children first: the directory becomes read-only only once they are done.
    chmodSync(path, 0o555);
    utimesSync(path, NORMALIZED_TIME, NORMALIZED_TIME);
  } else if (st.isFile()) {
    chmodSync(path, isExecutableMode(st.mode) ? 0o555 : 0o444);
    utimesSync(path, NORMALIZED_TIME, NORMALIZED_TIME);
  } else if (st.isSymbolicLink()) {
    lutimesSync(path, NORMALIZED_TIME, NORMALIZED_TIME);
  } else {
    throw new FruixError(`cannot store ${path}: a ${fileTypeName(st)} is not allowed in a store item`);
  }
}

/**
 * Deletes a file or tree that may be read-only (a store item): directories get u+w first,
 * since unlinking inside a 0555 directory fails for non-root users. Missing paths are fine.
 */
export async function removeTree(path: string): Promise<void> {
  const st = lstatOrUndefined(path);
  if (st === undefined) return;
  if (st.isDirectory()) await makeDirsWritable(path, st, new Ticker());
  await rm(path, { recursive: true, force: true });
}

async function makeDirsWritable(dir: string, st: Stats, ticker: Ticker): Promise<void> {
  await ticker.tick();
  chmodSync(dir, (st.mode & 0o7777) | 0o700);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      const child = join(dir, entry.name);
      await makeDirsWritable(child, lstatSync(child), ticker);
    }
  }
}

/** Apparent size: bytes of regular files plus symlink targets (what gc reports as freed). */
export async function treeSize(path: string): Promise<number> {
  const ticker = new Ticker();
  const walk = async (p: string): Promise<number> => {
    await ticker.tick();
    const st = lstatOrUndefined(p);
    if (st === undefined) return 0;
    if (st.isFile() || st.isSymbolicLink()) return st.size;
    if (!st.isDirectory()) return 0;
    let total = 0;
    for (const name of readdirSync(p)) total += await walk(join(p, name));
    return total;
  };
  return walk(path);
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if (isErrno(e, "ENOENT")) return undefined;
    throw e;
  }
}

export function isErrno(e: unknown, ...codes: string[]): boolean {
  return typeof e === "object" && e !== null && codes.includes((e as NodeJS.ErrnoException).code ?? "");
}
