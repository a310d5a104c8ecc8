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

/** metadata/store-layout.scm: every store item the closure references. */
export function storeLayoutDocument(references: readonly string[]): string {
  return sexpDocument([sym("store-layout"), field("store", "/frx/store"), field("item-count", references.length), field("references", [...references])]);
}

export function declarationHash(os: OperatingSystem): string {
  return createHash("sha256").update(canonicalSystem(os)).digest("hex");
}

/** The in-guest helper (lib/guest/fruix.sh, the same on every family) as a store item. */
export async function buildHelper(store: Store): Promise<string> {
  const text = await readFile(join(guestDir, "fruix.sh"), "utf8");
  return addTree(store, `fruix-helper-${fruixVersion}`, { "bin/fruix": { text, mode: 0o555 } });
}
