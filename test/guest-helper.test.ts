// The in-guest helper, run against an offline system tree (FRUIX_ROOT) under
// every shell it must support, and kept clean under shellcheck.
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAMILIES } from "../lib/family/index.js";
import { guestDir } from "../lib/paths.js";
import { writeFirstGeneration } from "../lib/system/generation.js";

const helper = join(guestDir, "fruix.sh");
const closure = "/frx/store/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef-fruix-system-test";
const shells: Array<[string, string[]]> = [
  ["busybox sh", ["busybox", "sh"]],
  ["dash", ["dash"]],
];

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "fruix-helper-"));
  const closureDir = join(root, "host-closure");
  await mkdir(join(closureDir, "metadata"), { recursive: true });
  await writeFile(join(closureDir, "metadata", "provenance.scm"), "(provenance)\n");
  await writeFirstGeneration(join(root, "tree"), closure, closureDir, "2026-01-02T03:04:05Z");
});
afterAll(() => rm(root, { recursive: true, force: true }));

function runHelper(shell: string[], args: string[], fruixRoot: string) {
  return execa(shell[0]!, [...shell.slice(1), helper, ...args], { env: { FRUIX_ROOT: fruixRoot }, reject: false });
}

describe.each(shells)("fruix helper under %s", (_name, shell) => {
  it("reports generation 1 as current with its closure and date, no rollback", async () => {
    const result = await runHelper(shell, ["system", "status"], join(root, "tree"));
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split("\n")).toEqual([
      "booted_generation=none",
      "current_generation=1",
      `current_closure=${closure}`,
      "current_created=2026-01-02T03:04:05Z",
      "rollback_generation=none",
      "trial_generation=none",
      "last_failed_trial=none",
    ]);
  });

  it("finds the booted generation from /run/booted-system", async () => {
    const tree = join(root, "tree");
    await mkdir(join(tree, "run"), { recursive: true });
    await symlink(closure, join(tree, "run", "booted-system")).catch(() => undefined);
    const result = await runHelper(shell, ["system", "status"], tree);
    expect(result.stdout).toContain("booted_generation=1\n");
    const list = await runHelper(shell, ["system", "list-generations"], tree);
    expect(list.stdout).toBe(`1\t2026-01-02T03:04:05Z\t${closure}\tcurrent booted`);
    await rm(join(tree, "run"), { recursive: true });
  });

  it("refuses a tree without a generation layout, changing nothing", async () => {
    const empty = await mkdtemp(join(root, "empty-"));
    const result = await runHelper(shell, ["system", "status"], empty);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`fruix: no generation layout at ${empty}/var/lib/fruix/system (is this an installed Fruix system?)`);
    expect(await readdir(empty)).toEqual([]);
  });

  it("rejects an unknown command with one line and exit 2", async () => {
    for (const args of [["system", "frobnicate"], ["frobnicate"]]) {
      const result = await runHelper(shell, args, join(root, "tree"));
      expect(result.exitCode, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toBe(
        "fruix: unknown command 'frobnicate' (fruix system status|list-generations|switch|rollback|switch-generation|delete-generations|assess-boot; fruix --help)",
      );
      expect(result.stdout, args.join(" ")).toBe("");
    }
  });

  it("prints the full usage on stdout for --help, and on stderr with exit 2 when the command is missing", async () => {
    for (const args of [["--help"], ["-h"], ["system", "--help"]]) {
      const result = await runHelper(shell, args, join(root, "tree"));
      expect(result.exitCode, args.join(" ")).toBe(0);
      expect(result.stdout, args.join(" ")).toMatch(/^usage: fruix system status\n(.*\n){6}.*months ago\)\n(.*\n){2}.*assess-boot runs at every boot: it finishes a trial\.\)$/);
      expect(result.stderr, args.join(" ")).toBe("");
    }
    for (const args of [[], ["system"]]) {
      const result = await runHelper(shell, args, join(root, "tree"));
      expect(result.exitCode, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toMatch(/^usage: fruix system status\n/);
      expect(result.stdout, args.join(" ")).toBe("");
    }
  });
});

describe("guest scripts", () => {
  it("are clean under shellcheck as POSIX sh", async () => {
    const dirs = [guestDir, ...FAMILIES.map((f) => f.guestDir)];
    const scripts = (await Promise.all(dirs.map(async (dir) => (await readdir(dir)).filter((f) => f.endsWith(".sh")).map((f) => join(dir, f))))).flat();
    expect(scripts.length).toBeGreaterThanOrEqual(5);
    const result = await execa("shellcheck", ["-s", "sh", ...scripts], { reject: false });
    expect(result.stdout).toBe("");
    expect(result.exitCode).toBe(0);
  });
});
