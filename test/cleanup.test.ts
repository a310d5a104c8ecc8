// Temporary directories a SIGKILLed run leaves behind are removed by the next run:
// only Fruix's names, only those whose maker is gone.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { chmod, mkdir, readdir, realpath, stat, symlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { sweepTemporaries, temporaryDirectory, TEMPORARY_NAME } from "../lib/cleanup.js";
import { cacheDir, packageRoot } from "../lib/paths.js";
import { directoriesInUse } from "../lib/process.js";
import { cleanupTempDirs, exampleFile, fruix, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const pid = spawnSync("true").pid;
  expect(() => process.kill(pid, 0)).toThrow();
  return pid;
}

const HEX = "0123456789ab";

/** A directory named as Fruix names them, by a maker that is gone, holding read-only content. */
async function leftover(parent: string, label: string, pid = deadPid()): Promise<string> {
  const dir = join(parent, `fruix-${label}-${pid}-${HEX}`);
  await mkdir(join(dir, "root", "etc"), { recursive: true });
  await writeFile(join(dir, "root", "etc", "motd"), "hi\n");
  await chmod(join(dir, "root", "etc"), 0o555);
  await chmod(join(dir, "root"), 0o555);
  return dir;
}

describe("temporary directory names", () => {
  it("carry the maker's pid, or for kept ones no pid, and only they match", async () => {
    const parent = await tempDir();
    const made = await temporaryDirectory("fruix-kernel-", { parent });
    expect(basename(made.path)).toMatch(new RegExp(`^fruix-kernel-${process.pid}-[0-9a-f]{12}$`));
    expect(TEMPORARY_NAME.exec(basename(made.path))?.[1]).toBe(String(process.pid));
    const kept = await temporaryDirectory("fruix-validate-run-1234-", { parent, keep: true });
    expect(basename(kept.path)).toMatch(/^fruix-validate-run-1234-kept-[0-9a-f]{12}$/);
    made.forget();
    kept.forget();
    for (const name of [basename(kept.path), "fruix-test-123456", "fruix-kernel-abc", `fruix-kernel-12-${HEX}x`, `fruix-kernel-12-ABCDEF012345`, `other-12-${HEX}`, `.fruix-disk-12-${HEX}`]) {
      expect(TEMPORARY_NAME.test(name), name).toBe(false);
    }
    expect(TEMPORARY_NAME.exec(`fruix-validate-2026-05-01T10-00-00Z-ab12-77-${HEX}`)?.[1]).toBe("77");
    await expect(temporaryDirectory("kernel-", { parent })).rejects.toThrow(/is not fruix-<label>-/);
  });
});

