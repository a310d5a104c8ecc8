import { mkdtemp, readFile, readlink, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { cpioArchive, type CpioEntry } from "../lib/system/cpio.js";

const entries: CpioEntry[] = [
  { path: "bin", type: "dir", mode: 0o755 },
  { path: "bin/hello", type: "file", mode: 0o755, data: Buffer.from("#!/bin/sh\necho hello\n") },
  { path: "bin/hi", type: "symlink", target: "hello" },
  { path: "dev", type: "dir", mode: 0o755 },
  { path: "dev/console", type: "char", mode: 0o600, major: 5, minor: 1 },
  { path: "odd-size", type: "file", mode: 0o644, data: Buffer.from("12345") },
];

describe("newc cpio writer", () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it("is deterministic", () => {
    expect(cpioArchive(entries).equals(cpioArchive(entries))).toBe(true);
  });

  it("is read back by GNU cpio with the same names, modes, contents and device numbers", async () => {
    const archive = cpioArchive(entries);
    const listing = await execa("cpio", ["-t", "-v", "--quiet"], { input: archive });
    expect(listing.stdout).toMatch(/^crw------- .* 5,\s+1 .* dev\/console$/m);
    expect(listing.stdout).toMatch(/^lrwxrwxrwx .* bin\/hi -> hello$/m);

    const dir = await mkdtemp(join(tmpdir(), "fruix-cpio-"));
    dirs.push(dir);
    // Device nodes need privileges to create; unpack everything else.
    await execa("cpio", ["-i", "-d", "--quiet", "--no-absolute-filenames", "bin/*", "odd-size"], { input: archive, cwd: dir });
    expect(await readFile(join(dir, "bin/hello"), "utf8")).toBe("#!/bin/sh\necho hello\n");
    expect((await stat(join(dir, "bin/hello"))).mode & 0o777).toBe(0o755);
    expect(await readlink(join(dir, "bin/hi"))).toBe("hello");
    expect(await readFile(join(dir, "odd-size"), "utf8")).toBe("12345");
  });
});
