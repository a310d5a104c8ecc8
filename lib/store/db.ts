// Reading and writing metadata records (`<state>/db/<hash>-<name>.json`) and checking item presence.

import { lstat, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic.js";
import type { StoreLayout } from "./location.js";
import { decodeRecord, encodeRecord, recordFileName, type ItemRecord } from "./metadata.js";
import type { StorePathParts } from "./paths.js";
import { isErrno } from "./tree.js";

export function recordPath(layout: StoreLayout, item: StorePathParts): string {
  return join(layout.dbDir, recordFileName(item.baseName));
}

export function itemHostPath(layout: StoreLayout, item: StorePathParts): string {
  return join(layout.storeDir, item.baseName);
}

/** The record of `item`, or undefined if there is none; throws a FruixError if it is malformed. */
export async function readRecord(layout: StoreLayout, item: StorePathParts): Promise<ItemRecord | undefined> {
  let text: string;
  try {
    text = await readFile(recordPath(layout, item), "utf8");
  } catch (e) {
    if (isErrno(e, "ENOENT")) return undefined;
    throw e;
  }
  return decodeRecord(text, item.path);
}

export async function writeRecord(layout: StoreLayout, record: ItemRecord, item: StorePathParts): Promise<void> {
  await writeFileAtomic(recordPath(layout, item), encodeRecord(record), 0o444);
}

export async function removeRecord(layout: StoreLayout, item: StorePathParts): Promise<void> {
  await rm(recordPath(layout, item), { force: true });
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if (isErrno(e, "ENOENT", "ENOTDIR")) return false;
    throw e;
  }
}

/** An item is valid only when both its content and its record exist. */
export async function isValidItem(layout: StoreLayout, item: StorePathParts): Promise<boolean> {
  return (await exists(recordPath(layout, item))) && (await exists(itemHostPath(layout, item)));
}
