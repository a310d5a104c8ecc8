// Debian packages as inputs: resolve with apt-cache, fetch with `apt-get download`
// into a cache keyed by sha256, unpack with dpkg-deb. Nothing here needs root.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { onInterrupt, temporaryDirectory } from "../cleanup.js";
import { FruixError } from "../errors.js";
import { cacheDir } from "../paths.js";
import { planning, refuseInPlan } from "../plan.js";
import { metered } from "../progress/index.js";

/** One exact Debian binary package, as recorded in provenance. */
export interface DebianPackage {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  readonly sha256: string;
  readonly depends: string;
  /** The .deb's size in bytes (answers cached before it was recorded lack it). */
  readonly size?: number;
}

/** Parses one stanza of `apt-cache show` output (pure). */
export function parseStanza(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  let key = "";
  for (const line of text.split("\n")) {
    if (line === "") break; // first stanza only
    if (/^\s/.test(line) && key) {
      fields.set(key, `${fields.get(key)}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    key = line.slice(0, colon);
    fields.set(key, line.slice(colon + 1).trim());
  }
  return fields;
}

/** `linux-image-amd64` is a metapackage; the real image is its `linux-image-*` dependency. */
export function kernelImageDependency(depends: string): string | undefined {
  return depends
    .split(",")
    .map((d) => d.trim().split(/\s|\(/)[0]!)
    .find((name) => /^linux-image-\d/.test(name));
}

async function queryApt(name: string): Promise<DebianPackage> {
  const result = await execa("apt-cache", ["show", "--no-all-versions", name], { reject: false });
  const fields = parseStanza(result.stdout);
  const version = fields.get("Version");
  const sha256 = fields.get("SHA256");
  if (result.exitCode !== 0 || !version || !sha256) {
    throw new FruixError(
      `Debian package '${name}' is not known to apt (run 'apt-get update' as root, or check the name)`,
    );
  }
  return {
    name: fields.get("Package") ?? name,
    version,
    architecture: fields.get("Architecture") ?? "amd64",
    sha256,
    depends: fields.get("Depends") ?? "",
    size: Number(fields.get("Size")) || undefined,
  };
}

/** What apt's answers depend on: its package lists and configuration, by size and mtime. */
const APT_STATE = ["/var/lib/apt/lists", "/etc/apt"];

async function aptFingerprint(): Promise<string> {
  const hash = createHash("sha256");
  for (const top of APT_STATE) {
    const entries = await readdir(top, { recursive: true }).catch(() => [] as string[]);
    for (const entry of entries.sort()) {
      if (entry === "lock" || entry.startsWith("partial")) continue;
      const info = await stat(join(top, entry)).catch(() => undefined);
      if (info?.isFile()) hash.update(`${top}/${entry} ${info.size} ${info.mtimeMs}\n`);
    }
  }
  return hash.digest("hex");
}

let fingerprint: Promise<string> | undefined;

/**
 * `apt-cache show` costs most of a second, so answers are kept per apt state:
 * while the lists and configuration are unchanged, so is the answer.
 */
export async function resolvePackage(name: string): Promise<DebianPackage> {
  fingerprint ??= aptFingerprint();
  const file = join(cacheDir(), "apt-answers", `${await fingerprint}-${name}.json`);
  const known = await readFile(file, "utf8").catch(() => undefined);
  if (known) return JSON.parse(known) as DebianPackage;
  const pkg = await queryApt(name);
  if (planning()) return pkg; // --dry-run writes no cache
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.${process.pid}`, JSON.stringify(pkg));
  await rename(`${file}.${process.pid}`, file);
  return pkg;
}

/** Resolves a kernel package, following a metapackage to the versioned image package. */
export async function resolveKernelPackage(name: string): Promise<DebianPackage> {
  const pkg = await resolvePackage(name);
  const image = kernelImageDependency(pkg.depends);
  return image && image !== pkg.name ? resolvePackage(image) : pkg;
}

/** Bytes of the files under `dir` (apt-get writes the .deb there as it arrives). */
async function bytesIn(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true }).catch(() => [] as string[])) {
    const st = await stat(join(dir, entry)).catch(() => undefined);
    if (st?.isFile()) total += st.size;
  }
  return total;
}

