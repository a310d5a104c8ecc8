// A closure's links point at other items by in-guest path (/frx/store/...).
// On the build host the store may live elsewhere, so follow them through it.
import { readlink } from "node:fs/promises";
import { join } from "node:path";
import type { Store } from "../store/index.js";

/** The in-guest path a link inside the closure points at, e.g. `boot/vmlinuz`. */
export async function closureLink(store: Store, closure: string, link: string): Promise<string> {
  return readlink(join(store.toHostPath(closure), link));
}

/** Where the file behind such a link is on this host. */
export async function closureLinkFile(store: Store, closure: string, link: string): Promise<string> {
  return store.toHostPath(await closureLink(store, closure, link));
}
