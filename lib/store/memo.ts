// Remembers which store item a recipe produced, so an unchanged input costs a
// lookup instead of a rebuild. The store remains the truth: a remembered item
// that gc removed is simply built again.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PLACEHOLDER_HASH, planning } from "../plan.js";
import type { Store } from "./index.js";
import { formatStorePath } from "./paths.js";

/** What --dry-run says of a recipe it would run: the item's name, and what it would download. */
export interface Planned {
  readonly name: string;
  readonly downloads?: () => Promise<string[]>;
}

export async function memoized(store: Store, key: unknown, produce: () => Promise<string>, planned?: Planned): Promise<string> {
  const digest = createHash("sha256").update(JSON.stringify(key)).digest("hex");
  const dir = join(store.stateDir, "memo");
  const file = join(dir, digest);
  const known = await readFile(file, "utf8").catch(() => undefined);
  const plan = planning();
  if (known && (await store.has(known.trim()))) {
    plan?.exists(known.trim());
    return known.trim();
  }
  if (plan) {
    // Not built: recorded, and a placeholder path stands for it downstream.
    const name = planned?.name ?? recipeName(key);
    plan.build(name);
    for (const d of (await planned?.downloads?.()) ?? []) plan.download(d);
    return formatStorePath(PLACEHOLDER_HASH, name);
  }
  const path = await produce();
  await mkdir(dir, { recursive: true });
  // Two recipes of one process (parallel cells) may finish the same key at once: each its own temporary.
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString("hex")}`;
  await writeFile(tmp, path + "\n");
  await rename(tmp, file);
  return path;
}

function recipeName(key: unknown): string {
  const { name, recipe } = (key ?? {}) as { name?: unknown; recipe?: unknown };
  return String(name ?? recipe ?? "item");
}
