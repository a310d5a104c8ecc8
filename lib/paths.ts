// Where Fruix finds its own files and keeps its download cache.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`fruix: no package.json above ${start}`);
  }
}

/** The checkout or installed package (works from lib/ sources and from dist/). */
export const packageRoot = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** The family-neutral guest-side sources (POSIX sh: the helper, receive.sh), shipped verbatim into store items. Each family keeps its own scripts in its folder's guest/. */
export const guestDir = join(packageRoot, "lib", "guest");

/** Downloads (Debian packages) survive store deletion here: FRUIX_CACHE_DIR or XDG cache. */
export function cacheDir(): string {
  if (process.env.FRUIX_CACHE_DIR) return process.env.FRUIX_CACHE_DIR;
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(xdg, "fruix");
}
