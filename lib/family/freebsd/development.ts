// The freebsd development profile and source store (docs/native-builds.md).
// The profile is made from base.txz, already the world item: links to its
// clang toolchain, headers, libraries and share/mk, and the environment
// helper, whose MAKEFLAGS points make at the profile's share/mk. The
// source store is src.txz from the distribution set directory, unpacked
// into an item of its own (tree/usr/src is the build's root).
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { removeOnInterrupt } from "../../cleanup.js";
import type { FreebsdBase, OperatingSystem, SourceTree } from "../../declaration/types.js";
import { DeclarationError, FruixError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { field, sexpDocument, sym } from "../../sexp.js";
import type { Store } from "../../store/index.js";
import { memoized } from "../../store/memo.js";
import { tempName } from "../../store/paths.js";
import type { SourceStore } from "../../system/system-build.js";
import { CURRENT_DEVELOPMENT, developmentEnvironmentScript } from "../../system/development.js";
import { addTree, type Tree } from "../../system/tree.js";
import { distDirectory } from "./base.js";

/** Bump when what a recipe here puts into its item changes. */
const RECIPE_VERSION = 1;

/** What the profile must find in the world: without them, base.txz was built without its toolchain. */
const REQUIRED = ["usr/bin/cc", "usr/include/stdio.h", "usr/share/mk/bsd.prog.mk", "usr/lib/crt1.o"];

/** Toolchain commands the profile's bin/ links, those the world has (clang's and FreeBSD's own). */
export const TOOLS = [
  "cc", "c++", "cpp", "clang", "clang++", "clang-cpp", "ld", "ld.lld", "ar", "ranlib", "nm", "objcopy", "objdump", "strip", "size",
  "strings", "readelf", "addr2line", "make", "bmake", "lex", "yacc", "m4", "install", "mtree", "config", "ctfconvert", "ctfmerge",
] as const;

/** What `eval "$(fruix-development-environment)"` sets on FreeBSD (pure): the seed's MAKEFLAGS among them. */
export function freebsdEnvironmentScript(profile = CURRENT_DEVELOPMENT): string {
  const exports: ReadonlyArray<[string, string]> = [
    ["FRUIX_DEVELOPMENT_PROFILE", profile],
    ["PATH", `${profile}/bin:$PATH`],
    ["CC", "cc"],
    ["CXX", "c++"],
    ["CPP", "cpp"],
    ["LD", "ld"],
    ["AR", "ar"],
    ["NM", "nm"],
    ["RANLIB", "ranlib"],
    ["MAKEFLAGS", `-m ${profile}/usr/share/mk`],
    ["C_INCLUDE_PATH", `${profile}/usr/include`],
    ["LIBRARY_PATH", `${profile}/usr/lib`],
  ];
  return developmentEnvironmentScript(profile, exports);
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}

/** The profile item: links into the world item, and the environment helper. */
export async function buildFreebsdDevelopmentProfile(store: Store, world: string): Promise<string> {
  const tree = join(store.toHostPath(world), "tree");
  for (const path of REQUIRED) {
    if (!(await exists(join(tree, path)))) {
      throw new FruixError(`the development profile needs ${path} from base.txz, and ${world} has none (was base.txz built WITHOUT_TOOLCHAIN?)`);
    }
  }
  const profile: Tree = {
    "usr/include": { link: `${world}/tree/usr/include` },
    "usr/share/mk": { link: `${world}/tree/usr/share/mk` },
    "usr/lib": { link: `${world}/tree/usr/lib` },
    "bin/fruix-development-environment": { text: freebsdEnvironmentScript(), mode: 0o555 },
  };
  for (const tool of TOOLS) {
    if (await exists(join(tree, "usr/bin", tool))) profile[`bin/${tool}`] = { link: `${world}/tree/usr/bin/${tool}` };
  }
  return addTree(store, "fruix-development-profile", profile, [world]);
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk);
  return hash.digest("hex");
}

/** `REVISION="14.1"` and `BRANCH="RELEASE-p5"` of sys/conf/newvers.sh (pure). */
export function sourceVersion(newvers: string | undefined): string {
  const revision = /^REVISION="([^"]+)"/m.exec(newvers ?? "")?.[1];
  const branch = /^BRANCH="([^"]+)"/m.exec(newvers ?? "")?.[1];
  return revision && branch ? `${revision}-${branch}` : "unknown";
}

