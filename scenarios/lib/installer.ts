// Running the in-guest installer: an empty target disk, the wait for its
// completion line, and the power-off that follows. Shared by installer-disk
// and installer-iso.
import { truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Machine } from "../../hypervisors/types.js";
import type { ScenarioContext } from "../../lib/validate/scenario.js";

/** A new raw disk of `size` bytes, all zeros, in the scenario's work directory. */
export async function emptyDisk(ctx: ScenarioContext, name: string, size: number): Promise<string> {
  const path = join(ctx.workDir, name);
  await writeFile(path, "");
  await truncate(path, size);
  return path;
}

/**
 * Boots the installer and waits for `fruix-installer: installed CLOSURE onto
 * DEV` and the power-off after it. A refusal (`fruix-installer: error: ...`)
 * fails the wait at once through the console's badness scan.
 */
export async function runInstaller(ctx: ScenarioContext, vm: Machine): Promise<{ closure: string; device: string; seconds: number }> {
  const started = Date.now();
  await vm.start();
  const line = await vm.console.waitFor(/fruix-installer: installed (\S+) onto (\S+)\r?\n/, { timeoutMs: 600_000 });
  await vm.waitForPowerOff(120_000);
  return { closure: line[1]!, device: line[2]!, seconds: (Date.now() - started) / 1000 };
}
