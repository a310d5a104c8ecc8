// A native-build result root as data (pure): the manifest `result.scm` the
// guest writes beside its staged artifacts, the per-artifact file listings,
// and the expectations promotion checks before anything enters the store
// (docs/native-builds.md has the format).
import { readData, type Datum } from "../declaration/reader.js";
import { DeclarationError, FruixError } from "../errors.js";

/** The artifact kinds a native build may stage (the seed's four identities). */
export const ARTIFACT_KINDS = ["world", "kernel", "headers", "bootloader"] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

export const MANIFEST_FILE = "result.scm";
export const RESULT_FORMAT = 1;

/** One line of an artifact's listing: a regular file (executable or not) with its sha256, or a symlink with its target. */
export type ListingEntry =
  | { readonly type: "file" | "executable"; readonly path: string; readonly sha256: string }
  | { readonly type: "symlink"; readonly path: string; readonly target: string };

export interface RequiredFile {
  readonly path: string;
  readonly sha256: string;
}

export interface ArtifactRecord {
  readonly kind: string;
  /** Relative to the result root: `artifacts/<kind>`. */
  readonly directory: string;
  /** Relative to the result root: `artifacts/<kind>.files`. */
  readonly listing: string;
  readonly listingSha256: string;
  readonly fileCount: number;
  readonly requiredFiles: readonly RequiredFile[];
}

export const OPTIMIZATIONS = ["default", "none"] as const;
export type Optimization = (typeof OPTIMIZATIONS)[number];
const OPTIMIZATION = new RegExp(`^(${OPTIMIZATIONS.join("|")})$`);

export interface BuildPolicy {
  readonly jobs: number;
  /** What configured the build: "fruix-reduced" (BusyBox), "GENERIC" (FreeBSD's kernel). */
  readonly configuration: string;
  /** `default`: the configuration's own flags; `none`: -O0 (a quicker build). Absent in results of drivers before it: default. */
  readonly optimization: Optimization;
  /** The development-shell variables unset before the build (MAKEFLAGS, CFLAGS, ...). */
  readonly sanitizedEnvironment: readonly string[];
  /** The make variables every install step got (DB_FROM_SRC=yes on FreeBSD). */
  readonly installVariables: readonly string[];
}

export interface BuildResult {
  readonly format: number;
  readonly executor: string;
  readonly executorVersion: string;
  readonly runId: string;
  readonly family: string;
  readonly guestHostName: string;
  readonly closurePath: string;
  readonly sourceStore: string;
  /** The source store's own provenance record, as the guest read it. */
  readonly sourceProvenance: string;
  readonly buildPolicy: BuildPolicy;
  readonly started: string;
  readonly finished: string;
  readonly artifacts: readonly ArtifactRecord[];
}

const SHA256 = /^[0-9a-f]{64}$/;
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const STORE_ITEM = /^\/frx\/store\/[0-9a-f]{64}-[A-Za-z0-9+._?=-]+$/;

/** A manifest line that does not say what it should: one line, naming the file and position. */
function bad(file: string, at: Datum | undefined, why: string): FruixError {
  const where = at ? `${file}:${at.loc.line}:${at.loc.column}` : file;
  return new FruixError(`${where}: ${why}`);
}

/** `(name value...)` fields of a list, by name (the first of each). */
function fields(list: readonly Datum[], file: string): Map<string, { at: Datum; values: readonly Datum[] }[]> {
  const out = new Map<string, { at: Datum; values: readonly Datum[] }[]>();
  for (const d of list) {
    if (d.kind !== "list" || d.items[0]?.kind !== "symbol") throw bad(file, d, "expected a (field value...) list");
    const name = d.items[0].name;
    out.set(name, [...(out.get(name) ?? []), { at: d, values: d.items.slice(1) }]);
  }
  return out;
}

class Reader {
  constructor(
    private readonly file: string,
    private readonly map: Map<string, { at: Datum; values: readonly Datum[] }[]>,
    private readonly at: Datum,
  ) {}

  private one(name: string): { at: Datum; values: readonly Datum[] } {
    const all = this.map.get(name);
    if (!all) throw bad(this.file, this.at, `missing field (${name} ...)`);
    if (all.length > 1) throw bad(this.file, all[1]!.at, `field (${name} ...) given twice`);
    return all[0]!;
  }

