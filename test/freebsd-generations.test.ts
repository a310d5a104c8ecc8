// The in-guest helper's generations on a FreeBSD-shaped offline tree
// (FRUIX_ROOT): `fruix system rootfs` of a closure built from synthetic sets,
// with a second closure (the same base set, another kernel set, so the same
// world item and another kernel item) and a third (other sets, so another
// world) copied into its store. The FreeBSD boot switch is /boot/loader.conf (docs/generations.md);
// nothing here boots FreeBSD. Each command is also interrupted after each of
// its steps, as in guest-generations-faults.test.ts.
import { existsSync } from "node:fs";
import { readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDeclaration, selectSystem } from "../lib/declaration/index.js";
import { silentLogger } from "../lib/log.js";
import { packageRoot } from "../lib/paths.js";
import type { Store } from "../lib/store/index.js";
import { buildSystem, type SystemBuild } from "../lib/system/build.js";
import { loaderConfFor } from "../lib/family/freebsd/boot.js";
import { materializeRootfs } from "../lib/deploy/rootfs.js";
import { cleanupTempDirs, freshStore, removeTree, tempDir } from "./helpers/fixtures.js";
import { makeSyntheticSets } from "./helpers/freebsd-sets.js";
import { addBootItem, addClosure, copyTree, DATES, runHelper, scratchDir, shells, snapshot } from "./helpers/guest-tree.js";

const SYSTEM = "var/lib/fruix/system";
const GCROOTS = "frx/var/fruix/gcroots";
const STEPS = {
  switch: ["boot-files", "gcroot-generation", "generation", "boot-entry", "commit", "rollback-link", "rollback-generation", "current-link", "current-generation", "gcroot-rollback", "gcroot-current", "loader-default", "finish"],
  delete: ["record-intent", "remove-entries", "remove-gcroots", "remove-generations", "remove-boot-files"],
};
const ROLLBACK_STEPS = STEPS.switch.filter((s) => s !== "generation");

let store: Store;
let a: SystemBuild; // generation 1, from 14.1 sets
let b: SystemBuild; // the same 14.1 base set, a 14.1-RELEASE-p1 kernel: the same world, another kernel
let c: SystemBuild; // from 14.2 sets: another world (and kernel)
let work: string;
let base: string; // a installed, b and c in the store
let brokenKernel: string; // a FreeBSD closure whose kernel item is missing
let linuxClosure: string;

const closureText = (build: SystemBuild, path: string) => readFile(join(store.toHostPath(build.closurePath), path), "utf8");
const kernelDir = async (build: SystemBuild) => readlink(join(store.toHostPath(build.closurePath), "boot/kernel"));
const worldOf = async (build: SystemBuild) => readlink(join(store.toHostPath(build.closurePath), "world"));
/** What the helper must write for generation N of `build` (as freebsd-boot.ts renders it). */
const expectedConf = async (build: SystemBuild, n: number) => loaderConfFor(await closureText(build, "boot/loader.conf"), build.closurePath, n, await kernelDir(build));

async function declared(version: string, kernelVersion = version): Promise<SystemBuild> {
  const sets = await makeSyntheticSets(await tempDir(), version, kernelVersion);
  const source = (await readFile(join(packageRoot, "examples/freebsd.scm"), "utf8")).replace("(base (freebsd-base))", `(base (freebsd-base (dist-directory "${sets.dir}")))`);
  return buildSystem(store, selectSystem(parseDeclaration(source, "freebsd.scm")), silentLogger);
}

beforeAll(async () => {
  store = await freshStore();
  a = await declared("14.1-RELEASE");
  b = await declared("14.1-RELEASE", "14.1-RELEASE-p1");
  c = await declared("14.2-RELEASE");
  work = await scratchDir("fruix-freebsd-generations-");
  base = await materializeRootfs(store, a, join(work, "base"), DATES.g1);
  for (const item of [...b.items, ...c.items]) {
    const target = join(base, item);
    if (!existsSync(target)) await execa("cp", ["-a", store.toHostPath(item), target]);
  }
  // A copy of b's closure whose boot/kernel names a kernel item this store lacks.
  brokenKernel = `/frx/store/${"0".repeat(64)}-fruix-system-fruix-freebsd`;
  await execa("cp", ["-a", store.toHostPath(b.closurePath), join(base, brokenKernel)]);
  await execa("chmod", ["-R", "u+w", join(base, brokenKernel)]);
  await rm(join(base, brokenKernel, "boot/kernel"));
  await symlink(`/frx/store/${"1".repeat(64)}-freebsd-kernel-14.3-RELEASE/tree/boot/kernel`, join(base, brokenKernel, "boot/kernel"));
  linuxClosure = (await addClosure(base, "linux", await addBootItem(base, "linux-k", "vmlinuz"), await addBootItem(base, "initrd-i", "initrd.img"))).path;
}, 120_000);
afterAll(async () => {
  if (work) await removeTree(work);
  await cleanupTempDirs();
});

