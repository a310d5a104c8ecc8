// The linux-busybox development profile and source store, for real:
// examples/development.scm built (Debian's gcc, binutils, make and headers
// imported and relocated into the store; BusyBox's Debian source package
// fetched through Fruix's private apt configuration), then booted once under
// QEMU, where a C program is compiled, linked and run after
// `eval "$(fruix-development-environment)"`. Pure parts first.
import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hypervisorFactory } from "../hypervisors/index.js";
import { loadDeclaration, parseDeclaration, selectSystem } from "../lib/declaration/index.js";
import { dscVersion, parsePrintUris, parseDeb822Sources, parseSourcesList, sourceLines } from "../lib/debian/source.js";
import { environmentScript, gccSpecs, gccWrapper, relocateLinkerScript } from "../lib/family/linux-busybox/development.js";
import { silentLogger } from "../lib/log.js";
import { packageRoot } from "../lib/paths.js";
import type { Store } from "../lib/store/index.js";
import { buildSystem, type SystemBuild } from "../lib/system/build.js";
import { withDevelopmentActivation } from "../lib/system/system-build.js";
import { runAttempt } from "../lib/validate/engine.js";
import { defineScenario } from "../lib/validate/scenario.js";
import { cleanupTempDirs, freshStore, tempDir } from "./helpers/fixtures.js";

const example = join(packageRoot, "examples", "development.scm");

describe("the private apt configuration (pure)", () => {
  it("turns the host's deb entries, one-line and deb822, into deb-src lines with their keys", () => {
    const list = parseSourcesList(
      "# comment\ndeb http://deb.debian.org/debian bookworm main contrib\ndeb-src http://x/ y z\ndeb [arch=amd64 signed-by=/k.gpg] https://a.example/apt stable main # tail\n",
    );
    expect(list).toEqual([
      { uri: "http://deb.debian.org/debian", suite: "bookworm", components: ["main", "contrib"] },
      { uri: "https://a.example/apt", suite: "stable", components: ["main"], signedBy: "/k.gpg" },
    ]);
    const deb822 = parseDeb822Sources(
      "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n" +
        "Types: deb-src\nURIs: http://src.example/\nSuites: s\nComponents: c\n\nTypes: deb\nEnabled: no\nURIs: http://off/\nSuites: s\nComponents: c\n",
    );
    expect(deb822.map((s) => `${s.uri} ${s.suite}`)).toEqual(["http://deb.debian.org/debian bookworm", "http://deb.debian.org/debian bookworm-updates"]);
    expect(sourceLines([...deb822, deb822[0]!])).toBe(
      "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main\n" +
        "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main\n",
    );
  });

  it("reads apt-get source --print-uris and a .dsc's version", () => {
    const out = "Need to get 2.5 MB of source archives.\n'http://d/busybox_1.35.0-4.dsc' busybox_1.35.0-4.dsc 2321 SHA256:" + "a".repeat(64) + "\n'http://d/busybox_1.35.0.orig.tar.bz2' busybox_1.35.0.orig.tar.bz2 2480624 SHA256:" + "b".repeat(64) + "\n";
    expect(parsePrintUris(out)).toEqual([
      { name: "busybox_1.35.0-4.dsc", size: 2321, sha256: "a".repeat(64) },
      { name: "busybox_1.35.0.orig.tar.bz2", size: 2480624, sha256: "b".repeat(64) },
    ]);
    expect(dscVersion("Format: 3.0 (quilt)\nSource: busybox\nVersion: 1:1.35.0-4+deb12u1\n")).toBe("1:1.35.0-4+deb12u1");
  });
});