describe("the sweep", () => {
  it("removes a dead maker's directories, keeps a live one's, foreign names, files and symlinks", async () => {
    const parent = await tempDir();
    const dead = [await leftover(parent, "kernel"), await leftover(parent, "validate-2026-05-01T10-00-00Z-ab12")];
    const live = await leftover(parent, "disk", process.pid);
    const foreign = ["fruix-test-Ab12Cd", "fruix-disk-abc", "keep-me"];
    for (const name of foreign) await mkdir(join(parent, name));
    const file = `fruix-kernel-${deadPid()}-${HEX}`;
    await writeFile(join(parent, file), "not a directory");
    const target = await leftover(await tempDir(), "elsewhere");
    const link = `fruix-debs-${deadPid()}-${HEX}`;
    await symlink(target, join(parent, link));
    const kept = join(parent, `fruix-validate-run-${deadPid()}-kept-${HEX}`);
    await mkdir(kept);

    expect((await sweepTemporaries(parent)).map((p) => basename(p)).sort()).toEqual(dead.map((p) => basename(p)).sort());
    expect((await readdir(parent)).sort()).toEqual([basename(live), ...foreign, file, link, basename(kept)].sort());
    expect((await stat(join(target, "root", "etc", "motd"))).isFile()).toBe(true);
  });

  it("runs before the first temporary directory made there", async () => {
    const parent = await tempDir();
    const dead = await leftover(parent, "download");
    const made = await temporaryDirectory("fruix-download-", { parent });
    made.forget();
    expect(await readdir(parent)).toEqual([basename(made.path)]);
    expect(basename(dead)).not.toBe(basename(made.path));
  });

  it("runs when any fruix command starts, in its TMPDIR", async () => {
    const dir = await tempDir();
    const tmp = join(dir, "tmp");
    await mkdir(tmp);
    const dead = await leftover(tmp, "disk");
    const live = await leftover(tmp, "kernel", process.pid);
    await mkdir(join(tmp, "fruix-test-Ab12Cd"));
    const result = await fruix(["store", "verify", "--store", join(dir, "store")], { TMPDIR: tmp });
    expect([result.exitCode, result.stdout]).toEqual([0, "checked=0\ncorrupt=0"]);
    expect((await readdir(tmp)).sort()).toEqual([basename(live), "fruix-test-Ab12Cd"].sort());
    expect(dead).not.toBe(live);
  });

  it("keeps a dead maker's directory while a process it left running still uses it", async () => {
    const dir = await tempDir();
    const tmp = join(dir, "tmp");
    await mkdir(tmp);
    const byCwd = await leftover(tmp, "validate-run");
    const byFile = await leftover(tmp, "disk");
    // What a SIGKILLed `fruix validate` leaves: its QEMU, with a disk open in the work directory.
    const fd = openSync(join(byFile, "disk0.qcow2"), "w");
    const children = [spawn("sleep", ["60"], { cwd: byCwd, stdio: "ignore" }), spawn("sleep", ["60"], { stdio: ["ignore", fd, "ignore"] })];
    closeSync(fd);
    try {
      await fruix(["store", "verify", "--store", join(dir, "store")], { TMPDIR: tmp });
      expect((await readdir(tmp)).sort()).toEqual([basename(byCwd), basename(byFile)].sort());
    } finally {
      for (const child of children) child.kill("SIGKILL");
      await Promise.all(children.map((child) => new Promise((r) => (child.exitCode === null && child.signalCode === null ? child.once("exit", r) : r(undefined)))));
    }
    await fruix(["store", "verify", "--store", join(dir, "store")], { TMPDIR: tmp });
    expect(await readdir(tmp)).toEqual([]);
  });
});