describe.each(shells)("FreeBSD generations under %s", (_name, shell) => {
  let count = 0;
  async function fresh(template: string): Promise<string> {
    const tree = join(work, `${basename(template)}-${shell[0]}-${++count}`);
    await copyTree(template, tree);
    return tree;
  }
  const run = (tree: string, args: string[], options: { fault?: string } = {}) => runHelper(shell, tree, ["system", ...args], { now: DATES.g2, ...options });
  const loaderConf = (tree: string) => readFile(join(tree, "boot/loader.conf"), "utf8");
  const leftovers = async (tree: string) => Object.keys(await snapshot(tree)).filter((p) => /\.fruix-|\.lock$|\/pending$|\/deleting$/.test(p));
  const status = async (tree: string) => {
    const out = (await run(tree, ["status"])).stdout;
    return [/^current_generation=(.*)$/m.exec(out)?.[1], /^rollback_generation=(.*)$/m.exec(out)?.[1]];
  };

  it("switch stages generation 2 in /boot/loader.conf: the closure's settings, its kernel directory in the store, and the closure", async () => {
    expect(await worldOf(b)).toBe(await worldOf(a)); // the same world item: switching between them is allowed
    const tree = await fresh(base);
    const before = await loaderConf(tree);
    expect(before).toContain(`fruix.system="${a.closurePath}"`);
    const result = await run(tree, ["switch", b.closurePath]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout.split("\n")).toEqual(["current_generation=2", "rollback_generation=1", `closure=${b.closurePath}`, "reboot_required=yes"]);
    const conf = await loaderConf(tree);
    expect(conf).toBe(await expectedConf(b, 2));
    expect(conf).toMatch(/^kernel="\/frx\/store\/[0-9a-f]{64}-freebsd-kernel-14\.1-RELEASE-p1\/tree\/boot\/kernel"$/m);
    expect(await kernelDir(b)).not.toBe(await kernelDir(a));
    expect(conf.split("\n")).toContain('vfs.root.mountfrom="ufs:/dev/gpt/fruix-root"');
    expect(existsSync(join(tree, await kernelDir(b), "kernel"))).toBe(true);
    expect(await readFile(join(tree, "boot/fruix/generation-2.conf"), "utf8")).toBe(conf);
    expect(await readlink(join(tree, SYSTEM, "current"))).toBe("generations/2");
    expect(await readlink(join(tree, SYSTEM, "generations/2/closure"))).toBe(b.closurePath);
    expect(await readlink(join(tree, GCROOTS, "system-2"))).toBe(b.closurePath);
    expect(await readlink(join(tree, GCROOTS, "rollback-system"))).toBe(a.closurePath);
    expect(await status(tree)).toEqual(["2", "1"]);
    expect(await leftovers(tree)).toEqual([]);
  });

  describe("trial boots: the loader's one-shot nextboot.conf", () => {
    // A stand-in for FreeBSD's kenv(1): the kernel environment of the "boot"
    // is the file kenv.fruix.trial in the tree (what nextboot.conf set).
    let bin = "";
    beforeAll(async () => {
      bin = join(work, `kenv-${shell[0]}`);
      await execa("mkdir", ["-p", bin]);
      await writeFile(join(bin, "kenv"), '#!/bin/sh\n[ "$1" = -q ] && shift\ncat "$FRUIX_ROOT/kenv.$1" 2>/dev/null\n', { mode: 0o755 });
    });
    const runK = (tree: string, args: string[]) => runHelper(shell, tree, ["system", ...args], { now: DATES.g2, path: `${bin}:${process.env.PATH}` });
    const nextboot = (tree: string) => join(tree, "boot/nextboot.conf");
    let installed = ""; // generation 1's loader.conf as the install wrote it

    /** The loader at power-on (stand/lua/config.lua restated): nextboot.conf used once, its first line rewritten in place. */
    async function loaderBoot(tree: string): Promise<string> {
      let settings = await loaderConf(tree);
      await rm(join(tree, "kenv.fruix.trial"), { force: true });
      if (existsSync(nextboot(tree))) {
        const text = await readFile(nextboot(tree), "utf8");
        if (text.startsWith('nextboot_enable="YES"')) {
          await writeFile(nextboot(tree), text.replace('nextboot_enable="YES"', 'nextboot_enable="NO" '));
          settings = text;
          const trial = /^fruix\.trial="(\d+)"$/m.exec(text)?.[1];
          if (trial) await writeFile(join(tree, "kenv.fruix.trial"), trial + "\n");
        }
      }
      const closure = /^fruix\.system="(\S+)"$/m.exec(settings)![1]!;
      await rm(join(tree, "run"), { recursive: true, force: true });
      await execa("mkdir", ["-p", join(tree, "run/fruix")]);
      await symlink(closure, join(tree, "run/booted-system"));
      return closure;
    }

    async function armed(): Promise<string> {
      const tree = await fresh(base);
      installed = await loaderConf(tree);
      // b's checks here: activation only, a 1 s deadline (its declared default also asks rc.d services this host lacks).
      const checks = join(tree, b.closurePath, "metadata/health-checks");
      await execa("chmod", ["u+w", join(tree, b.closurePath, "metadata"), checks]);
      await writeFile(checks, "deadline 1\nactivation\n");
      const result = await runK(tree, ["switch", "--trial", b.closurePath]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout.split("\n")).toEqual(["trial_generation=2", "fallback_generation=1", `closure=${b.closurePath}`, "reboot_required=yes"]);
      return tree;
    }

    it("arms a pre-sized nextboot.conf holding generation 2's settings; loader.conf keeps generation 1", async () => {
      const tree = await armed();
      const text = await readFile(nextboot(tree), "utf8");
      expect(Buffer.byteLength(text)).toBe(4096);
      expect(text.split("\n")[0]).toBe('nextboot_enable="YES"');
      expect(text).toContain((await expectedConf(b, 2)).trimEnd() + '\nfruix.trial="2"\n# ###');
      expect(await loaderConf(tree)).toBe(installed);
      expect(await readFile(join(tree, SYSTEM, "trial"), "utf8")).toBe("2 1\n");
      expect((await runK(tree, ["status"])).stdout).toContain("trial_generation=2\ntrial_fallback_generation=1\ntrial_state=armed");
    });

    it("passing its checks on the trial boot promotes generation 2 into /boot/loader.conf", async () => {
      const tree = await armed();
      expect(await loaderBoot(tree)).toBe(b.closurePath);
      await writeFile(join(tree, "run/fruix/activated"), "");
      const assess = await runK(tree, ["assess-boot"]);
      expect(assess.stdout.split("\n")[0], assess.stderr).toBe("trial=blessed");
      expect(await loaderConf(tree)).toBe(await expectedConf(b, 2));
      expect(existsSync(nextboot(tree))).toBe(false);
      expect(await status(tree)).toEqual(["2", "1"]);
      expect(await loaderBoot(tree)).toBe(b.closurePath);
      expect(await leftovers(tree)).toEqual([]);
    });

    for (const how of ["fails its checks", "panics"]) {
      it(`a trial boot that ${how}: the next boot is generation 1's, which records the failure`, async () => {
        const tree = await armed();
        expect(await loaderBoot(tree)).toBe(b.closurePath);
        if (how === "fails its checks") {
          const assess = await runK(tree, ["assess-boot"]);
          expect(assess.stdout, assess.stderr).toBe("trial=failed\ntrial_generation=2\nreason=activation has not finished (deadline 1 s)\nreboot_required=yes");
        }
        expect(await loaderBoot(tree)).toBe(a.closurePath);
        await writeFile(join(tree, "run/fruix/activated"), "");
        const back = await runK(tree, ["assess-boot"]);
        expect(back.stdout.split("\n").slice(0, 3), back.stderr).toEqual(["trial=fell-back", "trial_generation=2", "current_generation=1"]);
        expect(await loaderConf(tree)).toBe(installed);
        expect(existsSync(nextboot(tree))).toBe(false);
        expect((await runK(tree, ["status"])).stdout).toMatch(/trial_generation=none\nlast_failed_trial=2\n/);
        expect(existsSync(join(tree, SYSTEM, "generations/2/trial-failed"))).toBe(true);
        expect(await loaderBoot(tree)).toBe(a.closurePath);
      });
    }
  });

  it("rollback restores generation 1's loader configuration (its own kernel), and a second rollback returns", async () => {
    const tree = await fresh(base);
    expect((await run(tree, ["switch", b.closurePath])).exitCode).toBe(0);
    const back = await run(tree, ["rollback"]);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(back.stdout.split("\n")).toEqual(["current_generation=1", "rollback_generation=2", `closure=${a.closurePath}`, "reboot_required=yes"]);
    expect(await loaderConf(tree)).toBe(await expectedConf(a, 1));
    expect(await readFile(join(tree, "boot/fruix/generation-1.conf"), "utf8")).toBe(await expectedConf(a, 1));
    const again = await run(tree, ["rollback"]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await loaderConf(tree)).toBe(await expectedConf(b, 2));
    expect(await status(tree)).toEqual(["2", "1"]);
    expect(await leftovers(tree)).toEqual([]);
  });

  it("delete-generations removes a generation's loader configuration with the generation", async () => {
    const tree = await fresh(base);
    for (const closure of [b, a, b]) expect((await run(tree, ["switch", closure.closurePath])).exitCode).toBe(0);
    const before = await loaderConf(tree);
    const result = await run(tree, ["delete-generations", "2"]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe("deleted_generations=2\nkept_generations=");
    expect((await readdir(join(tree, "boot/fruix"))).sort()).toEqual(["generation-3.conf", "generation-4.conf"]);
    expect(existsSync(join(tree, SYSTEM, "generations/2"))).toBe(false);
    expect(existsSync(join(tree, GCROOTS, "system-2"))).toBe(false);
    expect(await loaderConf(tree)).toBe(before);
  });

  const refusals = [
    { what: "a closure whose kernel item is not in the store", args: () => ["switch", brokenKernel], message: () => `fruix: ${brokenKernel}: boot/kernel points at /frx/store/${"1".repeat(64)}-freebsd-kernel-14.3-RELEASE/tree/boot/kernel, which is not in the local store` },
    { what: "a linux-busybox closure", args: () => ["switch", linuxClosure], message: () => `fruix: ${linuxClosure} is built on the linux-busybox base; this system runs the freebsd base` },
    {
      what: "a closure on another FreeBSD world",
      args: () => ["switch", c.closurePath],
      message: async () => `fruix: ${c.closurePath} has another FreeBSD world (${await worldOf(c)}) than this system (${await worldOf(a)}); changing the world in place is not supported: reinstall`,
    },
    {
      what: "a rollback to a generation on another FreeBSD world",
      args: () => ["rollback"],
      prepare: async (tree: string) => {
        // Generation 2 (b, the same world) is current; generation 1 is made to name c, on 14.2's world.
        expect((await run(tree, ["switch", b.closurePath])).exitCode).toBe(0);
        await rm(join(tree, SYSTEM, "generations/1/closure"));
        await symlink(c.closurePath, join(tree, SYSTEM, "generations/1/closure"));
      },
      message: async () => `fruix: ${c.closurePath} has another FreeBSD world (${await worldOf(c)}) than this system (${await worldOf(b)}); changing the world in place is not supported: reinstall`,
    },
    {
      what: "a tree without /boot/loader.conf",
      args: () => ["switch", b.closurePath],
      prepare: (tree: string) => rm(join(tree, "boot/loader.conf")),
      message: () => "fruix: no boot loader configuration at TREE/boot/loader.conf (is this an installed Fruix FreeBSD system?)",
    },
  ];
  for (const refusal of refusals) {
    it(`refuses ${refusal.what}, changing nothing`, async () => {
      const tree = await fresh(base);
      await refusal.prepare?.(tree);
      const before = await snapshot(tree);
      const result = await run(tree, refusal.args());
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toBe((await refusal.message()).replace("TREE", tree));
      expect(await snapshot(tree)).toEqual(before);
    });
  }

  /** Whatever /boot/loader.conf names exists: its kernel directory (or /boot/kernel) holds a kernel, its closure an activation. */
  async function expectBootable(tree: string, label: string): Promise<void> {
    const conf = await loaderConf(tree);
    const kernel = /^kernel="([^"]+)"$/m.exec(conf)?.[1] ?? "/boot/kernel";
    expect(existsSync(join(tree, kernel, "kernel")), `${label}: kernel in ${kernel}`).toBe(true);
    const closure = /^fruix\.system="([^"]+)"$/m.exec(conf)?.[1] ?? "missing";
    expect(existsSync(join(tree, closure, "activate")), `${label}: closure ${closure}`).toBe(true);
    const current = join(tree, SYSTEM, await readlink(join(tree, SYSTEM, "current")));
    expect(existsSync(join(tree, await readlink(join(current, "closure")))), `${label}: current closure`).toBe(true);
  }

  const pointers = async (tree: string) => ({
    current: await readlink(join(tree, SYSTEM, "current")).catch(() => null),
    rollback: await readlink(join(tree, SYSTEM, "rollback")).catch(() => null),
    currentRoot: await readlink(join(tree, GCROOTS, "current-system")).catch(() => null),
    loader: await loaderConf(tree),
  });

  const scenarios = [
    { command: "switch", steps: STEPS.switch, template: async () => base, args: () => ["switch", b.closurePath] },
    {
      command: "rollback",
      steps: ROLLBACK_STEPS,
      template: async () => {
        const tree = await fresh(base);
        expect((await run(tree, ["switch", b.closurePath])).exitCode).toBe(0);
        return tree;
      },
      args: () => ["rollback"],
    },
    {
      command: "delete-generations",
      steps: STEPS.delete,
      template: async () => {
        const tree = await fresh(base);
        for (const closure of [b, a, b]) expect((await run(tree, ["switch", closure.closurePath])).exitCode).toBe(0);
        return tree;
      },
      args: () => ["delete-generations", "1..2"],
    },
  ];
  for (const scenario of scenarios) {
    it(`${scenario.command}: interrupted after any step, the old or the new loader.conf is in place and boots, and the next command agrees`, async () => {
      const template = await scenario.template();
      const done = await fresh(template);
      expect((await run(done, scenario.args())).exitCode).toBe(0);
      const states = [await pointers(template), await pointers(done)];
      const statuses = [await status(template), await status(done)];
      // What a delete leaves: the generations, their loader configurations and GC roots.
      const deleted = async (tree: string) => ({
        list: (await run(tree, ["list-generations"])).stdout,
        generations: (await readdir(join(tree, SYSTEM, "generations"))).sort(),
        confs: (await readdir(join(tree, "boot/fruix"))).sort(),
        roots: (await readdir(join(tree, GCROOTS))).sort(),
      });
      const afterDelete = await deleted(done);
      if (scenario.command !== "delete-generations") expect(states[0]!.loader).not.toBe(states[1]!.loader);
      for (const step of scenario.steps) {
        const tree = await fresh(template);
        const result = await run(tree, scenario.args(), { fault: step });
        expect(result.signal, `${step}: ${result.stderr}`).toBe("SIGKILL");
        expect([states[0]!.loader, states[1]!.loader], step).toContain(await loaderConf(tree));
        await expectBootable(tree, step);
        const reported = await status(tree);
        expect(statuses, step).toContainEqual(reported);
        const next = await run(tree, ["delete-generations", "100.."]);
        expect(next.exitCode, `${step}: ${next.stderr}`).toBe(0);
        const agreed = reported[0] === statuses[1]![0] && reported[1] === statuses[1]![1] ? 1 : 0;
        expect(await pointers(tree), step).toEqual(states[agreed]);
        if (scenario.command === "delete-generations") expect(await deleted(tree), step).toEqual(afterDelete);
        await expectBootable(tree, `${step}, then the next command`);
        expect(await leftovers(tree), step).toEqual([]);
        await removeTree(tree);
      }
    }, 120_000);
  }
});

it("the helper tested here is the one a FreeBSD rootfs carries as /usr/local/bin/fruix", async () => {
  expect(await readFile(join(base, "usr/local/bin/fruix"), "utf8")).toBe(await readFile(join(packageRoot, "lib/guest/fruix.sh"), "utf8"));
});
