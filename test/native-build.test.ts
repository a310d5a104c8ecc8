// Native builds without a VM: the shared driver (lib/guest/native-build.sh)
// run by the host's sh with a stand-in build step, the result root it
// records, `fruix native-build promote` and each of its refusals (the store
// unchanged), the FreeBSD sequence against a recording `make`, the BusyBox
// applet list against what the system's scripts run, and
// `fruix native-build run`'s copy-back over real SSH (ssh2's server). The
// real BusyBox build in a booted guest is the native-build scenario's.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { execa } from "execa";
import ssh2, { type ParsedKey } from "ssh2";
import { afterAll, describe, expect, it } from "vitest";
import { parseDestination } from "../lib/copy/destination.js";
import { ed25519KeyPair, keyPairFile } from "../lib/copy/keygen.js";
import { withSession } from "../lib/copy/ssh.js";
import type { Family } from "../lib/family/index.js";
import { freebsd } from "../lib/family/freebsd/index.js";
import { linuxBusybox } from "../lib/family/linux-busybox/index.js";
import { silentLogger } from "../lib/log.js";
import { checkResultRoot, promoteResult } from "../lib/native-build/promote.js";
import { listingDifference, manifestProblem, parseListing, parseManifest } from "../lib/native-build/result.js";
import { nativeBuildScript, newRunId, runNativeBuild } from "../lib/native-build/run.js";
import { packageRoot } from "../lib/paths.js";
import type { Store } from "../lib/store/index.js";
import { cleanupTempDirs, freshStore, fruix, storeEntries, tempDir } from "./helpers/fixtures.js";

const { Server } = ssh2;
afterAll(cleanupTempDirs);

const SOURCE = "/frx/store/" + "a".repeat(64) + "-busybox-source-1.35.0";
const CLOSURE = "/frx/store/" + "b".repeat(64) + "-fruix-system-builder";

/** A linux-busybox build step standing in for BusyBox's: the host's static BusyBox as the world. */
const FAKE_BUSYBOX_BUILD = `
fnb_build() {
	mkdir -p "$2/stage/world/bin" "$2/stage/world/share/busybox" || return 1
	cp "$(command -v busybox)" "$2/stage/world/bin/busybox" || return 1
	"$2/stage/world/bin/busybox" --list >"$2/stage/world/share/busybox/applets"
	ln -s busybox "$2/stage/world/bin/sh"
	echo "make -j$3 (stand-in, optimization $4) in $2" >&2
}
`;

/** The family's real definitions with its build step replaced: the driver and the record are real. */
async function fakeFamily(family: Family, build: string): Promise<Family> {
  const dir = await tempDir("fruix-nb-family-");
  const real = await readFile(join(family.guestDir, family.nativeBuild.script), "utf8");
  await writeFile(join(dir, family.nativeBuild.script), `${real}\n${build}`);
  return { ...family, guestDir: dir };
}

/**
 * A guest's root stand-in for FRUIX_ROOT: /run/current-system linked to a
 * closure whose store-layout.scm names the source store, that store, and the
 * development profile's helper and links.
 */
async function guestTree(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = await tempDir("fruix-nb-guest-");
  const system = join(dir, CLOSURE);
  await mkdir(join(system, "metadata"), { recursive: true });
  await mkdir(join(system, "development-profile", "usr", "include"), { recursive: true });
  // As storeLayoutDocument writes it: one field a line.
  await writeFile(
    join(system, "metadata", "store-layout.scm"),
    `(store-layout\n (store "/frx/store")\n (item-count 0)\n (references)\n (source-stores\n  (source-store\n   (name "busybox")\n   (kind debian-source-package)\n   (path "${SOURCE}")\n   (root "${SOURCE}/tree")\n   (version "1:1.35.0-4+deb12u1")\n   (dsc "busybox_1.35.0-4+deb12u1.dsc"))))\n`,
  );
  await mkdir(join(dir, "run"));
  await symlink(CLOSURE, join(dir, "run", "current-system"));
  await mkdir(join(dir, "usr", "local", "bin"), { recursive: true });
  await symlink(join(system, "development-profile", "usr", "include"), join(dir, "usr", "include"));
  // What the profile's helper exports: the build must not see MAKEFLAGS or CFLAGS.
  await writeFile(join(dir, "usr/local/bin/fruix-development-environment"), "#!/bin/sh\necho 'export MAKEFLAGS=\"-m /run/current-development/usr/share/mk\"; export CFLAGS=-O3; export LDFLAGS=-L/x'\n", { mode: 0o755 });
  await mkdir(join(dir, SOURCE, "tree"), { recursive: true });
  return { dir, env: { FRUIX_ROOT: dir } };
}

