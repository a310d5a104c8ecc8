// File-system helpers Node gets wrong. `mkdir(dir, { recursive: true })` loops
// for ever (at full CPU) where mkdir(2) answers ENOENT although the parent
// exists: under /proc and /sys. An operator's --store or --report-dir can
// name such a place, so directories they name are made here instead, and a
// store directory is checked before anything is written (unusableDirectory).
import { constants } from "node:fs";
import { access, mkdir, realpath, stat } from "node:fs/promises";
import { dirname, resolve, sep } from "node:path";

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

/** Kernel file systems: nothing Fruix writes can live there. */
const KERNEL_FILE_SYSTEMS = ["/proc", "/sys", "/dev"];

function kernelFileSystem(path: string): string | undefined {
  return KERNEL_FILE_SYSTEMS.find((top) => path === top || path.startsWith(`${top}${sep}`));
}

/**
 * Why `dir` cannot be a directory Fruix fills (a store), in a few words, or
 * undefined when it can: under /proc, /sys or /dev (even through a symlink),
 * not a directory, or not writable (when missing: its nearest existing
 * parent, where makeDirectories would make it).
 */
export async function unusableDirectory(dir: string): Promise<string | undefined> {
  const path = resolve(dir);
  let existing = path;
  for (;;) {
    const info = await stat(existing).catch((error: NodeJS.ErrnoException) => error);
    if (!(info instanceof Error)) {
      const real = await realpath(existing).catch(() => existing);
      const kernel = kernelFileSystem(path) ?? kernelFileSystem(real);
      if (kernel) return `${kernel} is a kernel file system, not a place for a store`;
      if (!info.isDirectory()) return existing === path ? "not a directory" : `${existing} is not a directory`;
      const writable = await access(existing, constants.W_OK | constants.X_OK).then(() => true, () => false);
      if (!writable) return existing === path ? "not writable" : `cannot be made: ${existing} is not writable`;
      return undefined;
    }
    // Missing (or below a file): the nearest existing parent decides.
    if (info.code !== "ENOENT" && info.code !== "ENOTDIR") return info.code ?? info.message;
    const kernel = kernelFileSystem(path);
    if (kernel) return `${kernel} is a kernel file system, not a place for a store`;
    if (dirname(existing) === existing) return "no existing parent";
    existing = dirname(existing);
  }
}
