#!/usr/bin/env node
// `npm run bench`: every speed target, each script comparing or timing in one run.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
let failed = 0;
for (const script of ["store-hash.mjs", "build.mjs", "image.mjs", "boot.mjs", "ufs.mjs", "jobs.mjs"]) {
  console.log(`== bench/${script}`);
  const result = spawnSync(process.execPath, [join(here, script)], { stdio: "inherit" });
  if (result.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
