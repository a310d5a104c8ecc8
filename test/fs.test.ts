// makeDirectories: mkdir -p that fails where Node's recursive mkdir loops for
// ever (under /proc), and the commands that make directories an operator names.
import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeDirectories } from "../lib/fs.js";
import { Store } from "../lib/store/index.js";
import { cleanupTempDirs, exampleFile, fruix, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

describe("makeDirectories", () => {
  it("makes missing parents, and accepts a directory that is there", async () => {
    const dir = join(await tempDir(), "a", "b", "c");
    await makeDirectories(dir);
    expect((await stat(dir)).isDirectory()).toBe(true);
    await makeDirectories(dir);
    await mkdir(join(dir, "d"));
    await makeDirectories(join(dir, "d"));
  });

  it("refuses a path through a file", async () => {
    const file = join(await tempDir(), "file");
    await writeFile(file, "");
    await expect(makeDirectories(file)).rejects.toThrow(/EEXIST/);
    await expect(makeDirectories(join(file, "below"))).rejects.toThrow(/ENOTDIR/);
  });

  // Node's mkdir(..., { recursive: true }) spins at full CPU here, for ever.
  it("fails at once under /proc, where mkdir answers ENOENT though the parent exists", async () => {
    await expect(makeDirectories("/proc/fruix-no-such/store")).rejects.toThrow(/ENOENT/);
  }, 5_000);
});

describe("directories an operator names", () => {
  it("--store under /proc is one line and exit 2, not a hang", async () => {
    const result = await fruix(["system", "build", exampleFile, "--store", "/proc/fruix-no-store"]);
    expect([result.exitCode, result.stderr.trim()]).toEqual([2, "fruix: --store /proc/fruix-no-store: /proc is a kernel file system, not a place for a store"]);
  }, 20_000);

  it("a store under /proc opened by the library fails, not spins", async () => {
    await expect(Store.open({ store: "/proc/fruix-no-store" })).rejects.toThrow("cannot create store directory /proc/fruix-no-store: ENOENT");
  }, 5_000);

  it("--report-dir under /proc is one line and exit 1, before any machine", async () => {
    const store = join(await tempDir(), "store");
    const result = await fruix(["validate", "image-boot", "--report-dir", "/proc/fruix-no-report"], { FRUIX_STORE: store });
    expect([result.exitCode, result.stderr.trim()]).toEqual([1, "fruix: cannot create the report directory /proc/fruix-no-report: ENOENT: no such file or directory, mkdir '/proc/fruix-no-report'"]);
  }, 20_000);
});
