// `--dry-run` of build, image, install, installer and installer-iso: what would
// be built or downloaded and what exists, with nothing written anywhere.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planPrintout } from "../lib/cli/dry-run.js";
import { cleanupTempDirs, exampleFile, fruix, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

/** Every path under `dir` with its size and mtime: any write shows. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true })) {
    const st = await lstat(join(dir, entry));
    out.push(`${entry} ${st.size} ${st.mtimeMs}`);
  }
  return out.sort();
}

const lines = (stdout: string, key: string) => stdout.split("\n").filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

describe("planPrintout", () => {
  it("prints downloads, builds, existing paths, writes and where planning stopped, as lines and as JSON", () => {
    const out = planPrintout({ download: ["busybox-static 1.35"], build: ["busybox-1.35"], exists: ["/frx/store/x-a"], write: ["disk.img (raw-file)"], stoppedAt: "busybox-1.35" });
    expect(out.text).toBe(
      "dry_run=true\nwould_download=busybox-static 1.35\nwould_build=busybox-1.35\nexists=/frx/store/x-a\nwould_write=disk.img (raw-file)\nmore_after=busybox-1.35\n",
    );
    expect(out.json).toEqual({ dry_run: true, would_download: ["busybox-static 1.35"], would_build: ["busybox-1.35"], exists: ["/frx/store/x-a"], would_write: ["disk.img (raw-file)"], more_after: "busybox-1.35" });
  });
});

describe("--dry-run on an empty store and cache", () => {
  it("names the downloads and the items to build, and makes no store, cache or temporary directory", async () => {
    const dir = await tempDir();
    const tmp = join(dir, "tmp");
    await mkdir(tmp);
    const env = { FRUIX_STORE: join(dir, "store"), FRUIX_CACHE_DIR: join(dir, "cache"), TMPDIR: tmp };
    const result = await fruix(["system", "build", exampleFile, "--dry-run"], env);
    expect([result.exitCode, result.stderr]).toEqual([0, ""]);
    expect(lines(result.stdout, "dry_run")).toEqual(["true"]);
    expect(lines(result.stdout, "would_download").map((d) => d.split(" ")[0])).toEqual(expect.arrayContaining(["busybox-static", "systemd-boot-efi"]));
    expect(lines(result.stdout, "would_build")).toEqual(expect.arrayContaining([expect.stringMatching(/^busybox-/), expect.stringMatching(/^fruix-helper-/)]));
    expect(lines(result.stdout, "exists")).toEqual([]);
    expect(lines(result.stdout, "closure_path")).toEqual([]);
    expect(await readdir(dir)).toEqual(["tmp"]); // no store, no state, no cache
    expect(await readdir(tmp)).toEqual([]);
  });
});

describe("--dry-run on a store that holds the system", () => {
  let dir: string;
  let env: Record<string, string>;
  let closure: string;

  beforeAll(async () => {
    dir = await tempDir();
    env = { FRUIX_STORE: join(dir, "store") };
    const built = await fruix(["system", "build", exampleFile, "--quiet"], env);
    expect(built.exitCode).toBe(0);
    closure = built.stdout.replace("closure_path=", "").trim();
  });

  it("build: the closure exists, nothing to build, nothing written", async () => {
    const before = await snapshot(dir);
    const result = await fruix(["system", "build", exampleFile, "--dry-run", "--json"], env);
    expect(result.exitCode).toBe(0);
    const plan = JSON.parse(result.stdout);
    expect(plan).toMatchObject({ dry_run: true, would_build: [], would_download: [] });
    expect(plan.exists).toContain(closure);
    expect(await snapshot(dir)).toEqual(before);
  });

  it("image, installer, installer-iso: the image or media would be built from the existing closure; the store is unchanged", async () => {
    const before = await snapshot(dir);
    const cases: Array<[string[], RegExp]> = [
      [["system", "image", exampleFile], /^fruix-disk-image-fruix-minimal$/],
      [["system", "installer", exampleFile, "--install-target-device", "/dev/vdb"], /^fruix-system-fruix-minimal-installer$|^fruix-installer-/],
      [["system", "installer-iso", exampleFile, "--install-target-device", "/dev/vda"], /^fruix-system-fruix-minimal-installer$|^fruix-installer-/],
    ];
    for (const [argv, built] of cases) {
      const result = await fruix([...argv, "--dry-run"], env);
      expect([result.exitCode, result.stderr], argv.join(" ")).toEqual([0, ""]);
      expect(lines(result.stdout, "exists"), argv.join(" ")).toContain(closure);
      expect(lines(result.stdout, "would_build").some((b) => built.test(b)), `${argv.join(" ")}:\n${result.stdout}`).toBe(true);
    }
    expect(await snapshot(dir)).toEqual(before);
  });

  it("install: names the target it would write, leaves an existing target's bytes and a missing one absent", async () => {
    const existing = join(dir, "existing.img");
    await writeFile(existing, Buffer.alloc(1024 * 1024, 7));
    const digest = async () => createHash("sha256").update(await readFile(existing)).digest("hex");
    const before = [await snapshot(join(dir, "store")), await digest()];
    const onto = await fruix(["system", "install", exampleFile, "--target", existing, "--dry-run"], env);
    expect(onto.exitCode).toBe(0);
    expect(lines(onto.stdout, "would_write")).toEqual([`${existing} (raw-file)`]);
    expect(lines(onto.stdout, "exists")).toContain(closure);
    const missing = join(dir, "new.img");
    const made = await fruix(["system", "install", exampleFile, "--target", missing, "--dry-run"], env);
    expect(lines(made.stdout, "would_write")).toEqual([`${missing} (raw-file, made)`]);
    expect(existsSync(missing)).toBe(false);
    expect([await snapshot(join(dir, "store")), await digest()]).toEqual(before);
  });

  it("install refuses, as a real install would, a target that holds data (without --force)", async () => {
    const gpt = join(dir, "gpt.img");
    const head = Buffer.alloc(4096);
    head.write("EFI PART", 512, "latin1");
    await writeFile(gpt, head);
    const result = await fruix(["system", "install", exampleFile, "--target", gpt, "--dry-run"], env);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^fruix: .*GPT partition table.*\n?$/);
    expect(result.stdout).toBe("");
  });
});
