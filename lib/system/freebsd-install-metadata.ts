// /var/lib/fruix/install.scm for a FreeBSD system (pure): the same record as
// the linux-busybox base's, with each store item traced to the distribution
// set (name, version, sha256) it came from, and the root named by its GPT
// partition GUID (UFS has no file system UUID).
import { field, sexpDocument, sym, type Sexp } from "../sexp.js";
import { fruixVersion } from "../version.js";
import type { SystemBuild } from "./build.js";
import type { InstallSpec } from "./install-metadata.js";

function itemSource(build: SystemBuild, item: string): Sexp {
  const from = build.sets?.find((s) => s.items.includes(item));
  if (from) {
    return [sym("source"), sym("freebsd-set"), field("name", from.set.name), field("version", from.set.version), field("sha256", from.set.sha256)];
  }
  return [sym("source"), sym("fruix"), field("fruix-version", fruixVersion), field("declaration-hash", build.declarationHash)];
}

/** `spec.rootUuid` carries the root partition's GPT GUID here. */
export function freebsdInstallMetadata(build: SystemBuild, spec: InstallSpec): string {
  return sexpDocument([
    sym("install"),
    field("format", 1),
    field("closure", build.closurePath),
    field("host-name", build.hostName),
    field("base", sym("freebsd")),
    field("target", spec.target),
    field("target-kind", sym(spec.targetKind)),
    ...(spec.installTargetDevice ? [field("install-target-device", spec.installTargetDevice)] : []),
    field("disk-capacity", spec.diskCapacity),
    field("root-size", spec.rootSize),
    field("esp-size", spec.espSize),
    field("root-partition-guid", spec.rootUuid),
    field("installed", spec.installed),
    field("declaration-hash", build.declarationHash),
    [sym("store-items"), ...build.items.map((item): Sexp => [sym("store-item"), field("path", item), itemSource(build, item)])],
  ]);
}
