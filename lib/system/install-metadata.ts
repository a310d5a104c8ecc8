// /var/lib/fruix/install.scm: what was installed, where, how, and where every
// store item on the target came from (pure).
import { field, sexpDocument, sym, type Sexp } from "../sexp.js";
import { fruixVersion } from "../version.js";
import type { SystemBuild } from "./build.js";

export interface InstallSpec {
  readonly target: string;
  readonly targetKind: "raw-file" | "block-device";
  readonly diskCapacity: number;
  readonly rootSize: number;
  readonly espSize: number;
  readonly rootUuid: string;
  /** Set by the in-guest installer: the device it installed onto. */
  readonly installTargetDevice?: string;
  readonly installed: string; // ISO 8601
}

function itemSource(build: SystemBuild, item: string): Sexp {
  const from = build.packages.find((p) => p.items.includes(item));
  if (from) {
    return [sym("source"), sym("debian-package"), field("name", from.pkg.name), field("version", from.pkg.version), field("sha256", from.pkg.sha256)];
  }
  return [sym("source"), sym("fruix"), field("fruix-version", fruixVersion), field("declaration-hash", build.declarationHash)];
}

export function installMetadata(build: SystemBuild, spec: InstallSpec): string {
  return sexpDocument([
    sym("install"),
    field("format", 1),
    field("closure", build.closurePath),
    field("host-name", build.hostName),
    field("target", spec.target),
    field("target-kind", sym(spec.targetKind)),
    ...(spec.installTargetDevice ? [field("install-target-device", spec.installTargetDevice)] : []),
    field("disk-capacity", spec.diskCapacity),
    field("root-size", spec.rootSize),
    field("esp-size", spec.espSize),
    field("root-uuid", spec.rootUuid),
    field("installed", spec.installed),
    field("declaration-hash", build.declarationHash),
    [sym("store-items"), ...build.items.map((item): Sexp => [sym("store-item"), field("path", item), itemSource(build, item)])],
  ]);
}
