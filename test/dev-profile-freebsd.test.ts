// The freebsd development profile and source store, structurally, on the
// synthetic sets of test/helpers/freebsd-sets.ts (with their toolchain files
// and src.txz): the profile's links into the world item, MAKEFLAGS, the
// source item and store-layout.scm, the rootfs's canonical links, the disk
// image. Nothing FreeBSD boots here; and the refusals, on either base.
import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDeclaration, selectSystem, type OperatingSystem } from "../lib/declaration/index.js";
import { buildImage } from "../lib/deploy/image.js";
import { materializeRootfs } from "../lib/deploy/rootfs.js";
import { DeclarationError, FruixError } from "../lib/errors.js";
import { freebsdEnvironmentScript, sourceVersion } from "../lib/family/freebsd/development.js";
import { silentLogger } from "../lib/log.js";
import type { Store } from "../lib/store/index.js";
import { buildSystem, type SystemBuild } from "../lib/system/build.js";
import { cleanupTempDirs, freshStore, storeEntries, tempDir } from "./helpers/fixtures.js";
import { makeSyntheticSets, type SyntheticSets } from "./helpers/freebsd-sets.js";

const FILE = "freebsd-dev.scm";

function declared(dir: string, extra: string): OperatingSystem {
  return selectSystem(parseDeclaration(`(define os (operating-system (host-name "fruix-freebsd-dev") (base (freebsd-base (dist-directory "${dir}")))\n${extra}))`, FILE));
}

const DEV = "(development-profile (development-profile-configuration)) (sources (list (freebsd-source)))";

let sets: SyntheticSets;
let store: Store;
let build: SystemBuild;
beforeAll(async () => {
  sets = await makeSyntheticSets(await tempDir(), "14.1-RELEASE-p5", "14.1-RELEASE-p5", { development: true });
  store = await freshStore();
  build = await buildSystem(store, declared(sets.dir, DEV), silentLogger);
});
afterAll(cleanupTempDirs);

const closureDir = () => store.toHostPath(build.closurePath);
const item = (prefix: string) => build.items.find((i) => i.includes(`-${prefix}`))!;
const sha256 = async (file: string) => createHash("sha256").update(await readFile(file)).digest("hex");

describe("the freebsd development profile (pure)", () => {
  it("sets MAKEFLAGS to the profile's share/mk, beside PATH and the compilers", () => {
    const script = freebsdEnvironmentScript();
    expect(script).toContain('export MAKEFLAGS="-m /run/current-development/usr/share/mk"');
    expect(script).toContain('export PATH="/run/current-development/bin:$PATH"');
    expect(script).toContain('export CC="cc"');
  });

  it("reads the source's version from sys/conf/newvers.sh", () => {
    expect(sourceVersion('TYPE="FreeBSD"\nREVISION="14.1"\nBRANCH="RELEASE-p5"\n')).toBe("14.1-RELEASE-p5");
    expect(sourceVersion(undefined)).toBe("unknown");
  });
});