function nameSafe(version: string): string {
  return version.replace(/[^A-Za-z0-9+._?=-]/g, "-");
}

/** src.txz -> `freebsd-src-<version>`: tree/usr/src, and freebsd-set.scm. */
async function importSrc(store: Store, log: Logger, tree: Extract<SourceTree, { kind: "freebsd-source" }>, base: FreebsdBase): Promise<SourceStore> {
  const { dir, origin } =
    tree.distDirectory !== undefined
      ? { dir: tree.distDirectory, origin: `dist-directory of the freebsd-source at ${tree.location.file}:${tree.location.line}:${tree.location.column}` }
      : distDirectory(base);
  const file = resolve(dir, "src.txz");
  const sha256 = await stat(file)
    .then((info) => (info.isFile() ? sha256File(file) : Promise.reject(new Error("it is not a file"))))
    .catch((error: NodeJS.ErrnoException) => {
      throw new FruixError(`cannot read FreeBSD source set ${file}: ${error.code === "ENOENT" ? "no such file" : error.message} (directory from ${origin})`);
    });
  const path = await memoized(store, { recipe: "freebsd/src.txz", RECIPE_VERSION, sha256 }, () =>
    log.step(`import ${file}`, async () => {
      // The version is inside the set: unpacked beside the store first (a `.tmp-<pid>-*` that gc
      // knows), as base.ts does with the other sets, then moved into the item named after it.
      const scratch = join(store.storeDir, tempName("tmp", process.pid, randomBytes(6).toString("hex")));
      const forget = removeOnInterrupt(scratch);
      try {
        await mkdir(scratch);
        const result = await execa("tar", ["-x", "-J", "-f", file, "-C", scratch, "--no-same-owner", "--warning=no-unknown-keyword"], { reject: false, all: true });
        if (result.exitCode !== 0) throw new FruixError(`FreeBSD source set ${file} is corrupt: ${(result.all ?? "").trim().split("\n")[0]}`);
        if (!(await exists(join(scratch, "usr/src/Makefile")))) throw new FruixError(`FreeBSD source set ${file} has no usr/src/Makefile: is it FreeBSD's src.txz?`);
        const version = sourceVersion(await readFile(join(scratch, "usr/src/sys/conf/newvers.sh"), "utf8").catch(() => undefined));
        return await store.add(`freebsd-src-${nameSafe(version)}`, async (out) => {
          await mkdir(join(out, "tree"));
          for (const entry of await readdir(scratch)) await rename(join(scratch, entry), join(out, "tree", entry));
          await writeFile(join(out, "freebsd-set.scm"), sexpDocument([sym("freebsd-set"), field("name", "src.txz"), field("sha256", sha256), field("version", version)]));
        });
      } finally {
        forget();
        await execa("chmod", ["-R", "u+w", scratch], { reject: false });
        await rm(scratch, { recursive: true, force: true });
      }
    }),
    { name: "freebsd-src" },
  );
  const record = await readFile(join(store.toHostPath(path), "freebsd-set.scm"), "utf8");
  const version = /\(version "([^"]*)"\)/.exec(record)?.[1] ?? "unknown";
  return { name: "freebsd-src", kind: "freebsd-source", path, root: `${path}/tree/usr/src`, version, provenance: [["set", "src.txz"], ["set-sha256", sha256]] };
}

/** Refuses, at the record, a source tree this base cannot use. */
function refuse(tree: SourceTree): never {
  const { file, line, column } = tree.location;
  throw new DeclarationError(file, line, column, `${tree.kind} needs a linux-busybox base; a freebsd base takes (freebsd-source)`);
}

/** The declared source trees as store items, in declaration order. */
export async function realizeFreebsdSources(store: Store, os: OperatingSystem, log: Logger): Promise<SourceStore[]> {
  const trees = os.sources ?? [];
  for (const tree of trees) if (tree.kind !== "freebsd-source") refuse(tree);
  const stores: SourceStore[] = [];
  for (const tree of trees) if (tree.kind === "freebsd-source") stores.push(await importSrc(store, log, tree, os.base as FreebsdBase));
  return stores;
}
