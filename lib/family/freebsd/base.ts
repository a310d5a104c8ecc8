// The freebsd base: FreeBSD's distribution sets (base.txz, kernel.txz)
// imported as store items — the world, the kernel, and the boot loader
// (boot/loader.efi from base.txz) — each with the set's sha256 and an mtree
// manifest of the owners, modes and flags the store cannot keep.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { execa } from "execa";
import { removeOnInterrupt } from "../../cleanup.js";
import type { FreebsdBase } from "../../declaration/types.js";
import { formatManifest } from "../../disk/mtree.js";
import { FruixError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { field, sexpDocument, sym } from "../../sexp.js";
import type { Store } from "../../store/index.js";
import { memoized } from "../../store/memo.js";
import { tempName } from "../../store/paths.js";
import { promotedArtifacts } from "../promoted.js";
import { manifestFromTar, TarLister, type TarEntry } from "./tar.js";

/** What a FreeBSD base takes from a promoted native build: the kinds in the set items' layouts. */
export const NATIVE_KINDS = {
  world: ["mtree", ...["bin/sh", "sbin/init", "etc/rc", "etc/master.passwd", "etc/group", "libexec/ld-elf.so.1", "usr/sbin/pwd_mkdb"].map((f) => `tree/${f}`)],
  kernel: ["mtree", "tree/boot/kernel/kernel"],
  headers: ["usr/include/stdio.h", "usr/include/sys/param.h"],
  bootloader: ["efi/loader.efi"],
} as const;

/** Bump when what an import recipe puts into its item changes. */
const RECIPE_VERSION = 1;

export const DEFAULT_DIST_DIRECTORY = "/usr/freebsd-dist";

export type SetName = "base.txz" | "kernel.txz";

/** One distribution set as recorded in provenance. */
export interface FreebsdSet {
  readonly name: SetName;
  readonly sha256: string;
  /** From bin/freebsd-version (base) or the kernel's version string, "unknown" if absent. */
  readonly version: string;
}

export interface FreebsdItems {
  /** Store paths (in-guest form). Each holds tree/, mtree and freebsd-set.scm. */
  readonly world: string;
  readonly kernel: string; // tree/boot/kernel/...
  readonly loader: string; // efi/loader.efi
  readonly sets: ReadonlyArray<{ readonly set: FreebsdSet; readonly items: readonly string[] }>;
}

/** Where the sets come from, and how to say so in a message (pure). */
export function distDirectory(base: FreebsdBase, env: NodeJS.ProcessEnv = process.env): { dir: string; origin: string } {
  if (base.distDirectory !== undefined) {
    const { file, line, column } = base.location;
    return { dir: base.distDirectory, origin: `dist-directory of the freebsd-base at ${file}:${line}:${column}` };
  }
  if (env.FRUIX_FREEBSD_DIST) return { dir: env.FRUIX_FREEBSD_DIST, origin: "FRUIX_FREEBSD_DIST" };
  return { dir: DEFAULT_DIST_DIRECTORY, origin: "the default; set FRUIX_FREEBSD_DIST or dist-directory" };
}

/** `USERLAND_VERSION="14.1-RELEASE-p5"` in bin/freebsd-version (pure). */
export function userlandVersion(script: string | undefined): string {
  return /^USERLAND_VERSION="([^"]+)"/m.exec(script ?? "")?.[1] ?? "unknown";
}

/** The kernel's `@(#)FreeBSD 14.1-RELEASE ...` string (pure). */
export function kernelVersion(kernel: Buffer): string {
  const at = kernel.indexOf("@(#)FreeBSD ");
  if (at < 0) return "unknown";
  return /^[A-Za-z0-9._-]+/.exec(kernel.toString("latin1", at + 12, at + 80))?.[0] ?? "unknown";
}

/** Store item names take [A-Za-z0-9+._?=-]. */
function nameSafe(version: string): string {
  return version.replace(/[^A-Za-z0-9+._?=-]/g, "-");
}

function setProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "it is a directory";
  return error instanceof Error ? error.message : String(error);
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk);
  return hash.digest("hex");
}

