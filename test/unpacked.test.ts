// The machine-wide cache of unpacked .deb members (lib/debian/unpacked.ts):
// unpacked once, checked before every use, made again when damaged.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { cleanupTempDirs, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

type Module = typeof import("../lib/debian/unpacked.js");

/** The module as a new process sees it: nothing remembered in memory. */
async function fresh(): Promise<Module> {
  vi.resetModules();
  return import("../lib/debian/unpacked.js");
}

describe("unpacked .deb members", () => {
  let deb: string;
  let sha256: string;
  const members = ["./boot/vmlinuz-test", "./lib/modules/test/kernel/fs"];

  beforeAll(async () => {
    const dir = await tempDir();
    const root = join(dir, "pkg");
    await mkdir(join(root, "DEBIAN"), { recursive: true });
    await writeFile(join(root, "DEBIAN", "control"), "Package: fruix-test-kernel\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: test\n");
    await mkdir(join(root, "boot"));
    await writeFile(join(root, "boot", "vmlinuz-test"), "kernel\n");
    await writeFile(join(root, "boot", "other"), "not asked for\n");
    await mkdir(join(root, "lib", "modules", "test", "kernel", "fs", "ext4"), { recursive: true });
    await writeFile(join(root, "lib", "modules", "test", "kernel", "fs", "ext4", "ext4.ko"), "module\n");
    deb = join(dir, "test.deb");
    await execa("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", root, deb]);
    sha256 = createHash("sha256").update(await readFile(deb)).digest("hex");
  });

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  async function useCache(): Promise<string> {
    const cache = await tempDir();
    vi.stubEnv("FRUIX_CACHE_DIR", cache);
    return join(cache, "unpacked");
  }

  it("unpacks the members once into an entry named by the .deb's sha256 and the members, with its digest", async () => {
    const parent = await useCache();
    const { unpackedMembers, unpackedKey } = await fresh();
    const tree = await unpackedMembers(deb, sha256, members);
    expect(tree).toBe(join(parent, unpackedKey(sha256, members), "tree"));
    expect(await readFile(join(tree, "boot", "vmlinuz-test"), "utf8")).toBe("kernel\n");
    expect(await readFile(join(tree, "lib/modules/test/kernel/fs/ext4/ext4.ko"), "utf8")).toBe("module\n");
    expect(await readdir(join(tree, "boot"))).toEqual(["vmlinuz-test"]);
    expect(await readFile(join(parent, unpackedKey(sha256, members), "tree.sha256"), "utf8")).toMatch(/^[0-9a-f]{64}\n$/);
    expect(await readdir(parent)).toEqual([unpackedKey(sha256, members)]);
    // Other members, another .deb: other entries.
    expect(unpackedKey(sha256, ["./boot/other"])).not.toBe(unpackedKey(sha256, members));
    expect(unpackedKey("0".repeat(64), members)).not.toBe(unpackedKey(sha256, members));
  });

  it("uses an intact entry as it is, without dpkg-deb", async () => {
    await useCache();
    const first = await (await fresh()).unpackedMembers(deb, sha256, members);
    // The .deb is gone: only the entry can answer.
    const again = await (await fresh()).unpackedMembers(join(await tempDir(), "missing.deb"), sha256, members);
    expect(again).toBe(first);
  });

  it("unpacks a damaged entry again: a changed file, an added file, a missing digest", async () => {
    const parent = await useCache();
    const tree = await (await fresh()).unpackedMembers(deb, sha256, members);
    const damage = [
      () => writeFile(join(tree, "boot", "vmlinuz-test"), "changed\n"),
      () => writeFile(join(tree, "lib/modules/test/kernel/fs/ext4/extra.ko"), "added\n"),
      () => writeFile(join(tree, "..", "tree.sha256"), ""),
    ];
    for (const act of damage) {
      await act();
      expect(await (await fresh()).unpackedMembers(deb, sha256, members)).toBe(tree);
      expect(await readFile(join(tree, "boot", "vmlinuz-test"), "utf8")).toBe("kernel\n");
      expect(await readdir(join(tree, "lib/modules/test/kernel/fs/ext4"))).toEqual(["ext4.ko"]);
      expect((await readdir(parent)).length).toBe(1); // the damaged one went, no temporaries
    }
  });

  it("sweeps what a killed unpack left, and two at once agree on one entry", async () => {
    const parent = await useCache();
    const dead = spawnSync("true").pid;
    const leftover = join(parent, `fruix-unpack-${dead}-0123456789ab`);
    await mkdir(join(leftover, "tree", "boot"), { recursive: true });
    const [one, other] = [await fresh(), await fresh()]; // two processes, as far as the module can tell
    const [a, b] = await Promise.all([one.unpackedMembers(deb, sha256, members), other.unpackedMembers(deb, sha256, members)]);
    expect(a).toBe(b);
    expect(await readdir(parent)).toEqual([a.split("/").at(-2)]);
  });

  it("says which members a .deb lacks", async () => {
    await useCache();
    await expect((await fresh()).unpackedMembers(deb, sha256, ["./boot/missing"])).rejects.toThrow(/cannot unpack \.\/boot\/missing from /);
  });
});
