// Each store has its own state directory: two stores in one folder share no records, roots or
// memo entries, and a state directory recorded for one store refuses any other.
import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FruixError } from "../lib/errors.js";
import { Store } from "../lib/store/index.js";
import { memoized } from "../lib/store/memo.js";
import { cleanupTempDirs, fruix, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

async function addText(store: Store, name: string, text: string): Promise<string> {
  return store.add(name, (out) => writeFile(join(out, "content"), text));
}

describe("stores side by side", () => {
  it("keep their state apart: /frx/store-like names keep var/fruix, others get var/fruix-<name>", async () => {
    const dir = await tempDir();
    const [a, b, plain] = await Promise.all(["a", "b", "store"].map((n) => Store.open({ env: { FRUIX_STORE: join(dir, n) } })));
    expect([a!.stateDir, b!.stateDir, plain!.stateDir]).toEqual([join(dir, "var", "fruix-a"), join(dir, "var", "fruix-b"), join(dir, "var", "fruix")]);
    expect(await readFile(join(dir, "var", "fruix-a", "store-dir"), "utf8")).toBe(join(dir, "a") + "\n");
    await Promise.all([a!.close(), b!.close(), plain!.close()]);
  });

  it("verify, gc roots, gc and memo entries of one never see the other's", async () => {
    const dir = await tempDir();
    const env = (name: string) => ({ FRUIX_STORE: join(dir, name) });
    const a = await Store.open({ env: env("a") });
    const b = await Store.open({ env: env("b") });
    const kept = await addText(a, "kept", "a's item");
    await a.addRoot("keep-me", kept);
    const loose = await addText(b, "loose", "b's item");
    // One recipe key in both stores: b must build its own, not take a's answer.
    const key = { recipe: "the same in both" };
    expect(await memoized(a, key, async () => kept)).toBe(kept);
    let built = false;
    expect(await memoized(b, key, async () => ((built = true), loose))).toBe(loose);
    expect(built).toBe(true);
    expect(await memoized(a, key, () => Promise.reject(new Error("a's entry was lost")))).toBe(kept);
    await Promise.all([a.close(), b.close()]);

    for (const name of ["a", "b"]) {
      const verify = await fruix(["store", "verify"], env(name));
      expect([verify.exitCode, verify.stdout, verify.stderr]).toEqual([0, "checked=1\ncorrupt=0", ""]);
    }
    expect((await a.roots()).map((r) => r.name)).toEqual(["keep-me"]);
    expect(await b.roots()).toEqual([]);
    // gc of b frees b's unrooted item and leaves a's item and record alone.
    const gc = await fruix(["store", "gc", "--quiet"], env("b"));
    expect([gc.exitCode, gc.stdout]).toEqual([0, "removed=1\nfreed_bytes=8\ndry_run=false"]);
    expect(await a.has(kept)).toBe(true);
    expect(await b.has(loose)).toBe(false);
    expect((await fruix(["store", "verify"], env("a"))).stdout).toBe("checked=1\ncorrupt=0");
  });

  it("accepts its own store reached through a symlink", async () => {
    const dir = await tempDir();
    const state = join(dir, "state");
    const store = await Store.open({ store: join(dir, "real"), stateDir: state });
    await symlink(join(dir, "real"), join(dir, "alias"));
    const again = await Store.open({ store: join(dir, "alias"), stateDir: state });
    expect(again.stateDir).toBe(state);
    await Promise.all([store.close(), again.close()]);
  });
});

describe("a state directory recorded for another store", () => {
  it("is refused with one line, and nothing is made or changed", async () => {
    const dir = await tempDir();
    const state = join(dir, "var", "fruix-a");
    const a = await Store.open({ store: join(dir, "a") });
    await a.addRoot("keep-me", await addText(a, "kept", "a's item"));
    await a.close();
    const before = await listTree(state);

    const err = await Store.open({ store: join(dir, "b"), stateDir: state }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FruixError);
    const line =
      `state directory ${state} belongs to the store ${join(dir, "a")}, not ${join(dir, "b")} ` +
      `(recorded in ${join(state, "store-dir")}); give each store its own state directory`;
    expect((err as Error).message).toBe(line);

    for (const args of [["store", "verify"], ["store", "gc"]]) {
      const refused = await fruix(args, { FRUIX_STORE: join(dir, "b"), FRUIX_STATE_DIR: state });
      expect([refused.exitCode, refused.stdout, refused.stderr]).toEqual([1, "", `fruix: ${line}`]);
    }
    expect(await readdir(dir)).toEqual(["a", "var"]); // no store b was made
    expect(await listTree(state)).toEqual(before);
  });

  it("is refused after its store moved, until the record is removed", async () => {
    const dir = await tempDir();
    const state = join(dir, "state");
    await (await Store.open({ store: join(dir, "old"), stateDir: state })).close();
    await mkdir(join(dir, "new"));
    await expect(Store.open({ store: join(dir, "new"), stateDir: state })).rejects.toThrow(/belongs to the store .*\/old, not .*\/new/);
    await writeFile(join(state, "store-dir"), join(dir, "new") + "\n");
    await expect(Store.open({ store: join(dir, "new"), stateDir: state })).resolves.toBeInstanceOf(Store);
  });
});

/** Every path under `dir` with its file content (links by target), to show nothing changed. */
async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    out.push(entry.isFile() ? `${path}: ${await readFile(path, "utf8")}` : path);
  }
  return out.sort();
}
