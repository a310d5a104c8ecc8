// Crash safety of the helper's generation commands: FRUIX_FAULT_AFTER=STEP
// kills the helper right after STEP (as a power cut would). For every step of
// switch, rollback and delete-generations, the interrupted tree must boot what
// the old or the new state boots, stay bootable, report old or new pointers,
// and be left by the next command with the files and links of the old or the
// new state (a switch interrupted before its commit may also leave the new
// generation's own files: see stateDiff).
import { existsSync } from "node:fs";
import { readdir, readFile, readlink, rm, symlink } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DATES, helper, runHelper, shells, snapshot, worldFixture } from "./helpers/guest-tree.js";

const SYSTEM = "var/lib/fruix/system";
const GCROOTS = "frx/var/fruix/gcroots";
const ESP = "boot/efi";

// The steps, in order, as docs/generations.md lists them.
const POINTER_STEPS = [
  "commit",
  "rollback-link",
  "rollback-generation",
  "current-link",
  "current-generation",
  "gcroot-rollback",
  "gcroot-current",
  "loader-default",
  "finish",
];
const SWITCH_STEPS = ["boot-files", "gcroot-generation", "generation", "boot-entry", ...POINTER_STEPS];
const ROLLBACK_STEPS = SWITCH_STEPS.filter((s) => s !== "generation");
const DELETE_STEPS = ["record-intent", "remove-entries", "remove-gcroots", "remove-generations", "remove-boot-files"];

it("every step the helper names is exercised here", async () => {
  const script = await readFile(helper, "utf8");
  const named = new Set([...script.matchAll(/^\s*step ([a-z-]+)$/gm)].map((m) => m[1]));
  expect([...named].sort()).toEqual([...new Set([...SWITCH_STEPS, ...ROLLBACK_STEPS, ...DELETE_STEPS])].sort());
});

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const optional = <T>(promise: Promise<T>) => promise.catch(() => null);

/** What the firmware and systemd-boot see: the default entry and the files it loads. */
async function bootState(tree: string) {
  const esp = join(tree, ESP);
  const loader = await readFile(join(esp, "loader/loader.conf"), "utf8");
  const name = /^default (\S+)$/m.exec(loader)?.[1] ?? "";
  const entry = await optional(readFile(join(esp, "loader/entries", name), "utf8"));
  const load = async (key: string) => {
    const path = new RegExp(`^${key} (\\S+)$`, "m").exec(entry ?? "")?.[1];
    return path ? optional(readFile(join(esp, path)).then(sha256)) : null;
  };
  return { loader, entry, kernel: await load("linux"), initrd: await load("initrd") };
}

/** The pointers as files and links (not as the helper reports them). */
async function pointerState(tree: string) {
  return {
    current: await optional(readlink(join(tree, SYSTEM, "current"))),
    currentGeneration: await optional(readFile(join(tree, SYSTEM, "current-generation"), "utf8")),
    rollback: await optional(readlink(join(tree, SYSTEM, "rollback"))),
    rollbackGeneration: await optional(readFile(join(tree, SYSTEM, "rollback-generation"), "utf8")),
    currentRoot: await optional(readlink(join(tree, GCROOTS, "current-system"))),
    rollbackRoot: await optional(readlink(join(tree, GCROOTS, "rollback-system"))),
    loader: await readFile(join(tree, ESP, "loader/loader.conf"), "utf8"),
  };
}

/**
 * Everything a boot depends on holds: the default entry exists, and every
 * entry's kernel, initrd and closure exist; `current` is a complete generation
 * whose closure exists and is held by a GC root.
 */
