// The metadata record kept for each item in `<state>/db/<hash>-<name>.json`. Pure.
// Deterministic content (fixed key order, no timestamps): the same item always gets the
// same bytes, on every host.

import { FruixError } from "../errors.js";
import { canonicalReferences, parseStorePath } from "./paths.js";
import { FORMAT_VERSION } from "./serialize.js";

export interface ItemRecord {
  /** Serialization format version the hash was computed with. */
  readonly version: number;
  /** The in-guest store path, `/frx/store/<hash>-<name>`. */
  readonly path: string;
  readonly name: string;
  /** sha256 (hex) of the canonical serialization; equals the hash in `path`. */
  readonly hash: string;
  /** Direct references, sorted. */
  readonly references: readonly string[];
  /** Apparent size in bytes: regular file contents plus symlink targets. */
  readonly size: number;
  readonly kind: "directory" | "file";
}

export function recordFileName(baseName: string): string {
  return `${baseName}.json`;
}

/** The base name a record file belongs to, or undefined for other files. */
export function baseNameOfRecordFile(file: string): string | undefined {
  return file.endsWith(".json") && !file.startsWith(".") ? file.slice(0, -".json".length) : undefined;
}

export function makeRecord(path: string, references: readonly string[], size: number, kind: ItemRecord["kind"]): ItemRecord {
  const parts = parseStorePath(path);
  return { version: FORMAT_VERSION, path, name: parts.name, hash: parts.hash, references: canonicalReferences(references), size, kind };
}

export function encodeRecord(r: ItemRecord): string {
  const ordered: ItemRecord = {
    version: r.version,
    path: r.path,
    name: r.name,
    hash: r.hash,
    references: [...r.references],
    size: r.size,
    kind: r.kind,
  };
  return JSON.stringify(ordered, null, 2) + "\n";
}

/** Parses and checks a record read from disk for `path`; throws a FruixError saying what is wrong. */
export function decodeRecord(text: string, path: string): ItemRecord {
  const bad = (why: string) => new FruixError(`metadata record of ${path} is malformed: ${why}`);
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw bad("not JSON");
  }
  if (typeof v !== "object" || v === null) throw bad("not an object");
  if (v["version"] !== FORMAT_VERSION) {
    throw new FruixError(
      `store item ${path} was made with store format ${JSON.stringify(v["version"])}, this Fruix uses format ${FORMAT_VERSION}: use a new store (--store, FRUIX_STORE)`,
    );
  }
  if (v["path"] !== path) throw bad(`it names ${JSON.stringify(v["path"])}`);
  const parts = parseStorePath(path);
  if (v["name"] !== parts.name || v["hash"] !== parts.hash) throw bad("name or hash disagree with the path");
  const refs = v["references"];
  if (!Array.isArray(refs) || !refs.every((r): r is string => typeof r === "string")) throw bad("references is not a list of strings");
  let canonical: string[];
  try {
    canonical = canonicalReferences(refs);
  } catch (e) {
    throw bad((e as Error).message);
  }
  if (canonical.length !== refs.length || canonical.some((r, i) => r !== refs[i])) throw bad("references are not sorted and unique");
  const size = v["size"];
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw bad("size is not a byte count");
  const kind = v["kind"];
  if (kind !== "directory" && kind !== "file") throw bad("kind is neither directory nor file");
  return { version: FORMAT_VERSION, path, name: parts.name, hash: parts.hash, references: canonical, size, kind };
}