/** The set's sha256, or one clear error naming the file. */
async function readableSet(file: string, origin: string): Promise<string> {
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw Object.assign(new Error(), { code: "EISDIR" });
    return await sha256File(file);
  } catch (error) {
    throw new FruixError(`cannot read FreeBSD distribution set ${file}: ${setProblem(error)} (directory from ${origin})`);
  }
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => child.on("close", (code) => resolve(code ?? 1)));
}

function collected(stream: NodeJS.ReadableStream | null): Promise<string> {
  const parts: Buffer[] = [];
  stream?.on("data", (c: Buffer) => parts.push(c));
  return new Promise((resolve) => stream ? stream.on("end", () => resolve(Buffer.concat(parts).toString())) : resolve(""));
}

/** Decompresses once: the stream goes to tar(1) for the files and to TarLister for the headers. */
async function unpackSet(file: string, dest: string): Promise<TarEntry[]> {
  await mkdir(dest, { recursive: true });
  const lister = new TarLister();
  let listError: Error | undefined;
  const xz = spawn("xz", ["-dc", "--", file], { stdio: ["ignore", "pipe", "pipe"] });
  const tar = spawn("tar", ["-x", "-f", "-", "-C", dest, "--no-same-owner", "--warning=no-unknown-keyword"], { stdio: ["pipe", "ignore", "pipe"] });
  tar.stdin!.on("error", () => undefined); // tar gave up: its own error says why
  xz.stdout!.on("data", (chunk: Buffer) => {
    try {
      if (!listError) lister.push(chunk);
    } catch (error) {
      listError = error as Error;
    }
  });
  xz.stdout!.pipe(tar.stdin!);
  const [xzCode, tarCode, xzErr, tarErr] = await Promise.all([exited(xz), exited(tar), collected(xz.stderr), collected(tar.stderr)]);
  const firstLine = (text: string) => text.trim().split("\n")[0]!.replace(/^xz: \(stdin\): |^xz: [^:]+: /, "");
  const reason = xzCode !== 0 ? `xz: ${firstLine(xzErr)}`
    : listError ? listError.message
    : !lister.complete ? "the archive ends early"
    : tarCode !== 0 ? `tar: ${firstLine(tarErr)}`
    : undefined;
  if (reason) throw new FruixError(`FreeBSD distribution set ${file} is corrupt: ${reason}`);
  return lister.entries;
}

function setRecord(set: FreebsdSet): string {
  return sexpDocument([sym("freebsd-set"), field("name", set.name), field("sha256", set.sha256), field("version", set.version)]);
}

/** Unpacks a set into `out/tree`, beside its manifest and record; `version` reads the unpacked tree. */
async function fillSetItem(
  out: string,
  file: string,
  name: SetName,
  sha256: string,
  required: readonly string[],
  version: (tree: string) => Promise<string>,
): Promise<FreebsdSet> {
  const tree = join(out, "tree");
  const entries = await unpackSet(file, tree);
  const paths = new Set(entries.map((e) => e.path));
  for (const path of required) {
    if (!paths.has(path)) throw new FruixError(`FreeBSD distribution set ${file} has no ${path}: is it FreeBSD's ${name}?`);
  }
  const set: FreebsdSet = { name, sha256, version: await version(tree) };
  await writeFile(join(out, "mtree"), formatManifest(manifestFromTar(entries), name));
  await writeFile(join(out, "freebsd-set.scm"), setRecord(set));
  return set;
}

async function readSetRecord(store: Store, item: string): Promise<FreebsdSet> {
  const text = await readFile(join(store.toHostPath(item), "freebsd-set.scm"), "utf8");
  const get = (key: string) => new RegExp(`\\(${key} "([^"]*)"\\)`).exec(text)?.[1] ?? "unknown";
  return { name: get("name") as SetName, sha256: get("sha256"), version: get("version") };
}

/** What each set must hold, and what its item is called. */
interface SetKind {
  readonly name: SetName;
  readonly prefix: string;
  readonly required: readonly string[];
  readonly version: (tree: string) => Promise<string>;
}

