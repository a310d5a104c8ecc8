// Where the store and its state live on this host (docs/store.md, "Location").

import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { STORE_PREFIX } from "./paths.js";

export type Env = Readonly<Record<string, string | undefined>>;

export interface LocationInput {
  /** `--store DIR` / `Store.open({ store })`. */
  readonly store?: string;
  readonly stateDir?: string;
  readonly env: Env;
  readonly homeDir: string;
  /** Whether /frx/store exists and is writable, or could be created. */
  readonly frxStoreUsable: boolean;
}

/** The directory holding the items: explicit option, FRUIX_STORE, /frx/store, per-user data dir. */
export function chooseStoreDir(input: LocationInput): string {
  if (input.store !== undefined && input.store !== "") return resolve(input.store);
  const fromEnv = input.env["FRUIX_STORE"];
  if (fromEnv !== undefined && fromEnv !== "") return resolve(fromEnv);
  if (input.frxStoreUsable) return STORE_PREFIX;
  // XDG says relative XDG_DATA_HOME values are invalid and must be ignored.
  const xdg = input.env["XDG_DATA_HOME"];
  const dataHome = xdg !== undefined && xdg.startsWith("/") ? xdg : join(input.homeDir, ".local", "share");
  return join(dataHome, "fruix", "store");
}

/**
 * Metadata, roots, locks: explicit option, FRUIX_STATE_DIR, else beside the store in
 * `<dirname(store)>/var/`: `fruix` for a store directory named `store` (/frx/store keeps
 * /frx/var/fruix, as in the guest), `fruix-<name>` for any other. The name is unique in
 * the folder, so two stores there never share state.
 */
export function chooseStateDir(storeDir: string, explicit: string | undefined, env: Env): string {
  if (explicit !== undefined && explicit !== "") return resolve(explicit);
  const fromEnv = env["FRUIX_STATE_DIR"];
  if (fromEnv !== undefined && fromEnv !== "") return resolve(fromEnv);
  const name = basename(storeDir);
  return join(dirname(storeDir), "var", name === "store" ? "fruix" : `fruix-${name}`);
}

/** The state directory's subdirectories. */
export interface StoreLayout {
  readonly storeDir: string;
  readonly stateDir: string;
  /** `<hash>-<name>.json` metadata records. */
  readonly dbDir: string;
  /** `<name>` -> `/frx/store/...` symlinks. */
  readonly rootsDir: string;
  /** `<pid>-<random>` files listing items a live process is using. */
  readonly tempRootsDir: string;
  readonly lockDir: string;
}

export function storeLayout(storeDir: string, stateDir: string): StoreLayout {
  return {
    storeDir,
    stateDir,
    dbDir: join(stateDir, "db"),
    rootsDir: join(stateDir, "gcroots"),
    tempRootsDir: join(stateDir, "temproots"),
    lockDir: join(stateDir, "lock"),
  };
}

/** Whether `dir` exists and is writable, or its nearest existing ancestor is (so mkdir -p works). */
export async function isUsableDirectory(dir: string): Promise<boolean> {
  let p = resolve(dir);
  for (;;) {
    try {
      const st = await stat(p);
      if (!st.isDirectory()) return false;
      await access(p, constants.W_OK | constants.X_OK);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") return false;
    }
    const parent = dirname(p);
    if (parent === p) return false;
    p = parent;
  }
}

export async function resolveLocation(opts: { store?: string; stateDir?: string; env?: Env }): Promise<{ storeDir: string; stateDir: string }> {
  const env = opts.env ?? process.env;
  const needProbe = (opts.store ?? "") === "" && (env["FRUIX_STORE"] ?? "") === "";
  const storeDir = chooseStoreDir({
    ...opts,
    env,
    homeDir: env["HOME"] || homedir(),
    frxStoreUsable: needProbe && (await isUsableDirectory(STORE_PREFIX)),
  });
  return { storeDir, stateDir: chooseStateDir(storeDir, opts.stateDir, env) };
}