describe("a development-enabled freebsd system on synthetic sets", () => {
  it("links its profile into the world item from base.txz, apart from the runtime profile", async () => {
    const world = item("freebsd-world-");
    const profile = item("fruix-development-profile");
    expect(await readlink(join(closureDir(), "development-profile"))).toBe(profile);
    const host = store.toHostPath(profile);
    expect(await readlink(join(host, "usr/include"))).toBe(`${world}/tree/usr/include`);
    expect(await readlink(join(host, "usr/share/mk"))).toBe(`${world}/tree/usr/share/mk`);
    expect(await readlink(join(host, "bin/cc"))).toBe(`${world}/tree/usr/bin/cc`);
    expect((await readdir(join(host, "bin"))).sort()).toEqual(["ar", "c++", "cc", "fruix-development-environment", "ld", "make"]);
    expect(await readFile(join(host, "bin/fruix-development-environment"), "utf8")).toBe(freebsdEnvironmentScript());
    expect(await readdir(join(closureDir(), "profile/bin"))).toEqual(["fruix"]);
    expect(await readFile(join(closureDir(), "activate"), "utf8")).toMatch(/ln -sfh "\$development" \/run\/current-development[\s\S]*say "activated \$self"/);
  });

  it("makes src.txz a store item, recorded with the set's sha256 in store-layout.scm and provenance", async () => {
    const src = item("freebsd-src-");
    expect(src).toMatch(/-freebsd-src-14\.1-RELEASE-p5$/);
    expect((await lstat(join(store.toHostPath(src), "tree/usr/src/Makefile"))).isFile()).toBe(true);
    const layout = await readFile(join(closureDir(), "metadata/store-layout.scm"), "utf8");
    const set = await sha256(join(sets.dir, "src.txz"));
    expect(layout).toContain(
      `  (source-store\n   (name "freebsd-src")\n   (kind freebsd-source)\n   (path "${src}")\n   (root "${src}/tree/usr/src")\n   (version "14.1-RELEASE-p5")\n   (set "src.txz")\n   (set-sha256 "${set}"))`,
    );
    expect(await readFile(join(closureDir(), "metadata/provenance.scm"), "utf8")).toContain(`(set-sha256 "${set}")`);
    expect(await readFile(join(store.toHostPath(src), "freebsd-set.scm"), "utf8")).toContain(`(sha256 "${set}")`);
  });

  it("lays out /usr/include and /usr/share/mk as the canonical links, and writes its disk image", async () => {
    const root = join(await tempDir(), "root");
    await materializeRootfs(store, build, root, "1970-01-01T00:00:00Z");
    expect(await readlink(join(root, "usr/include"))).toBe("/run/current-system/development-profile/usr/include");
    expect(await readlink(join(root, "usr/share/mk"))).toBe("/run/current-system/development-profile/usr/share/mk");
    expect((await lstat(join(root, "usr/bin/cc"))).isFile()).toBe(true); // the world itself is whole
    await rm(root, { recursive: true, force: true });
    const image = await buildImage(store, build, undefined, silentLogger);
    expect(image).toMatch(/-fruix-disk-image-fruix-freebsd-dev\/disk\.img$/);
  });
});

describe("refusals", () => {
  it("refuses a profile on a world without its toolchain, adding no profile and no system", async () => {
    const plain = await makeSyntheticSets(await tempDir());
    const fresh = await freshStore();
    await expect(buildSystem(fresh, declared(plain.dir, "(development-profile (development-profile-configuration))"), silentLogger)).rejects.toThrow(
      /^the development profile needs usr\/bin\/cc from base\.txz, and \/frx\/store\/\S+-freebsd-world-14\.1-RELEASE has none \(was base\.txz built WITHOUT_TOOLCHAIN\?\)$/,
    );
    expect((await storeEntries(fresh)).filter((e) => /development-profile|fruix-system/.test(e))).toEqual([]);
  });

  it("refuses a missing src.txz in one line naming it", async () => {
    const plain = await makeSyntheticSets(await tempDir());
    const error = await buildSystem(await freshStore(), declared(plain.dir, "(sources (list (freebsd-source)))"), silentLogger).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FruixError);
    expect((error as Error).message).toBe(`cannot read FreeBSD source set ${plain.dir}/src.txz: no such file (directory from dist-directory of the freebsd-base at ${FILE}:1:68)`);
  });

  it("refuses a source tree of the other base at its record, before importing anything", async () => {
    const fresh = await freshStore();
    const onFreebsd = await buildSystem(fresh, declared(sets.dir, '(sources (list (debian-source-package (name "busybox"))))'), silentLogger).catch((e: unknown) => e);
    expect(onFreebsd).toBeInstanceOf(DeclarationError);
    expect((onFreebsd as Error).message).toBe(`${FILE}:2:16: debian-source-package needs a linux-busybox base; a freebsd base takes (freebsd-source)`);
    const linux = selectSystem(parseDeclaration('(define os (operating-system (host-name "h") (base (linux-busybox-base))\n(sources (list (freebsd-source)))))', FILE));
    const onLinux = await buildSystem(fresh, linux, silentLogger).catch((e: unknown) => e);
    expect((onLinux as Error).message).toBe(`${FILE}:2:16: freebsd-source needs a freebsd base; a linux-busybox base takes (debian-source-package (name "..."))`);
    expect(await storeEntries(fresh)).toEqual([]);
  });
});