  string(name: string, check?: RegExp, what?: string): string {
    const { at, values } = this.one(name);
    const v = values[0];
    if (values.length !== 1 || v?.kind !== "string") throw bad(this.file, at, `(${name} ...) needs one string`);
    if (check && !check.test(v.value)) throw bad(this.file, v, `(${name} "${v.value}") is not ${what ?? check.source}`);
    return v.value;
  }

  integer(name: string): number {
    const { at, values } = this.one(name);
    const v = values[0];
    if (values.length !== 1 || v?.kind !== "integer" || v.value < 0) throw bad(this.file, at, `(${name} ...) needs one non-negative integer`);
    return v.value;
  }

  strings(name: string): string[] {
    const { at, values } = this.one(name);
    return values.map((v) => {
      if (v.kind !== "string") throw bad(this.file, v ?? at, `(${name} ...) holds strings only`);
      return v.value;
    });
  }

  all(name: string): { at: Datum; values: readonly Datum[] }[] {
    return this.map.get(name) ?? [];
  }
}

function readArtifact(file: string, at: Datum, values: readonly Datum[]): ArtifactRecord {
  const r = new Reader(file, fields(values, file), at);
  const kind = r.string("kind");
  const requiredFiles = r.all("required-file").map(({ at: field, values: v }) => {
    if (v.length !== 2 || v[0]?.kind !== "string" || v[1]?.kind !== "string" || !SHA256.test(v[1].value)) {
      throw bad(file, field, `(required-file "PATH" "SHA256") expected`);
    }
    return { path: v[0].value, sha256: v[1].value };
  });
  return {
    kind,
    directory: r.string("directory", /^artifacts\/[a-z]+$/, "artifacts/<kind>"),
    listing: r.string("listing", /^artifacts\/[a-z]+\.files$/, "artifacts/<kind>.files"),
    listingSha256: r.string("listing-sha256", SHA256, "a sha256"),
    fileCount: r.integer("file-count"),
    requiredFiles,
  };
}

/** Reads result.scm's text. Every problem is one FruixError line with file:line:column. */
export function parseManifest(text: string, file: string): BuildResult {
  let data: Datum[];
  try {
    data = readData(text, file);
  } catch (e) {
    if (e instanceof DeclarationError) throw new FruixError(e.message);
    throw e;
  }
  const top = data[0];
  if (data.length !== 1 || top?.kind !== "list" || top.items[0]?.kind !== "symbol" || top.items[0].name !== "native-build-result") {
    throw bad(file, top, "not a native-build manifest: expected one (native-build-result ...) form");
  }
  const r = new Reader(file, fields(top.items.slice(1), file), top);
  const format = r.integer("format");
  if (format !== RESULT_FORMAT) throw bad(file, top, `manifest format ${format} is not the format ${RESULT_FORMAT} this Fruix reads`);
  const policy = r.all("build-policy")[0];
  if (!policy) throw bad(file, top, "missing field (build-policy ...)");
  const p = new Reader(file, fields(policy.values, file), policy.at);
  return {
    format,
    executor: r.string("executor"),
    executorVersion: r.string("executor-version"),
    runId: r.string("run-id", RUN_ID, "a run id ([A-Za-z0-9._-], at most 100)"),
    family: r.string("family"),
    guestHostName: r.string("guest-host-name"),
    closurePath: r.string("closure-path", STORE_ITEM, "a store item path"),
    sourceStore: r.string("source-store", STORE_ITEM, "a store item path"),
    sourceProvenance: r.string("source-provenance"),
    buildPolicy: {
      jobs: p.integer("jobs"),
      configuration: p.string("configuration"),
      optimization: p.all("optimization").length === 0 ? "default" : (p.string("optimization", OPTIMIZATION, OPTIMIZATIONS.join(" or ")) as Optimization),
      sanitizedEnvironment: p.strings("sanitized-environment"),
      installVariables: p.strings("install-variables"),
    },
    started: r.string("started"),
    finished: r.string("finished"),
    artifacts: r.all("artifact").map(({ at, values }) => readArtifact(file, at, values)),
  };
}

