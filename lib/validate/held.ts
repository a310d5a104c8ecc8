// Machines `--debug-on-failure` keeps running, each under a name, so
// `fruix vm attach NAME` (another process, later) finds its console. One JSON
// file per machine in a per-user folder of TMPDIR; a record whose process has
// died is stale and is removed by whoever reads it.
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { FruixError } from "../errors.js";
import { makeDirectories } from "../fs.js";
import { isPidAlive } from "../process.js";

export interface HeldMachine {
  /** What `fruix vm attach` is given: `<scenario>-<machine>`, with `-2`, `-3`... when taken. */
  readonly name: string;
  readonly scenario: string;
  readonly machine: string;
  /** The process that serves the console (QEMU's). */
  readonly pid: number;
  /** A unix socket carrying the serial console, one client at a time. */
  readonly serialSocket: string;
  /** How to end it, in words (printed by `fruix vm attach` too). */
  readonly end: string;
}

/** The folder of records: per user, since another user's sockets are not ours to attach to. */
export function heldDirectory(): string {
  return process.env.FRUIX_HELD_DIR ?? join(tmpdir(), `fruix-held-${userInfo().uid}`);
}

/** The name for a machine, given the names already taken (pure). */
export function heldName(scenario: string, machine: string, taken: ReadonlySet<string>): string {
  const base = `${scenario}-${machine}`;
  if (!taken.has(base)) return base;
  let n = 2;
  while (taken.has(`${base}-${n}`)) n += 1;
  return `${base}-${n}`;
}

/** The machines held now, by name; stale records are removed. */
export async function heldMachines(dir = heldDirectory()): Promise<HeldMachine[]> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  const held: HeldMachine[] = [];
  for (const entry of entries.filter((e) => e.endsWith(".json")).sort()) {
    const file = join(dir, entry);
    const record = await readFile(file, "utf8").then((text) => JSON.parse(text) as HeldMachine, () => undefined);
    if (record && isPidAlive(record.pid)) held.push(record);
    else await rm(file, { force: true });
  }
  return held;
}

/** Records a held machine under a free name; returns the record and how to forget it (when the machine ends). */
export async function recordHeld(machine: Omit<HeldMachine, "name">, dir = heldDirectory()): Promise<{ record: HeldMachine; forget: () => Promise<void> }> {
  await makeDirectories(dir);
  const taken = new Set((await heldMachines(dir)).map((m) => m.name));
  for (;;) {
    const record = { name: heldName(machine.scenario, machine.machine, taken), ...machine };
    const file = join(dir, `${record.name}.json`);
    try {
      // "wx": two runs holding at once never take the same name.
      await writeFile(file, `${JSON.stringify(record, null, 2)}\n`, { flag: "wx" });
      return { record, forget: () => rm(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      taken.add(record.name);
    }
  }
}

/** The held machine called `name`, or one line saying which there are. */
export async function findHeld(name: string, dir = heldDirectory()): Promise<HeldMachine> {
  const held = await heldMachines(dir);
  const found = held.find((m) => m.name === name);
  if (found) return found;
  const known = held.length > 0 ? `held now: ${held.map((m) => m.name).join(", ")}` : "none is held now (fruix validate --debug-on-failure holds a failed scenario's machines)";
  throw new FruixError(`no held machine '${name}'; ${known}`, { exitCode: 2 });
}