/** Runs the family's composed script with the host's sh. */
async function runScript(family: Family, env: Record<string, string>) {
  const script = await nativeBuildScript(family);
  return execa("sh", ["-c", script, "fruix-native-build"], { env: { ...env, PATH: env.PATH ?? process.env.PATH! }, extendEnv: false, reject: false });
}

/** A linux-busybox result root recorded by the real driver. */
async function busyboxResultRoot(runId = "20261206T220000Z-abc123"): Promise<string> {
  const family = await fakeFamily(linuxBusybox, FAKE_BUSYBOX_BUILD);
  const guest = await guestTree();
  const r = await runScript(family, { ...guest.env, FRUIX_NATIVE_BUILD_RUN_ID: runId, FRUIX_NATIVE_BUILD_JOBS: "2" });
  expect(r.stderr).toContain("make -j2 (stand-in, optimization default)");
  expect(r.exitCode).toBe(0);
  return join(guest.dir, "var/lib/fruix/native-builds", runId);
}

async function sha256(file: string): Promise<string> {
  return createHash("sha256").update(await readFile(file)).digest("hex");
}

/** A copy of a result root to damage. */
async function copyOf(root: string): Promise<string> {
  const dir = join(await tempDir("fruix-nb-copy-"), "root");
  await cp(root, dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

async function storeState(store: Store) {
  return { entries: await storeEntries(store), items: await store.list(), roots: await store.roots() };
}

describe("the result root the driver records", () => {
  it("holds the artifacts, their listings and a manifest with the seed's metadata; latest points at it", async () => {
    const root = await busyboxResultRoot();
    const state = join(root, "..");
    expect(await readdir(state)).toEqual(["20261206T220000Z-abc123", "latest"]);
    expect(await execa("readlink", [join(state, "latest")]).then((r) => r.stdout)).toBe("20261206T220000Z-abc123");
    const result = parseManifest(await readFile(join(root, "result.scm"), "utf8"), "result.scm");
    expect(result).toMatchObject({
      executor: "fruix-self-hosted-native-build",
      runId: "20261206T220000Z-abc123",
      family: "linux-busybox",
      buildPolicy: { jobs: 2, optimization: "default", sanitizedEnvironment: expect.arrayContaining(["MAKEFLAGS", "CFLAGS", "LDFLAGS"]), installVariables: ["DESTDIR=stage/world"] },
    });
    expect([result.sourceStore, result.closurePath]).toEqual([SOURCE, CLOSURE]);
    expect(result.sourceProvenance).toBe(`(source-store (name "busybox") (kind debian-source-package) (path "${SOURCE}") (root "${SOURCE}/tree") (version "1:1.35.0-4+deb12u1") (dsc "busybox_1.35.0-4+deb12u1.dsc"))`);
    const [world] = result.artifacts;
    expect(world!.requiredFiles.map((f) => f.path)).toEqual(["bin/busybox", "share/busybox/applets"]);
    expect(world!.requiredFiles[0]!.sha256).toBe(await sha256(join(root, "artifacts/world/bin/busybox")));
    const listing = parseListing(await readFile(join(root, "artifacts/world.files"), "utf8"), "world.files");
    expect(listing).toEqual([
      { type: "executable", path: "bin/busybox", sha256: world!.requiredFiles[0]!.sha256 },
      { type: "symlink", path: "bin/sh", target: "busybox" },
      { type: "file", path: "share/busybox/applets", sha256: world!.requiredFiles[1]!.sha256 },
    ]);
    await expect(checkResultRoot(root)).resolves.toBeDefined();
  });

  it("the source store comes from the system's store-layout.scm; without one the build is refused", async () => {
    const family = await fakeFamily(linuxBusybox, FAKE_BUSYBOX_BUILD);
    const guest = await guestTree();
    await rm(join(guest.dir, SOURCE), { recursive: true });
    const r = await runScript(family, guest.env);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toBe(`fruix-native-build: the source store ${SOURCE} is not in this machine's store`);
    await writeFile(join(guest.dir, CLOSURE, "metadata", "store-layout.scm"), '(store-layout\n (store "/frx/store"))\n');
    const none = await runScript(family, guest.env);
    expect(none.stderr.trim()).toBe("fruix-native-build: /run/current-system/metadata/store-layout.scm records no (source-store ...): declare the base's sources");
    expect(await readdir(join(guest.dir))).not.toContain("var");
  });

  it("hands optimization none to the family's build and records it; refuses one the family does not offer, building nothing", async () => {
    const family = await fakeFamily(linuxBusybox, FAKE_BUSYBOX_BUILD);
    const guest = await guestTree();
    const r = await runScript(family, { ...guest.env, FRUIX_NATIVE_BUILD_RUN_ID: "o1", FRUIX_NATIVE_BUILD_OPTIMIZATION: "none" });
    expect(r.stderr).toContain("(stand-in, optimization none)");
    expect(r.exitCode).toBe(0);
    const result = parseManifest(await readFile(join(guest.dir, "var/lib/fruix/native-builds/o1/result.scm"), "utf8"), "result.scm");
    expect(result.buildPolicy.optimization).toBe("none");

    const odd = await runScript(family, { ...guest.env, FRUIX_NATIVE_BUILD_RUN_ID: "o2", FRUIX_NATIVE_BUILD_OPTIMIZATION: "fast" });
    expect([odd.exitCode, odd.stderr.trim()]).toEqual([1, "fruix-native-build: the linux-busybox build offers optimization default or none, not 'fast'"]);
    const bsd = await fakeFamily(freebsd, 'fnb_build() { echo "built" >&2; }');
    const refused = await runScript(bsd, { ...guest.env, FRUIX_NATIVE_BUILD_RUN_ID: "o3", FRUIX_NATIVE_BUILD_OPTIMIZATION: "none" });
    expect([refused.exitCode, refused.stderr.trim()]).toEqual([1, "fruix-native-build: the freebsd build offers optimization default, not 'none'"]);
    expect(await readdir(join(guest.dir, "var/lib/fruix/native-builds"))).toEqual(["latest", "o1"]);
  });

  it("refuses a system without a development profile", async () => {
    const family = await fakeFamily(linuxBusybox, FAKE_BUSYBOX_BUILD);
    const guest = await guestTree();
    await rm(join(guest.dir, "usr/local/bin/fruix-development-environment"));
    const r = await runScript(family, guest.env);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toBe("fruix-native-build: /usr/local/bin/fruix-development-environment is missing: this system has no development profile (declare one)");
  });

  it("a failed build records nothing and keeps its work for the log", async () => {
    const family = await fakeFamily(linuxBusybox, 'fnb_build() { echo "cc1: error" >&2; return 1; }');
    const guest = await guestTree();
    const r = await runScript(family, { ...guest.env, FRUIX_NATIVE_BUILD_RUN_ID: "r1" });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split("\n").at(-1)).toBe("fruix-native-build: the linux-busybox build failed (its work stays in /var/tmp/fruix-native-builds/r1)");
    expect(await readdir(join(guest.dir, "var/lib/fruix/native-builds"))).toEqual([]);
  });
});

describe("fruix native-build promote", () => {
  it("adds a world item and a result bundle referencing it, each with the build's metadata", async () => {
    const root = await busyboxResultRoot();
    const store = await freshStore();
    const promoted = await promoteResult(store, root, silentLogger);
    const [world] = promoted.artifacts;
    expect(world!.kind).toBe("world");
    expect(world!.path).toMatch(/^\/frx\/store\/[0-9a-f]{64}-fruix-native-world-20261206T220000Z-abc123$/);
    expect(promoted.bundle).toMatch(/-fruix-native-build-result-20261206T220000Z-abc123$/);
    expect(await store.references(promoted.bundle)).toEqual([world!.path]);
    expect(await sha256(join(store.toHostPath(world!.path), "bin/busybox"))).toBe(await sha256(join(root, "artifacts/world/bin/busybox")));
    const record = await readFile(join(store.toHostPath(world!.path), "native-build.scm"), "utf8");
    for (const f of ["executor", "executor-version", "run-id", "guest-host-name", "closure-path", "source-store", "source-provenance", "build-policy", "kind", "required-files", "listing-sha256"]) {
      expect(record).toMatch(new RegExp(`\\(${f}[ \n]`));
    }
    expect(await readFile(join(store.toHostPath(promoted.bundle), "native-build.scm"), "utf8")).toContain(`(world "${world!.path}")`);
    expect((await store.roots()).map((r) => r.name)).toEqual(["native-build-20261206T220000Z-abc123"]);
    // Same result, same identities.
    expect(await promoteResult(store, root, silentLogger)).toEqual(promoted);
    expect(await store.verify()).toMatchObject({ corrupt: [] });
  });

  it("prints the store paths as key=value lines", async () => {
    const root = await busyboxResultRoot();
    const dir = await tempDir();
    const r = await fruix(["native-build", "promote", root, "--store", join(dir, "store"), "--quiet"]);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.map((l) => l.split("=")[0])).toEqual(["run_id", "family", "world", "result_bundle"]);
    expect(lines[3]).toMatch(/^result_bundle=\/frx\/store\/[0-9a-f]{64}-fruix-native-build-result-20261206T220000Z-abc123$/);
  });

  const refusals: Array<[string, (root: string) => Promise<void>, RegExp]> = [
    ["a required file is missing", (root) => rm(join(root, "artifacts/world/bin/busybox")), /artifacts\/world: bin\/busybox is missing \(recorded as an executable with sha256 [0-9a-f]{64}\)$/],
    [
      "a file's content does not match its hash",
      async (root) => writeFile(join(root, "artifacts/world/share/busybox/applets"), "sh\nrm\n"),
      /artifacts\/world: share\/busybox\/applets is a file with sha256 [0-9a-f]{64}, recorded as a file with sha256 [0-9a-f]{64}$/,
    ],
    ["a file no listing records", (root) => writeFile(join(root, "artifacts/world/bin/extra"), "x"), /artifacts\/world: bin\/extra is not in the recorded listing$/],
    [
      "the listing was changed",
      async (root) => writeFile(join(root, "artifacts/world.files"), (await readFile(join(root, "artifacts/world.files"), "utf8")).replace("l\tbusybox", "l\tbusybox2")),
      /artifacts\/world\.files has sha256 [0-9a-f]{64}, the manifest records [0-9a-f]{64}$/,
    ],
    [
      "an unknown artifact kind",
      async (root) => writeFile(join(root, "result.scm"), (await readFile(join(root, "result.scm"), "utf8")).replace('(kind "world")', '(kind "firmware")')),
      /unknown artifact kind 'firmware' \(known: world, kernel, headers, bootloader\)$/,
    ],
    [
      "a required file the manifest does not record",
      async (root) => writeFile(join(root, "result.scm"), (await readFile(join(root, "result.scm"), "utf8")).replace(/\n *\(required-file "share\/busybox\/applets" "[0-9a-f]+"\)/, "")),
      /artifact 'world' does not record the required file share\/busybox\/applets$/,
    ],
    ["not a result root (no result.scm)", (root) => rm(join(root, "result.scm")), /: not a native-build result root \(no result\.scm\)$/],
    ["a manifest that is not one", (root) => writeFile(join(root, "result.scm"), "(operating-system)\n"), /result\.scm:1:1: not a native-build manifest/],
  ];
  for (const [what, damage, message] of refusals) {
    it(`refuses ${what} with one line, and adds nothing to the store`, async () => {
      const root = await copyOf(await busyboxResultRoot());
      await damage(root);
      const store = await freshStore();
      const before = await storeState(store);
      await expect(promoteResult(store, root, silentLogger)).rejects.toThrow(message);
      expect(await storeState(store)).toEqual(before);
    });
  }

  it("the command refuses a directory that is not a result root: one line, exit 1, the store unchanged", async () => {
    const dir = await tempDir();
    const store = await freshStore();
    const before = await storeState(store);
    const r = await fruix(["native-build", "promote", dir, "--store", store.storeDir]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("fruix:"))).toEqual([`fruix: ${dir}: not a native-build result root (no result.scm)`]);
    expect(await storeState(store)).toEqual(before);
  });
});