/** Runs `fn`, calling `poll` every quarter second meanwhile. */
async function whilePolling<T>(poll: () => Promise<void>, fn: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => void poll().catch(() => undefined), 250);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
    await poll().catch(() => undefined); // the last count, for the "done" line
  }
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk);
  return hash.digest("hex");
}

function debFileName(pkg: DebianPackage): string {
  return `${pkg.name}_${pkg.version.replace(/:/g, "%3a")}_${pkg.architecture}.deb`;
}

/**
 * Returns the path of the package's .deb in the download cache, downloading it
 * only when the cache lacks a copy with the expected sha256.
 */
async function cachedDeb(pkg: DebianPackage): Promise<string | undefined> {
  const cached = join(cacheDir(), "debs", debFileName(pkg));
  if ((await stat(cached).catch(() => undefined)) && (await sha256File(cached)) === pkg.sha256) return cached;
  return undefined;
}

/** What --dry-run says of the packages a recipe needs: those the download cache lacks. */
export async function packagesToDownload(pkgs: readonly DebianPackage[]): Promise<string[]> {
  const missing: string[] = [];
  for (const pkg of pkgs) if ((await cachedDeb(pkg)) === undefined) missing.push(`${pkg.name} ${pkg.version}`);
  return missing;
}

export async function fetchPackage(pkg: DebianPackage, onDownload?: (pkg: DebianPackage) => void): Promise<string> {
  const dir = join(cacheDir(), "debs");
  const cached = join(dir, debFileName(pkg));
  if ((await cachedDeb(pkg)) !== undefined) return cached;
  refuseInPlan(`download ${pkg.name}`);

  onDownload?.(pkg);
  await mkdir(dir, { recursive: true });
  const { path: tmp, forget } = await temporaryDirectory("fruix-download-", { parent: dir });
  try {
    const result = await metered(`download ${pkg.name} ${pkg.version}`, pkg.size, (progress) =>
      whilePolling(() => bytesIn(tmp).then((n) => progress.update(n)), () =>
        execa("apt-get", ["download", `${pkg.name}=${pkg.version}`], { cwd: tmp, reject: false, all: true }),
      ),
    );
    const [file] = (await readdir(tmp)).filter((f) => f.endsWith(".deb"));
    if (result.exitCode !== 0 || !file) {
      const reason = (result.all ?? "").split("\n").filter((l) => /^(E|W):/.test(l)).pop() ?? `exit ${result.exitCode}`;
      throw new FruixError(`cannot download Debian package ${pkg.name} ${pkg.version}: ${reason}`);
    }
    const got = await sha256File(join(tmp, file));
    if (got !== pkg.sha256) {
      throw new FruixError(`Debian package ${pkg.name} ${pkg.version} has sha256 ${got}, apt expects ${pkg.sha256}`);
    }
    await rename(join(tmp, file), cached);
    return cached;
  } finally {
    forget();
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Unpacks members of a .deb's data archive into `dest`. `members` are tar
 * patterns such as `./boot/vmlinuz-*`; every pattern must match something.
 */
export async function unpackPackage(deb: string, dest: string, members: readonly string[]): Promise<void> {
  await mkdir(dest, { recursive: true });
  const tarArgs = ["-x", "-C", dest, "--no-same-owner", "--wildcards", ...members];
  const source = execa("dpkg-deb", ["--fsys-tarfile", deb], { buffer: false });
  const tar = execa("tar", tarArgs, { reject: false, stderr: "pipe" });
  // On Ctrl-C, stopped before `dest` is removed (undos run newest first): a tar
  // still writing would refill the directory as it is being deleted.
  const forget = onInterrupt(() => {
    source.kill("SIGKILL");
    tar.kill("SIGKILL");
  });
  const result = await source.pipe(tar).finally(forget);
  if (result.exitCode !== 0) {
    throw new FruixError(`cannot unpack ${members.join(" ")} from ${deb}: ${String(result.stderr).trim().split("\n")[0]}`);
  }
}
