// The Store: adding items atomically, querying them, GC roots (DESIGN §4, docs/store.md).

import { chmod, copyFile, constants as fsConstants, mkdir, readdir, readlink, rename, rm, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { removeOnInterrupt } from "../cleanup.js";
import { isPlaceholder, planning, PlanStop, refuseInPlan } from "../plan.js";
import { FruixError } from "../errors.js";
import { makeDirectories } from "../fs.js";
import { randomToken, symlinkAtomic } from "./atomic.js";
import { computeClosure } from "./closure.js";
import { exists, isValidItem, itemHostPath, readRecord, writeRecord } from "./db.js";
import { collectGarbage, type GcOptions, type GcResult } from "./gc.js";
import { hashItemTree } from "./hash.js";
import { resolveLocation, storeLayout, type Env, type StoreLayout } from "./location.js";
import { StoreLock, type LockOptions } from "./lock.js";
import { makeRecord, type ItemRecord } from "./metadata.js";
import { checkOwner, recordOwner } from "./owner.js";
import {
  canonicalReferences,
  compareBytes,
  formatStorePath,
  parseBaseName,
  parseStorePath,
  splitStorePath,
  STORE_PREFIX,
  tempName,
  validateItemName,
  validateRootName,
  type StorePathParts,
} from "./paths.js";
import { isExecutableMode } from "./serialize.js";
import { TempRoots } from "./temproots.js";
import { isErrno, normalizeTree, removeTree } from "./tree.js";
import { checkItem, verifyStore, type VerifyResult } from "./verify.js";

export interface StoreOpenOptions {
  /** The directory holding the items (the host's stand-in for /frx/store). */
  readonly store?: string;
  /** Metadata, roots, locks; default FRUIX_STATE_DIR, else `<dirname(store)>/var/fruix[-<name>]` (docs/store.md). */
  readonly stateDir?: string;
  /** Environment to read FRUIX_STORE, FRUIX_STATE_DIR, XDG_DATA_HOME, HOME from; default process.env. */
  readonly env?: Env;
  /** Passed to every lock acquisition (timeout, "waiting for pid N" callback). */
  readonly lock?: LockOptions;
}

/** Populates `tmpDir`, an empty directory that becomes the item's content. */
export type BuildFn = (tmpDir: string) => Promise<void>;

export interface AddOptions {
  /** Store paths this item refers to; each must be a valid item. Order and duplicates do not matter. */
  readonly references?: readonly string[];
}

export interface AddFileOptions extends AddOptions {
  /** Default: whether the source file has any execute bit. */
  readonly executable?: boolean;
}

export interface GcRoot {
  readonly name: string;
  /** What the root link points at: an in-guest store path. */
  readonly target: string;
}

export class Store {
  private readonly lock: StoreLock;
  private readonly tempRoots: TempRoots;

  private constructor(
    readonly layout: StoreLayout,
    private readonly lockOptions: LockOptions,
  ) {
    this.lock = new StoreLock(layout.lockDir);
    this.tempRoots = new TempRoots(layout.tempRootsDir);
  }

  /** Opens (creating if needed) the store chosen by `opts`, FRUIX_STORE, /frx/store, or the per-user data dir. */
  static async open(opts: StoreOpenOptions = {}): Promise<Store> {
    const { storeDir, stateDir } = await resolveLocation(opts);
    const layout = storeLayout(storeDir, stateDir);
    // Before anything is made: another store's state directory is refused as it is found.
    const owner = await checkOwner(layout);
    // --dry-run: a store not made yet is read as empty, and made by no one.
    if (planning()) return new Store(layout, opts.lock ?? {});
    for (const dir of [layout.storeDir, layout.dbDir, layout.rootsDir, layout.tempRootsDir, layout.lockDir]) {
      try {
        await makeDirectories(dir, 0o755);
      } catch (e) {
        throw new FruixError(`cannot create store directory ${dir}: ${(e as Error).message}`, { cause: e });
      }
    }
    if (owner === "unrecorded") await recordOwner(layout);
    return new Store(layout, opts.lock ?? {});
  }

  /** The store if its directory exists, else undefined and nothing made: for a look that must not write (gc --dry-run). */
  static async openIfPresent(opts: StoreOpenOptions = {}): Promise<Store | undefined> {
    const { storeDir } = await resolveLocation(opts);
    return (await exists(storeDir)) ? Store.open(opts) : undefined;
  }

  /** The host directory holding the items. */
  get storeDir(): string {
    return this.layout.storeDir;
  }

  get stateDir(): string {
    return this.layout.stateDir;
  }

  /** `/frx/store/X[/rest]` -> `<storeDir>/X[/rest]`. Throws a FruixError for anything else. */
  toHostPath(storePath: string): string {
    if (isPlaceholder(storePath)) throw new PlanStop(splitStorePath(storePath).item.name);
    const { item, rest } = splitStorePath(storePath);
    const host = itemHostPath(this.layout, item);
    return rest === "" ? host : join(host, rest);
  }

  /** The inverse of toHostPath: `<storeDir>/X[/rest]` -> `/frx/store/X[/rest]`. */
  toStorePath(hostPath: string): string {
    const rel = relative(this.layout.storeDir, resolve(hostPath));
    if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) {
      throw new FruixError(`${hostPath} is not inside the store ${this.layout.storeDir}`);
    }
    const storePath = `${STORE_PREFIX}/${rel.split(sep).join("/")}`;
    splitStorePath(storePath); // validates the item name
    return storePath;
  }

  /**
   * Adds the directory `build` fills. Atomic: on any failure (or a crash) nothing appears under
   * a final name and no metadata is written. Adding identical content again returns the same path.
   */
  async add(name: string, build: BuildFn, opts: AddOptions = {}): Promise<string> {
    refuseInPlan(`store item ${name}`);
    validateItemName(name);
    const references = await this.prepareReferences(name, opts.references ?? []);
    const tmp = this.newTempPath();
    const forget = removeOnInterrupt(tmp);
    await mkdir(tmp, { mode: 0o755 });
    try {
      await build(tmp);
      return await this.commit(tmp, name, references);
    } catch (e) {
      await removeTree(tmp);
      throw e;
    } finally {
      forget();
    }
  }

  /** Adds a copy of the regular file `sourceFile` as a single-file item. */
  async addFile(name: string, sourceFile: string, opts: AddFileOptions = {}): Promise<string> {
    refuseInPlan(`store item ${name}`);
    validateItemName(name);
    const references = await this.prepareReferences(name, opts.references ?? []);
    let st;
    try {
      st = await stat(sourceFile);
    } catch (e) {
      throw new FruixError(`cannot add ${sourceFile} to the store: ${(e as Error).message}`, { cause: e });
    }
    if (!st.isFile()) throw new FruixError(`cannot add ${sourceFile} to the store: not a regular file`);
    const tmp = this.newTempPath();
    const forget = removeOnInterrupt(tmp);
    try {
      await copyFile(sourceFile, tmp, fsConstants.COPYFILE_EXCL);
      await chmod(tmp, (opts.executable ?? isExecutableMode(st.mode)) ? 0o755 : 0o644);
      return await this.commit(tmp, name, references);
    } catch (e) {
      await removeTree(tmp);
      throw e;
    } finally {
      forget();
    }
  }

  /** Whether `storePath` is a valid item (content and metadata record both present). */
  async has(storePath: string): Promise<boolean> {
    return isValidItem(this.layout, parseStorePath(storePath));
  }

  /** The metadata record of a valid item; FruixError if it is missing. */
  async info(storePath: string): Promise<ItemRecord> {
    const item = parseStorePath(storePath);
    const record = await this.validRecord(item);
    if (record === undefined) throw new FruixError(`store item ${item.path} is missing`);
    return record;
  }

  /** Direct references of a valid item, sorted. */
  async references(storePath: string): Promise<string[]> {
    return [...(await this.info(storePath)).references];
  }

  /** The transitive closure of `paths` (included), sorted; FruixError naming any missing item. */
  async closure(paths: readonly string[]): Promise<string[]> {
    const unbuilt = paths.find(isPlaceholder);
    if (unbuilt !== undefined) throw new PlanStop(splitStorePath(unbuilt).item.name);
    const starts = paths.map((p) => parseStorePath(p).path);
    return computeClosure(
      starts,
      async (p) => (await this.validRecord(parseStorePath(p)))?.references,
      (p, referrer) => {
        throw new FruixError(`store item ${p} is missing${referrer === undefined ? "" : `; referenced by ${referrer}`}`);
      },
    );
  }

  /** Re-hashes one item: what no longer matches its path's hash (empty when it is sound). */
  async verifyItem(storePath: string): Promise<string[]> {
    const item = parseStorePath(storePath);
    const problems = await checkItem(this.layout, item.path, itemHostPath(this.layout, item));
    return problems === "vanished" ? [`${item.path} is missing`] : problems;
  }

  /** Every valid item, sorted. */
  async list(): Promise<string[]> {
    const out: string[] = [];
    for (const entry of await readdir(this.layout.storeDir)) {
      const item = parseBaseName(entry);
      if (item !== undefined && (await isValidItem(this.layout, item))) out.push(item.path);
    }
    return out.sort(compareBytes);
  }

  /** Creates or replaces (atomically) the GC root `name` pointing at a valid item. */
  async addRoot(name: string, storePath: string): Promise<void> {
    refuseInPlan(`gc root ${name}`);
    validateRootName(name);
    const item = parseStorePath(storePath);
    // Under the lock, so a concurrent gc cannot delete the item between the check and the link.
    await this.lock.withLock(async () => {
      if (!(await isValidItem(this.layout, item))) {
        throw new FruixError(`store item ${item.path} is missing; cannot make it gc root ${name}`);
      }
      await symlinkAtomic(item.path, join(this.layout.rootsDir, name));
    }, this.lockOptions);
  }

  /** Removes the GC root `name`; returns whether it existed. */
  async removeRoot(name: string): Promise<boolean> {
    validateRootName(name);
    const path = join(this.layout.rootsDir, name);
    if (!(await exists(path))) return false;
    await rm(path, { force: true });
    return true;
  }

  /** All GC roots, sorted by name. */
  async roots(): Promise<GcRoot[]> {
    const out: GcRoot[] = [];
    for (const name of await readdir(this.layout.rootsDir)) {
      if (name.startsWith(".")) continue;
      try {
        out.push({ name, target: await readlink(join(this.layout.rootsDir, name)) });
      } catch (e) {
        if (!isErrno(e, "ENOENT", "EINVAL")) throw e; // removed meanwhile, or not a symlink
      }
    }
    return out.sort((a, b) => compareBytes(a.name, b.name));
  }

  /** Keeps items alive against gc for as long as this process runs (or until `close`). */
  async addTempRoots(paths: readonly string[]): Promise<void> {
    refuseInPlan("temporary gc roots");
    await this.tempRoots.add(paths.map((p) => parseStorePath(p).path));
  }

  /** Deletes what no root (nor a live process's temp root) reaches, and leftovers of dead processes. */
  async gc(opts: GcOptions = {}): Promise<GcResult> {
    return collectGarbage(this.layout, this.lock, this.lockOptions, opts);
  }

  /** Re-hashes every item; reports tampering, missing metadata and missing references. */
  async verify(): Promise<VerifyResult> {
    return verifyStore(this.layout);
  }

  /** Drops this instance's temporary roots (they also lapse when the process exits). */
  async close(): Promise<void> {
    await this.tempRoots.release();
  }

  // --- internals ---

  private newTempPath(): string {
    return join(this.layout.storeDir, tempName("tmp", process.pid, randomToken()));
  }

  private async validRecord(item: StorePathParts): Promise<ItemRecord | undefined> {
    if (!(await exists(itemHostPath(this.layout, item)))) return undefined;
    return readRecord(this.layout, item);
  }

  /** Canonical references, temp-rooted (so gc keeps them during the build), all present. */
  private async prepareReferences(name: string, references: readonly string[]): Promise<string[]> {
    const refs = canonicalReferences(references);
    await this.tempRoots.add(refs);
    await this.requirePresent(name, refs);
    return refs;
  }

  private async requirePresent(name: string, refs: readonly string[]): Promise<void> {
    for (const r of refs) {
      if (!(await isValidItem(this.layout, parseStorePath(r)))) {
        throw new FruixError(`store item ${r} is missing; referenced by new item ${name}`);
      }
    }
  }

  /** Normalizes, hashes and moves `tmp` to its final name; returns the store path. */
  private async commit(tmp: string, name: string, references: readonly string[]): Promise<string> {
    await normalizeTree(tmp);
    const digest = await hashItemTree(tmp, { name, references });
    const item = parseStorePath(formatStorePath(digest.hash, name));
    const final = itemHostPath(this.layout, item);
    let leftovers: string[] = [];
    await this.lock.withLock(async () => {
      // Checked again under the lock: a gc may have run since prepareReferences.
      await this.requirePresent(name, references);
      if (await isValidItem(this.layout, item)) {
        leftovers = [tmp]; // same content already stored
      } else {
        if (await exists(final)) {
          // Content under the final name without a record (an interrupted gc, or tampering):
          // not a valid item, so replace it with what we just hashed.
          const trash = join(this.layout.storeDir, tempName("gc", process.pid, randomToken()));
          await rename(final, trash);
          leftovers = [trash];
        }
        // Record first, then the rename: a crash in between leaves an orphan record (which
        // gc removes), never content under a final name without its record.
        await writeRecord(this.layout, makeRecord(item.path, references, digest.size, digest.kind), item);
        await rename(tmp, final);
      }
      // Before the lock is released, so no gc can slip in before the caller roots it.
      await this.tempRoots.add([item.path]);
    }, this.lockOptions);
    for (const l of leftovers) await removeTree(l);
    return item.path;
  }
}
