// Finds the scenarios: every module directly in scenarios/ whose default
// export is a scenario (checks shared by scenarios live in scenarios/checks/).
import { readdir } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { FruixError } from "../errors.js";
import type { Scenario } from "./scenario.js";

const scenariosDir = new URL("../../scenarios/", import.meta.url);

export async function loadScenarios(): Promise<Scenario[]> {
  const dir = fileURLToPath(scenariosDir);
  const files = (await readdir(dir)).filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith(".d.ts")).sort();
  const scenarios: Scenario[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(`${dir}${file}`).href)) as { default?: Scenario };
    if (module.default?.id) scenarios.push(module.default);
  }
  return scenarios;
}

export interface Selection {
  readonly ids: readonly string[];
  readonly grep?: string;
  /** Only scenarios this adapter can run; undefined: any (`--list` without --hypervisor). */
  readonly hypervisor?: string;
}

/** The scenarios a command line names, in the order given; unknown ids are an error listing the known ones. */
export function selectScenarios(all: readonly Scenario[], selection: Selection): Scenario[] {
  const byId = new Map(all.map((s) => [s.id, s]));
  const unknown = selection.ids.filter((id) => !byId.has(id));
  if (unknown.length > 0) {
    throw new FruixError(`unknown scenario ${unknown.join(", ")} (known: ${all.map((s) => s.id).join(", ")})`, { exitCode: 2 });
  }
  let chosen = selection.ids.length > 0 ? selection.ids.map((id) => byId.get(id)!) : [...all];
  if (selection.grep) {
    const pattern = new RegExp(selection.grep);
    chosen = chosen.filter((s) => pattern.test(s.id) || pattern.test(s.title));
  }
  const hypervisor = selection.hypervisor;
  if (hypervisor !== undefined) {
    const unsupported = chosen.filter((s) => !s.hypervisors.includes(hypervisor as never));
    if (selection.ids.length > 0 && unsupported.length > 0) {
      throw new FruixError(`${unsupported.map((s) => s.id).join(", ")} cannot run on ${hypervisor} (see 'fruix validate --list')`, { exitCode: 2 });
    }
    chosen = chosen.filter((s) => s.hypervisors.includes(hypervisor as never));
  }
  if (chosen.length === 0) throw new FruixError("no scenario matches (see 'fruix validate --list')", { exitCode: 2 });
  return chosen;
}