describe("the development profile's relocation (pure)", () => {
  const runtime = "/frx/store/" + "1".repeat(64) + "-glibc-2.36";
  it("points libc's linker scripts at the runtime item, and what it lacks at ld's search path", () => {
    const script = "/* GNU ld script */\nOUTPUT_FORMAT(elf64-x86-64)\nGROUP ( /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc_nonshared.a  AS_NEEDED ( /lib64/ld-linux-x86-64.so.2 ) )\n";
    expect(relocateLinkerScript(script, new Set(["libc.so.6", "ld-linux-x86-64.so.2"]), runtime)).toBe(
      `/* GNU ld script */\nOUTPUT_FORMAT(elf64-x86-64)\nGROUP ( ${runtime}/lib/x86_64-linux-gnu/libc.so.6 libc_nonshared.a  AS_NEEDED ( ${runtime}/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 ) )\n`,
    );
  });

  it("points libgcc_s.so's bare libgcc_s.so.1 at the runtime item, and leaves -lgcc and names it lacks", () => {
    const script = "/* GNU ld script\n   Use the shared library, but some functions are only in\n   the static library.  */\nGROUP ( libgcc_s.so.1 -lgcc libother.so.2 )\n";
    expect(relocateLinkerScript(script, new Set(["libgcc_s.so.1"]), runtime)).toBe(
      `/* GNU ld script\n   Use the shared library, but some functions are only in\n   the static library.  */\nGROUP ( ${runtime}/lib/x86_64-linux-gnu/libgcc_s.so.1 -lgcc libother.so.2 )\n`,
    );
  });

  it("appends the runtime item's loader and library path to GCC's link spec", () => {
    expect(gccSpecs(runtime)).toBe(
      `*link:\n+ %{!static:%{!static-pie:%{!shared:-dynamic-linker ${runtime}/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2}}} %{!static:%{!static-pie:-rpath ${runtime}/lib/x86_64-linux-gnu}}\n\n`,
    );
  });

  it("runs Debian's gcc by its own path with Fruix's specs", () => {
    const toolchain = "/frx/store/" + "3".repeat(64) + "-fruix-toolchain-gcc-12";
    expect(gccWrapper(toolchain, "gcc-12")).toBe(
      `#!/bin/sh\n# Generated by Fruix: GCC with specs that link programs to the store's C library.\nexec ${toolchain}/usr/bin/gcc-12 -specs=${toolchain}/usr/share/fruix/gcc.specs "$@"\n`,
    );
  });

  it("prints exports through /run/current-development, and refuses on a system without a profile", () => {
    const script = environmentScript();
    expect(script).toContain('export PATH="/run/current-development/bin:$PATH"');
    expect(script).toContain('export C_INCLUDE_PATH="/run/current-development/usr/include:/run/current-development/usr/include/x86_64-linux-gnu"');
    expect(script).toContain("exit 1");
  });

  it("puts the development part of activation before its activated line, or refuses a script without one", () => {
    expect(withDevelopmentActivation('a\nsay "activated $self"\nb\n', "dev")).toBe('a\ndev\nsay "activated $self"\nb\n');
    expect(() => withDevelopmentActivation("a\n", "dev")).toThrow(/no say "activated \$self" line/);
  });
});

/** What apt keeps of the host's own configuration and state: names, sizes, mtimes. */
async function hostAptState(): Promise<string> {
  const lines: string[] = [];
  for (const top of ["/etc/apt", "/var/lib/apt/lists", "/var/cache/apt/archives"]) {
    for (const entry of ((await readdir(top, { recursive: true }).catch(() => [])) as string[]).sort()) {
      const info = await lstat(join(top, entry)).catch(() => undefined);
      if (info?.isFile()) lines.push(`${top}/${entry} ${info.size} ${info.mtimeMs}`);
    }
  }
  return lines.join("\n");
}

const sha256 = async (file: string) => createHash("sha256").update(await readFile(file)).digest("hex");

