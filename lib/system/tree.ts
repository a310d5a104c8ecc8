// Store items described as data: a map of relative paths to file contents,
// modes and symlinks. The description doubles as the memo key, so an item
// whose description is unchanged costs a lookup, not a rewrite and re-hash.
import { chmod, mkdir, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Store } from "../store/index.js";
import { memoized } from "../store/memo.js";

export type TreeEntry = string | { readonly text: string; readonly mode: number } | { readonly link: string };
export type Tree = Record<string, TreeEntry>;

export async function writeTree(root: string, tree: Tree): Promise<void> {
  for (const [path, entry] of Object.entries(tree)) {
    const target = join(root, path);
    await mkdir(dirname(target), { recursive: true });
    if (typeof entry === "string") await writeFile(target, entry);
    else if ("link" in entry) await symlink(entry.link, target);
    else {
      await writeFile(target, entry.text);
      await chmod(target, entry.mode);
    }
  }
}

export function addTree(store: Store, name: string, tree: Tree, references: readonly string[] = []): Promise<string> {
  return memoized(store, { recipe: "tree", name, tree, references }, () =>
    store.add(name, (out) => writeTree(out, tree), { references: [...references] }),
  );
}
