// The linux-busybox development profile (docs/native-builds.md): GCC,
// binutils, make and the C library's headers from Debian's packages, as
// three store items:
//   runtime   libc6 and libgcc-s1 whole: the loader and libraries that the
//             toolchain and the programs it links run on;
//   toolchain the other packages unpacked into one tree (GCC finds cc1, its
//             crt files and libgcc relative to its own binary, so they must
//             share one), every ELF patched (patchelf, Debian's own) to load
//             through the runtime item instead of /lib64, and a GCC specs
//             file so that what it links does the same;
//   profile   links into the toolchain (bin/, usr/include, lib) and the
//             environment helper.
// The guest has no /lib: nothing here runs on the guest's runtime profile,
// and the runtime profile gains nothing from here.
import { lstat, mkdir, open, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { execa } from "execa";
import { temporaryDirectory } from "../../cleanup.js";
import { fetchPackage, packagesToDownload, resolvePackage, unpackPackage, type DebianPackage } from "../../debian/apt.js";
import { unpackCached } from "../../debian/unpacked.js";
import { readDynamic } from "../../debian/elf.js";
import { FruixError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { field, sexpDocument, sym } from "../../sexp.js";
import type { Store } from "../../store/index.js";
import { memoized } from "../../store/memo.js";
import { CURRENT_DEVELOPMENT, developmentEnvironmentScript } from "../../system/development.js";
import { addTree, type Tree } from "../../system/tree.js";

/** Bump when what a recipe here puts into its item changes. */
const RECIPE_VERSION = 4;

const MULTIARCH = "x86_64-linux-gnu";
const LOADER = "ld-linux-x86-64.so.2";

/** The loader and the libraries every program (the toolchain's, and what it links) loads. */
export const RUNTIME_PACKAGES = ["libc6", "libgcc-s1"] as const;

/**
 * GCC (cpp-12 holds cc1), binutils, make, the C library's development files
 * and kernel headers, and every library their programs load (checked at import:
 * a DT_NEEDED that none of these ships is an error). Debian 12 names.
 */
export const TOOLCHAIN_PACKAGES = [
  "gcc-12", "cpp-12", "libgcc-12-dev",
  "binutils", "binutils-x86-64-linux-gnu", "binutils-common", "libbinutils", "libctf0", "libctf-nobfd0", "libgprofng0", "libjansson4",
  "libisl23", "libmpc3", "libmpfr6", "libgmp10", "libzstd1", "zlib1g", "libstdc++6",
  "make",
  "libc6-dev", "libc-dev-bin", "linux-libc-dev", "libcrypt-dev", "libcrypt1",
] as const;

/** Documentation and translations: not what a build reads. */
const PRUNED = ["usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian", "usr/share/bug", "usr/share/gdb"];

/** Commands under their usual names, beside Debian's versioned ones. */
const ALIASES: Readonly<Record<string, string>> = { cc: "gcc-12", gcc: "gcc-12", cpp: "cpp-12", "gcc-ar": "gcc-ar-12", "gcc-nm": "gcc-nm-12", "gcc-ranlib": "gcc-ranlib-12", gcov: "gcov-12" };

export interface DevelopmentItems {
  /** Store paths (in-guest form). */
  readonly runtime: string;
  readonly toolchain: string;
  readonly profile: string;
  readonly packages: ReadonlyArray<{ readonly pkg: DebianPackage; readonly items: readonly string[] }>;
}

function packagesRecord(packages: readonly DebianPackage[]): string {
  return sexpDocument([
    sym("debian-packages"),
    ...packages.map((p) => [sym("debian-package"), field("name", p.name), field("version", p.version), field("architecture", p.architecture), field("sha256", p.sha256)]),
  ]);
}

/**
 * What `eval "$(fruix-development-environment)"` sets (pure). Paths go through
 * /run/current-development, so the exports survive a switch to another closure.
 */
export function environmentScript(profile = CURRENT_DEVELOPMENT): string {
  const exports: ReadonlyArray<[string, string]> = [
    ["FRUIX_DEVELOPMENT_PROFILE", profile],
    ["PATH", `${profile}/bin:$PATH`],
    ["CC", "gcc"],
    ["CPP", "cpp"],
    ["LD", "ld"],
    ["AR", "ar"],
    ["NM", "nm"],
    ["RANLIB", "ranlib"],
    ["STRIP", "strip"],
    ["OBJCOPY", "objcopy"],
    ["C_INCLUDE_PATH", `${profile}/usr/include:${profile}/usr/include/${MULTIARCH}`],
    ["LIBRARY_PATH", `${profile}/lib`],
  ];
  return developmentEnvironmentScript(profile, exports);
}

/** The runtime item: libc6 and libgcc-s1, whole (documentation aside). */
async function importRuntime(store: Store, log: Logger, packages: readonly DebianPackage[]): Promise<string> {
  const glibc = packages.find((p) => p.name === "libc6")!;
  const name = `glibc-${itemVersion(glibc)}`;
  return memoized(store, { recipe: "linux-busybox/development-runtime", RECIPE_VERSION, sha256: packages.map((p) => p.sha256) }, () =>
    log.step(`import ${packages.map((p) => p.name).join(", ")} as the development runtime`, () =>
      store.add(name, async (out) => {
        for (const pkg of packages) await unpackCached(await fetch(log, pkg), pkg.sha256, out, ["./*"]);
        for (const dir of PRUNED) await rm(join(out, dir), { recursive: true, force: true });
        await lstat(join(out, "lib", MULTIARCH, LOADER)).catch(() => {
          throw new FruixError(`${glibc.name} ${glibc.version} ships no lib/${MULTIARCH}/${LOADER}`);
        });
        await writeFile(join(out, "debian-packages.scm"), packagesRecord(packages));
      }),
    ),
    { name, downloads: () => packagesToDownload(packages) },
  );
}

function fetch(log: Logger, pkg: DebianPackage): Promise<string> {
  return fetchPackage(pkg, (p) => log.info(`downloading ${p.name} ${p.version}`));
}

function itemVersion(pkg: DebianPackage): string {
  return pkg.version.replace(/^\d+:/, "").replace(/[^A-Za-z0-9+.=?-]/g, "-");
}

/** Every path under `root` (files, links, directories), relative, sorted. */
async function walk(root: string): Promise<string[]> {
  return ((await readdir(root, { recursive: true })) as string[]).sort();
}

const ET_EXEC = 2;
const ET_DYN = 3;

/** ELF executables and shared objects (not .o files, not static archives). */
async function isLoadable(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const head = Buffer.alloc(18);
    const { bytesRead } = await handle.read(head, 0, 18, 0);
    if (bytesRead < 18 || head.readUInt32BE(0) !== 0x7f454c46) return false;
    const type = head.readUInt16LE(16);
    return type === ET_EXEC || type === ET_DYN;
  } finally {
    await handle.close();
  }
}

/**
 * A path in one of Debian's absolute links or linker scripts, as the
 * toolchain item must say it: the runtime item's copy, a link within the
 * tree, or (linker scripts) a bare name that ld finds in its search path.
 */
function relocate(path: string, runtimeFiles: ReadonlySet<string>, runtime: string): string | undefined {
  const name = basename(path);
  if (runtimeFiles.has(name)) return `${runtime}/lib/${MULTIARCH}/${name}`;
  return undefined;
}

/**
 * Rewrites the files GNU ld scripts name (libc.so, libm.so, libm.a,
 * libgcc_s.so) (pure): /lib/... and /usr/lib/... paths, and bare names of
 * the runtime item's libraries (libgcc_s.so's `libgcc_s.so.1`), which the
 * guest has in no directory ld searches.
 */
export function relocateLinkerScript(text: string, runtimeFiles: ReadonlySet<string>, runtime: string): string {
  return text.replace(/(?<=[\s(])(?:\/(?:usr\/)?lib(?:64)?\/[^\s()]+|[A-Za-z0-9_+-][A-Za-z0-9_.+-]*\.so\.\d[0-9.]*)(?=[\s)])/g, (path) =>
    path.startsWith("/") ? (relocate(path, runtimeFiles, runtime) ?? basename(path)) : (relocate(path, runtimeFiles, runtime) ?? path),
  );
}

/**
 * Fixes up an unpacked toolchain tree in place: absolute links, linker
 * scripts, every ELF's loader and library path, the specs file; and checks
 * that each ELF finds every library it needs.
 */
async function relocateTree(out: string, runtime: string, runtimeHost: string, patchelf: string): Promise<void> {
  const runtimeLib = join(runtimeHost, "lib", MULTIARCH);
  const runtimeFiles = new Set(await readdir(runtimeLib));
  const loader = `${runtime}/lib/${MULTIARCH}/${LOADER}`;
  const libDirs = ["usr/lib/" + MULTIARCH, "lib/" + MULTIARCH];
  const provided = new Set<string>(runtimeFiles);
  for (const dir of libDirs) for (const name of await readdir(join(out, dir)).catch(() => [] as string[])) provided.add(name);

  for (const path of await walk(out)) {
    const file = join(out, path);
    const info = await lstat(file);
    if (info.isSymbolicLink()) {
      const target = await readlink(file);
      if (!target.startsWith("/")) continue;
      await rm(file);
      const inRuntime = relocate(target, runtimeFiles, runtime);
      if (inRuntime !== undefined) await symlink(inRuntime, file);
      else if (await lstat(join(out, target)).then(() => true, () => false)) await symlink(relative(dirname(file), join(out, target)), file);
      // else: a library of a package left out (e.g. a sanitizer runtime): no dangling link.
      continue;
    }
    if (!info.isFile()) continue;
    if (/\.(so|a)$/.test(path) && info.size < 4096) {
      // libc.so, libm.so and libm.a are GNU ld scripts naming /lib and /usr/lib paths.
      const text = await readFile(file, "latin1");
      if (text.startsWith("/* GNU ld script")) {
        await writeFile(file, relocateLinkerScript(text, runtimeFiles, runtime));
        continue;
      }
    }
    if (!(await isLoadable(file))) continue;
    const { needed } = readDynamic(await readFile(file));
    for (const soname of needed) {
      if (!provided.has(soname)) throw new FruixError(`${path} needs ${soname}, which none of the development profile's Debian packages ships`);
    }
    const hasInterpreter = (await execa(patchelf, ["--print-interpreter", file], { reject: false })).exitCode === 0;
    const up = relative(dirname(file), out) || ".";
    const rpath = [`${runtime}/lib/${MULTIARCH}`, ...libDirs.map((d) => `$ORIGIN/${up}/${d}`)].join(":");
    const args = [
      ...(hasInterpreter ? ["--set-interpreter", loader] : []),
      // DT_RPATH, not RUNPATH: it also serves the libraries' own needs (libisl needs libgmp).
      ...(needed.length > 0 ? ["--force-rpath", "--set-rpath", rpath] : []),
    ];
    if (args.length === 0) continue;
    const result = await execa(patchelf, [...args, file], { reject: false, all: true });
    if (result.exitCode !== 0) throw new FruixError(`patchelf could not relocate ${path}: ${(result.all ?? "").trim().split("\n")[0]}`);
  }

  // The profile's gcc passes -specs=this: programs it links load through the runtime item too.
  // (Not as <lib dir>/specs, which GCC would read by itself: that one loses -lgcc_eh from -static links.)
  const gccDir = (await walk(join(out, "usr/lib/gcc", MULTIARCH))).find((p) => /^[^/]+\/cc1$/.test(p));
  if (gccDir === undefined) throw new FruixError(`the development profile's packages ship no usr/lib/gcc/${MULTIARCH}/*/cc1`);
  await mkdir(dirname(join(out, SPECS)), { recursive: true });
  await writeFile(join(out, SPECS), gccSpecs(runtime));
}

/** Where the toolchain item keeps the specs the profile's gcc passes. */
const SPECS = "usr/share/fruix/gcc.specs";

/** The profile's gcc (pure): Debian's driver, by its own path (it finds cc1 relative to it), with Fruix's specs. */
export function gccWrapper(toolchain: string, command: string): string {
  return [
    "#!/bin/sh",
    "# Generated by Fruix: GCC with specs that link programs to the store's C library.",
    `exec ${toolchain}/usr/bin/${command} -specs=${toolchain}/${SPECS} "$@"`,
    "",
  ].join("\n");
}

/**
 * Appended to GCC's link spec (pure): ld keeps the last -dynamic-linker, so
 * this one replaces Debian's /lib64 loader; -rpath finds libc at run time.
 */
export function gccSpecs(runtime: string): string {
  const lib = `${runtime}/lib/${MULTIARCH}`;
  return `*link:\n+ %{!static:%{!static-pie:%{!shared:-dynamic-linker ${lib}/${LOADER}}}} %{!static:%{!static-pie:-rpath ${lib}}}\n\n`;
}

/** Debian's patchelf, unpacked for this import only: a build tool, not part of any item. */
async function withPatchelf<T>(log: Logger, use: (patchelf: string) => Promise<T>): Promise<T> {
  const pkg = await resolvePackage("patchelf");
  const { path: dir, forget } = await temporaryDirectory("fruix-patchelf-");
  try {
    await unpackPackage(await fetch(log, pkg), dir, ["./usr/bin/patchelf"]);
    return await use(join(dir, "usr/bin/patchelf"));
  } finally {
    forget();
    await rm(dir, { recursive: true, force: true });
  }
}

async function importToolchain(store: Store, log: Logger, packages: readonly DebianPackage[], runtime: string): Promise<string> {
  const gcc = packages.find((p) => p.name === "gcc-12")!;
  const name = `fruix-toolchain-gcc-${itemVersion(gcc)}`;
  const key = { recipe: "linux-busybox/development-toolchain", RECIPE_VERSION, runtime, sha256: packages.map((p) => p.sha256) };
  return memoized(store, key, () =>
    log.step(`import gcc, binutils, make and the C headers from ${packages.length} Debian packages`, () =>
      withPatchelf(log, (patchelf) =>
        store.add(
          name,
          async (out) => {
            for (const pkg of packages) await unpackCached(await fetch(log, pkg), pkg.sha256, out, ["./*"]);
            for (const dir of PRUNED) await rm(join(out, dir), { recursive: true, force: true });
            await execa("chmod", ["-R", "u+w", out]); // patchelf rewrites files in place
            await relocateTree(out, runtime, store.toHostPath(runtime), patchelf);
            await writeFile(join(out, "debian-packages.scm"), packagesRecord(packages));
          },
          { references: [runtime] },
        ),
      ),
    ),
    { name, downloads: () => packagesToDownload(packages) },
  );
}

/** The profile: links into the toolchain, and the environment helper. */
async function buildProfile(store: Store, toolchain: string): Promise<string> {
  const commands = (await readdir(join(store.toHostPath(toolchain), "usr/bin"))).sort();
  const tree: Tree = {
    "usr/include": { link: `${toolchain}/usr/include` },
    lib: { link: `${toolchain}/usr/lib/${MULTIARCH}` },
    "bin/fruix-development-environment": { text: environmentScript(), mode: 0o555 },
  };
  const entry = (command: string): Tree[string] =>
    /(^|-)gcc-\d+$/.test(command) ? { text: gccWrapper(toolchain, command), mode: 0o555 } : { link: `${toolchain}/usr/bin/${command}` };
  for (const command of commands) tree[`bin/${command}`] = entry(command);
  for (const [alias, command] of Object.entries(ALIASES)) {
    if (commands.includes(command) && !commands.includes(alias)) tree[`bin/${alias}`] = entry(command);
  }
  return addTree(store, "fruix-development-profile", tree, [toolchain]);
}

/** Resolves the profile's Debian packages (apt-cache, offline) and imports them as store items. */
export async function realizeDevelopmentProfile(store: Store, log: Logger): Promise<DevelopmentItems> {
  const runtimePackages = await Promise.all(RUNTIME_PACKAGES.map((n) => resolvePackage(n)));
  const toolchainPackages = await Promise.all(TOOLCHAIN_PACKAGES.map((n) => resolvePackage(n)));
  const runtime = await importRuntime(store, log, runtimePackages);
  const toolchain = await importToolchain(store, log, toolchainPackages, runtime);
  const profile = await buildProfile(store, toolchain);
  return {
    runtime,
    toolchain,
    profile,
    packages: [...runtimePackages.map((pkg) => ({ pkg, items: [runtime] })), ...toolchainPackages.map((pkg) => ({ pkg, items: [toolchain] }))],
  };
}