async function expectBootable(tree: string, label: string): Promise<void> {
  const esp = join(tree, ESP);
  const loader = await readFile(join(esp, "loader/loader.conf"), "utf8");
  const entries = await readdir(join(esp, "loader/entries"));
  expect(entries, label).toContain(/^default (\S+)$/m.exec(loader)?.[1]);
  for (const name of entries) {
    const entry = await readFile(join(esp, "loader/entries", name), "utf8");
    for (const key of ["linux", "initrd"]) {
      const path = new RegExp(`^${key} (\\S+)$`, "m").exec(entry)?.[1] ?? "missing";
      expect(existsSync(join(esp, path)), `${label}: ${name} ${key} ${path}`).toBe(true);
    }
    const closure = /fruix\.system=(\S+)/.exec(entry)?.[1] ?? "missing";
    expect(existsSync(join(tree, closure, "boot/init")), `${label}: ${name} closure`).toBe(true);
  }
  const generation = join(tree, SYSTEM, await readlink(join(tree, SYSTEM, "current")));
  for (const file of ["metadata.scm", "provenance.scm"]) {
    expect(existsSync(join(generation, file)), `${label}: current generation's ${file}`).toBe(true);
  }
  const closure = await readlink(join(generation, "closure")); // in-guest path: checked under the tree
  expect(existsSync(join(tree, closure)), `${label}: current closure`).toBe(true);
  const roots = await readdir(join(tree, GCROOTS));
  const targets = await Promise.all(roots.filter((r) => !r.startsWith(".")).map((r) => readlink(join(tree, GCROOTS, r))));
  expect(targets, `${label}: a GC root holds the current closure`).toContain(closure);
}

/**
 * Where `tree` differs from `expected` (snapshots): paths missing, changed,
 * or extra. Extra paths are allowed only if `allowed` holds them with the same
 * content (what an uncommitted switch leaves: the new generation's files).
 */
function stateDiff(tree: Record<string, string>, expected: Record<string, string>, allowed: Record<string, string> = {}): string[] {
  const missing = Object.keys(expected).filter((p) => tree[p] !== expected[p]).map((p) => `${tree[p] === undefined ? "missing" : "changed"} ${p}`);
  const extra = Object.keys(tree).filter((p) => !(p in expected) && allowed[p] !== tree[p]).map((p) => `extra ${p}`);
  return [...missing, ...extra];
}

