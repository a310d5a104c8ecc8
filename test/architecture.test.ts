// The import rules of docs/architecture.md hold for the project, and the
// checker really catches what they forbid (a cycle, a machine-layer import
// running back up); the family is chosen in one file.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { packageRoot } from "../lib/paths.js";
import { cleanupTempDirs, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

const depcruise = join(packageRoot, "node_modules", ".bin", "depcruise");
const config = join(packageRoot, ".dependency-cruiser.cjs");

function check(cwd: string, ...folders: string[]) {
  return execa(depcruise, ["--config", config, ...folders], { cwd, reject: false, all: true });
}

/** A throw-away tree of files (path -> text) with the project's tsconfig. */
async function tree(files: Record<string, string>): Promise<string> {
  const dir = await tempDir();
  await writeFile(join(dir, "tsconfig.json"), await readFile(join(packageRoot, "tsconfig.json"), "utf8"));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

describe("the import rules", () => {
  it("hold for lib/, hypervisors/ and scenarios/", async () => {
    const result = await check(packageRoot, "lib", "hypervisors", "scenarios");
    expect(result.exitCode, result.all).toBe(0);
    expect(result.all).toMatch(/no dependency violations found/);
  }, 60_000);

  it("catch an import cycle", async () => {
    const dir = await tree({
      "lib/store/a.ts": 'import { b } from "./b.js";\nexport const a = () => b;\n',
      "lib/store/b.ts": 'import { a } from "./a.js";\nexport const b = () => a;\n',
    });
    const result = await check(dir, "lib");
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toMatch(/error no-cycle: lib\/store\/a\.ts/);
  }, 60_000);

  it("catch the machine layer importing validation, and lib/disk importing a system", async () => {
    const dir = await tree({
      "lib/validate/console.ts": "export const x = 1;\n",
      "hypervisors/types.ts": 'import { x } from "../lib/validate/console.js";\nexport const y = x;\n',
      "lib/system/build.ts": "export const z = 1;\n",
      "lib/disk/ext4.ts": 'import { z } from "../system/build.js";\nexport const w = z;\n',
    });
    const result = await check(dir, "lib", "hypervisors");
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toMatch(/error hypervisors-below-validation: hypervisors\/types\.ts → lib\/validate\/console\.ts/);
    expect(result.all).toMatch(/error disk-is-formats-only: lib\/disk\/ext4\.ts → lib\/system\/build\.ts/);
  }, 60_000);
});

describe("the family", () => {
  it("is chosen in one file: lib/family/index.ts", async () => {
    const { stdout } = await execa(
      "grep",
      ["-rlE", String.raw`family\s*[!=]==|[!=]==\s*"(freebsd|linux-busybox)"|case\s+"(freebsd|linux-busybox)"`, "lib", "hypervisors", "scenarios"],
      { cwd: packageRoot, reject: false },
    );
    expect(stdout.split("\n").filter(Boolean)).toEqual(["lib/family/index.ts"]);
  });
});
