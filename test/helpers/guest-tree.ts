// Fake installed Fruix system trees for the in-guest helper's tests: real
// directories and links laid out as an install leaves them (generation 1, GC
// roots, an ESP at boot/efi with systemd-boot's configuration), with small
// fake closures in frx/store. Nothing here needs root or a store.
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { access, cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll } from "vitest";
import { bootEntry, entryFileName, espPathFor, loaderConf } from "../../lib/family/linux-busybox/boot-entries.js";
import { writeFirstGeneration } from "../../lib/system/generation.js";
import { guestDir } from "../../lib/paths.js";

export const helper = join(guestDir, "fruix.sh");
export const ROOT_UUID = "5b0f4c1e-8d2a-4c3b-9e7f-0123456789ab";

export const shells: Array<[string, string[]]> = [
  ["busybox sh", ["busybox", "sh"]],
  ["dash", ["dash"]],
];

/**
 * A new scratch directory for trees. These tests copy many small trees, which
 * is ten times faster on tmpfs, so /dev/shm is used when the host has it.
 */
export async function scratchDir(prefix: string): Promise<string> {
  const shm = await access("/dev/shm", constants.W_OK).then(
    () => true,
    () => false,
  );
  return mkdtemp(join(shm ? "/dev/shm" : tmpdir(), prefix));
}

/** A realistic store path: 64 hex digits named after `name`, so paths are stable. */
export function storePath(name: string): string {
  return `/frx/store/${createHash("sha256").update(name).digest("hex")}-${name}`;
}

export interface FakeClosure {
  readonly path: string;
  readonly hostName: string;
  /** Store files boot/vmlinuz and boot/initrd.img link to. */
  readonly kernel: string;
  readonly initrd: string;
  readonly kernelArguments: readonly string[];
}

async function putFile(root: string, path: string, text: string): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), text);
}

/** A store item holding one boot file (a kernel or an initrd); returns the file's store path. */
export async function addBootItem(root: string, name: string, file: "vmlinuz" | "initrd.img"): Promise<string> {
  const path = `${storePath(name)}/${file}`;
  await putFile(root, path, `fake ${file} of ${name}\n`);
  return path;
}

export interface ClosureOptions {
  readonly hostName?: string;
  readonly kernelArguments?: readonly string[];
  /** Leaves out boot/init (a broken closure). */
  readonly withoutInit?: boolean;
}

/** A fake system closure under `root`/frx/store, with the files `fruix system switch` reads. */
export async function addClosure(root: string, tag: string, kernel: string, initrd: string, options: ClosureOptions = {}): Promise<FakeClosure> {
  const hostName = options.hostName ?? "alpha";
  const kernelArguments = options.kernelArguments ?? ["console=tty0", "console=ttyS0,115200", `fruix.test=${tag}`];
  const path = storePath(`fruix-system-${hostName}-${tag}`);
  await putFile(root, `${path}/metadata/metadata.scm`, `(fruix-system\n (format 1)\n (host-name "${hostName}")\n (tag "${tag}"))\n`);
  await putFile(root, `${path}/metadata/provenance.scm`, `(provenance\n (tag "${tag}"))\n`);
  if (!options.withoutInit) await putFile(root, `${path}/boot/init`, "#!/bin/sh\n");
  await putFile(root, `${path}/activate`, "#!/bin/sh\n");
  await putFile(root, `${path}/boot/kernel-arguments`, kernelArguments.join(" ") + "\n");
  await symlink(kernel, join(root, path, "boot/vmlinuz"));
  await symlink(initrd, join(root, path, "boot/initrd.img"));
  return { path, hostName, kernel, initrd, kernelArguments };
}

export function entryFor(closure: FakeClosure, generation: number, created: string): string {
  return bootEntry({
    generation,
    created,
    hostName: closure.hostName,
    closure: closure.path,
    kernel: espPathFor(closure.kernel),
    initrd: espPathFor(closure.initrd),
    rootUuid: ROOT_UUID,
    kernelArguments: closure.kernelArguments,
  });
}

/**
 * Lays out an installed system at `root` running `first` as generation 1: the
 * generation layout and GC roots (writeFirstGeneration), and an ESP at
 * boot/efi with generation 1's boot files, entry and loader.conf, as
 * lib/deploy/system-disk.ts writes them.
 */
export async function installTree(root: string, first: FakeClosure, created: string): Promise<void> {
  await writeFirstGeneration(root, first.path, join(root, first.path), created);
  const esp = join(root, "boot/efi");
  for (const file of [first.kernel, first.initrd]) {
    await mkdir(dirname(join(esp, espPathFor(file))), { recursive: true });
    await cp(join(root, file), join(esp, espPathFor(file)));
  }
  await putFile(esp, "EFI/BOOT/BOOTX64.EFI", "fake systemd-boot\n");
  await putFile(esp, "loader/loader.conf", loaderConf(1));
  await mkdir(join(root, "run")); // the mount point every image has (rootfs.ts)
  await putFile(esp, `loader/entries/${entryFileName(1)}`, entryFor(first, 1, created));
}

/** Copies a tree, links as links. */
export async function copyTree(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true, verbatimSymlinks: true });
}

/**
 * Every path under `root` with what it is: `dir`, `link -> TARGET`, or
 * `file MODE SHA256`. Equal snapshots mean byte-for-byte equal trees.
 */
