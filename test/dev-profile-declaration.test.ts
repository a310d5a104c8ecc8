// The development profile and source trees in a declaration: what they
// evaluate to, their canonical text, and their located errors. Pure.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canonicalSystem, parseDeclaration, selectSystem } from "../lib/declaration/index.js";
import { DeclarationError } from "../lib/errors.js";
import { packageRoot } from "../lib/paths.js";
import { declarationHash, sourceStoresOf, storeLayoutDocument, type SourceStore } from "../lib/system/system-build.js";

const FILE = "dev.scm";
const os = (extra: string, base = "(linux-busybox-base)") => `(define os (operating-system (host-name "h") (base ${base})\n${extra}))`;
const parse = (source: string) => selectSystem(parseDeclaration(source, FILE));

function errorOf(source: string): DeclarationError {
  try {
    parse(source);
  } catch (error) {
    if (error instanceof DeclarationError) return error;
    throw error;
  }
  throw new Error(`no error for:\n${source}`);
}

describe("the development profile and sources in a declaration", () => {
  it("are absent unless declared, and then leave the canonical text as it was", async () => {
    // Hashes of the examples before these fields existed: their closures keep their paths.
    const expected: Record<string, string> = {
      "minimal.scm": "950db3e7eebbc4ed08ae680f4e31d8067c2c1aa90ad6c1fc8df2943c439c483b",
      "freebsd.scm": "63c0c8df95dd0cdc00f07f82d262e1190c6183b88d34816d4cfc9ad8b3d34820",
    };
    for (const [name, hash] of Object.entries(expected)) {
      const system = selectSystem(parseDeclaration(await readFile(join(packageRoot, "examples", name), "utf8"), name));
      expect(system.developmentProfile).toBeUndefined();
      expect(system.sources).toBeUndefined();
      expect(canonicalSystem(system)).not.toMatch(/development-profile|sources/);
      expect(declarationHash(system), name).toBe(hash);
    }
  });

  it("evaluate to a profile and source trees, with their locations", async () => {
    const file = join(packageRoot, "examples", "development.scm");
    const system = selectSystem(parseDeclaration(await readFile(file, "utf8"), file));
    expect(system.developmentProfile).toEqual({ location: { file, line: 13, column: 26 } });
    expect(system.sources).toEqual([{ kind: "debian-source-package", name: "busybox", location: { file, line: 14, column: 20 } }]);
    const freebsd = parse(os('(development-profile (development-profile-configuration)) (sources (list (freebsd-source (dist-directory "/d"))))', "(freebsd-base)"));
    expect(freebsd.sources).toEqual([{ kind: "freebsd-source", distDirectory: "/d", location: { file: FILE, line: 2, column: 74 } }]);
  });

  it("change the canonical text, which reads back to the same system", () => {
    const plain = parse(os(""));
    const dev = parse(os("(development-profile (development-profile-configuration))"));
    const both = parse(os('(development-profile (development-profile-configuration)) (sources (list (debian-source-package (name "busybox"))))'));
    const texts = [plain, dev, both].map(canonicalSystem);
    expect(new Set(texts).size).toBe(3);
    expect(texts[2]).toContain('(sources\n  (list\n   (debian-source-package (name "busybox"))))');
    for (const text of texts.slice(1)) expect(canonicalSystem(parse(`(define os ${text.split("\n").slice(1).join("\n")})`))).toBe(text);
  });

  const cases: Array<[string, string, number, number, string]> = [
    ["a profile that is not a record", '(development-profile "yes")', 2, 22, "operating-system field 'development-profile': expected a development-profile-configuration record, got the string \"yes\""],
    ["an unknown profile field", "(development-profile (development-profile-configuration (packages '())))", 2, 58, "unknown field 'packages'"],
    ["sources that are not a list", '(sources (debian-source-package (name "busybox")))', 2, 10, "expected a list of debian-source-package or freebsd-source records"],
    ["a bad Debian source package name", '(sources (list (debian-source-package (name "Busy Box"))))', 2, 45, "\"Busy Box\" is not a Debian package name"],
    ["a Debian source package without a name", "(sources (list (debian-source-package)))", 2, 16, "debian-source-package is missing required field 'name'"],
    ["a source tree declared twice", '(sources (list (debian-source-package (name "busybox")) (debian-source-package (name "busybox"))))', 2, 57, "source tree 'busybox' is declared twice (first at 2:16)"],
    ["an empty FreeBSD dist-directory", '(sources (list (freebsd-source (dist-directory ""))))', 2, 48, "must not be empty"],
  ];
  for (const [name, extra, line, column, fragment] of cases) {
    it(`refuses ${name} at its location`, () => {
      const error = errorOf(os(extra));
      expect(error.message).not.toContain("\n");
      expect([error.line, error.column], error.message).toEqual([line, column]);
      expect(error.message).toContain(fragment);
    });
  }
});

describe("source stores in store-layout.scm", () => {
  const item = "/frx/store/" + "2".repeat(64) + "-busybox-source-1.35.0-4";
  const sources: SourceStore[] = [
    { name: "busybox", kind: "debian-source-package", path: item, root: `${item}/tree`, version: "1:1.35.0-4", provenance: [["dsc", "busybox_1.35.0-4.dsc"], ["dsc-sha256", "a".repeat(64)]] },
    { name: "freebsd-src", kind: "freebsd-source", path: "/frx/store/x-freebsd-src", root: "/frx/store/x-freebsd-src/tree/usr/src", version: "14.1-RELEASE", provenance: [["set", "src.txz"], ["set-sha256", "b".repeat(64)]] },
  ];

  it("are written only when there are some, and read back as written", () => {
    expect(storeLayoutDocument([item])).not.toContain("source-stores");
    expect(storeLayoutDocument([item], [])).toBe(storeLayoutDocument([item]));
    const text = storeLayoutDocument([item], sources);
    expect(text).toContain(`   (root "${item}/tree")\n`);
    expect(sourceStoresOf(text)).toEqual(sources);
    expect(sourceStoresOf(storeLayoutDocument([item]))).toEqual([]);
  });
});
