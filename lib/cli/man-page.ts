// `npm run build` runs this after tsc: writes the man page made from the
// command table to dist/man/fruix.1, the file package.json's "man" names.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { packageRoot } from "../paths.js";
import { fruixVersion } from "../version.js";
import { manPage } from "./man.js";

/** Where the built man page is: package.json's "man". */
export const MAN_PAGE = join(packageRoot, "dist", "man", "fruix.1");

await mkdir(dirname(MAN_PAGE), { recursive: true });
await writeFile(MAN_PAGE, manPage(fruixVersion));
