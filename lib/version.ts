// Fruix's version, read once from package.json: closures, reports and `fruix --version` name it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "./paths.js";

/** Fruix's own version, recorded in every closure's provenance. */
export const fruixVersion: string = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")).version;