describe("fruix system image killed with SIGKILL", () => {
  /** Starts `fruix system image` and SIGKILLs it as soon as `dir` holds a directory starting with `prefix`. */
  async function killWhenTemporary(env: Record<string, string>, dir: string, prefix: string): Promise<{ pid: number; seen: string[] }> {
    const child = execa(process.execPath, [join(packageRoot, "dist/lib/cli/main.js"), "system", "image", exampleFile, "--quiet"], { env, reject: false });
    let seen: string[] = [];
    for (let i = 0; i < 6000 && seen.length === 0; i++) {
      seen = (await readdir(dir).catch(() => [] as string[])).filter((e) => e.startsWith(prefix) && e.includes(`-${child.pid}-`));
      if (seen.length === 0) await new Promise((r) => setTimeout(r, 10));
    }
    child.kill("SIGKILL");
    const result = await child;
    expect(seen, result.stderr).not.toEqual([]);
    expect(result.signal).toBe("SIGKILL");
    return { pid: child.pid!, seen };
  }

  it("leaves its temporary directories, and the next run removes them", async () => {
    const dir = await tempDir();
    const tmp = join(dir, "tmp");
    await mkdir(tmp);
    // A cache of its own, so the kernel is unpacked (into cache/unpacked) on this run; the .debs are the machine's.
    const cache = join(dir, "cache");
    await mkdir(join(cacheDir(), "debs"), { recursive: true });
    await mkdir(cache);
    await symlink(join(cacheDir(), "debs"), join(cache, "debs"));
    const unpacked = join(cache, "unpacked");
    const env = { FRUIX_STORE: join(dir, "store"), TMPDIR: tmp, FRUIX_CACHE_DIR: cache };
    // Not to be touched: a live process's directory and a name Fruix does not make.
    const live = await leftover(tmp, "disk", process.pid);
    await mkdir(join(tmp, "fruix-test-Ab12Cd"));
    const others = [basename(live), "fruix-test-Ab12Cd"].sort();

    // Killed while unpacking the kernel, then (the next run) while staging the disk.
    const first = await killWhenTemporary(env, unpacked, "fruix-unpack-");
    expect((await readdir(unpacked)).filter((e) => e.includes(`-${first.pid}-`))).toEqual(first.seen);
    // Its dpkg-deb | tar outlive it a moment, writing on; the sweep rightly keeps a directory in use.
    const half = await realpath(join(unpacked, first.seen[0]!));
    for (let i = 0; i < 600 && (await directoriesInUse([half])).size > 0; i++) await new Promise((r) => setTimeout(r, 50));
    const second = await killWhenTemporary(env, tmp, "fruix-disk-");
    expect((await readdir(unpacked)).filter((e) => e.includes(`-${first.pid}-`))).toEqual([]); // swept by the second run
    const left = (await readdir(tmp)).filter((e) => !others.includes(e));
    expect(left.length).toBeGreaterThan(0);
    expect(left.every((e) => e.includes(`-${second.pid}-`)), left.join(" ")).toBe(true);

    const done = await fruix(["system", "image", exampleFile, "--quiet"], env);
    expect(done.exitCode, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/^disk_image=\/frx\/store\/[0-9a-f]{64}-fruix-disk-image-fruix-minimal\/disk\.img$/m);
    expect((await readdir(tmp)).sort()).toEqual(others);
    expect(await readdir(unpacked)).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]); // the kernel's entry, no temporaries
  });
});

describe("fruix validate killed with SIGKILL", () => {
  /** QEMU processes whose command line names a directory under `dir`. */
  async function qemusUnder(dir: string): Promise<string[]> {
    const { stdout } = await execa("pgrep", ["-f", `qemu-system-x86_64 .*${dir}/`], { reject: false });
    return stdout.split("\n").filter(Boolean);
  }

  it("takes its QEMU with it (the parent-death signal), and the next run removes the work directory", async () => {
    const dir = await tempDir();
    const tmp = join(dir, "tmp");
    await mkdir(tmp);
    const env = { FRUIX_STORE: join(dir, "store"), TMPDIR: tmp };
    const child = execa(process.execPath, [join(packageRoot, "dist/lib/cli/main.js"), "validate", "image-boot", "--accel", "tcg", "--quiet", "--report-dir", join(dir, "report")], { env, reject: false });
    let qemus: string[] = [];
    try {
      for (let i = 0; i < 1200 && qemus.length === 0 && child.exitCode === null; i++) {
        await new Promise((r) => setTimeout(r, 100));
        qemus = await qemusUnder(tmp);
      }
      expect(qemus, "no QEMU started within 120 s").not.toEqual([]);
      child.kill("SIGKILL");
      expect((await child).signal).toBe("SIGKILL");
      for (let i = 0; i < 100 && (await qemusUnder(tmp)).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await qemusUnder(tmp)).toEqual([]);
    } finally {
      for (const line of await qemusUnder(tmp)) process.kill(Number(line.split(" ")[0]), "SIGKILL"); // only if the check above failed
    }
    expect((await readdir(tmp)).some((e) => e.startsWith("fruix-validate-"))).toBe(true);
    await fruix(["store", "verify", "--store", join(dir, "store")], { TMPDIR: tmp });
    expect((await readdir(tmp)).filter((e) => e.startsWith("fruix-validate-"))).toEqual([]);
  });
});
