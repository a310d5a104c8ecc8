// `fruix native-build promote RESULT_ROOT`: a result root copied back from a
// guest (mutable staging) becomes immutable store identities, one item per
// artifact kind and a result bundle referencing them. Everything is checked
// first — manifest, family expectations, listings, hashes — so a refused
// result root adds nothing to the store.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { cp, lstat, readdir, readFile, readlink, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FruixError } from "../errors.js";
import { FAMILIES } from "../family/index.js";
import type { Logger } from "../log.js";
import { field, sexpDocument, sym, type Sexp } from "../sexp.js";
import type { Store } from "../store/index.js";
import {
  artifactItemName,
  bundleItemName,
  listingDifference,
  manifestProblem,
  MANIFEST_FILE,
  parseListing,
  parseManifest,
  requiredFileProblem,
  type ArtifactKind,
  type ArtifactRecord,
  type BuildResult,
  type ListingEntry,
} from "./result.js";

export interface Promoted {
  readonly runId: string;
  readonly family: string;
  /** Kind -> store path, in the order the manifest lists them. */
  readonly artifacts: ReadonlyArray<{ readonly kind: ArtifactKind; readonly path: string }>;
  readonly bundle: string;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The listing of what is really under `dir`, as the guest writes it (sorted by path bytes). */
export async function scanArtifact(dir: string): Promise<ListingEntry[]> {
  const out: ListingEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(dir, rel))).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      const path = rel === "" ? name : `${rel}/${name}`;
      const full = join(dir, path);
      const st = await lstat(full);
      if (st.isSymbolicLink()) out.push({ type: "symlink", path, target: await readlink(full) });
      else if (st.isDirectory()) await walk(path);
      else if (st.isFile()) out.push({ type: st.mode & 0o111 ? "executable" : "file", path, sha256: await sha256File(full) });
      else throw new FruixError(`${full}: not a regular file, directory or symlink; an artifact holds only those`);
    }
  };
  await walk("");
  return out.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/** Reads and checks a result root; throws one FruixError line for the first problem. Touches no store. */
export async function checkResultRoot(root: string): Promise<{ result: BuildResult; listings: Map<string, ListingEntry[]> }> {
  const st = await stat(root).catch(() => undefined);
  if (!st) throw new FruixError(`${root}: no such result root`);
  if (!st.isDirectory()) throw new FruixError(`${root}: not a native-build result root (not a directory)`);
  const manifestFile = join(root, MANIFEST_FILE);
  const text = await readFile(manifestFile, "utf8").catch(() => undefined);
  if (text === undefined) throw new FruixError(`${root}: not a native-build result root (no ${MANIFEST_FILE})`);
  const result = parseManifest(text, manifestFile);
  const family = FAMILIES.find((f) => f.name === result.family);
  if (!family) throw new FruixError(`${manifestFile}: unknown family '${result.family}' (known: ${FAMILIES.map((f) => f.name).join(", ")})`);
  const problem = manifestProblem(result, { family: family.name, kinds: family.nativeBuild.kinds });
  if (problem) throw new FruixError(`${root}: ${problem}`);

  const listings = new Map<string, ListingEntry[]>();
  for (const artifact of result.artifacts) listings.set(artifact.kind, await checkArtifact(root, artifact));
  return { result, listings };
}

async function checkArtifact(root: string, artifact: ArtifactRecord): Promise<ListingEntry[]> {
  const listingFile = join(root, artifact.listing);
  const bytes = await readFile(listingFile).catch(() => undefined);
  if (bytes === undefined) throw new FruixError(`${root}: the listing ${artifact.listing} is missing`);
  const listingHash = createHash("sha256").update(bytes).digest("hex");
  if (listingHash !== artifact.listingSha256) {
    throw new FruixError(`${root}: ${artifact.listing} has sha256 ${listingHash}, the manifest records ${artifact.listingSha256}`);
  }
  const recorded = parseListing(bytes.toString("utf8"), listingFile);
  if (recorded.length !== artifact.fileCount) {
    throw new FruixError(`${root}: ${artifact.listing} lists ${recorded.length} entries, the manifest records ${artifact.fileCount}`);
  }
  const required = requiredFileProblem(artifact, recorded);
  if (required) throw new FruixError(`${root}: ${required}`);
  const dir = join(root, artifact.directory);
  const dirStat = await lstat(dir).catch(() => undefined);
  if (!dirStat?.isDirectory()) throw new FruixError(`${root}: the artifact directory ${artifact.directory} is missing`);
  const difference = listingDifference(recorded, await scanArtifact(dir));
  if (difference) throw new FruixError(`${root}: ${artifact.directory}: ${difference}`);
  return recorded;
}

/** The record every promoted item carries (`native-build.scm`): the seed's metadata. */
export function promotionRecord(result: BuildResult, artifact?: ArtifactRecord, artifacts?: Promoted["artifacts"]): string {
  const policy = result.buildPolicy;
  const common: Sexp[] = [
    field("executor", result.executor),
    field("executor-version", result.executorVersion),
    field("run-id", result.runId),
    field("family", result.family),
    field("guest-host-name", result.guestHostName),
    field("closure-path", result.closurePath),
    field("source-store", result.sourceStore),
    field("source-provenance", result.sourceProvenance),
    [
      sym("build-policy"),
      field("jobs", policy.jobs),
      field("configuration", policy.configuration),
      field("optimization", policy.optimization),
      field("sanitized-environment", [...policy.sanitizedEnvironment]),
      field("install-variables", [...policy.installVariables]),
    ],
    field("started", result.started),
    field("finished", result.finished),
  ];
  if (artifact) {
    return sexpDocument([
      sym("native-build-artifact"),
      field("kind", artifact.kind),
      ...common,
      [sym("required-files"), ...artifact.requiredFiles.map((f): Sexp => [f.path, f.sha256])],
      field("listing-sha256", artifact.listingSha256),
      field("file-count", artifact.fileCount),
    ]);
  }
  return sexpDocument([
    sym("native-build-result"),
    ...common,
    [sym("artifacts"), ...(artifacts ?? []).map((a): Sexp => [sym(a.kind), a.path])],
  ]);
}

/** Checks the result root, then adds the artifact items and the bundle; GC-roots the bundle. */
export async function promoteResult(store: Store, root: string, log: Logger): Promise<Promoted> {
  const { result } = await log.step(`check the result root ${root}`, () => checkResultRoot(root));
  const artifacts: { kind: ArtifactKind; path: string }[] = [];
  for (const artifact of result.artifacts) {
    const kind = artifact.kind as ArtifactKind;
    const path = await log.step(`promote ${kind}`, () =>
      store.add(artifactItemName(kind, result.runId), async (out) => {
        await cp(join(root, artifact.directory), out, { recursive: true, verbatimSymlinks: true, errorOnExist: false, force: true });
        await writeFile(join(out, "native-build.scm"), promotionRecord(result, artifact));
      }),
    );
    artifacts.push({ kind, path });
  }
  const bundle = await log.step("result bundle", () =>
    store.add(
      bundleItemName(result.runId),
      async (out) => {
        await writeFile(join(out, MANIFEST_FILE), await readFile(join(root, MANIFEST_FILE)));
        await writeFile(join(out, "native-build.scm"), promotionRecord(result, undefined, artifacts));
        for (const a of artifacts) await symlink(a.path, join(out, a.kind));
      },
      { references: artifacts.map((a) => a.path) },
    ),
  );
  await store.addRoot(`native-build-${result.runId}`, bundle);
  return { runId: result.runId, family: result.family, artifacts, bundle };
}
