// Remembers which store item a recipe produced, so an unchanged input costs a
// lookup instead of a rebuild. The store remains the truth: a remembered item
// that gc removed is simply built again.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Store } from "./index.js";

export async function memoized(store: Store, key: unknown, produce: () => Promise<string>): Promise<string> {
  const digest = createHash("sha256").update(JSON.stringify(key)).digest("hex");
  const dir = join(store.stateDir, "memo");
  const file = join(dir, digest);
  const known = await readFile(file, "utf8").catch(() => undefined);
  if (known && (await store.has(known.trim()))) return known.trim();
  const path = await produce();
  await mkdir(dir, { recursive: true });
  // Two recipes of one process (parallel cells) may finish the same key at once: each its own temporary.
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString("hex")}`;
  await writeFile(tmp, path + "\n");
  await rename(tmp, file);
  return path;
}