/** Reads an artifact listing: `f|x <TAB> sha256 <TAB> path` or `l <TAB> target <TAB> path`, one per line. */
export function parseListing(text: string, file: string): ListingEntry[] {
  const out: ListingEntry[] = [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (const [i, line] of lines.entries()) {
    const parts = line.split("\t");
    const where = `${file}:${i + 1}`;
    if (parts.length !== 3 || parts[2] === "" || parts[2]!.startsWith("/") || parts[2]!.split("/").includes("..")) {
      throw new FruixError(`${where}: not a listing line (f|x|l TAB hash-or-target TAB relative path)`);
    }
    const [type, value, path] = parts as [string, string, string];
    if (type === "l") out.push({ type: "symlink", path, target: value });
    else if ((type === "f" || type === "x") && SHA256.test(value)) out.push({ type: type === "f" ? "file" : "executable", path, sha256: value });
    else throw new FruixError(`${where}: not a listing line (f|x|l TAB hash-or-target TAB relative path)`);
  }
  return out;
}

function describe(e: ListingEntry): string {
  return e.type === "symlink" ? `a symlink to ${e.target}` : `${e.type === "executable" ? "an executable" : "a file"} with sha256 ${e.sha256}`;
}

/** The first way `found` differs from the `recorded` listing, or undefined when they agree. */
export function listingDifference(recorded: readonly ListingEntry[], found: readonly ListingEntry[]): string | undefined {
  const seen = new Map(found.map((e) => [e.path, e]));
  for (const want of recorded) {
    const got = seen.get(want.path);
    if (!got) return `${want.path} is missing (recorded as ${describe(want)})`;
    seen.delete(want.path);
    if (describe(got) !== describe(want)) return `${want.path} is ${describe(got)}, recorded as ${describe(want)}`;
  }
  const extra = [...seen.keys()].sort()[0];
  return extra === undefined ? undefined : `${extra} is not in the recorded listing`;
}

/** What a family's build must produce: the kinds it stages, each with the files it cannot be without. */
export interface NativeBuildExpectations {
  readonly family: string;
  /** Every kind the family's build stages; promotion refuses a result lacking one. */
  readonly kinds: Readonly<Partial<Record<ArtifactKind, readonly string[]>>>;
}

/** Checks the manifest against the family's expectations and itself (pure): the first problem, one line. */
export function manifestProblem(result: BuildResult, expected: NativeBuildExpectations): string | undefined {
  const kinds = new Set<string>();
  for (const a of result.artifacts) {
    if (!(ARTIFACT_KINDS as readonly string[]).includes(a.kind)) return `unknown artifact kind '${a.kind}' (known: ${ARTIFACT_KINDS.join(", ")})`;
    if (kinds.has(a.kind)) return `artifact kind '${a.kind}' is recorded twice`;
    kinds.add(a.kind);
    if (!(a.kind in expected.kinds)) return `artifact kind '${a.kind}' is not one a ${expected.family} build stages (${Object.keys(expected.kinds).join(", ")})`;
    if (a.directory !== `artifacts/${a.kind}` || a.listing !== `artifacts/${a.kind}.files`) return `artifact '${a.kind}' is not staged under artifacts/${a.kind}`;
    const recorded = new Set(a.requiredFiles.map((f) => f.path));
    const absent = expected.kinds[a.kind as ArtifactKind]!.find((f) => !recorded.has(f));
    if (absent !== undefined) return `artifact '${a.kind}' does not record the required file ${absent}`;
  }
  const lacking = Object.keys(expected.kinds).find((k) => !kinds.has(k));
  if (lacking !== undefined) return `no '${lacking}' artifact: a ${expected.family} build stages ${Object.keys(expected.kinds).join(", ")}`;
  return undefined;
}

/** The required files an artifact's listing must hold with the recorded hashes (pure). */
export function requiredFileProblem(artifact: ArtifactRecord, listing: readonly ListingEntry[]): string | undefined {
  const byPath = new Map(listing.map((e) => [e.path, e]));
  for (const required of artifact.requiredFiles) {
    const entry = byPath.get(required.path);
    if (!entry) return `required file ${artifact.directory}/${required.path} is missing`;
    if (entry.type === "symlink") return `required file ${artifact.directory}/${required.path} is a symlink, not a file`;
    if (entry.sha256 !== required.sha256) return `required file ${artifact.directory}/${required.path} has sha256 ${entry.sha256}, the manifest records ${required.sha256}`;
  }
  return undefined;
}

/** Store item names take [A-Za-z0-9+._?=-]: the run id already does (RUN_ID). */
export function artifactItemName(kind: ArtifactKind, runId: string): string {
  return `fruix-native-${kind}-${runId}`;
}

export function bundleItemName(runId: string): string {
  return `fruix-native-build-result-${runId}`;
}