export async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(rel: string): Promise<void> {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const stat = await lstat(join(root, path));
      if (stat.isSymbolicLink()) out[path] = `link -> ${await readlink(join(root, path))}`;
      else if (stat.isDirectory()) {
        out[path] = "dir";
        await walk(path);
      } else {
        const hash = createHash("sha256").update(await readFile(join(root, path))).digest("hex");
        out[path] = `file ${(stat.mode & 0o7777).toString(8)} ${hash}`;
      }
    }
  }
  await walk("");
  return out;
}

export interface RunOptions {
  readonly now?: string; // ISO 8601: SOURCE_DATE_EPOCH
  readonly fault?: string; // FRUIX_FAULT_AFTER
  readonly path?: string; // PATH
}

/** Runs the helper on `tree` under `shell`, with nothing from this process's environment but PATH. */
export function runHelper(shell: string[], tree: string, args: string[], options: RunOptions = {}) {
  const env: Record<string, string> = { FRUIX_ROOT: tree, PATH: options.path ?? process.env.PATH ?? "/usr/bin:/bin" };
  if (options.now) env.SOURCE_DATE_EPOCH = String(Date.parse(options.now) / 1000);
  if (options.fault) env.FRUIX_FAULT_AFTER = options.fault;
  return execa(shell[0]!, [...shell.slice(1), helper, ...args], { env, extendEnv: false, reject: false });
}

/** Dates of the world's generations (SOURCE_DATE_EPOCH of each switch), and "now" for its patterns. */
export const DATES = {
  g1: "2026-01-01T00:00:00Z",
  g2: "2026-01-20T00:00:00Z",
  g3: "2026-02-10T00:00:00Z",
  g4: "2026-02-19T00:00:00Z",
  g5: "2026-03-01T00:00:00Z",
  now: "2026-03-03T00:00:00Z",
} as const;

export interface World {
  /** Generation 1 (closure a) installed, nothing else. */
  readonly base: string;
  /** base, then switched to b: current 2, rollback 1. */
  readonly switched: string;
  /** switched, then to c, d and f: generations 1-5 (a b c d f), current 5, rollback 4, booted 3 (run/booted-system). */
  readonly history: string;
  readonly closures: Record<"a" | "b" | "c" | "d" | "f" | "noInit", FakeClosure>;
  /** Kernels k1-k3, initrds i1-i4 (store files); a: k1 i1, b: k1 i2, c: k2 i3, d: k2 i1, f: k3 i4. */
  readonly files: Record<"k1" | "k2" | "k3" | "i1" | "i2" | "i3" | "i4", string>;
}

/** Builds the three template trees under `dir`, running the helper under `shell` for the switches. */
export async function buildWorld(dir: string, shell: string[]): Promise<World> {
  const base = join(dir, "base");
  const files = {
    k1: await addBootItem(base, "linux-6.1.0-1", "vmlinuz"),
    k2: await addBootItem(base, "linux-6.1.0-2", "vmlinuz"),
    k3: await addBootItem(base, "linux-6.1.0-3", "vmlinuz"),
    i1: await addBootItem(base, "fruix-initramfs-6.1.0-1", "initrd.img"),
    i2: await addBootItem(base, "fruix-initramfs-6.1.0-2", "initrd.img"),
    i3: await addBootItem(base, "fruix-initramfs-6.1.0-3", "initrd.img"),
    i4: await addBootItem(base, "fruix-initramfs-6.1.0-4", "initrd.img"),
  };
  const closures = {
    a: await addClosure(base, "a", files.k1, files.i1),
    b: await addClosure(base, "b", files.k1, files.i2),
    c: await addClosure(base, "c", files.k2, files.i3, { kernelArguments: ["console=ttyS0,115200", "quiet"] }),
    d: await addClosure(base, "d", files.k2, files.i1),
    f: await addClosure(base, "f", files.k3, files.i4, { hostName: "beta" }),
    noInit: await addClosure(base, "no-init", files.k1, files.i1, { withoutInit: true }),
  };
  await installTree(base, closures.a, DATES.g1);

  const switchTo = async (tree: string, closure: FakeClosure, now: string) => {
    const result = await runHelper(shell, tree, ["system", "switch", closure.path], { now });
    if (result.exitCode !== 0) throw new Error(`building the test world: switch failed: ${result.stderr}`);
  };
  const switched = join(dir, "switched");
  await copyTree(base, switched);
  await switchTo(switched, closures.b, DATES.g2);
  const history = join(dir, "history");
  await copyTree(switched, history);
  await switchTo(history, closures.c, DATES.g3);
  await switchTo(history, closures.d, DATES.g4);
  await switchTo(history, closures.f, DATES.g5);
  await mkdir(join(history, "run"), { recursive: true });
  await symlink(closures.c.path, join(history, "run/booted-system"));
  return { base, switched, history, closures, files };
}

export interface WorldFixture {
  /** The world, built once for the describe block (beforeAll). */
  readonly world: World;
  /** A private copy of one of the world's trees. */
  fresh(template: string): Promise<string>;
  /** A new empty path in the block's scratch directory. */
  scratch(name: string): string;
}

/** The world for one describe block under one shell; its scratch directory goes in afterAll. */
export function worldFixture(prefix: string, shell: string[]): WorldFixture {
  let work = "";
  let world: World | undefined;
  let count = 0;
  beforeAll(async () => {
    work = await scratchDir(prefix);
    world = await buildWorld(join(work, "world"), shell);
  });
  afterAll(() => rm(work, { recursive: true, force: true }));
  return {
    get world() {
      if (!world) throw new Error("the test world is built in beforeAll: use it inside tests");
      return world;
    },
    async fresh(template) {
      const tree = join(work, `tree-${++count}`);
      await copyTree(template, tree);
      return tree;
    },
    scratch: (name) => join(work, `${name}-${++count}`),
  };
}