describe("the result format (pure)", () => {
  const result = (kinds: string[]) =>
    ({ family: "freebsd", artifacts: kinds.map((kind) => ({ kind, directory: `artifacts/${kind}`, listing: `artifacts/${kind}.files`, requiredFiles: [{ path: "efi/loader.efi", sha256: "0".repeat(64) }] })) }) as never;
  it("a family's build must stage every kind it stages", () => {
    expect(manifestProblem(result(["bootloader"]), { family: "freebsd", kinds: freebsd.nativeBuild.kinds })).toBe("no 'world' artifact: a freebsd build stages world, kernel, headers, bootloader");
    expect(manifestProblem(result(["bootloader", "bootloader"]), { family: "freebsd", kinds: { bootloader: [] } })).toBe("artifact kind 'bootloader' is recorded twice");
    expect(manifestProblem(result(["kernel"]), { family: "linux-busybox", kinds: linuxBusybox.nativeBuild.kinds })).toMatch(/^artifact kind 'kernel' is not one a linux-busybox build stages/);
  });
  it("listings are compared both ways", () => {
    const a = parseListing("x\t" + "1".repeat(64) + "\tbin/sh\nl\tsh\tbin/ash\n", "a");
    expect(listingDifference(a, a)).toBeUndefined();
    expect(listingDifference(a, a.slice(1))).toBe(`bin/sh is missing (recorded as an executable with sha256 ${"1".repeat(64)})`);
    expect(listingDifference(a.slice(1), a)).toBe("bin/sh is not in the recorded listing");
    expect(() => parseListing("f\tnothex\tbin/sh\n", "w.files")).toThrow("w.files:1: not a listing line");
    expect(() => parseListing("f\t" + "1".repeat(64) + "\t../etc/passwd\n", "w.files")).toThrow("w.files:1: not a listing line");
  });
  it("run ids sort by time and fit store item names", () => {
    expect(newRunId(new Date("2026-12-06T22:15:03.123Z"), "1a2b3c")).toBe("20261206T221503Z-1a2b3c");
  });
});

