// The KVM probe's answer, kept for the rest of this boot: where KVM hangs the
// probe waits 15 s, and every `fruix validate` would pay it again. The answer
// stands while nothing it depends on changes: the boot, /dev/kvm (a module
// loaded or unloaded makes it anew), the QEMU binary and the firmware.
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { cacheDir } from "../../lib/paths.js";

export interface KvmProbe {
  readonly usable: boolean;
  readonly reason: string;
  /** When the probe ran (ISO time); the answer was then kept for this boot. */
  readonly probedAt?: string;
}

async function fingerprintOf(path: string): Promise<string> {
  const st = await stat(path).catch(() => undefined);
  return st ? `${path}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` : `${path}:absent`;
}

async function onPath(command: string): Promise<string> {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, command);
    if (await stat(candidate).then((s) => s.isFile(), () => false)) return candidate;
  }
  return command;
}

/** What the answer depends on, as one key (the boot id changes at every boot). */
export async function probeKey(firmware: readonly string[]): Promise<string> {
  const boot = await readFile("/proc/sys/kernel/random/boot_id", "utf8").catch(() => `pid-${process.pid}`);
  const parts = [boot.trim(), await fingerprintOf("/dev/kvm"), await fingerprintOf(await onPath("qemu-system-x86_64"))];
  for (const file of firmware) parts.push(await fingerprintOf(file));
  return createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 32);
}

/** A kept answer, or undefined for anything else (a torn write, another version's file). */
function parseProbe(text: string): KvmProbe | undefined {
  try {
    const value = JSON.parse(text) as Partial<KvmProbe>;
    return typeof value.usable === "boolean" && typeof value.reason === "string" ? (value as KvmProbe) : undefined;
  } catch {
    return undefined;
  }
}

/** The kept answer for `key`, else `probe()`'s, which is then kept (a write that fails only loses the saving). */
export async function cachedProbe(key: string, probe: () => Promise<KvmProbe>, dir = join(cacheDir(), "kvm-probe")): Promise<KvmProbe> {
  const file = join(dir, `${key}.json`);
  const kept = await readFile(file, "utf8").then(parseProbe, () => undefined);
  if (kept) return kept;
  const answer = { ...(await probe()), probedAt: new Date().toISOString() };
  await mkdir(dir, { recursive: true })
    .then(() => writeFile(`${file}.${process.pid}`, JSON.stringify(answer)))
    .then(() => rename(`${file}.${process.pid}`, file))
    .catch(() => undefined);
  return answer;
}
