// The installed-system generation layout of DESIGN §6, written into a system
// tree on the build host (rootfs, images, installs). The in-guest helper
// (lib/guest/fruix.sh) reads and extends the same layout.
import { copyFile, mkdir, rename, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { field, sexpDocument, sym } from "../sexp.js";

export const INSTALL_METADATA_PATH = "/var/lib/fruix/install.scm";

/**
 * Time recorded for generation 1. Builds must be reproducible, so it comes from
 * SOURCE_DATE_EPOCH (seconds) when set, else the Unix epoch.
 */
export function generationTime(env: NodeJS.ProcessEnv = process.env): string {
  const seconds = Number(env.SOURCE_DATE_EPOCH ?? 0);
  return new Date((Number.isFinite(seconds) ? seconds : 0) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function generationMetadata(number: number, closure: string, created: string): string {
  return sexpDocument([
    sym("generation"),
    field("number", number),
    field("closure", closure),
    field("created", created),
    field("install-metadata-path", INSTALL_METADATA_PATH),
  ]);
}

/** Replaces `path` by a link to `target` via a temporary name and rename. */
export async function replaceLink(target: string, path: string): Promise<void> {
  const tmp = `${path}.fruix-new`;
  await mkdir(dirname(path), { recursive: true });
  await symlink(target, tmp);
  await rename(tmp, path);
}

export async function replaceFile(path: string, text: string): Promise<void> {
  const tmp = `${path}.fruix-new`;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/**
 * Writes generation 1 for `closure` under `root` (a system tree): the
 * generation directory, `current`, and the GC roots. `hostClosureDir` is
 * where the closure's files can be read on this host.
 */
export async function writeFirstGeneration(root: string, closure: string, hostClosureDir: string, created: string): Promise<void> {
  const systemDir = join(root, "var/lib/fruix/system");
  const generation = join(systemDir, "generations", "1");
  await mkdir(generation, { recursive: true });
  await symlink(closure, join(generation, "closure"));
  await writeFile(join(generation, "metadata.scm"), generationMetadata(1, closure, created));
  await copyFile(join(hostClosureDir, "metadata", "provenance.scm"), join(generation, "provenance.scm"));
  await replaceLink("generations/1", join(systemDir, "current"));
  await replaceFile(join(systemDir, "current-generation"), "1\n");

  const gcroots = join(root, "frx/var/fruix/gcroots");
  await replaceLink(closure, join(gcroots, "current-system"));
  await replaceLink(closure, join(gcroots, "system-1"));
}
