// Members of a .deb unpacked once per machine, kept in the cache beside the
// .debs. dpkg-deb must decompress a package's whole data archive to reach any
// member (the kernel package's takes about 5 s of CPU), and every new store
// imports the kernel again. An entry holds the tree and its digest; the digest
// is checked before every use, and an entry that fails it is unpacked again.
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { sweepTemporaries, temporaryDirectory } from "../cleanup.js";
import { cacheDir } from "../paths.js";
import { hashItemTree } from "../store/hash.js";
import { unpackPackage } from "./apt.js";

/** Bump when what an entry holds, or how it is laid out, changes. */
const LAYOUT = 1;

/** Where the entries live: `<cache>/unpacked/<key>/{tree,tree.sha256}`. */
export function unpackedCacheDir(): string {
  return join(cacheDir(), "unpacked");
}

/** The entry's name: the .deb's sha256 and the member patterns decide its content. */
export function unpackedKey(debSha256: string, members: readonly string[]): string {
  return createHash("sha256").update(JSON.stringify({ LAYOUT, debSha256, members })).digest("hex");
}

const inProcess = new Map<string, Promise<string>>();

/**
 * The directory holding `members` of `deb` (whose sha256 is `debSha256`), as
 * unpackPackage would leave them. Read it, never change it: it is shared by
 * every process and store on this machine.
 */
export function unpackedMembers(deb: string, debSha256: string, members: readonly string[]): Promise<string> {
  const key = unpackedKey(debSha256, members);
  let tree = inProcess.get(key);
  if (tree === undefined) {
    tree = lookUpOrUnpack(deb, key, members);
    inProcess.set(key, tree);
    tree.catch(() => inProcess.delete(key));
  }
  return tree;
}

/**
 * What unpackPackage(deb, dest, members) leaves in `dest`, copied from the cache
 * (cp -a: symlinks and hard links kept; what `dest` holds already is merged with).
 */
export async function unpackCached(deb: string, debSha256: string, dest: string, members: readonly string[]): Promise<void> {
  const tree = await unpackedMembers(deb, debSha256, members);
  await mkdir(dest, { recursive: true });
  await execa("cp", ["-a", `${tree}/.`, dest]);
}

async function lookUpOrUnpack(deb: string, key: string, members: readonly string[]): Promise<string> {
  const parent = unpackedCacheDir();
  const entry = join(parent, key);
  await mkdir(parent, { recursive: true });
  await sweepTemporaries(parent); // a SIGKILLed unpack's half tree
  const state = await entryState(entry);
  if (state === "intact") return join(entry, "tree");
  if (state === "damaged") await discard(parent, entry);

  const { path: tmp, forget } = await temporaryDirectory("fruix-unpack-", { parent });
  try {
    await unpackPackage(deb, join(tmp, "tree"), members);
    await writeFile(join(tmp, "tree.sha256"), (await treeDigest(join(tmp, "tree"))) + "\n");
    try {
      await rename(tmp, entry);
    } catch (error) {
      // Another process finished the same entry first: theirs is as good.
      if ((await entryState(entry)) !== "intact") throw error;
    }
    return join(entry, "tree");
  } finally {
    forget();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Moves a damaged entry (a changed or missing file) aside whole, then removes it: no reader sees it half removed. */
async function discard(parent: string, entry: string): Promise<void> {
  const { path: aside, forget } = await temporaryDirectory("fruix-unpack-", { parent });
  try {
    await rename(entry, join(aside, "damaged")).catch(() => undefined); // another process may have moved it first
  } finally {
    forget();
    await rm(aside, { recursive: true, force: true });
  }
}

async function treeDigest(tree: string): Promise<string> {
  return (await hashItemTree(tree, { name: "unpacked" })).hash;
}

async function entryState(entry: string): Promise<"intact" | "damaged" | "absent"> {
  if (!(await stat(entry).catch(() => undefined))) return "absent";
  const recorded = (await readFile(join(entry, "tree.sha256"), "utf8").catch(() => "")).trim();
  const digest = await treeDigest(join(entry, "tree")).catch(() => undefined);
  return recorded !== "" && digest === recorded ? "intact" : "damaged";
}
