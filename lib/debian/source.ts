// Debian source packages as inputs (docs/native-builds.md, "Source store"):
// `apt-get source --download-only`, then `dpkg-source -x`, through a private
// apt configuration under the Fruix cache. It reads the archives the host's
// apt already uses and adds their deb-src lines there; the host's own apt
// configuration, lists and caches are never written. apt checks the files
// against the archive's signed indexes, dpkg-source against the .dsc.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { temporaryDirectory } from "../cleanup.js";
import { FruixError } from "../errors.js";
import { cacheDir } from "../paths.js";
import { refuseInPlan } from "../plan.js";

/** One `deb` entry of the host's apt sources. */
export interface AptSource {
  readonly uri: string;
  readonly suite: string;
  readonly components: readonly string[];
  readonly signedBy?: string;
}

/** `deb [opts] URI SUITE COMP...` lines of a sources.list (pure); deb-src and comments are skipped. */
export function parseSourcesList(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line.startsWith("deb ") && !line.startsWith("deb\t")) continue;
    let rest = line.slice(3).trim();
    let signedBy: string | undefined;
    const options = /^\[([^\]]*)\]\s*/.exec(rest);
    if (options) {
      signedBy = /(?:^|\s)signed-by=(\S+)/.exec(options[1]!)?.[1];
      rest = rest.slice(options[0].length);
    }
    const [uri, suite, ...components] = rest.split(/\s+/);
    if (uri && suite) sources.push({ uri, suite, components, ...(signedBy ? { signedBy } : {}) });
  }
  return sources;
}

/** deb822 `.sources` stanzas with `Types: deb` (pure); `Enabled: no` stanzas are skipped. */
export function parseDeb822Sources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let key = "";
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#")) continue;
      if (/^\s/.test(line) && key) {
        fields.set(key, `${fields.get(key)} ${line.trim()}`);
        continue;
      }
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      key = line.slice(0, colon).trim().toLowerCase();
      fields.set(key, line.slice(colon + 1).trim());
    }
    const words = (name: string) => (fields.get(name) ?? "").split(/\s+/).filter(Boolean);
    if (!words("types").includes("deb") || fields.get("enabled")?.toLowerCase() === "no") continue;
    const signedBy = fields.get("signed-by");
    // An inline key (several lines) cannot go into a one-line entry; apt's trusted keys then decide.
    const signed = signedBy && !signedBy.includes(" ") ? { signedBy } : {};
    for (const uri of words("uris")) for (const suite of words("suites")) sources.push({ uri, suite, components: words("components"), ...signed });
  }
  return sources;
}

/** The private sources.list: a deb-src line for each of the host's deb entries (pure). */
export function sourceLines(sources: readonly AptSource[]): string {
  const lines = sources.map((s) => `deb-src ${s.signedBy ? `[signed-by=${s.signedBy}] ` : ""}${s.uri} ${s.suite} ${s.components.join(" ")}`.trim());
  return [...new Set(lines)].join("\n") + "\n";
}

/** The host's apt sources: /etc/apt/sources.list and sources.list.d/*.list and *.sources, read only. */
export async function hostAptSources(etc = "/etc/apt"): Promise<AptSource[]> {
  const sources = parseSourcesList(await readFile(join(etc, "sources.list"), "utf8").catch(() => ""));
  const parts = (await readdir(join(etc, "sources.list.d")).catch(() => [] as string[])).sort();
  for (const name of parts) {
    const text = await readFile(join(etc, "sources.list.d", name), "utf8").catch(() => "");
    if (name.endsWith(".list")) sources.push(...parseSourcesList(text));
    else if (name.endsWith(".sources")) sources.push(...parseDeb822Sources(text));
  }
  return sources;
}

/** The private apt tree under the cache, and the options that point apt at it. */
async function privateApt(): Promise<{ dir: string; options: string[] }> {
  const dir = join(cacheDir(), "apt-source");
  const sources = await hostAptSources();
  if (sources.length === 0) throw new FruixError("the host's apt has no deb sources (/etc/apt/sources.list, /etc/apt/sources.list.d) to add deb-src lines for");
  for (const sub of ["etc/sources.list.d", "etc/preferences.d", "state/lists/partial", "cache/archives/partial"]) await mkdir(join(dir, sub), { recursive: true });
  const list = sourceLines(sources);
  const listFile = join(dir, "etc", "sources.list");
  if ((await readFile(listFile, "utf8").catch(() => "")) !== list) {
    await writeFile(`${listFile}.${process.pid}`, list);
    await rename(`${listFile}.${process.pid}`, listFile);
  }
  await writeFile(join(dir, "state", "status"), "", { flag: "a" });
  const options = [
    `Dir::Etc::sourcelist=${listFile}`,
    `Dir::Etc::sourceparts=${join(dir, "etc", "sources.list.d")}`,
    `Dir::Etc::preferencesparts=${join(dir, "etc", "preferences.d")}`,
    `Dir::State=${join(dir, "state")}`,
    `Dir::State::status=${join(dir, "state", "status")}`,
    `Dir::Cache=${join(dir, "cache")}`,
    "APT::Sandbox::User=root", // the cache may be in a directory _apt cannot write
  ].flatMap((o) => ["-o", o]);
  return { dir, options };
}

