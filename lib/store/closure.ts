// Transitive reference closure over any reference lookup. Pure apart from the lookup.

import { compareBytes } from "./paths.js";

/**
 * Everything reachable from `starts` (included) through `referencesOf`, sorted.
 * `referencesOf` returns undefined for an item that is not there; `onMissing` decides what
 * that means (throw for `store.closure`, ignore for gc, which keeps what it can reach).
 */
export async function computeClosure(
  starts: Iterable<string>,
  referencesOf: (path: string) => Promise<readonly string[] | undefined>,
  onMissing: (path: string, referrer: string | undefined) => void,
): Promise<string[]> {
  const seen = new Set<string>();
  const queue: { path: string; referrer: string | undefined }[] = [];
  for (const s of starts) queue.push({ path: s, referrer: undefined });
  for (let i = 0; i < queue.length; i++) {
    const { path, referrer } = queue[i]!;
    if (seen.has(path)) continue;
    const refs = await referencesOf(path);
    if (refs === undefined) {
      onMissing(path, referrer);
      continue;
    }
    seen.add(path);
    for (const r of refs) if (!seen.has(r)) queue.push({ path: r, referrer: path });
  }
  return [...seen].sort(compareBytes);
}
