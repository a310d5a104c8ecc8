// The linux-busybox source store (docs/native-builds.md, "Source store"):
// each declared Debian source package, fetched with `apt-get source` through
// Fruix's private apt configuration (lib/debian/source.ts), unpacked and
// patched by dpkg-source, becomes a store item:
//   tree/        the unpacked source, debian/ included (the build's root)
//   dsc/NAME.dsc the .dsc it came from
//   source.scm   name, version, the .dsc's sha256 and every file's
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fetchSource, resolveSource, unpackSource, type DebianSource } from "../../debian/source.js";
import type { OperatingSystem, SourceTree } from "../../declaration/types.js";
import { DeclarationError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { field, sexpDocument, sym } from "../../sexp.js";
import type { Store } from "../../store/index.js";
import { memoized } from "../../store/memo.js";
import type { SourceStore } from "../../system/system-build.js";

/** Bump when what the recipe puts into its item changes. */
const RECIPE_VERSION = 1;

function sourceRecord(source: DebianSource, version: string): string {
  return sexpDocument([
    sym("debian-source-package"),
    field("name", source.name),
    field("version", version),
    field("dsc", source.dsc),
    field("dsc-sha256", source.dscSha256),
    [sym("files"), ...source.files.map((f) => [sym("file"), field("name", f.name), field("size", f.size), field("sha256", f.sha256)])],
  ]);
}

/** Store item names take [A-Za-z0-9+._?=-]. */
function nameSafe(version: string): string {
  return version.replace(/^\d+:/, "").replace(/[^A-Za-z0-9+._?=-]/g, "-");
}

async function importDebianSource(store: Store, log: Logger, name: string): Promise<SourceStore> {
  const source = await resolveSource(name);
  const itemName = `${name}-source-${nameSafe(source.version)}`;
  const path = await memoized(store, { recipe: "debian-source", RECIPE_VERSION, dscSha256: source.dscSha256 }, () =>
    log.step(`import Debian source package ${name} ${source.version}`, async () => {
      const dir = await fetchSource(source, () => log.info(`downloading source package ${name} ${source.version}`));
      return store.add(itemName, async (out) => {
        const version = await unpackSource(dir, source, join(out, "tree"));
        await mkdir(join(out, "dsc"));
        await copyFile(join(dir, source.dsc), join(out, "dsc", source.dsc));
        await writeFile(join(out, "source.scm"), sourceRecord(source, version));
      });
    }),
    { name: itemName },
  );
  // The full version (with its epoch) is the .dsc's, as recorded in the item.
  const record = await readFile(join(store.toHostPath(path), "source.scm"), "utf8");
  const version = /\(version "([^"]*)"\)/.exec(record)?.[1] ?? source.version;
  return {
    name,
    kind: "debian-source-package",
    path,
    root: `${path}/tree`,
    version,
    provenance: [
      ["dsc", source.dsc],
      ["dsc-sha256", source.dscSha256],
    ],
  };
}

/** Refuses, at the record, a source tree this base cannot use. */
function refuse(tree: SourceTree): never {
  const { file, line, column } = tree.location;
  throw new DeclarationError(file, line, column, `${tree.kind} needs a freebsd base; a linux-busybox base takes (debian-source-package (name "..."))`);
}

/** The declared source trees as store items, in declaration order. */
export async function realizeLinuxSources(store: Store, os: OperatingSystem, log: Logger): Promise<SourceStore[]> {
  const trees = os.sources ?? [];
  for (const tree of trees) if (tree.kind !== "debian-source-package") refuse(tree);
  const stores: SourceStore[] = [];
  for (const tree of trees) if (tree.kind === "debian-source-package") stores.push(await importDebianSource(store, log, tree.name));
  return stores;
}
