// /var/lib/fruix/install.scm: what was installed, where, how, and where every
// store item on the target came from — a Debian package, a FreeBSD
// distribution set, or Fruix itself (pure).
import type { DiskIds } from "../disk/layout.js";
import { field, sexpDocument, sym, type Sexp } from "../sexp.js";
import { fruixVersion } from "../version.js";
import type { SystemBuild } from "./system-build.js";

/**
 * A value only the in-guest installer can know (the disk's capacity): written
 * as the placeholder symbol `@name@`, which the family's guest/installer.sh replaces.
 */
export interface MeasuredInGuest {
  readonly placeholder: "disk-capacity" | "root-size" | "root-partition-guid";
}

export interface InstallSpec {
  readonly target: string;
  readonly targetKind: "raw-file" | "block-device";
  readonly diskCapacity: number | MeasuredInGuest;
  readonly rootSize: number | MeasuredInGuest;
  readonly espSize: number;
  /** The root file system's UUID (ext4), or for FreeBSD the root partition's GPT GUID (UFS has no UUID; gpart picks it in the guest). */
  readonly rootUuid: string | MeasuredInGuest;
  /** Set by the in-guest installer: the device it installed onto. */
  readonly installTargetDevice?: string;
  readonly installed: string; // ISO 8601
}

function itemSource(build: SystemBuild, item: string): Sexp {
  const pkg = build.packages.find((p) => p.items.includes(item))?.pkg;
  if (pkg) return [sym("source"), sym("debian-package"), field("name", pkg.name), field("version", pkg.version), field("sha256", pkg.sha256)];
  const set = build.sets?.find((s) => s.items.includes(item))?.set;
  if (set) return [sym("source"), sym("freebsd-set"), field("name", set.name), field("version", set.version), field("sha256", set.sha256)];
  return [sym("source"), sym("fruix"), field("fruix-version", fruixVersion), field("declaration-hash", build.declarationHash)];
}

function measured(value: number | MeasuredInGuest): Sexp {
  return typeof value === "number" ? value : sym(`@${value.placeholder}@`);
}

/** How install.scm names the root: the file system's UUID (ext4), or the partition's GPT GUID (FreeBSD's UFS has no UUID). */
export type RootIdField = "root-uuid" | "root-partition-guid";

/** Names the root and gives its id from the disk's ids: each family has one. */
export interface RootId {
  readonly field: RootIdField;
  of(ids: DiskIds): string;
}

export function installMetadata(build: SystemBuild, spec: InstallSpec, rootIdField: RootIdField): string {
  return sexpDocument([
    sym("install"),
    field("format", 1),
    field("closure", build.closurePath),
    field("host-name", build.hostName),
    field("base", sym(build.family)),
    field("target", spec.target),
    field("target-kind", sym(spec.targetKind)),
    ...(spec.installTargetDevice ? [field("install-target-device", spec.installTargetDevice)] : []),
    field("disk-capacity", measured(spec.diskCapacity)),
    field("root-size", measured(spec.rootSize)),
    field("esp-size", spec.espSize),
    field(rootIdField, typeof spec.rootUuid === "string" ? spec.rootUuid : measured(spec.rootUuid)),
    field("installed", spec.installed),
    field("declaration-hash", build.declarationHash),
    [sym("store-items"), ...build.items.map((item): Sexp => [sym("store-item"), field("path", item), itemSource(build, item)])],
  ]);
}