/** Files a base set must have for the system to boot and activate. */
const BASE: SetKind = {
  name: "base.txz",
  prefix: "freebsd-world",
  required: ["bin/sh", "sbin/init", "etc/rc", "etc/master.passwd", "etc/group", "boot/loader.efi", "libexec/ld-elf.so.1", "usr/sbin/pwd_mkdb"],
  version: async (tree) => userlandVersion(await readFile(join(tree, "bin/freebsd-version"), "utf8").catch(() => undefined)),
};

const KERNEL: SetKind = {
  name: "kernel.txz",
  prefix: "freebsd-kernel",
  required: ["boot/kernel/kernel"],
  version: async (tree) => kernelVersion(await readFile(join(tree, "boot/kernel/kernel"))),
};

/**
 * Imports a set as `<prefix>-<version>`, unless an earlier build did (memoized
 * by the set's sha256). The version is only known once unpacked, so the set
 * is unpacked beside the store (a `.tmp-<pid>-*` that gc knows) and moved in.
 */
async function importSet(store: Store, log: Logger, kind: SetKind, file: string, sha256: string): Promise<string> {
  return memoized(store, { recipe: `freebsd/${kind.name}`, RECIPE_VERSION, sha256 }, () =>
    log.step(`import ${file}`, async () => {
      const scratch = join(store.storeDir, tempName("tmp", process.pid, randomBytes(6).toString("hex")));
      const forget = removeOnInterrupt(scratch);
      try {
        const set = await fillSetItem(scratch, file, kind.name, sha256, kind.required, kind.version);
        return await store.add(`${kind.prefix}-${nameSafe(set.version)}`, async (out) => {
          for (const entry of await readdir(scratch)) await rename(join(scratch, entry), join(out, entry));
        });
      } finally {
        forget();
        await execa("chmod", ["-R", "u+w", scratch], { reject: false });
        await rm(scratch, { recursive: true, force: true });
      }
    }),
    // The version is only known once unpacked: the set's file names it.
    { name: `${kind.prefix}-from-${basename(file).replace(/[^A-Za-z0-9+._=-]/g, "-")}` },
  );
}

/** The boot loader is base.txz's boot/loader.efi, on its own so the ESP needs only it. */
async function importLoader(store: Store, world: string, set: FreebsdSet): Promise<string> {
  return memoized(store, { recipe: "freebsd/loader", RECIPE_VERSION, sha256: set.sha256 }, () =>
    store.add(`freebsd-loader-${nameSafe(set.version)}`, async (out) => {
      await mkdir(join(out, "efi"));
      await copyFile(join(store.toHostPath(world), "tree/boot/loader.efi"), join(out, "efi/loader.efi"));
      await writeFile(join(out, "freebsd-set.scm"), setRecord(set));
    }),
    { name: `freebsd-loader-${nameSafe(set.version)}` },
  );
}

/** Reads the base's sets (checking both before importing either) and imports them. */
export async function realizeFreebsd(store: Store, base: FreebsdBase, log: Logger): Promise<FreebsdItems> {
  if (base.nativeBuild !== undefined) {
    // A promoted result bundle: its items have the set items' layouts (tree/ and mtree; efi/loader.efi).
    const { world, kernel, bootloader } = await promotedArtifacts(store, base.nativeBuild, "freebsd", NATIVE_KINDS, base.location);
    return { world: world!, kernel: kernel!, loader: bootloader!, sets: [] };
  }
  const { dir, origin } = distDirectory(base);
  const baseFile = resolve(dir, "base.txz");
  const kernelFile = resolve(dir, "kernel.txz");
  const baseSha = await readableSet(baseFile, origin);
  const kernelSha = await readableSet(kernelFile, origin);
  const world = await importSet(store, log, BASE, baseFile, baseSha);
  const kernel = await importSet(store, log, KERNEL, kernelFile, kernelSha);
  const baseSet = await readSetRecord(store, world);
  const loader = await importLoader(store, world, baseSet);
  return {
    world,
    kernel,
    loader,
    sets: [
      { set: baseSet, items: [world, loader] },
      { set: await readSetRecord(store, kernel), items: [kernel] },
    ],
  };
}