/** A `make` that records its directory, argv and the environment the sequence cares about, and stages what installs make. */
const RECORDING_MAKE = `#!/bin/sh
{ printf 'cwd=%s argv=%s' "$PWD" "$*"
  for v in MAKEFLAGS CFLAGS CXXFLAGS CPPFLAGS LDFLAGS MAKEOBJDIRPREFIX; do eval "printf ' %s=%s' $v \\"\\\${$v-<unset>}\\""; done
  echo; } >>"$MAKE_LOG"
dest=
for a in "$@"; do case $a in DESTDIR=*) dest=\${a#DESTDIR=} ;; esac; done
case " $* " in
*" installworld "*)
	for f in bin/sh sbin/init libexec/ld-elf.so.1 usr/sbin/pwd_mkdb usr/include/stdio.h usr/include/sys/param.h boot/loader.efi; do
		mkdir -p "$dest/\${f%/*}" && echo "$f" >"$dest/$f"; done ;;
*" distribution "*) mkdir -p "$dest/etc" && for f in rc master.passwd group; do echo "$f" >"$dest/etc/$f"; done ;;
*" installkernel "*) mkdir -p "$dest/boot/kernel" && echo kernel >"$dest/boot/kernel/kernel" ;;
esac
`;
const FAKE_MTREE = `#!/bin/sh
case "$1" in -c) (cd "$3" && find . | LC_ALL=C sort) ;; -C) while read -r p; do echo "$p type=file uid=0 gid=0 mode=0444"; done ;; esac
`;

