// Crash safety of the helper's generation commands: FRUIX_FAULT_AFTER=STEP
// kills the helper right after STEP (as a power cut would). For every step of
// switch, rollback and delete-generations, the interrupted tree must boot what
// the old or the new state boots, stay bootable, report old or new pointers,
// and be left by the next command with the files and links of the old or the
// new state (a switch interrupted before its commit may also leave the new
// generation's own files: see stateDiff).
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DATES, helper, runHelper, shells, snapshot, worldFixture } from "./helpers/guest-tree.js";
import { chooseEntry, sdBoot } from "./helpers/sd-boot.js";

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
// Trial boots: switch --trial arms, assess-boot blesses, marks bad or reverts.
const ARM_STEPS = ["boot-files", "gcroot-generation", "generation", "trial-entry", "trial-record", "trial-default"];
const BLESS_STEPS = ["bless-entry", ...POINTER_STEPS, "bless-cleanup", "trial-finish"];
const MARK_BAD_STEPS = ["trial-reason", "mark-bad"];
const REVERT_STEPS = ["record-failure", "last-failed", "remove-trial-entry", "fallback-default", "trial-finish"];

it("every step the helper names is exercised here", async () => {
  const script = await readFile(helper, "utf8");
  const named = new Set([...script.matchAll(/^\s*step ([a-z-]+)$/gm)].map((m) => m[1]));
  const all = [...SWITCH_STEPS, ...ROLLBACK_STEPS, ...DELETE_STEPS, ...ARM_STEPS, ...BLESS_STEPS, ...MARK_BAD_STEPS, ...REVERT_STEPS];
  expect([...named].sort()).toEqual([...new Set(all)].sort());
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
  // The default may be a pattern (a trial's): the entry systemd-boot picks must exist.
  const name = /^default (\S+)$/m.exec(loader)?.[1];
  expect(entries, label).toContain(name?.includes("*") ? chooseEntry(entries, name)?.name : name);
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

/**
 * A trial interrupted at any step of arm, bless, mark-bad or revert: the
 * power cut is followed by boots (systemd-boot's choice and counting, as
 * test/helpers/sd-boot.ts models them) and assess-boot at each, until the
 * trial is over. Every boot starts generation 1 or 2 from an entry whose
 * files exist, and the trial ends blessed (2 current, 1 rollback) or fallen
 * back (1 current, 2's failure recorded), with nothing of the trial left.
 */
describe.each(shells)("interrupted trial boots under %s", (_name, shell) => {
  const trees = worldFixture("fruix-trial-faults-", shell);
  type Flow = "passes" | "fails its checks" | "panics";

  /** A booted machine: activation (when it succeeds), then assess-boot. */
  async function boot(tree: string, flow: Flow, fault?: string) {
    const booted = await sdBoot(tree);
    const trialBoot = booted.cmdline.includes("fruix.trial=");
    if (trialBoot && flow === "panics") return { booted, assess: null };
    if (!trialBoot || flow === "passes") {
      await mkdir(join(tree, "run/fruix"), { recursive: true });
      await writeFile(join(tree, "run/fruix/activated"), "");
    }
    const assess = await runHelper(shell, tree, ["system", "assess-boot"], { now: DATES.now, fault });
    return { booted, assess };
  }

  const arm = (tree: string, fault?: string) => runHelper(shell, tree, ["system", "switch", "--trial", trees.world.closures.b.path], { now: DATES.now, fault });

  async function prepared(): Promise<string> {
    const tree = await trees.fresh(trees.world.base);
    // b's checks: the default's first part, with a short deadline.
    await writeFile(join(tree, trees.world.closures.b.path, "metadata/health-checks"), "deadline 1\nactivation\n");
    return tree;
  }

  async function settle(tree: string, flow: Flow, label: string): Promise<void> {
    const a = trees.world.closures.a.path;
    const b = trees.world.closures.b.path;
    // At least one boot: its assess-boot also clears what an arm cut before its commit left.
    for (let i = 0; i === 0 || (i < 5 && existsSync(join(tree, SYSTEM, "trial"))); i++) {
      const { booted, assess } = await boot(tree, flow);
      expect([a, b], `${label}: boot ${i}`).toContain(booted.closure);
      await expectBootable(tree, `${label}: boot ${i}`);
      if (assess) expect(assess.exitCode, `${label}: ${assess.stderr}`).toBe(0);
    }
    expect(existsSync(join(tree, SYSTEM, "trial")), `${label}: trial over`).toBe(false);
  }

  async function outcome(tree: string, label: string): Promise<"blessed" | "fell-back" | "never-armed"> {
    const current = await readlink(join(tree, SYSTEM, "current"));
    const loader = await readFile(join(tree, ESP, "loader/loader.conf"), "utf8");
    const entries = await readdir(join(tree, ESP, "loader/entries"));
    expect(entries.filter((e) => e.includes("trial") || e.includes("+")), label).toEqual([]);
    expect(existsSync(join(tree, SYSTEM, "trial-reason")), label).toBe(false);
    expect(existsSync(join(tree, SYSTEM, "pending")), label).toBe(false);
    await expectBootable(tree, label);
    if (current === "generations/2") {
      expect(loader, label).toMatch(/^default fruix-generation-2\.conf$/m);
      expect(await readlink(join(tree, SYSTEM, "rollback")), label).toBe("generations/1");
      expect(existsSync(join(tree, SYSTEM, "generations/2/trial-failed")), label).toBe(false);
      return "blessed";
    }
    expect(current, label).toBe("generations/1");
    expect(loader, label).toMatch(/^default fruix-generation-1\.conf$/m);
    if (!existsSync(join(tree, SYSTEM, "generations/2/trial-failed"))) return "never-armed";
    expect(await readFile(join(tree, SYSTEM, "last-failed-trial"), "utf8")).toBe(await readFile(join(tree, SYSTEM, "generations/2/trial-failed"), "utf8"));
    return "fell-back";
  }

  const flows: Array<[Flow, "blessed" | "fell-back"]> = [
    ["passes", "blessed"],
    ["fails its checks", "fell-back"],
    ["panics", "fell-back"],
  ];

  it("status and list-generations show the trial, then the failed trial with its reason; refusals change nothing", async () => {
    const tree = await prepared();
    const status = async () => (await runHelper(shell, tree, ["system", "status"])).stdout;
    expect(await status()).toMatch(/\ntrial_generation=none\nlast_failed_trial=none$/);
    expect((await arm(tree)).exitCode).toBe(0);
    expect(await status()).toMatch(/\ntrial_generation=2\ntrial_fallback_generation=1\ntrial_state=armed\nlast_failed_trial=none$/);
    expect((await runHelper(shell, tree, ["system", "list-generations"])).stdout.split("\n")[1]).toMatch(/^2\t.*\ttrial$/);
    // While the trial is pending: no other switch or rollback, and the trial generation is kept.
    const before = await snapshot(tree);
    const again = await arm(tree);
    expect([again.exitCode, again.stderr]).toEqual([1, "fruix: generation 2 is on trial (fallback 1): reboot to finish its trial first, or run 'fruix system assess-boot' if its boot is over (see 'fruix system status')"]);
    const plain = await runHelper(shell, tree, ["system", "switch", trees.world.closures.c.path], { now: DATES.now });
    expect(plain.exitCode).toBe(1);
    const kept = await runHelper(shell, tree, ["system", "delete-generations", "2"], { now: DATES.now });
    expect([kept.exitCode, kept.stderr]).toEqual([1, "fruix: nothing deleted: generation 2 is trial"]);
    expect(await snapshot(tree)).toEqual(before);

    const trialBoot = await boot(tree, "fails its checks");
    expect(trialBoot.booted.entry).toBe("fruix-generation-1.trial-2+0-1.conf");
    expect(trialBoot.assess!.stdout).toBe("trial=failed\ntrial_generation=2\nreason=activation has not finished (deadline 1 s)\nreboot_required=yes");
    expect(await status()).toContain("trial_generation=2\ntrial_fallback_generation=1\ntrial_state=booted\n");
    const fallback = await boot(tree, "fails its checks");
    expect(fallback.booted.entry).toBe("fruix-generation-1.conf");
    expect(fallback.assess!.stdout).toContain("trial=fell-back\ntrial_generation=2\ncurrent_generation=1\n");
    const after = await status();
    expect(after).toContain("current_generation=1\n");
    expect(after).toMatch(/trial_generation=none\nlast_failed_trial=2\nlast_failed_trial_time=2026-03-03T00:00:00Z\nlast_failed_trial_reason=activation has not finished \(deadline 1 s\)$/);
    expect((await runHelper(shell, tree, ["system", "list-generations"])).stdout.split("\n")[1]).toMatch(/^2\t.*\tfailed-trial$/);
  });

  for (const [flow, expected] of flows) {
    it(`a candidate that ${flow}: uninterrupted, it ends ${expected}`, async () => {
      const tree = await prepared();
      const armed = await arm(tree);
      expect(armed.exitCode, armed.stderr).toBe(0);
      expect(armed.stdout).toContain("trial_generation=2\nfallback_generation=1\n");
      await settle(tree, flow, flow);
      expect(await outcome(tree, flow)).toBe(expected);
    });

    const steps = [
      ...ARM_STEPS.map((step) => ({ step, when: "arm" })),
      ...(flow === "passes" ? BLESS_STEPS : flow === "fails its checks" ? [...MARK_BAD_STEPS, ...REVERT_STEPS] : REVERT_STEPS).map((step) => ({ step, when: "assess" })),
    ];
    it(`a candidate that ${flow}: cut after any step, every boot starts generation 1 or 2 and the trial ends whole`, async () => {
      await Promise.all(
        steps.map(async ({ step, when }) => {
          const label = `${when} ${step}`;
          const tree = await prepared();
          if (when === "arm") {
            expect((await arm(tree, step)).signal, label).toBe("SIGKILL");
          } else {
            expect((await arm(tree)).exitCode, label).toBe(0);
            // Boots until the step runs (the trial boot, or the boot after it).
            let cut = false;
            for (let i = 0; i < 3 && !cut; i++) {
              const { assess } = await boot(tree, flow, step);
              cut = assess?.signal === "SIGKILL";
            }
            expect(cut, label).toBe(true);
          }
          await settle(tree, flow, label);
          const result = await outcome(tree, label);
          const before = when === "arm" && ARM_STEPS.indexOf(step) < ARM_STEPS.indexOf("trial-record");
          // Cut before its commit, the arm never happened; a cut bless before its commit falls back.
          const committed = flow !== "passes" || when === "arm" || BLESS_STEPS.indexOf(step) >= BLESS_STEPS.indexOf("commit");
          expect(result, label).toBe(before ? "never-armed" : committed ? expected : "fell-back");
        }),
      );
    });
  }
});
