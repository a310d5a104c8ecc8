// File-system helpers Node gets wrong. `mkdir(dir, { recursive: true })` loops
// for ever (at full CPU) where mkdir(2) answers ENOENT although the parent
// exists: under /proc and /sys. An operator's --store or --report-dir can
// name such a place, so directories they name are made here instead.
import { mkdir, stat } from "node:fs/promises";
import { dirname } from "node:path";

/** `mkdir -p`: makes `dir` and its missing parents; an existing directory is fine. Fails, never loops, where a directory cannot be made. */
export async function makeDirectories(dir: string, mode = 0o777): Promise<void> {
  try {
    await mkdir(dir, { mode });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && (await stat(dir)).isDirectory()) return;
    if (code !== "ENOENT" || dirname(dir) === dir) throw error;
    await makeDirectories(dirname(dir), mode);
    // The parent exists now: a second ENOENT is the answer, not a reason to try again.
    await mkdir(dir, { mode }).catch(async (again: NodeJS.ErrnoException) => {
      if (again.code !== "EEXIST" || !(await stat(dir)).isDirectory()) throw again;
    });
  }
}
