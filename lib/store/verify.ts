// `fruix store verify`: re-hash every item and report what no longer matches.
// Read-only and lock-free; an item that vanishes mid-check (a concurrent gc) is skipped.

import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { exists, isValidItem, itemHostPath, readRecord } from "./db.js";
import { hashItemTree } from "./hash.js";
import type { StoreLayout } from "./location.js";
import { baseNameOfRecordFile, type ItemRecord } from "./metadata.js";
import { compareBytes, parseBaseName, parseStorePath } from "./paths.js";

export interface VerifyProblem {
  /** In-guest store path of the item concerned. */
  readonly path: string;
  readonly reason: string;
}

export interface VerifyResult {
  /** Items examined (content directories plus records without content). */
  readonly checked: number;
  /** Sorted by path; an item may appear more than once with different reasons. */
  readonly corrupt: VerifyProblem[];
}

export async function verifyStore(layout: StoreLayout): Promise<VerifyResult> {
  const corrupt: VerifyProblem[] = [];
  let checked = 0;
  const entries = (await readdir(layout.storeDir)).sort(compareBytes);
  const present = new Set(entries);

  for (const entry of entries) {
    const item = parseBaseName(entry);
    if (item === undefined) continue; // temporaries and foreign files are gc's business
    const host = itemHostPath(layout, item);
    const problems = await checkItem(layout, item.path, host);
    if (problems === "vanished") continue;
    checked++;
    corrupt.push(...problems.map((reason) => ({ path: item.path, reason })));
  }

  for (const file of (await readdir(layout.dbDir)).sort(compareBytes)) {
    const base = baseNameOfRecordFile(file);
    const item = base === undefined ? undefined : parseBaseName(base);
    if (item === undefined || present.has(item.baseName)) continue;
    if (await exists(itemHostPath(layout, item))) continue; // added meanwhile
    checked++;
    corrupt.push({ path: item.path, reason: `content is missing but its metadata record ${join(layout.dbDir, file)} exists` });
  }
  corrupt.sort((a, b) => compareBytes(a.path, b.path));
  return { checked, corrupt };
}

/** One item's problems, or "vanished" when it went away meanwhile (a concurrent gc). */
export async function checkItem(layout: StoreLayout, path: string, host: string): Promise<string[] | "vanished"> {
  const item = parseStorePath(path);
  let record: ItemRecord | undefined;
  try {
    record = await readRecord(layout, item);
  } catch (e) {
    return [(e as Error).message];
  }
  if (record === undefined) {
    return (await exists(host)) ? ["metadata record is missing"] : "vanished";
  }
  const problems: string[] = [];
  try {
    const digest = await hashItemTree(host, { name: item.name, references: record.references });
    if (digest.hash !== item.hash) problems.push(`content does not match its hash (it now hashes to ${digest.hash})`);
  } catch (e) {
    if (!(await exists(host))) return "vanished";
    problems.push(`cannot re-hash: ${(e as Error).message}`);
  }
  for (const ref of record.references) {
    if (!(await isValidItem(layout, parseStorePath(ref)))) problems.push(`reference ${ref} is missing`);
  }
  return problems;
}
