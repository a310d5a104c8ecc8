// The in-guest helper's generation commands (switch, rollback,
// list-generations, delete-generations) on fake installed trees (FRUIX_ROOT),
// under every shell it must support. Fault injection is in
// guest-generations-faults.test.ts.
import { chmod, mkdir, readdir, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { espPathFor, loaderConf } from "../lib/family/linux-busybox/boot-entries.js";
import { generationMetadata } from "../lib/system/generation.js";
import { DATES, entryFor, runHelper, shells, snapshot, worldFixture, type RunOptions } from "./helpers/guest-tree.js";

const SYSTEM = "var/lib/fruix/system";
const GCROOTS = "frx/var/fruix/gcroots";
const ESP = "boot/efi";

describe.each(shells)("fruix system generations under %s", (_name, shell) => {
  const trees = worldFixture("fruix-generations-", shell);
  const fresh = (template: string) => trees.fresh(template);
  const run = (tree: string, args: string[], options: RunOptions = {}) => runHelper(shell, tree, ["system", ...args], options);
  const text = (tree: string, path: string) => readFile(join(tree, path), "utf8");
  const link = (tree: string, path: string) => readlink(join(tree, path));
  /** Paths an interrupted or unfinished run would leave. */
  const leftovers = async (tree: string) => Object.keys(await snapshot(tree)).filter((p) => /\.fruix-|\.lock$|\/pending$|\/deleting$/.test(p));
  const numbers = (stdout: string) => (stdout ? stdout.split("\n").map((line) => Number(line.split("\t")[0])) : []);

  describe("switch", () => {
    it("records generation 2, copies the boot files the ESP lacks, and stages it as the boot default", async () => {
      const { a, b } = trees.world.closures;
      const tree = await fresh(trees.world.base);
      const sharedKernel = join(tree, ESP, espPathFor(b.kernel));
      const kernelInode = (await stat(sharedKernel)).ino;

      const result = await run(tree, ["switch", b.path], { now: DATES.g2 });
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      expect(result.stdout.split("\n")).toEqual(["current_generation=2", "rollback_generation=1", `closure=${b.path}`, "reboot_required=yes"]);

      const generation = `${SYSTEM}/generations/2`;
      expect((await readdir(join(tree, generation))).sort()).toEqual(["closure", "install.scm", "metadata.scm", "provenance.scm"]);
      expect(await link(tree, `${generation}/closure`)).toBe(b.path);
      expect(await text(tree, `${generation}/metadata.scm`)).toBe(generationMetadata(2, b.path, DATES.g2));
      expect(await text(tree, `${generation}/provenance.scm`)).toBe(await text(tree, `${b.path}/metadata/provenance.scm`));
      expect(await text(tree, `${generation}/install.scm`)).toBe(
        `(switch\n (format 1)\n (generation 2)\n (closure "${b.path}")\n (previous-generation 1)\n` +
          ` (previous-closure "${a.path}")\n (switched "${DATES.g2}"))\n`,
      );

      expect(await link(tree, `${SYSTEM}/current`)).toBe("generations/2");
      expect(await text(tree, `${SYSTEM}/current-generation`)).toBe("2\n");
      expect(await link(tree, `${SYSTEM}/rollback`)).toBe("generations/1");
      expect(await text(tree, `${SYSTEM}/rollback-generation`)).toBe("1\n");
      expect((await readdir(join(tree, GCROOTS))).sort()).toEqual(["current-system", "rollback-system", "system-1", "system-2"]);
      expect(await link(tree, `${GCROOTS}/system-1`)).toBe(a.path);
      expect(await link(tree, `${GCROOTS}/system-2`)).toBe(b.path);
      expect(await link(tree, `${GCROOTS}/current-system`)).toBe(b.path);
      expect(await link(tree, `${GCROOTS}/rollback-system`)).toBe(a.path);

      expect(await text(tree, `${ESP}/loader/entries/fruix-generation-2.conf`)).toBe(entryFor(b, 2, DATES.g2));
      expect(await text(tree, `${ESP}/loader/entries/fruix-generation-1.conf`)).toBe(entryFor(a, 1, DATES.g1));
      expect(await text(tree, `${ESP}/loader/loader.conf`)).toBe(loaderConf(2));
      // b's initrd is new on the ESP; its kernel is a's, left untouched (same inode: not copied again).
      expect(await text(tree, `${ESP}${espPathFor(b.initrd)}`)).toBe(await text(tree, b.initrd));
      expect((await stat(sharedKernel)).ino).toBe(kernelInode);
      expect((await readdir(join(tree, ESP, "fruix"))).sort()).toEqual(
        [a.kernel, a.initrd, b.initrd].map((file) => espPathFor(file).split("/")[2]).sort(),
      );
      expect(await leftovers(tree)).toEqual([]);
    });

    it("writes the entry from the candidate's own host name and kernel arguments", async () => {
      const { f } = trees.world.closures;
      const tree = await fresh(trees.world.switched);
      const result = await run(tree, ["switch", f.path], { now: DATES.g5 });
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toContain("current_generation=3\nrollback_generation=2\n");
      const entry = await text(tree, `${ESP}/loader/entries/fruix-generation-3.conf`);
      expect(entry).toBe(entryFor(f, 3, DATES.g5));
      expect(entry).toMatch(/^title Fruix beta, generation 3 \(2026-03-01\)$/m);
    });

    it("leaves status with the booted generation and the staged one", async () => {
      const { a, b } = trees.world.closures;
      const tree = await fresh(trees.world.switched);
      await mkdir(join(tree, "run"), { recursive: true });
      await symlink(a.path, join(tree, "run/booted-system"));
      const status = await run(tree, ["status"]);
      expect(status.exitCode).toBe(0);
      expect(status.stdout.split("\n")).toEqual([
        "booted_generation=1",
        `booted_closure=${a.path}`,
        `booted_created=${DATES.g1}`,
        "current_generation=2",
        `current_closure=${b.path}`,
        `current_created=${DATES.g2}`,
        "rollback_generation=1",
        `rollback_closure=${a.path}`,
        `rollback_created=${DATES.g1}`,
        "trial_generation=none",
        "last_failed_trial=none",
      ]);
      const list = await run(tree, ["list-generations"]);
      expect(list.stdout).toBe(`1\t${DATES.g1}\t${a.path}\trollback booted\n2\t${DATES.g2}\t${b.path}\tcurrent`);
    });
  });

  describe("rollback", () => {
    it("makes the rollback generation current and the boot default; a second rollback returns", async () => {
      const { a, b } = trees.world.closures;
      const tree = await fresh(trees.world.switched);
      await mkdir(join(tree, "run"), { recursive: true });
      await symlink(a.path, join(tree, "run/booted-system"));
      const switched = await snapshot(tree);

      const back = await run(tree, ["rollback"]);
      expect(back.stderr).toBe("");
      expect(back.exitCode).toBe(0);
      // Generation 1 is what runs: no reboot needed.
      expect(back.stdout.split("\n")).toEqual(["current_generation=1", "rollback_generation=2", `closure=${a.path}`, "reboot_required=no"]);
      expect(await link(tree, `${SYSTEM}/current`)).toBe("generations/1");
      expect(await text(tree, `${SYSTEM}/current-generation`)).toBe("1\n");
      expect(await link(tree, `${SYSTEM}/rollback`)).toBe("generations/2");
      expect(await text(tree, `${SYSTEM}/rollback-generation`)).toBe("2\n");
      expect(await link(tree, `${GCROOTS}/current-system`)).toBe(a.path);
      expect(await link(tree, `${GCROOTS}/rollback-system`)).toBe(b.path);
      expect(await text(tree, `${ESP}/loader/loader.conf`)).toBe(loaderConf(1));
      expect((await readdir(join(tree, `${SYSTEM}/generations`))).sort()).toEqual(["1", "2"]);
      expect(await text(tree, `${ESP}/loader/entries/fruix-generation-2.conf`)).toBe(entryFor(b, 2, DATES.g2));
      const status = await run(tree, ["status"]);
      expect(status.stdout).toContain("booted_generation=1\n");
      expect(status.stdout).toContain("current_generation=1\n");
      expect(status.stdout).toContain("rollback_generation=2\n");

      const again = await run(tree, ["rollback"]);
      expect(again.exitCode).toBe(0);
      expect(again.stdout.split("\n")).toEqual(["current_generation=2", "rollback_generation=1", `closure=${b.path}`, "reboot_required=yes"]);
      // Every pointer, root and boot file is as the switch left it.
      expect(await snapshot(tree)).toEqual(switched);
    });

    it("puts back the rollback generation's boot files and entry when the ESP lost them", async () => {
      const { a } = trees.world.closures;
      const tree = await fresh(trees.world.switched);
      await rm(join(tree, ESP, "loader/entries/fruix-generation-1.conf"));
      await rm(join(tree, ESP, dirname(espPathFor(a.initrd))), { recursive: true });
      const result = await run(tree, ["rollback"]);
      expect(result.exitCode).toBe(0);
      expect(await text(tree, `${ESP}/loader/entries/fruix-generation-1.conf`)).toBe(entryFor(a, 1, DATES.g1));
      expect(await text(tree, `${ESP}${espPathFor(a.initrd)}`)).toBe(await text(tree, a.initrd));
      expect(await text(tree, `${ESP}/loader/loader.conf`)).toBe(loaderConf(1));
    });
  });

  describe("switch-generation", () => {
    it("makes any generation current and the boot default, the current one becoming the rollback", async () => {
      const { a, c } = trees.world.closures;
      const tree = await fresh(trees.world.switched);
      expect((await run(tree, ["switch", c.path])).exitCode).toBe(0); // generation 3, rollback 2
      const result = await run(tree, ["switch-generation", "1"]);
      expect([result.exitCode, result.stderr]).toEqual([0, ""]);
      expect(result.stdout.split("\n")).toEqual(["current_generation=1", "rollback_generation=3", `closure=${a.path}`, "reboot_required=yes"]);
      expect(await link(tree, `${SYSTEM}/current`)).toBe("generations/1");
      expect(await link(tree, `${SYSTEM}/rollback`)).toBe("generations/3");
      expect(await link(tree, `${GCROOTS}/current-system`)).toBe(a.path);
      expect(await text(tree, `${ESP}/loader/loader.conf`)).toBe(loaderConf(1));
      expect(await leftovers(tree)).toEqual([]);
    });

    it("refuses the current generation, a missing one and a non-number, changing nothing", async () => {
      const tree = await fresh(trees.world.switched);
      const before = await snapshot(tree);
      const cases: Array<[string, number, string]> = [
        ["2", 1, "fruix: generation 2 is the current generation already"],
        ["9", 1, "fruix: no generation 9 (see 'fruix system list-generations')"],
        ["x", 2, "fruix: switch-generation needs a generation number, not 'x'"],
      ];
      for (const [n, code, line] of cases) {
        const result = await run(tree, ["switch-generation", n]);
        expect([result.exitCode, result.stderr, result.stdout], n).toEqual([code, line, ""]);
      }
      expect(await snapshot(tree)).toEqual(before);
    });
  });

  describe("refusals change nothing", () => {
    interface Refusal {
      readonly what: string;
      readonly template: () => string;
      readonly prepare?: (tree: string) => Promise<void>;
      readonly args: () => string[];
      readonly error: RegExp;
    }
    const missing = "/frx/store/00000000000000000000000000000000000000000000000000000000000000ff-fruix-system-alpha";
    const refusals: Refusal[] = [
      {
        what: "a closure that is not in the local store",
        template: () => trees.world.base,
        args: () => ["switch", missing],
        error: /^fruix: \/frx\/store\/0+ff-fruix-system-alpha is not in the local store \(copy its closure to this machine first\)$/,
      },
      { what: "a path outside /frx/store", template: () => trees.world.base, args: () => ["switch", "/tmp/fruix-system-alpha"], error: /is not in \/frx\/store/ },
      {
        what: "a path inside a store item",
        template: () => trees.world.base,
        args: () => ["switch", `${trees.world.closures.b.path}/boot`],
        error: /\/boot is not a store item/,
      },
      {
        what: "a store item that is not a system closure",
        template: () => trees.world.base,
        args: () => ["switch", dirname(trees.world.files.k2)],
        error: /-linux-6\.1\.0-2 is not a Fruix system closure \(no metadata\/metadata\.scm starting with \(fruix-system\)$/,
      },
      {
        what: "a closure copied in part: an item its store-layout.scm references is missing",
        template: () => trees.world.base,
        prepare: async (tree) => {
          const layout = join(tree, trees.world.closures.b.path, "metadata/store-layout.scm");
          const present = dirname(trees.world.files.k2);
          const gone = "/frx/store/00000000000000000000000000000000000000000000000000000000000000ee-busybox-1";
          await writeFile(layout, `(store-layout\n (store "/frx/store")\n (item-count 2)\n (references\n  ("${present}" "${gone}")))\n`);
        },
        args: () => ["switch", trees.world.closures.b.path],
        error: /^fruix: \/frx\/store\/\S+-fruix-system-alpha-b is incomplete: \/frx\/store\/0+ee-busybox-1, which it references, is not in the local store \(copy the whole closure, e.g. with 'fruix system copy'\)$/,
      },
      {
        what: "a system closure without boot/init",
        template: () => trees.world.base,
        args: () => ["switch", trees.world.closures.noInit.path],
        error: /is not a Fruix system closure \(no boot\/init\)$/,
      },
      {
        what: "a switch with no ESP mounted",
        template: () => trees.world.base,
        prepare: async (tree) => {
          await rm(join(tree, ESP), { recursive: true });
          await mkdir(join(tree, ESP)); // the bare mount point
        },
        args: () => ["switch", trees.world.closures.b.path],
        error: /^fruix: no EFI system partition mounted at .*\/boot\/efi \(loader\/loader\.conf is missing\); mount it and retry$/,
      },
      {
        what: "a switch without a generation layout",
        template: () => trees.world.base,
        prepare: (tree) => rm(join(tree, SYSTEM), { recursive: true }),
        args: () => ["switch", trees.world.closures.b.path],
        error: /^fruix: no generation layout at .*\/var\/lib\/fruix\/system \(is this an installed Fruix system\?\)$/,
      },
      {
        what: "a rollback with no rollback generation recorded",
        template: () => trees.world.base,
        args: () => ["rollback"],
        error: /^fruix: no rollback generation recorded \(there is one after a switch\)$/,
      },
      {
        what: "a rollback whose generation directory is gone",
        template: () => trees.world.switched,
        prepare: (tree) => rm(join(tree, SYSTEM, "generations/1"), { recursive: true }),
        args: () => ["rollback"],
        error: /^fruix: rollback generation 1 is gone \(.*\/generations\/1 is missing\)$/,
      },
      {
        what: "a rollback with no ESP mounted",
        template: () => trees.world.switched,
        prepare: (tree) => rm(join(tree, ESP, "loader/loader.conf")),
        args: () => ["rollback"],
        error: /no EFI system partition mounted/,
      },
      {
        what: "deleting an unknown generation",
        template: () => trees.world.history,
        args: () => ["delete-generations", "9"],
        error: /^fruix: no generation 9 \(see 'fruix system list-generations'\)$/,
      },
      { what: "deleting a list naming an unknown generation", template: () => trees.world.history, args: () => ["delete-generations", "1,9"], error: /no generation 9/ },
    ];

    for (const refusal of refusals) {
      it(`refuses ${refusal.what}`, async () => {
        const tree = await fresh(refusal.template());
        await refusal.prepare?.(tree);
        const before = await snapshot(tree);
        const result = await run(tree, refusal.args(), { now: DATES.now });
        expect(result.stderr).toMatch(refusal.error);
        expect(result.stderr).not.toContain("\n");
        expect(result.exitCode).toBe(1);
        expect(result.stdout).toBe("");
        expect(await snapshot(tree)).toEqual(before);
      });
    }

    it("rejects wrong arguments with one line naming the command's usage, and exit 2", async () => {
      const tree = await fresh(trees.world.switched);
      const before = await snapshot(tree);
      const usages: Array<[string[], string]> = [
        [["switch"], "switch [--trial] /frx/store/...-fruix-system-..."],
        [["switch", "a", "b"], "switch [--trial] /frx/store/...-fruix-system-..."],
        [["switch", "--trial"], "switch [--trial] /frx/store/...-fruix-system-..."],
        [["assess-boot", "now"], "assess-boot"],
        [["rollback", "now"], "rollback"],
        [["delete-generations"], "delete-generations PATTERN"],
        [["delete-generations", "1", "2"], "delete-generations PATTERN"],
        [["list-generations", "1", "2"], "list-generations [PATTERN]"],
        [["status", "x"], "status"],
      ];
      for (const [args, usage] of usages) {
        const result = await run(tree, args);
        expect(result.exitCode, args.join(" ")).toBe(2);
        expect(result.stderr, args.join(" ")).toBe(`fruix: wrong arguments to ${args[0]} (usage: fruix system ${usage})`);
        expect(result.stdout, args.join(" ")).toBe("");
      }
      expect(await snapshot(tree)).toEqual(before);
    });

    // Under BusyBox sh, applets win over PATH, so a fake df cannot be slipped in.
    it.skipIf(shell[0] === "busybox")("refuses boot files the ESP has no room for, and counts only missing ones", async () => {
      const tree = await fresh(trees.world.switched);
      const bin = trees.scratch("fake-df");
      await mkdir(bin);
      await writeFile(join(bin, "df"), "#!/bin/sh\necho 'Filesystem 1024-blocks Used Available Capacity Mounted on'\necho 'esp 1000 999 1 99% /boot/efi'\n");
      await chmod(join(bin, "df"), 0o755);
      const path = `${bin}:${process.env.PATH}`;
      const before = await snapshot(tree);
      const full = await run(tree, ["switch", trees.world.closures.c.path], { now: DATES.now, path });
      expect(full.stderr).toMatch(/^fruix: the EFI system partition at .*\/boot\/efi has 1 KiB free; the new boot files need \d+ KiB$/);
      expect(full.exitCode).toBe(1);
      expect(await snapshot(tree)).toEqual(before);
      // a's kernel and initrd are on the ESP already: nothing to copy, nothing to measure.
      const again = await run(tree, ["switch", trees.world.closures.a.path], { now: DATES.now, path });
      expect(again.exitCode).toBe(0);
    });
  });

  describe("the lock", () => {
    const LOCK = "run/fruix-generations.lock";

    it("lives under /run: a live lock refuses with one line, and a reboot (a fresh /run) clears it", async () => {
      const tree = await fresh(trees.world.switched);
      // A switch killed mid-way leaves its lock, only under run/.
      const cut = await run(tree, ["switch", trees.world.closures.c.path], { now: DATES.now, fault: "boot-files" });
      expect(cut.signal).toBe("SIGKILL");
      expect(Object.keys(await snapshot(tree)).filter((p) => p.endsWith(".lock"))).toEqual([LOCK]);
      // Its pid now belongs to a live process (this test's), as a pid can after a reboot.
      await writeFile(join(tree, LOCK, "pid"), `${process.pid}\n`);
      const before = await snapshot(tree);
      const refused = await run(tree, ["rollback"], { now: DATES.now });
      expect(refused.stderr).toBe(`fruix: another fruix (pid ${process.pid}) is changing generations; retry when it is done`);
      expect(refused.exitCode).toBe(1);
      expect(await snapshot(tree)).toEqual(before);
      // The boot mounts an empty /run.
      await rm(join(tree, "run"), { recursive: true });
      await mkdir(join(tree, "run"));
      const after = await run(tree, ["rollback"], { now: DATES.now });
      expect(after.stderr).toBe("");
      expect(after.exitCode).toBe(0);
      expect(await leftovers(tree)).toEqual([]);
    });

    it("ignores, and removes, a lock that helpers before /run kept under /var, even naming a live process", async () => {
      const tree = await fresh(trees.world.switched);
      await mkdir(join(tree, SYSTEM, ".lock"));
      await writeFile(join(tree, SYSTEM, ".lock/pid"), `${process.pid}\n`);
      const result = await run(tree, ["rollback"], { now: DATES.now });
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      expect(await leftovers(tree)).toEqual([]);
    });

    it("creates /run in a tree that lacks it, and leaves no lock behind", async () => {
      const tree = await fresh(trees.world.switched);
      await rm(join(tree, "run"), { recursive: true });
      const result = await run(tree, ["rollback"], { now: DATES.now });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(await readdir(join(tree, "run"))).toEqual([]);
    });
  });

  describe("generation patterns", () => {
    const selections: Array<[string, number[]]> = [
      ["3", [3]],
      ["03", [3]],
      ["2,4", [2, 4]],
      ["4,2,4", [2, 4]],
      ["2..4", [2, 3, 4]],
      ["4..", [4, 5]],
      ["..2", [1, 2]],
      ["7..9", []],
      ["10d", [1, 2, 3, 4]], // created before 2026-02-21
      ["2w", [1, 2, 3]], // before 2026-02-17
      ["1m", [1, 2]], // 30 days: before 2026-02-01
      ["2d", [1, 2, 3, 4]], // generation 5 is exactly 2 days old: not more
      ["100d", []],
    ];

    it("lists every generation with its date, closure and roles", async () => {
      const { a, b, c, d, f } = trees.world.closures;
      const result = await run(trees.world.history, ["list-generations"]);
      expect(result.exitCode).toBe(0);
      expect(result.stdout.split("\n")).toEqual([
        `1\t${DATES.g1}\t${a.path}\t`,
        `2\t${DATES.g2}\t${b.path}\t`,
        `3\t${DATES.g3}\t${c.path}\tbooted`,
        `4\t${DATES.g4}\t${d.path}\trollback`,
        `5\t${DATES.g5}\t${f.path}\tcurrent`,
      ]);
    });

    it("selects generations by number, list, range and age", async () => {
      for (const [pattern, expected] of selections) {
        const result = await run(trees.world.history, ["list-generations", pattern], { now: DATES.now });
        expect(result.exitCode, pattern).toBe(0);
        expect(numbers(result.stdout), pattern).toEqual(expected);
      }
    });

    it("rejects malformed patterns with exit 2 and unknown generations with exit 1, in list and delete alike, changing nothing", async () => {
      const tree = await fresh(trees.world.history);
      const before = await snapshot(tree);
      for (const command of ["list-generations", "delete-generations"]) {
        for (const pattern of ["", "abc", "1..2..3", "3..1", "..", "1,", ",1", "1,,2", "5y", "d", "-1", "1.5d", "2x", "1,2..3"]) {
          const result = await run(tree, [command, pattern], { now: DATES.now });
          expect(result.stderr, `${command} '${pattern}'`).toBe(
            `fruix: malformed generation pattern '${pattern}' (use N, N,M, N..M, N.., ..M, or a duration: 10d, 2w, 1m)`,
          );
          expect(result.exitCode, `${command} '${pattern}'`).toBe(2);
          expect(result.stdout).toBe("");
        }
        for (const pattern of ["9", "0", "2,9"]) {
          const result = await run(tree, [command, pattern], { now: DATES.now });
          expect(result.stderr, `${command} ${pattern}`).toMatch(/^fruix: no generation (9|0) \(see 'fruix system list-generations'\)$/);
          expect(result.exitCode, `${command} ${pattern}`).toBe(1);
        }
      }
      expect(await snapshot(tree)).toEqual(before);
    });
  });

  describe("delete-generations", () => {
    it("removes a generation, its entry, its GC root, and boot files no other entry loads", async () => {
      const { b } = trees.world.closures;
      const tree = await fresh(trees.world.history);
      const before = await snapshot(tree);
      const result = await run(tree, ["delete-generations", "2"], { now: DATES.now });
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe("deleted_generations=2\nkept_generations=");

      const after = await snapshot(tree);
      const initrdDir = `${ESP}${dirname(espPathFor(b.initrd))}`;
      // Only these went; b's kernel stays, a's entry loads it too.
      expect(Object.keys(before).filter((p) => !(p in after))).toEqual(
        [
          `${ESP}/loader/entries/fruix-generation-2.conf`,
          initrdDir,
          `${initrdDir}/initrd.img`,
          `${GCROOTS}/system-2`,
          `${SYSTEM}/generations/2`,
          `${SYSTEM}/generations/2/closure`,
          `${SYSTEM}/generations/2/install.scm`,
          `${SYSTEM}/generations/2/metadata.scm`,
          `${SYSTEM}/generations/2/provenance.scm`,
        ].sort(),
      );
      expect(Object.keys(after).filter((p) => !(p in before) || before[p] !== after[p])).toEqual([]);
      expect(after[`${ESP}${espPathFor(b.kernel)}`]).toBeDefined();
    });

    it("keeps the booted generation and says why, deleting the others a range selects", async () => {
      const { c, d, f } = trees.world.closures;
      const tree = await fresh(trees.world.history);
      const result = await run(tree, ["delete-generations", "..3"], { now: DATES.now });
      expect(result.stderr).toBe("fruix: keeping generation 3 (booted: the running system)");
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe("deleted_generations=1 2\nkept_generations=3");
      expect((await readdir(join(tree, SYSTEM, "generations"))).sort()).toEqual(["3", "4", "5"]);
      expect((await readdir(join(tree, ESP, "loader/entries"))).sort()).toEqual(["fruix-generation-3.conf", "fruix-generation-4.conf", "fruix-generation-5.conf"]);
      expect((await readdir(join(tree, GCROOTS))).sort()).toEqual(["current-system", "rollback-system", "system-3", "system-4", "system-5"]);
      // k1 and i2 (a and b only) are gone; i1 stays for d.
      const expected = [c.kernel, c.initrd, d.initrd, f.kernel, f.initrd].map((file) => espPathFor(file).split("/")[2]);
      expect((await readdir(join(tree, ESP, "fruix"))).sort()).toEqual([...new Set(expected)].sort());
      expect(await text(tree, `${ESP}/loader/loader.conf`)).toBe(loaderConf(5));
      expect(await leftovers(tree)).toEqual([]);
    });

    it("after an interrupted delete, readers no longer list its generations, and the next switch completes it first", async () => {
      const { a, b, c } = trees.world.closures;
      const tree = await fresh(trees.world.history);
      const cut = await run(tree, ["delete-generations", "1..2"], { now: DATES.now, fault: "record-intent" });
      expect(cut.signal).toBe("SIGKILL");
      expect(await text(tree, `${SYSTEM}/deleting`)).toBe("1 2\n");
      // Nothing removed yet, but 1 and 2 are gone for readers.
      expect((await readdir(join(tree, SYSTEM, "generations"))).sort()).toEqual(["1", "2", "3", "4", "5"]);
      expect(numbers((await run(tree, ["list-generations"])).stdout)).toEqual([3, 4, 5]);
      const named = await run(tree, ["list-generations", "2"]);
      expect(named.stderr).toBe("fruix: no generation 2 (see 'fruix system list-generations')");
      expect(named.exitCode).toBe(1);

      const result = await run(tree, ["switch", c.path], { now: DATES.now });
      expect(result.stderr).toBe("fruix: completing an interrupted delete-generations (generations 1 2)");
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toContain("current_generation=6\n");
      expect((await readdir(join(tree, SYSTEM, "generations"))).sort()).toEqual(["3", "4", "5", "6"]);
      expect((await readdir(join(tree, ESP, "loader/entries"))).sort()).toEqual([3, 4, 5, 6].map((n) => `fruix-generation-${n}.conf`));
      expect((await readdir(join(tree, GCROOTS))).sort()).toEqual(["current-system", "rollback-system", "system-3", "system-4", "system-5", "system-6"]);
      // a's kernel and b's initrd were loaded by 1 and 2 only.
      const onEsp = (await readdir(join(tree, ESP, "fruix"))).sort();
      expect(onEsp).not.toContain(espPathFor(a.kernel).split("/")[2]);
      expect(onEsp).not.toContain(espPathFor(b.initrd).split("/")[2]);
      expect(await leftovers(tree)).toEqual([]);
      expect(Object.keys(await snapshot(tree))).not.toContain(`${SYSTEM}/deleting`);
    });

    it("deletes by age", async () => {
      const tree = await fresh(trees.world.history);
      const result = await run(tree, ["delete-generations", "1m"], { now: DATES.now });
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe("deleted_generations=1 2\nkept_generations=");
      expect(numbers((await run(tree, ["list-generations"])).stdout)).toEqual([3, 4, 5]);
    });

    const protectedCases: Array<[string, string]> = [
      ["5", "generation 5 is current"],
      ["4", "generation 4 is rollback"],
      ["3", "generation 3 is booted"],
      ["3..", "generation 3 is booted, 4 is rollback, 5 is current"],
      ["5,3", "generation 3 is booted, 5 is current"],
    ];
    for (const [pattern, kept] of protectedCases) {
      it(`refuses in one line to delete only protected generations (${pattern}), changing nothing`, async () => {
        const tree = await fresh(trees.world.history);
        const before = await snapshot(tree);
        const result = await run(tree, ["delete-generations", pattern], { now: DATES.now });
        expect(result.stderr).toBe(`fruix: nothing deleted: ${kept}`);
        expect(result.exitCode).toBe(1);
        expect(result.stdout).toBe("");
        expect(await snapshot(tree)).toEqual(before);
      });
    }

    it("names every role of a generation that has several in the refusal", async () => {
      const tree = await fresh(trees.world.history);
      // Booted 3 becomes the rollback generation as well.
      await rm(join(tree, SYSTEM, "rollback"));
      await symlink("generations/3", join(tree, SYSTEM, "rollback"));
      const result = await run(tree, ["delete-generations", "3"], { now: DATES.now });
      expect(result.stderr).toBe("fruix: nothing deleted: generation 3 is rollback and booted");
      expect(result.exitCode).toBe(1);
    });

    it("does nothing, successfully, when a range matches no generation", async () => {
      const tree = await fresh(trees.world.history);
      const before = await snapshot(tree);
      const result = await run(tree, ["delete-generations", "7.."], { now: DATES.now });
      expect(result.exitCode).toBe(0);
      expect(result.stderr).toBe("fruix: no generation matches '7..'; nothing to delete");
      expect(result.stdout).toBe("deleted_generations=\nkept_generations=");
      expect(await snapshot(tree)).toEqual(before);
    });
  });
});
