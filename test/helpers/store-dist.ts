// Child processes cannot import TypeScript (no tsx here), so they use the compiled store in
// dist/. Compile just lib/store (and what it imports) when dist is older than the sources;
// compiling only the store keeps these tests independent of other modules in progress.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const childScript = join(repoRoot, "test", "helpers", "store-child.mjs");

export function ensureStoreDist(): void {
  const srcDir = join(repoRoot, "lib", "store");
  // The store and the shared helpers it imports.
  const helpers = ["errors.ts", "process.ts", "cleanup.ts", "fs.ts"].map((f) => join(repoRoot, "lib", f));
  const sources = [...helpers, ...readdirSync(srcDir).filter((f) => f.endsWith(".ts")).map((f) => join(srcDir, f))];
  const outputs = sources.map((s) => join(repoRoot, "dist", s.slice(repoRoot.length + 1).replace(/\.ts$/, ".js")));
  const newestSource = Math.max(...sources.map((s) => statSync(s).mtimeMs));
  const fresh = outputs.every((o) => existsSync(o) && statSync(o).mtimeMs >= newestSource);
  if (fresh) return;
  // Same compiler options as tsconfig.json, restricted to the store's entry point.
  execFileSync(
    join(repoRoot, "node_modules", ".bin", "tsc"),
    [
      "--module", "NodeNext", "--moduleResolution", "NodeNext", "--target", "ES2022",
      "--strict", "--noImplicitOverride", "--noFallthroughCasesInSwitch", "--esModuleInterop",
      "--skipLibCheck", "--sourceMap", "--types", "node",
      "--rootDir", repoRoot, "--outDir", join(repoRoot, "dist"),
      join(srcDir, "index.ts"),
    ],
    { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] },
  );
}