describe("examples/development.scm", () => {
  let store: Store;
  let build: SystemBuild;
  let aptBefore: string;
  let aptAfter: string;
  let closure: string; // host path
  beforeAll(async () => {
    store = await freshStore();
    aptBefore = await hostAptState();
    build = await buildSystem(store, selectSystem(await loadDeclaration(example)), silentLogger);
    aptAfter = await hostAptState();
    closure = store.toHostPath(build.closurePath);
  }, 900_000);
  afterAll(cleanupTempDirs);

  const item = (suffix: string) => build.items.find((i) => i.endsWith(suffix) || i.includes(`-${suffix}`))!;

  it("keeps the toolchain out of the runtime profile: the closure links its development profile beside it", async () => {
    const profile = item("fruix-development-profile");
    expect(await readlink(join(closure, "development-profile"))).toBe(profile);
    const runtime = await readdir(join(closure, "profile/bin"));
    for (const tool of ["gcc", "cc", "make", "ld", "as", "cpp"]) expect(runtime, tool).not.toContain(tool);
    const dev = await readdir(join(store.toHostPath(profile), "bin"));
    for (const tool of ["gcc", "cc", "make", "ld", "as", "ar", "nm", "ranlib", "fruix-development-environment"]) expect(dev, tool).toContain(tool);
    expect(await readlink(join(store.toHostPath(profile), "usr/include"))).toBe(`${item("fruix-toolchain-gcc-")}/usr/include`);
    expect(await readFile(join(closure, "metadata/metadata.scm"), "utf8")).toContain(`(development-profile "${profile}")`);
  });

  it("makes BusyBox's Debian source package a store item, recorded with its .dsc's sha256 in store-layout.scm", async () => {
    const source = item("busybox-source-");
    const host = store.toHostPath(source);
    const layout = await readFile(join(closure, "metadata/store-layout.scm"), "utf8");
    const dsc = (await readdir(join(host, "dsc")))[0]!;
    expect(dsc).toMatch(/^busybox_.*\.dsc$/);
    const version = dscVersion(await readFile(join(host, "dsc", dsc), "utf8"))!;
    expect(layout).toContain(`   (path "${source}")\n   (root "${source}/tree")\n   (version "${version}")\n   (dsc "${dsc}")\n   (dsc-sha256 "${await sha256(join(host, "dsc", dsc))}")`);
    expect(layout).toContain(`(references\n  (${build.items.filter((i) => i !== build.closurePath).map((i) => `"${i}"`).join(" ")}))`);
    for (const path of ["tree/Makefile", "tree/debian/rules", "tree/debian/config/pkg/static", "source.scm"]) expect((await stat(join(host, path))).isFile(), path).toBe(true);
    expect(await readFile(join(closure, "metadata/provenance.scm"), "utf8")).toContain(`(path "${source}")`);
  });

  it("never changes the host's apt configuration, lists or archives", () => {
    expect(aptBefore.length).toBeGreaterThan(0);
    expect(aptAfter).toBe(aptBefore);
  });

  it("refuses a source package apt does not know in one line, adding nothing and leaving the host's apt as it was", async () => {
    const before = await hostAptState();
    const fresh = await freshStore();
    const source = '(define os (operating-system (host-name "h") (base (linux-busybox-base))\n(sources (list (debian-source-package (name "fruix-no-such-source"))))))';
    const error = await buildSystem(fresh, selectSystem(parseDeclaration(source, "bad.scm")), silentLogger).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^Debian source package 'fruix-no-such-source' is not known to apt's deb-src lists \(.*fruix-no-such-source.*\)$/);
    expect(await readdir(fresh.storeDir)).toEqual([]);
    expect(await hostAptState()).toBe(before);
  });

  it("is the same closure when built again, in a fresh store too, and another example keeps its own", async () => {
    const again = await buildSystem(store, selectSystem(await loadDeclaration(example)), silentLogger);
    expect(again.closurePath).toBe(build.closurePath);
    // Imported and relocated anew (patchelf, specs, links): the same bytes, so the same paths.
    const elsewhere = await buildSystem(await freshStore(), selectSystem(await loadDeclaration(example)), silentLogger);
    expect(elsewhere.closurePath).toBe(build.closurePath);
    expect(elsewhere.items).toEqual(build.items);
    const source = (await readFile(example, "utf8")).replace("(development-profile (development-profile-configuration))\n", "");
    const without = await buildSystem(store, selectSystem(parseDeclaration(source, "no-dev.scm")), silentLogger);
    expect(without.closurePath).not.toBe(build.closurePath);
    expect(without.items.some((i) => i.includes("-fruix-toolchain-"))).toBe(false);
    expect(await readFile(join(store.toHostPath(without.closurePath), "activate"), "utf8")).not.toContain("development");
  });

  it("boots under QEMU and compiles, links and runs C programs after eval \"$(fruix-development-environment)\"", async () => {
    const folder = join(await tempDir(), "attempt");
    const seen = new Map<string, string>();
    const scenario = defineScenario({
      id: "dev-profile",
      phase: "Test",
      title: "development profile",
      goal: "compile a C program in a development-enabled guest",
      hypervisors: ["qemu"],
      async run(ctx) {
        const system = await ctx.buildSystem();
        const image = await ctx.image(system);
        const vm = await ctx.guest("vm", { disks: [{ path: image, mode: "overlay" }] });
        await vm.boot();
        await vm.openShell();
        const run = async (key: string, command: string) => seen.set(key, (await vm.run(command, { timeoutMs: 300_000 })).output.trim());
        await run("before", 'command -v gcc make cc || echo "no toolchain on PATH: $PATH"');
        await run("links", "for link in /run/current-development /usr/include /run/current-system/development-profile; do readlink $link; done");
        await run("helper", "command -v fruix-development-environment");
        await vm.succeed(
          "mkdir -p /tmp/hello && cd /tmp/hello && printf '%s\\n' '#include <stdio.h>' '#include <limits.h>' '#include <math.h>' " +
            "'int main(void) { printf(\"hello from fruix %d %.5f\\n\", INT_MAX > 0, sqrt(2.0)); return 0; }' >hello.c && " +
            "printf 'hello: hello.c\\n\\t$(CC) -O2 -o $@ hello.c -lm\\n' >Makefile",
        );
        await run("compile", 'eval "$(fruix-development-environment)" && cd /tmp/hello && make && ./hello');
        await run("interpreter", 'eval "$(fruix-development-environment)" && readelf -l /tmp/hello/hello | sed -n "s/.*interpreter: \\(.*\\)]/\\1/p"');
        await run("static", 'eval "$(fruix-development-environment)" && cd /tmp/hello && gcc -static -o hello-static hello.c -lm && ./hello-static');
        await run("source", "root=$(sed -n 's/^ *(root \"\\(.*\\)\")$/\\1/p' /run/current-system/metadata/store-layout.scm) && test -f \"$root/Makefile\" && test -d \"$root/debian\" && echo \"$root\"");
      },
    });
    const report = await runAttempt(
      scenario,
      {
        store,
        log: silentLogger,
        hypervisor: hypervisorFactory("qemu", { accel: "auto", timeoutScale: 1, log: () => undefined }),
        declaration: example,
        timeoutScale: 1,
        keep: false,
        runId: "dev-profile-test",
      },
      folder,
    );
    const transcript = await readFile(join(folder, "vm-serial.log"), "latin1").catch(() => "");
    expect(report.status, transcript.slice(-3000)).toBe("PASS");
    const profile = item("fruix-development-profile");
    expect(seen.get("before")).toMatch(/^no toolchain on PATH: /);
    expect(seen.get("before")).not.toContain("development");
    expect(seen.get("links")!.split("\n")).toEqual([profile, "/run/current-system/development-profile/usr/include", profile]);
    expect(seen.get("helper")).toBe("/usr/local/bin/fruix-development-environment");
    expect(seen.get("compile")).toMatch(/hello from fruix 1 1\.41421$/);
    expect(seen.get("interpreter")).toBe(`${item("glibc-")}/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2`);
    expect(seen.get("static")).toBe("hello from fruix 1 1.41421");
    expect(seen.get("source")).toBe(`${item("busybox-source-")}/tree`);
  }, 1_200_000);
});
