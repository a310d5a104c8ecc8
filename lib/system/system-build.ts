// What every family's closure build shares: the SystemBuild record the
// operations on a built system take, the head of metadata.scm,
// store-layout.scm, the declaration hash, and the in-guest helper's item.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { DebianPackage } from "../debian/apt.js";
import { canonicalSystem } from "../declaration/index.js";
import type { BaseSpec, OperatingSystem } from "../declaration/types.js";
import { guestDir } from "../paths.js";
import { field, sexpDocument, sym, type Sexp } from "../sexp.js";
import type { Store } from "../store/index.js";
import { fruixVersion } from "../version.js";
import { addTree } from "./tree.js";

/** A distribution set (FreeBSD's base.txz, kernel.txz) as provenance records it. */
export interface DistributionSet {
  readonly name: string;
  readonly sha256: string;
  readonly version: string;
}

export interface SystemBuild {
  /** Which base family built it: lib/family/index.ts turns it into the family's code. */
  readonly family: BaseSpec["family"];
  readonly closurePath: string;
  readonly hostName: string;
  /** Every store item the system needs, the closure item included, sorted. */
  readonly items: readonly string[];
  readonly declarationHash: string;
  /** The Debian packages the base came from, with the store items made from each. */
  readonly packages: ReadonlyArray<{ readonly pkg: DebianPackage; readonly items: readonly string[] }>;
  /** The FreeBSD distribution sets the base came from, with the store items made from each. */
  readonly sets?: ReadonlyArray<{ readonly set: DistributionSet; readonly items: readonly string[] }>;
}

/** The fields every closure's metadata/metadata.scm starts with, whatever its base. */
export function systemMetadataHead(os: OperatingSystem): Sexp[] {
  return [
    sym("fruix-system"),
    field("format", 1),
    field("host-name", os.hostName),
    field("declaration-binding", os.binding),
    field("declaration-hash", declarationHash(os)),
    field("base", sym(os.base.family)),
  ];
}

/**
 * A declared source tree made into a store item (docs/native-builds.md,
 * "Source store"): where it is, and where it came from.
 */
export interface SourceStore {
  /** As in the declaration: the Debian source package, or "freebsd-src". */
  readonly name: string;
  /** The record that declared it, e.g. "debian-source-package". */
  readonly kind: string;
  /** The store item (in-guest path). */
  readonly path: string;
  /** The directory to build in: the item's tree, or a directory under it. */
  readonly root: string;
  readonly version: string;
  /** Where it came from: e.g. the .dsc and its sha256, or the set and its sha256. */
  readonly provenance: ReadonlyArray<readonly [string, string]>;
}

/** `(source-store (name ..) (kind ..) (path ..) (root ..) (version ..) ...provenance)`: one field a line, for shell readers. */
export function sourceStoreSexp(source: SourceStore): Sexp {
  return [
    sym("source-store"),
    field("name", source.name),
    field("kind", sym(source.kind)),
    field("path", source.path),
    field("root", source.root),
    field("version", source.version),
    ...source.provenance.map(([key, value]) => field(key, value)),
  ];
}

/**
 * The source stores a store-layout.scm records (pure): what a native build
 * reads back from a built closure or a running guest's metadata.
 */
export function sourceStoresOf(storeLayout: string): SourceStore[] {
  const stores: SourceStore[] = [];
  for (const block of storeLayout.split(/\(source-store\b/).slice(1)) {
    const fields = new Map<string, string>();
    for (const m of block.matchAll(/\(([a-z0-9-]+) (?:"((?:[^"\\]|\\.)*)"|([a-z0-9-]+))\)/g)) {
      if (!fields.has(m[1]!)) fields.set(m[1]!, m[2] !== undefined ? (JSON.parse(`"${m[2]}"`) as string) : m[3]!);
    }
    const take = (key: string) => fields.get(key) ?? "";
    const known = new Set(["name", "kind", "path", "root", "version"]);
    stores.push({
      name: take("name"),
      kind: take("kind"),
      path: take("path"),
      root: take("root"),
      version: take("version"),
      provenance: [...fields].filter(([key]) => !known.has(key)),
    });
  }
  return stores;
}

/**
 * metadata/store-layout.scm: every store item the closure references, and
 * its source stores (only when there are any: closures without keep their bytes).
 */
export function storeLayoutDocument(references: readonly string[], sources: readonly SourceStore[] = []): string {
  return sexpDocument([
    sym("store-layout"),
    field("store", "/frx/store"),
    field("item-count", references.length),
    field("references", [...references]),
    ...(sources.length === 0 ? [] : [[sym("source-stores"), ...sources.map(sourceStoreSexp)] as Sexp]),
  ]);
}

export function declarationHash(os: OperatingSystem): string {
  return createHash("sha256").update(canonicalSystem(os)).digest("hex");
}

/** The in-guest helper (lib/guest/fruix.sh, the same on every family) as a store item. */
export async function buildHelper(store: Store): Promise<string> {
  const text = await readFile(join(guestDir, "fruix.sh"), "utf8");
  return addTree(store, `fruix-helper-${fruixVersion}`, { "bin/fruix": { text, mode: 0o555 } });
}

/**
 * An activation script with a family's development part inserted before its
 * "activated" line (pure). Only closures with a development profile get it, so
 * the activation (and the closure path) of every other system is unchanged.
 */
export function withDevelopmentActivation(activation: string, part: string): string {
  const marker = '\nsay "activated $self"\n';
  const at = activation.indexOf(marker);
  if (at < 0) throw new Error('activation script has no say "activated $self" line');
  return `${activation.slice(0, at + 1)}${part.endsWith("\n") ? part : part + "\n"}${activation.slice(at + 1)}`;
}