describe("the FreeBSD sequence (structurally: a recording make; no FreeBSD build has run here)", () => {
  it("buildworld and buildkernel with -jN, then installworld, distribution and installkernel into DESTDIR with DB_FROM_SRC=yes, the development shell's variables unset", async () => {
    const guest = await guestTree();
    const bin = join(guest.dir, "bin");
    await mkdir(bin);
    await writeFile(join(bin, "make"), RECORDING_MAKE, { mode: 0o755 });
    await writeFile(join(bin, "mtree"), FAKE_MTREE, { mode: 0o755 });
    await writeFile(join(bin, "chflags"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const src = join(guest.dir, SOURCE, "tree");
    await mkdir(join(src, "sys", "conf"), { recursive: true });
    await writeFile(join(src, "Makefile"), "");
    await writeFile(join(src, "sys", "conf", "newvers.sh"), "");
    const log = join(guest.dir, "make.log");
    const r = await runScript(freebsd, {
      ...guest.env,
      PATH: `${bin}:${process.env.PATH}`,
      MAKE_LOG: log,
      FRUIX_NATIVE_BUILD_RUN_ID: "fbsd1",
      FRUIX_SELF_HOSTED_NATIVE_BUILD_JOBS: "3",
      // Besides what fruix-development-environment exports: none of them may reach the build.
      CXXFLAGS: "-O3",
      CPPFLAGS: "-I/x",
    });
    expect(r.stderr).not.toMatch(/failed/);
    expect(r.exitCode).toBe(0);
    const work = `${guest.dir}/var/tmp/fruix-native-builds/fbsd1`;
    const clean = `MAKEFLAGS=<unset> CFLAGS=<unset> CXXFLAGS=<unset> CPPFLAGS=<unset> LDFLAGS=<unset> MAKEOBJDIRPREFIX=${work}/obj`;
    const dest = `DESTDIR=${work}/stage/root DB_FROM_SRC=yes KERNCONF=GENERIC`;
    expect((await readFile(log, "utf8")).trim().split("\n")).toEqual([
      `cwd=${src} argv=-j3 buildworld ${clean}`,
      `cwd=${src} argv=-j3 buildkernel KERNCONF=GENERIC ${clean}`,
      `cwd=${src} argv=installworld ${dest} ${clean}`,
      `cwd=${src} argv=distribution ${dest} ${clean}`,
      `cwd=${src} argv=installkernel ${dest} ${clean}`,
    ]);
    const root = join(guest.dir, "var/lib/fruix/native-builds", "fbsd1");
    const result = parseManifest(await readFile(join(root, "result.scm"), "utf8"), "result.scm");
    expect(result.family).toBe("freebsd");
    expect(result.buildPolicy).toMatchObject({ jobs: 3, installVariables: ["DESTDIR", "DB_FROM_SRC=yes"] });
    expect(result.artifacts.map((a) => a.kind)).toEqual(["world", "kernel", "headers", "bootloader"]);
    // The world is the staged install without the kernel; each artifact in the freebsd base's item layout.
    const listing = (kind: string) => readFile(join(root, "artifacts", `${kind}.files`), "utf8");
    expect(await listing("world")).not.toContain("boot/kernel");
    expect(await listing("kernel")).toContain("tree/boot/kernel/kernel");
    expect(await listing("bootloader")).toContain("efi/loader.efi");

    const store = await freshStore();
    const promoted = await promoteResult(store, root, silentLogger);
    expect(promoted.artifacts.map((a) => a.path.replace(/^\/frx\/store\/[0-9a-f]{64}-/, ""))).toEqual([
      "fruix-native-world-fbsd1",
      "fruix-native-kernel-fbsd1",
      "fruix-native-headers-fbsd1",
      "fruix-native-bootloader-fbsd1",
    ]);
    expect(await store.references(promoted.bundle)).toEqual(promoted.artifacts.map((a) => a.path).sort());
  });
});

describe("the reduced BusyBox configuration", () => {
  it("keeps every BusyBox applet the linux-busybox system's scripts run", async () => {
    // Debian's full BusyBox names every applet there is (and itself, which is no applet to keep).
    const applets = new Set((await execa("busybox", ["--list"])).stdout.split("\n").filter((a) => a !== "busybox"));
    const script = await readFile(join(linuxBusybox.guestDir, "native-build.sh"), "utf8");
    const kept = new Set(/FNB_BUSYBOX_APPLETS="([^"]*)"/.exec(script)![1]!.split(/\s+/));
    const sources = [
      "lib/guest/fruix.sh",
      "lib/guest/receive.sh",
      ...["activate.sh", "boot-init.sh", "initramfs-init.sh", "installer.sh", "shutdown.sh"].map((f) => `lib/family/linux-busybox/guest/${f}`),
      "lib/family/linux-busybox/services.ts",
      "lib/family/linux-busybox/guest-profile.ts",
      "lib/system/health-checks.ts",
      "lib/validate/guest.ts",
      "scenarios/checks/running-system.ts",
      "scenarios/checks/ssh.ts",
    ];
    const used = new Set<string>();
    for (const file of sources) {
      for (const word of (await readFile(join(packageRoot, file), "utf8")).split(/[^A-Za-z0-9_[\]-]+/)) if (applets.has(word)) used.add(word);
    }
    expect([...used].filter((a) => !kept.has(a))).toEqual([]);
    expect(used.size).toBeGreaterThan(40); // the scan found the scripts' commands
    expect([...kept].filter((a) => !applets.has(a))).toEqual([]); // and the list names only real applets
  });

  it("turns off the applets not kept, and with optimization none appends -O0 after BusyBox's -Os", async () => {
    const dir = await tempDir("fruix-nb-config-");
    await mkdir(join(dir, "src", "coreutils"), { recursive: true });
    await writeFile(join(dir, "src", "coreutils", "ls.c"), "//applet:IF_LS(APPLET_NOEXEC(ls, ls, BB_DIR_BIN, BB_SUID_DROP, ls))\n");
    await writeFile(join(dir, "src", "coreutils", "tac.c"), "//applet:IF_TAC(APPLET_NOEXEC(tac, tac, BB_DIR_USR_BIN, BB_SUID_DROP, tac))\n");
    await writeFile(join(dir, "base.config"), 'CONFIG_EXTRA_CFLAGS=""\nCONFIG_LS=y\nCONFIG_TAC=y\nCONFIG_FEATURE_LS_COLOR=y\n');
    const script = await readFile(join(linuxBusybox.guestDir, "native-build.sh"), "utf8");
    const config = async (optimization: string) =>
      (await execa("sh", ["-c", `${script}\nfnb_busybox_config "$1" "$2" "$3"`, "sh", join(dir, "src"), join(dir, "base.config"), optimization])).stdout.split("\n");
    expect(await config("default")).toEqual(['CONFIG_EXTRA_CFLAGS=""', "CONFIG_LS=y", "# CONFIG_TAC is not set", "CONFIG_FEATURE_LS_COLOR=y"]);
    expect(await config("none")).toEqual(['CONFIG_EXTRA_CFLAGS="-O0"', "CONFIG_LS=y", "# CONFIG_TAC is not set", "CONFIG_FEATURE_LS_COLOR=y"]);
  });
});

/** ssh2's server standing in for the guest: commands run by the host's sh, the guest's directories under `root`. */
async function guestDouble(root: string, clientKey: ParsedKey, env: Record<string, string>) {
  // The copy-back's tar reads the guest's state directory: under FRUIX_ROOT here.
  const inGuest = (command: string) => command.replace(/^tar -C \/var\/lib/, `tar -C ${root}/var/lib`);
  const server = new Server({ hostKeys: [ed25519KeyPair().private] }, (client) => {
    client
      .on("authentication", (ctx) => {
        if (ctx.method === "publickey" && ctx.key.data.equals(clientKey.getPublicSSH()) && (!ctx.signature || clientKey.verify(ctx.blob!, ctx.signature, ctx.hashAlgo))) return ctx.accept();
        ctx.reject(["publickey"]);
      })
      .on("ready", () => {
        client.on("session", (accept) => {
          accept().on("exec", (acceptExec, reject, info) => {
            // As dropbear (MAX_CMD_LEN): a longer command is refused ("Unable to exec").
            if (info.command.length > 9000) return reject();
            const channel = acceptExec();
            const child = spawn("/bin/sh", ["-c", inGuest(info.command)], { env: { ...process.env, ...env } });
            channel.pipe(child.stdin);
            child.stdout.pipe(channel, { end: false });
            child.stderr.pipe(channel.stderr, { end: false });
            child.on("close", (code) => {
              channel.exit(code ?? 255);
              channel.end();
            });
          });
        });
      })
      .on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe("fruix native-build run's copy-back, over SSH", () => {
  it("runs the sequence in the guest, copies the result root to DIR/<run-id> checked, and leaves nothing partial", async () => {
    const family = await fakeFamily(linuxBusybox, FAKE_BUSYBOX_BUILD);
    const guest = await guestTree();
    const dir = await tempDir();
    const { identity, ...key } = await keyPairFile(dir);
    const double = await guestDouble(guest.dir, key.parsed, guest.env);
    try {
      const destination = parseDestination(`ssh://root@127.0.0.1:${double.port}`);
      const options = { identity, knownHosts: join(dir, "known_hosts"), acceptNewHostKey: true, log: silentLogger };
      const resultDir = join(dir, "results");
      const run = await withSession(destination, options, (s) => runNativeBuild(s, family, { jobs: 2, resultDir, runId: "copy1", log: silentLogger }));
      expect(run.resultRoot).toBe(join(resultDir, "copy1"));
      expect(run.guestResultRoot).toBe("/var/lib/fruix/native-builds/copy1");
      expect(run.result.executor).toBe("fruix native-build run");
      expect(run.result.buildPolicy.jobs).toBe(2);
      expect(run.bytesCopied).toBeGreaterThan(1_000_000); // the static BusyBox
      expect(await readdir(resultDir)).toEqual(["copy1"]);
      expect(await sha256(join(resultDir, "copy1/artifacts/world/bin/busybox"))).toBe(await sha256(join(guest.dir, "var/lib/fruix/native-builds/copy1/artifacts/world/bin/busybox")));

      // A build that fails in the guest: one line, nothing on the host.
      const failing = await fakeFamily(linuxBusybox, 'fnb_build() { echo "make: *** [Makefile:717: busybox_unstripped] Error 1" >&2; return 1; }');
      await expect(withSession(destination, options, (s) => runNativeBuild(s, failing, { resultDir, runId: "copy2", log: silentLogger }))).rejects.toThrow(
        /: the native build failed: the linux-busybox build failed \(its work stays in \/var\/tmp\/fruix-native-builds\/copy2\)$/,
      );
      expect(await readdir(resultDir)).toEqual(["copy1"]);
    } finally {
      await double.close();
    }
  });

  it("the command refuses a machine that does not run FILE's system, before building anything", async () => {
    const guest = await guestTree();
    const dir = await tempDir();
    const { identity, ...key } = await keyPairFile(dir);
    const double = await guestDouble(guest.dir, key.parsed, guest.env);
    try {
      const hostName = (await execa("hostname")).stdout.trim();
      const r = await fruix([
        "native-build", "run", join(packageRoot, "examples/development.scm"), "--to", `ssh://127.0.0.1:${double.port}`,
        "--identity", identity, "--known-hosts", join(dir, "known_hosts"), "--accept-new-host-key", "--result-dir", join(dir, "results"), "--quiet",
      ]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr.trim()).toBe(`fruix: ssh://root@127.0.0.1:${double.port} is '${hostName}', not ${join(packageRoot, "examples/development.scm")}'s 'fruix-development'; is --to the right machine?`);
      expect(await readdir(dir)).toEqual(["id_ed25519", "known_hosts"]);
    } finally {
      await double.close();
    }
  });
});