function lastError(output: string | undefined, fallback: string): string {
  return (output ?? "").split("\n").filter((l) => /^(E|W):/.test(l)).pop()?.replace(/^E:\s*/, "") ?? fallback;
}

async function updateLists(options: readonly string[]): Promise<void> {
  refuseInPlan("apt-get update (private deb-src lists)");
  // Some of the host's archives may have no sources; what matters is whether the package is then found.
  await execa("apt-get", [...options, "update"], { reject: false, all: true });
}

/** One Debian source package as apt resolved it: its .dsc and the files it lists. */
export interface DebianSource {
  readonly name: string;
  readonly version: string;
  readonly dsc: string; // file name
  readonly dscSha256: string;
  /** Every file apt fetches (the .dsc included): name, size, sha256. */
  readonly files: ReadonlyArray<{ readonly name: string; readonly size: number; readonly sha256: string }>;
}

/** `'URI' NAME SIZE SHA256:HEX` lines of `apt-get source --print-uris` (pure). */
export function parsePrintUris(output: string): Array<{ name: string; size: number; sha256: string }> {
  const files: Array<{ name: string; size: number; sha256: string }> = [];
  for (const line of output.split("\n")) {
    const m = /^'[^']+'\s+(\S+)\s+(\d+)\s+(?:SHA256:)?([0-9a-f]{64})\s*$/.exec(line.trim());
    if (m) files.push({ name: m[1]!, size: Number(m[2]), sha256: m[3]! });
  }
  return files;
}

/** The `Version:` of a .dsc (pure). */
export function dscVersion(text: string): string | undefined {
  return /^Version:\s*(\S+)/m.exec(text)?.[1];
}

/** Resolves `name` (offline once the private lists exist) to the files apt would fetch. */
export async function resolveSource(name: string): Promise<DebianSource> {
  const { dir, options } = await privateApt();
  const query = () => execa("apt-get", [...options, "source", "--print-uris", "--only-source", name], { reject: false, all: true, cwd: dir });
  let result = await query();
  if (parsePrintUris(result.stdout).length === 0) {
    await updateLists(options);
    result = await query();
  }
  const files = parsePrintUris(result.stdout);
  const dsc = files.find((f) => f.name.endsWith(".dsc"));
  if (result.exitCode !== 0 || dsc === undefined) {
    throw new FruixError(`Debian source package '${name}' is not known to apt's deb-src lists (${lastError(result.all, `exit ${result.exitCode}`)})`);
  }
  // NAME_VERSION.dsc, the epoch left out; the .dsc itself names the full version once fetched.
  const version = dsc.name.replace(/\.dsc$/, "").slice(name.length + 1);
  return { name, version, dsc: dsc.name, dscSha256: dsc.sha256, files };
}

async function sha256File(file: string): Promise<string | undefined> {
  const bytes = await readFile(file).catch(() => undefined);
  return bytes && createHash("sha256").update(bytes).digest("hex");
}

/** The directory holding the source package's files, downloaded only when the cache lacks a verified copy. */
export async function fetchSource(source: DebianSource, onDownload?: () => void): Promise<string> {
  const dir = join(cacheDir(), "debian-sources", source.dsc.replace(/\.dsc$/, ""));
  const complete = async () => {
    for (const f of source.files) if ((await sha256File(join(dir, f.name))) !== f.sha256) return false;
    return true;
  };
  if (await complete()) return dir;
  refuseInPlan(`download Debian source package ${source.name} ${source.version}`);
  onDownload?.();
  const { options } = await privateApt();
  await mkdir(join(cacheDir(), "debian-sources"), { recursive: true });
  const { path: tmp, forget } = await temporaryDirectory("fruix-source-", { parent: join(cacheDir(), "debian-sources") });
  try {
    const result = await execa("apt-get", [...options, "source", "--download-only", "--only-source", source.name], {
      cwd: tmp,
      reject: false,
      all: true,
    });
    if (result.exitCode !== 0) throw new FruixError(`cannot download Debian source package ${source.name} ${source.version}: ${lastError(result.all, `exit ${result.exitCode}`)}`);
    for (const f of source.files) {
      const got = await sha256File(join(tmp, f.name));
      if (got !== f.sha256) throw new FruixError(`Debian source file ${f.name} has sha256 ${got ?? "(missing)"}, apt expects ${f.sha256}`);
    }
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir);
    for (const f of source.files) await rename(join(tmp, f.name), join(dir, f.name));
    return dir;
  } finally {
    forget();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** `dpkg-source -x`: unpacks and patches the source into `dest` (which must not exist), checking the .dsc's checksums. */
export async function unpackSource(dir: string, source: DebianSource, dest: string): Promise<string> {
  const result = await execa("dpkg-source", ["--no-copy", "-x", join(dir, source.dsc), dest], { reject: false, all: true, env: { LC_ALL: "C" } });
  if (result.exitCode !== 0 || !(await stat(dest).catch(() => undefined))) {
    const why = (result.all ?? "").split("\n").filter((l) => /error|failed|mismatch/i.test(l)).pop() ?? `exit ${result.exitCode}`;
    throw new FruixError(`dpkg-source could not unpack ${source.dsc}: ${why.trim()}`);
  }
  return (await readFile(join(dir, source.dsc), "utf8").then(dscVersion)) ?? source.version;
}