describe.each(shells)("interrupted generation commands under %s", (_name, shell) => {
  const trees = worldFixture("fruix-faults-", shell);
  const fresh = (template: string) => trees.fresh(template);
  const status = async (tree: string) => {
    const out = (await runHelper(shell, tree, ["system", "status"])).stdout;
    return [/^current_generation=(.*)$/m.exec(out)?.[1], /^rollback_generation=(.*)$/m.exec(out)?.[1]];
  };

  const list = async (tree: string) => (await runHelper(shell, tree, ["system", "list-generations"])).stdout;
  // The next command that changes generations (here one that deletes nothing).
  const next = (tree: string) => runHelper(shell, tree, ["system", "delete-generations", "100.."], { now: DATES.now });

  const scenarios = [
    { command: "switch", steps: SWITCH_STEPS, template: () => trees.world.base, args: () => ["system", "switch", trees.world.closures.b.path] },
    { command: "rollback", steps: ROLLBACK_STEPS, template: () => trees.world.switched, args: () => ["system", "rollback"] },
    // 1 and 2 go, with a's kernel and b's initrd; booted 3, rollback 4, current 5 stay.
    { command: "delete-generations", steps: DELETE_STEPS, template: () => trees.world.history, args: () => ["system", "delete-generations", "1..2"] },
  ];

  for (const scenario of scenarios) {
    it(`${scenario.command}: after an interruption at any step, the old or the new state boots, and the next command agrees`, async () => {
      const template = scenario.template();
      const done = await fresh(template);
      const finished = await runHelper(shell, done, scenario.args(), { now: DATES.now });
      expect(finished.exitCode, finished.stderr).toBe(0);
      // The old and the new state as the next command leaves them (it changes neither).
      const untouched = await fresh(template);
      for (const tree of [untouched, done]) expect((await next(tree)).exitCode).toBe(0);
      const states = [await snapshot(untouched), await snapshot(done)];
      const lists = [await list(untouched), await list(done)];
      expect(states[0]).not.toEqual(states[1]);
      const boots = [await bootState(template), await bootState(done)];
      const pointers = [await pointerState(template), await pointerState(done)];
      const statuses = [await status(template), await status(done)];
      if (scenario.command !== "delete-generations") expect(boots[0]).not.toEqual(boots[1]);

      await Promise.all(
        scenario.steps.map(async (step) => {
          const tree = await fresh(template);
          const result = await runHelper(shell, tree, scenario.args(), { now: DATES.now, fault: step });
          expect(result.signal, `${step}: ${result.stderr}`).toBe("SIGKILL");

          expect(boots, step).toContainEqual(await bootState(tree));
          await expectBootable(tree, step);
          const reported = await status(tree);
          expect(statuses, step).toContainEqual(reported);

          // The next command that changes generations completes a committed
          // move or a recorded delete, or finds the old state.
          const completed = await next(tree);
          expect(completed.exitCode, `${step}: ${completed.stderr}`).toBe(0);
          // A delete has no old state to go back to once its intent is recorded.
          const agreed = scenario.command === "delete-generations" || (reported[0] === statuses[1]![0] && reported[1] === statuses[1]![1]) ? 1 : 0;
          expect(await pointerState(tree), step).toEqual(pointers[agreed]);
          expect(await status(tree), step).toEqual(reported);
          const listed = (await list(tree)).split("\n");
          if (agreed === 1) expect(listed, step).toEqual(lists[1]!.split("\n"));
          else {
            // The old list, and maybe the uncommitted generation (no role), as the new state lists it.
            const untagged = (line: string) => line.split("\t").slice(0, 3).join("\t");
            expect(listed.filter((line) => lists[0]!.split("\n").includes(line)), step).toEqual(lists[0]!.split("\n"));
            const extra = listed.filter((line) => !lists[0]!.split("\n").includes(line));
            expect(extra.map(untagged), step).toEqual(extra.length ? [untagged(lists[1]!.split("\n").at(-1)!)] : []);
            expect(extra.every((line) => line.endsWith("\t")), step).toBe(true);
          }
          await expectBootable(tree, `${step}, then the next command`);
          // Every file and link (generations, boot entries and files, GC
          // roots, pointers) as that state has them; nothing left over.
          expect(stateDiff(await snapshot(tree), states[agreed]!, agreed === 0 ? states[1] : {}), step).toEqual([]);
        }),
      );
    });
  }

  it("completing an interrupted delete keeps a generation that was booted in between", async () => {
    const tree = await fresh(trees.world.history);
    const interrupted = await runHelper(shell, tree, ["system", "delete-generations", "1..2"], { now: DATES.now, fault: "remove-entries" });
    expect(interrupted.signal).toBe("SIGKILL");
    // A reboot into generation 1 (chosen before its entry went) while the delete was pending.
    await rm(join(tree, "run/booted-system"));
    await symlink(trees.world.closures.a.path, join(tree, "run/booted-system"));
    const completed = await next(tree);
    expect(completed.exitCode, completed.stderr).toBe(0);
    expect(completed.stderr).toContain("fruix: keeping generation 1 of an interrupted delete-generations: it is in use now");
    expect(await readlink(join(tree, SYSTEM, "generations/1/closure"))).toBe(trees.world.closures.a.path);
    expect(await readlink(join(tree, "frx/var/fruix/gcroots/system-1"))).toBe(trees.world.closures.a.path);
    await expect(readlink(join(tree, SYSTEM, "generations/2/closure"))).rejects.toThrow(/ENOENT/);
    await expect(readlink(join(tree, "frx/var/fruix/gcroots/system-2"))).rejects.toThrow(/ENOENT/);
    expect((await list(tree)).split("\n").map((line) => line.split("\t")[0])).toEqual(["1", "3", "4", "5"]);
    expect((await readdir(join(tree, SYSTEM))).filter((name) => name === "deleting")).toEqual([]);
  });

  it("the comparison above catches a half-deleted state (what a delete without its recorded intent left)", async () => {
    const args = ["system", "delete-generations", "1..2"];
    const done = await fresh(trees.world.history);
    expect((await runHelper(shell, done, args, { now: DATES.now })).exitCode).toBe(0);
    expect((await next(done)).exitCode).toBe(0);
    for (const step of ["remove-entries", "remove-gcroots"]) {
      const tree = await fresh(trees.world.history);
      expect((await runHelper(shell, tree, args, { now: DATES.now, fault: step })).signal).toBe("SIGKILL");
      // Without the intent, nothing tells the next command to finish.
      await rm(join(tree, SYSTEM, "deleting"));
      expect((await next(tree)).exitCode).toBe(0);
      const diff = stateDiff(await snapshot(tree), await snapshot(done));
      expect(diff, step).toContain(`extra ${SYSTEM}/generations/1`);
      expect(diff, step).toContain(`extra ${SYSTEM}/generations/2`);
      expect(await list(tree), step).not.toBe(await list(done));
    }
  });
});
