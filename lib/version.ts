// Fruix's version, read once from package.json: closures, reports and `fruix --version` name it.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "./paths.js";

/** Fruix's own version, recorded in every closure's provenance. */
export const fruixVersion: string = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")).version;

/**
 * The commit checked out when Fruix runs from a git checkout (its own: a
 * `.git` beside package.json, so an installed copy inside someone else's
 * repository names none), else undefined. Asks git, only when called.
 */
export function fruixCommit(): string | undefined {
  if (!existsSync(join(packageRoot, ".git"))) return undefined;
  try {
    const commit = execFileSync("git", ["-C", packageRoot, "rev-parse", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5_000 }).trim();
    return /^[0-9a-f]{40,64}$/.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}
