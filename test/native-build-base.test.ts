// Closing the loop without a VM: a base's (native-build ...) field names
// promoted artifacts. A linux-busybox system built from a promoted world
// (here the host's static BusyBox, recorded by the real driver and promoted)
// links its profile and scripts to it; a FreeBSD base takes a bundle's world,
// kernel and loader (structurally). Bad fields are refused at the base. The
// boot of such a system is the native-build scenario's.
import { createHash } from "node:crypto";
import { mkdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { parseDeclaration, selectSystem } from "../lib/declaration/index.js";
import type { FreebsdBase } from "../lib/declaration/types.js";
import { realizeFreebsd } from "../lib/family/freebsd/base.js";
import { linuxBusybox } from "../lib/family/linux-busybox/index.js";
import { silentLogger } from "../lib/log.js";
import { promoteResult } from "../lib/native-build/promote.js";
import { nativeBuildScript } from "../lib/native-build/run.js";
import type { Store } from "../lib/store/index.js";
import { buildSystem } from "../lib/system/build.js";
import { cleanupTempDirs, freshStore, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

const SOURCE = "/frx/store/" + "a".repeat(64) + "-busybox-source-1.35.0";
const CLOSURE = "/frx/store/" + "b".repeat(64) + "-fruix-system-builder";

/** A promoted linux-busybox world: the host's static BusyBox, recorded by the real driver (stand-in build step). */
async function promotedWorld(store: Store): Promise<{ bundle: string; world: string; sha256: string }> {
  const root = await tempDir("fruix-nb-guest-");
  await mkdir(join(root, CLOSURE, "metadata"), { recursive: true });
  await mkdir(join(root, CLOSURE, "development-profile"));
  await writeFile(join(root, CLOSURE, "metadata/store-layout.scm"), `(store-layout\n (source-stores\n  (source-store\n   (path "${SOURCE}")\n   (root "${SOURCE}/tree"))))\n`);
  await mkdir(join(root, SOURCE, "tree"), { recursive: true });
  await mkdir(join(root, "run"));
  await symlink(CLOSURE, join(root, "run/current-system"));
  await mkdir(join(root, "usr/local/bin"), { recursive: true });
  await mkdir(join(root, "usr/include"));
  await writeFile(join(root, "usr/local/bin/fruix-development-environment"), "#!/bin/sh\ntrue\n", { mode: 0o755 });
  const family = { ...linuxBusybox, guestDir: await tempDir("fruix-nb-family-") };
  await writeFile(
    join(family.guestDir, "native-build.sh"),
    (await readFile(join(linuxBusybox.guestDir, "native-build.sh"), "utf8")) +
      '\nfnb_build() { mkdir -p "$2/stage/world/bin" "$2/stage/world/share/busybox" && cp "$(command -v busybox)" "$2/stage/world/bin/busybox" && "$2/stage/world/bin/busybox" --list >"$2/stage/world/share/busybox/applets"; }\n',
  );
  const r = await execa("sh", ["-c", await nativeBuildScript(family), "b"], { env: { FRUIX_ROOT: root, FRUIX_NATIVE_BUILD_RUN_ID: "base1" }, reject: false });
  expect(r.exitCode, r.stderr).toBe(0);
  const promoted = await promoteResult(store, join(root, "var/lib/fruix/native-builds/base1"), silentLogger);
  const world = promoted.artifacts[0]!.path;
  const sha256 = createHash("sha256").update(await readFile(join(store.toHostPath(world), "bin/busybox"))).digest("hex");
  return { bundle: promoted.bundle, world, sha256 };
}

const system = (base: string) =>
  selectSystem(parseDeclaration(`(define os (operating-system (host-name "native") (base ${base}) (users '()) (services '())))`, "native.scm"));

describe("a linux-busybox base whose BusyBox is a promoted world", () => {
  it("links the profile, the guest scripts and the initramfs to the promoted binary, and records it in provenance", async () => {
    const store = await freshStore();
    const { bundle, world } = await promotedWorld(store);
    const build = await buildSystem(store, system(`(linux-busybox-base (native-build "${bundle}"))`), silentLogger);
    const closure = store.toHostPath(build.closurePath);
    expect(build.items).toContain(world);
    expect(await readlink(join(closure, "profile/bin/sh"))).toBe(`${world}/bin/busybox`);
    expect((await readFile(join(closure, "activate"), "utf8")).split("\n")[0]).toBe(`#!${world}/bin/busybox sh`);
    expect(await readFile(join(closure, "parameters"), "utf8")).toContain(`FRUIX_BUSYBOX=${world}/bin/busybox`);
    const provenance = await readFile(join(closure, "metadata/provenance.scm"), "utf8");
    expect(provenance).toContain(`(declared "${bundle}")`);
    expect(provenance).not.toContain('"busybox-static"');
    // The world item alone names the same BusyBox.
    const direct = await buildSystem(store, system(`(linux-busybox-base (native-build "${world}"))`), silentLogger);
    expect(await readlink(join(store.toHostPath(direct.closurePath), "profile/bin/sh"))).toBe(`${world}/bin/busybox`);
  });

  it("refuses, at the base, an item not in the store, and a malformed path", async () => {
    const store = await freshStore();
    const absent = `/frx/store/${"c".repeat(64)}-fruix-native-build-result-gone`;
    await expect(buildSystem(store, system(`(linux-busybox-base (native-build "${absent}"))`), silentLogger)).rejects.toThrow(
      `native.scm:1:57: native-build ${absent}: it is not in the store (fruix native-build promote puts it there)`,
    );
    expect(() => system(`(linux-busybox-base (native-build "/tmp/world"))`)).toThrow(/native\.scm:1:\d+: .*"\/tmp\/world" is not a promoted native-build item/);
  });
});

describe("a FreeBSD base from a result bundle (structurally)", () => {
  it("takes the bundle's world, kernel and loader and reads no sets; a linux-busybox bundle is refused", async () => {
    const store = await freshStore();
    const items: Record<string, string> = {};
    const meta = (kind: string) => `(native-build-artifact\n (kind "${kind}")\n (family "freebsd"))\n`;
    const layouts: Record<string, string[]> = {
      world: ["mtree", "tree/bin/sh", "tree/sbin/init", "tree/etc/rc", "tree/etc/master.passwd", "tree/etc/group", "tree/libexec/ld-elf.so.1", "tree/usr/sbin/pwd_mkdb"],
      kernel: ["mtree", "tree/boot/kernel/kernel"],
      headers: ["usr/include/stdio.h", "usr/include/sys/param.h"],
      bootloader: ["efi/loader.efi"],
    };
    for (const [kind, files] of Object.entries(layouts)) {
      items[kind] = await store.add(`fruix-native-${kind}-f1`, async (out) => {
        for (const f of files) {
          await mkdir(join(out, f, ".."), { recursive: true });
          await writeFile(join(out, f), f);
        }
        await writeFile(join(out, "native-build.scm"), meta(kind));
      });
    }
    const bundle = await store.add(
      "fruix-native-build-result-f1",
      async (out) => writeFile(join(out, "native-build.scm"), `(native-build-result\n (family "freebsd")\n (artifacts\n${Object.entries(items).map(([k, p]) => `  (${k} "${p}")`).join("\n")}))\n`),
      { references: Object.values(items) },
    );
    const base = { family: "freebsd", nativeBuild: bundle, distDirectory: "/nonexistent", location: { file: "f.scm", line: 1, column: 2 } } as FreebsdBase;
    expect(await realizeFreebsd(store, base, silentLogger)).toEqual({ world: items.world, kernel: items.kernel, loader: items.bootloader, sets: [] });

    const linux = await promotedWorld(store);
    await expect(realizeFreebsd(store, { ...base, nativeBuild: linux.bundle }, silentLogger)).rejects.toThrow(`f.scm:1:2: native-build ${linux.bundle}: ${linux.bundle} was built for linux-busybox, not freebsd`);
  });
});
