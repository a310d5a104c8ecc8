// Shared test fixtures: temporary directories that are always removed, fresh
// stores, and the compiled CLI.
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { packageRoot } from "../../lib/paths.js";
import { Store } from "../../lib/store/index.js";

const made: string[] = [];

export async function tempDir(prefix = "fruix-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Store items are read-only; make them writable again so the tree can go. */
export async function removeTree(dir: string): Promise<void> {
  await execa("chmod", ["-R", "u+w", dir], { reject: false });
  await rm(dir, { recursive: true, force: true });
}

export async function cleanupTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map(removeTree));
}

/** A new, empty store in its own temporary directory (state beside it). */
export async function freshStore(): Promise<Store> {
  const dir = await tempDir("fruix-store-");
  return Store.open({ store: join(dir, "store") });
}

export async function storeEntries(store: Store): Promise<string[]> {
  return (await readdir(store.storeDir)).sort();
}

export const exampleFile = join(packageRoot, "examples", "minimal.scm");

const cli = join(packageRoot, "dist", "lib", "cli", "main.js");

/** Runs the compiled `fruix` command (npm test builds it first). */
export function fruix(args: string[], env: Record<string, string> = {}) {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run 'npm run build' (npm test does it for you)`);
  return execa(process.execPath, [cli, ...args], { reject: false, env: { ...env }, cwd: packageRoot });
}
