// Store-path grammar (DESIGN §4), pure: no file system access here.
//
// A store path is always printed in its in-guest form `/frx/store/<hash>-<name>`,
// whatever directory the host keeps the items in.

import { posix } from "node:path";
import { FruixError } from "../errors.js";
import { ownedName } from "../process.js";

/** The store directory as seen inside every guest; printed paths start with it. */
export const STORE_PREFIX = "/frx/store";
/** Length of the lowercase hex sha256 that starts every item's base name. */
export const HASH_HEX_LENGTH = 64;
export const MAX_NAME_LENGTH = 200;

const NAME_CHARS = /^[A-Za-z0-9+._?=-]+$/;
const ROOT_NAME_CHARS = /^[A-Za-z0-9+._=-]+$/;
const HASH_HEX = /^[0-9a-f]{64}$/;

/** The parts of a store item's path. `baseName` is `<hash>-<name>`, the entry under the store dir. */
export interface StorePathParts {
  readonly hash: string;
  readonly name: string;
  readonly baseName: string;
  /** The in-guest path, `/frx/store/<baseName>`. */
  readonly path: string;
}

/** Why `name` cannot name an item, or undefined when it can. */
export function itemNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (name.length > MAX_NAME_LENGTH) return `is longer than ${MAX_NAME_LENGTH} characters`;
  if (name.startsWith(".")) return "starts with '.'";
  if (!NAME_CHARS.test(name)) return "may only contain letters, digits and + . _ ? = -";
  return undefined;
}

/** Returns `name` when it is a valid item name; otherwise throws a FruixError. */
export function validateItemName(name: string): string {
  const problem = itemNameProblem(name);
  if (problem !== undefined) throw new FruixError(`invalid store item name ${JSON.stringify(name)}: it ${problem}`);
  return name;
}

/** Returns `name` when it can name a GC root (a file under `<state>/gcroots`); otherwise throws. */
export function validateRootName(name: string): string {
  // Leading dots are reserved for our temporary links; '?' is awkward in shells.
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || name.startsWith(".") || !ROOT_NAME_CHARS.test(name)) {
    throw new FruixError(
      `invalid gc root name ${JSON.stringify(name)}: use 1-${MAX_NAME_LENGTH} letters, digits and + . _ = -, not starting with '.'`,
    );
  }
  return name;
}

export function formatStorePath(hash: string, name: string): string {
  return `${STORE_PREFIX}/${hash}-${name}`;
}

/** Parses an entry of the store directory (`<hash>-<name>`); undefined if it is not one. */
export function parseBaseName(baseName: string): StorePathParts | undefined {
  const hash = baseName.slice(0, HASH_HEX_LENGTH);
  if (!HASH_HEX.test(hash) || baseName[HASH_HEX_LENGTH] !== "-") return undefined;
  const name = baseName.slice(HASH_HEX_LENGTH + 1);
  if (itemNameProblem(name) !== undefined) return undefined;
  return { hash, name, baseName, path: `${STORE_PREFIX}/${baseName}` };
}

/**
 * Splits a path at or inside a store item (`/frx/store/<hash>-<name>[/rest]`) into the item
 * and the relative rest ("" for the item itself). Throws a FruixError for anything else.
 */
export function splitStorePath(path: string): { item: StorePathParts; rest: string } {
  const prefix = `${STORE_PREFIX}/`;
  const bad = (why: string) => new FruixError(`not a store path: ${JSON.stringify(path)} (${why})`);
  if (!path.startsWith(prefix)) throw bad(`must start with ${prefix}`);
  const tail = path.slice(prefix.length);
  const slash = tail.indexOf("/");
  const baseName = slash < 0 ? tail : tail.slice(0, slash);
  const rest = slash < 0 ? "" : tail.slice(slash + 1).replace(/\/+$/, "");
  const item = parseBaseName(baseName);
  if (item === undefined) throw bad("expected <64 hex digits>-<name>");
  if (rest !== "" && (posix.normalize(rest) !== rest || rest.startsWith("/") || rest === ".." || rest.startsWith("../"))) {
    throw bad("the part inside the item is not a normalized relative path");
  }
  return { item, rest };
}

/** Parses exactly an item path `/frx/store/<hash>-<name>` (no path inside it). */
export function parseStorePath(path: string): StorePathParts {
  const { item, rest } = splitStorePath(path);
  if (rest !== "") throw new FruixError(`not a store item path: ${JSON.stringify(path)} (it points inside ${item.path})`);
  return item;
}

export function isStorePath(path: string): boolean {
  try {
    parseStorePath(path);
    return true;
  } catch {
    return false;
  }
}

/** References as they enter the hash and the metadata: validated item paths, deduplicated, sorted. */
export function canonicalReferences(references: readonly string[]): string[] {
  const set = new Set(references.map((r) => parseStorePath(r).path));
  return [...set].sort(compareBytes);
}

/** Byte-order comparison of the UTF-8 encodings (JS `<` compares UTF-16 code units). */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

// Leftovers carry the pid of the process that made them, so GC can tell a live build's
// temporary from a dead one's: `.tmp-<pid>-<random>` (in progress) and `.gc-<pid>-<random>`
// (an item GC has unlinked from its name but not yet deleted).
export type TempKind = "tmp" | "gc";

export function tempName(kind: TempKind, pid: number, random: string): string {
  return ownedName(`.${kind}-`, pid, random);
}

/** A store temporary's name (first group: the pid, for isLeftover); `.json` and the like for records. */
export const TEMP_NAME = /^\.(?:tmp|gc)-([0-9]+)-[A-Za-z0-9]+(?:\.[a-z]+)?$/;

export function parseTempName(entry: string): { kind: TempKind; pid: number } | undefined {
  const m = TEMP_NAME.exec(entry);
  if (m === null) return undefined;
  return { kind: entry.startsWith(".gc-") ? "gc" : "tmp", pid: Number(m[1]) };
}
