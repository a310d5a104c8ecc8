// The `fruix` command's store verbs and its behaviour on interruption.
import { chmod, mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { packageRoot } from "../lib/paths.js";
import { Store } from "../lib/store/index.js";
import { cleanupTempDirs, exampleFile, fruix, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

async function storeWithItem() {
  const dir = await tempDir();
  const store = await Store.open({ store: join(dir, "store") });
  const item = await store.add("sample", (out) => writeFile(join(out, "data"), "original"));
  await store.close(); // drop this process's temp root, so only real GC roots count
  return { dir, store, item };
}

describe("fruix store", () => {
  it("verify passes an intact store and names a tampered item", async () => {
    const { dir, store, item } = await storeWithItem();
    const args = ["store", "verify", "--store", join(dir, "store")];
    const ok = await fruix(args);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toBe("checked=1\ncorrupt=0");

    const data = join(store.toHostPath(item), "data");
    await chmod(data, 0o644);
    await writeFile(data, "tampered");
    const bad = await fruix(args);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain(`fruix: ${item}: `);
    expect(bad.stderr).toContain("fruix: store verify: 1 of 1 items are damaged");
  });

  it("gc removes what no root reaches, and --dry-run only reports it", async () => {
    const { dir, store, item } = await storeWithItem();
    const args = ["store", "gc", "--store", join(dir, "store")];
    const dry = await fruix([...args, "--dry-run"]);
    expect(dry.stdout).toContain("removed=1\n");
    expect(await store.has(item)).toBe(true);
    const real = await fruix(args);
    expect(real.exitCode).toBe(0);
    expect(real.stdout).toContain("removed=1\n");
    expect(await store.has(item)).toBe(false);
  });

  it("keeps the newest build of each host name as a GC root", async () => {
    const dir = await tempDir();
    const env = { FRUIX_STORE: join(dir, "store") };
    const built = await fruix(["system", "build", exampleFile, "--quiet"], env);
    const closure = built.stdout.replace("closure_path=", "");
    const gc = await fruix(["store", "gc", "--quiet"], env);
    expect(gc.exitCode).toBe(0);
    const store = await Store.open({ store: join(dir, "store") });
    expect(await store.has(closure)).toBe(true);
    expect((await store.roots()).map((r) => [r.name, r.target])).toEqual([["system-fruix-minimal", closure]]);
  });
});

describe("interruption", () => {
  it("Ctrl-C during a build exits 130 and leaves no temporary files in the store or the temporary directory", async () => {
    const dir = await tempDir();
    const tmp = join(dir, "tmp"); // the child's TMPDIR: the kernel is unpacked there
    await mkdir(tmp);
    const child = execa(process.execPath, [join(packageRoot, "dist/lib/cli/main.js"), "system", "build", exampleFile], {
      env: { FRUIX_STORE: join(dir, "store"), TMPDIR: tmp },
      reject: false,
    });
    // Interrupt once the first item is being built (its temp directory exists).
    const store = join(dir, "store");
    for (let i = 0; i < 300; i++) {
      const entries = await readdir(store).catch(() => []);
      if (entries.some((e) => e.startsWith(".tmp"))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGINT");
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(result.stderr).toContain("fruix: interrupted (SIGINT); temporary files removed");
    expect((await readdir(store)).filter((e) => e.startsWith(".tmp"))).toEqual([]);
    expect(await readdir(tmp)).toEqual([]);
  });
});
