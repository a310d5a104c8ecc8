// The empty target disk the in-guest installer writes: shared by
// installer-disk and installer-iso (Guest.runInstaller boots the installer).
import { truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ScenarioContext } from "../../lib/validate/scenario.js";

/** A new raw disk of `size` bytes, all zeros, in the scenario's work directory. */
export async function emptyDisk(ctx: ScenarioContext, name: string, size: number): Promise<string> {
  const path = join(ctx.workDir, name);
  await writeFile(path, "");
  await truncate(path, size);
  return path;
}
