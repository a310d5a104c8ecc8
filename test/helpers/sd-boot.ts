// What systemd-boot 252 (Debian 12's) does at power-on with an offline tree's
// ESP, restated for the helper's tests from its sources (src/boot/efi/boot.c):
// entries sorted with the ones that have no tries left last, then by id,
// newest version first; the default is the first entry whose id matches
// loader.conf's `default` glob (else the first entry); a counted entry
// (`NAME+LEFT[-DONE].conf`) is renamed to `NAME+(LEFT-1)-(DONE+1).conf` before
// it boots. Then what the booted kernel leaves for the helper: a fresh /run
// with booted-system, and /proc/cmdline. The real thing runs in the
// trial-fallback scenario.
import { mkdir, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

interface Entry {
  readonly name: string;
  readonly id: string;
  readonly left?: number;
  readonly done?: number;
}

function parse(name: string): Entry {
  const match = /^(.*)\+(\d+)(?:-(\d+))?\.conf$/.exec(name);
  return match ? { name, id: name.toLowerCase(), left: Number(match[2]), done: Number(match[3] ?? 0) } : { name, id: name.toLowerCase() };
}

/** strverscmp_improved's order for the names used here: digit runs compare as numbers. */
function versionCompare(a: string, b: string): number {
  const split = (s: string) => s.match(/\d+|\D+/g) ?? [];
  const [x, y] = [split(a), split(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const [p, q] = [x[i]!, y[i]!];
    const numeric = /^\d/.test(p) && /^\d/.test(q);
    const c = numeric ? Number(p) - Number(q) : p < q ? -1 : p > q ? 1 : 0;
    if (c !== 0) return c;
  }
  return x.length - y.length;
}

function glob(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
}

export function chooseEntry(names: readonly string[], defaultPattern: string | undefined): Entry | undefined {
  const entries = names.filter((n) => n.endsWith(".conf")).map(parse);
  entries.sort((a, b) => Number(a.left === 0) - Number(b.left === 0) || -versionCompare(a.id, b.id) || (b.left ?? 0) - (a.left ?? 0));
  const pattern = defaultPattern === undefined ? undefined : glob(defaultPattern.toLowerCase());
  return entries.find((e) => pattern?.test(e.id)) ?? entries[0];
}

/** Power-on: returns the entry booted, the closure it starts and its kernel command line. */
export async function sdBoot(tree: string): Promise<{ entry: string; closure: string; cmdline: string }> {
  const esp = join(tree, "boot/efi");
  const loader = await readFile(join(esp, "loader/loader.conf"), "utf8");
  const names = await readdir(join(esp, "loader/entries"));
  const chosen = chooseEntry(names, /^default\s+(\S+)/m.exec(loader)?.[1]);
  if (!chosen) throw new Error("systemd-boot: no entry to boot");
  let name = chosen.name;
  if (chosen.left !== undefined) {
    const next = name.replace(/\+\d+(?:-\d+)?\.conf$/, `+${Math.max(chosen.left - 1, 0)}-${(chosen.done ?? 0) + 1}.conf`);
    await rename(join(esp, "loader/entries", name), join(esp, "loader/entries", next));
    name = next;
  }
  const text = await readFile(join(esp, "loader/entries", name), "utf8");
  const cmdline = /^options (.*)$/m.exec(text)?.[1] ?? "";
  const closure = /fruix\.system=(\S+)/.exec(cmdline)?.[1] ?? "";
  await rm(join(tree, "run"), { recursive: true, force: true });
  await mkdir(join(tree, "run"));
  await symlink(closure, join(tree, "run/booted-system"));
  await mkdir(join(tree, "proc"), { recursive: true });
  await writeFile(join(tree, "proc/cmdline"), cmdline + "\n");
  return { entry: name, closure, cmdline };
}
