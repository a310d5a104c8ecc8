// `fruix system build` and `rootfs` on the real linux-busybox base: Debian
// packages, a real store, and a real boot of the result under QEMU/TCG.
import { readFile, readdir, readlink, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolvePackage } from "../lib/debian/apt.js";
import { loadDeclaration, parseDeclaration, selectSystem } from "../lib/declaration/index.js";
import { createLogger, silentLogger } from "../lib/log.js";
import type { Store } from "../lib/store/index.js";
import { buildSystem, type SystemBuild } from "../lib/system/build.js";
import { materializeRootfs } from "../lib/deploy/rootfs.js";
import { cleanupTempDirs, exampleFile, freshStore, fruix, storeEntries, tempDir } from "./helpers/fixtures.js";
import { ACTIVATED_OR_FAILED, bootDirect } from "./helpers/qemu-direct.js";

const CLOSURE = /^\/frx\/store\/[0-9a-f]{64}-fruix-system-fruix-minimal$/;

let store: Store;
let build: SystemBuild;
let exampleSource: string;

beforeAll(async () => {
  exampleSource = await readFile(exampleFile, "utf8");
  store = await freshStore();
  build = await buildSystem(store, selectSystem(await loadDeclaration(exampleFile)), silentLogger);
});
afterAll(cleanupTempDirs);

function variant(from: string, to: string) {
  expect(exampleSource).toContain(from);
  return selectSystem(parseDeclaration(exampleSource.replace(from, to), "variant.scm"));
}

describe("fruix system build", () => {
  it("names the closure /frx/store/<sha256>-fruix-system-<host-name>", () => {
    expect(build.closurePath).toMatch(CLOSURE);
    expect(build.items).toContain(build.closurePath);
  });

  it("holds boot assets, activation, profile and metadata, and references every item it needs", async () => {
    const dir = store.toHostPath(build.closurePath);
    const vmlinuz = store.toHostPath(await readlink(join(dir, "boot/vmlinuz")));
    const initrd = store.toHostPath(await readlink(join(dir, "boot/initrd.img")));
    expect((await readFile(vmlinuz)).subarray(0, 2).toString()).toBe("MZ"); // EFI-stub kernel
    expect([...(await readFile(initrd)).subarray(0, 2)]).toEqual([0x1f, 0x8b]); // gzip
    expect((await stat(join(dir, "activate"))).mode & 0o111).not.toBe(0);
    expect(await readlink(join(dir, "profile/bin/sh"))).toMatch(/-busybox-[^/]+\/bin\/busybox$/);
    expect(await readFile(join(dir, "etc/passwd"), "utf8")).toContain("alice:x:1000:100:Alice the operator:/home/alice:/bin/sh");

    const names = (await store.references(build.closurePath)).map((p) => p.replace(/^\/frx\/store\/[0-9a-f]{64}-/, ""));
    for (const prefix of ["linux-6", "linux-modules-", "busybox-", "systemd-boot-", "fruix-initramfs-", "fruix-helper-"]) {
      expect(names.some((n) => n.startsWith(prefix))).toBe(true);
    }
    const layout = await readFile(join(dir, "metadata/store-layout.scm"), "utf8");
    for (const ref of await store.references(build.closurePath)) expect(layout).toContain(`"${ref}"`);
    expect(await readFile(join(dir, "metadata/metadata.scm"), "utf8")).toContain('(host-name "fruix-minimal")');
    // The default health check: activation, and every supervised service (getty belongs to init).
    expect((await readFile(join(dir, "metadata/health-checks"), "utf8")).split("\n").slice(1)).toEqual([
      "deadline 120", "activation", "service syslogd", "service klogd", "service httpd", "",
    ]);
  });

  it("records every Debian package with its version and sha256 in provenance.scm", async () => {
    const provenance = await readFile(join(store.toHostPath(build.closurePath), "metadata/provenance.scm"), "utf8");
    expect(provenance).toMatch(/\(declaration-hash "[0-9a-f]{64}"\)/);
    for (const name of ["busybox-static", "systemd-boot-efi"]) {
      const pkg = await resolvePackage(name);
      expect(provenance).toContain(`(name "${name}")`);
      expect(provenance).toContain(`(version "${pkg.version}")`);
      expect(provenance).toContain(`(sha256 "${pkg.sha256}")`);
    }
    expect(provenance).toMatch(/\(name "linux-image-[0-9.]+-\d+-amd64"\)/);
  });

  it("puts the boot modules in the initramfs, each after what it depends on", async () => {
    const dir = store.toHostPath(build.closurePath);
    const initrd = store.toHostPath(await readlink(join(dir, "boot/initrd.img")));
    const listing = (await execa("sh", ["-c", `zcat '${initrd}' | cpio -t --quiet`])).stdout.split("\n");
    for (const module of ["virtio_blk", "virtio_pci", "ahci", "ata_piix", "xen_blkfront", "ext4", "isofs", "vfat", "i6300esb"]) {
      expect(listing).toContain(`lib/modules/${module}.ko`);
    }
    expect(listing).toContain("dev/console");
    const order = (await execa("sh", ["-c", `zcat '${initrd}' | cpio -i --to-stdout --quiet lib/modules/load-order`])).stdout.split("\n");
    expect(order.indexOf("jbd2")).toBeLessThan(order.indexOf("ext4"));
    expect(order.indexOf("virtio")).toBeLessThan(order.indexOf("virtio_blk"));
  });

  it("gives the same closure path in a fresh, empty store, downloading nothing the second time", async () => {
    const lines: string[] = [];
    const other = await freshStore();
    const again = await buildSystem(other, selectSystem(await loadDeclaration(exampleFile)), createLogger({ write: (l) => lines.push(l) }));
    expect(again.closurePath).toBe(build.closurePath);
    expect(lines.some((l) => l.includes("import busybox-"))).toBe(true); // it did import, into the new store
    expect(lines.filter((l) => l.includes("downloading"))).toEqual([]);
  });

  it("changes the closure path when any field changes, and only then", async () => {
    const same = await buildSystem(store, variant(";; A minimal", ";; Reworded comment. A minimal"), silentLogger);
    expect(same.closurePath).toBe(build.closurePath);
    const paths = new Set([build.closurePath]);
    for (const [from, to] of [
      ['(host-name "fruix-minimal")', '(host-name "fruix-minimal-2")'],
      ["(uid 1000)", "(uid 1001)"],
      ["(port 8080)", "(port 8081)"],
      ["(service klogd-service-type)", "(service crond-service-type)"],
    ] as const) {
      paths.add((await buildSystem(store, variant(from, to), silentLogger)).closurePath);
    }
    expect(paths.size).toBe(5);
  });
});

  it("carries dropbear, which runs, only when sshd is declared; its run script installs the keys", async () => {
    expect(build.packages.map((p) => p.pkg.name)).not.toContain("dropbear-bin");
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq0 operator's key";
    const withSshd = await buildSystem(
      store,
      variant(
        "(service klogd-service-type)",
        `(service klogd-service-type) (service sshd-service-type (sshd-configuration (port 2222) (authorized-keys (list "${key}"))))`,
      ),
      silentLogger,
    );
    const dir = store.toHostPath(withSshd.closurePath);
    const dropbear = await readlink(join(dir, "profile/bin/dropbear"));
    expect(dropbear).toMatch(/-fruix-dropbear\/bin\/dropbear$/);
    expect(withSshd.packages.map((p) => p.pkg.name)).toEqual(expect.arrayContaining(["dropbear-bin", "libtomcrypt1"]));
    // The wrapper and its bundled loader and libraries work without the host's.
    const version = await execa(store.toHostPath(dropbear), ["-V"], { reject: false });
    expect(version.stderr).toMatch(/^Dropbear v20\d\d\.\d+/);

    const run = await readFile(join(dir, "services/sshd/run"), "utf8");
    expect(run).toContain(`printf '%s\\n' 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq0 operator'\\''s key' >/root/.ssh/authorized_keys`);
    expect(run).toContain("exec dropbear -F -E -R -s -p 2222 -P /run/dropbear.pid");
    // Key logins need an account that is not locked ("!").
    expect(await readFile(join(dir, "etc/shadow"), "utf8")).toMatch(/^root:\*:/m);
  });

describe("fruix system rootfs", () => {
  let rootfs: string;

  beforeAll(async () => {
    rootfs = join(await tempDir(), "rootfs");
    await materializeRootfs(store, build, rootfs, "2026-01-01T00:00:00Z");
  });

  it("copies exactly the closure's items under frx/store", async () => {
    const items = build.items.map((p) => p.slice("/frx/store/".length)).sort();
    expect((await readdir(join(rootfs, "frx/store"))).sort()).toEqual(items);
  });

  it("writes the generation-1 layout and GC roots", async () => {
    const system = join(rootfs, "var/lib/fruix/system");
    expect(await readlink(join(system, "current"))).toBe("generations/1");
    expect(await readFile(join(system, "current-generation"), "utf8")).toBe("1\n");
    expect(await readlink(join(system, "generations/1/closure"))).toBe(build.closurePath);
    expect((await readdir(join(system, "generations/1"))).sort()).toEqual(["closure", "metadata.scm", "provenance.scm"]);
    const metadata = await readFile(join(system, "generations/1/metadata.scm"), "utf8");
    expect(metadata).toContain(`(closure "${build.closurePath}")`);
    expect(metadata).toContain('(install-metadata-path "/var/lib/fruix/install.scm")');
    for (const root of ["current-system", "system-1"]) {
      expect(await readlink(join(rootfs, "frx/var/fruix/gcroots", root))).toBe(build.closurePath);
    }
  });

  it("ships the helper, whose status reads the tree offline", async () => {
    const result = await execa("dash", [join(rootfs, "usr/local/bin/fruix"), "system", "status"], {
      env: { FRUIX_ROOT: rootfs },
    });
    expect(result.stdout).toContain(`current_closure=${build.closurePath}\n`);
    expect(result.stdout).toContain("current_created=2026-01-01T00:00:00Z");
  });

  it("refuses a non-empty target and leaves it as it was", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "precious"), "keep me");
    await expect(materializeRootfs(store, build, dir, "x")).rejects.toThrow(`rootfs target ${dir} is not empty; refusing to overwrite it`);
    expect(await readdir(dir)).toEqual(["precious"]);
  });

  it("boots under QEMU/TCG: the activation line names the closure", async () => {
    const disk = join(await tempDir(), "root.img");
    const uuid = "5f3c1f8e-9d0a-4c1b-8e2f-0a1b2c3d4e5f";
    await execa("mke2fs", ["-q", "-t", "ext4", "-U", uuid, "-d", rootfs, disk, "256M"]);
    const boot = await bootDirect({
      kernel: join(rootfs, await readlink(join(rootfs, build.closurePath, "boot/vmlinuz"))),
      initrd: join(rootfs, await readlink(join(rootfs, build.closurePath, "boot/initrd.img"))),
      disk,
      append: `console=ttyS0,115200 root=UUID=${uuid} fruix.system=${build.closurePath} panic=-1`,
      until: ACTIVATED_OR_FAILED,
      timeoutMs: 90_000,
    });
    const activated = boot.transcript.match(/fruix: activated (\S+)/g) ?? [];
    expect(activated, boot.transcript.slice(-2000)).toEqual([`fruix: activated ${build.closurePath}`]);
  }, 120_000);
});

describe("the fruix command", () => {
  it("prints only closure_path= on stdout, progress on stderr", async () => {
    const dir = await tempDir();
    const result = await fruix(["system", "build", exampleFile], { FRUIX_STORE: join(dir, "store") });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^closure_path=\/frx\/store\/[0-9a-f]{64}-fruix-system-fruix-minimal$/);
    expect(result.stderr).toContain("build system closure");
    const json = await fruix(["system", "build", exampleFile, "--json", "--quiet"], { FRUIX_STORE: join(dir, "store") });
    expect(JSON.parse(json.stdout)).toEqual({ closure_path: result.stdout.slice("closure_path=".length) });
    expect(json.stderr).toBe("");
  });

  it("rejects a bad declaration in one located line and adds nothing to the store", async () => {
    const dir = await tempDir();
    const bad = join(dir, "bad.scm");
    await writeFile(bad, exampleSource.replace('(host-name "fruix-minimal")', '(hostname "fruix-minimal")'));
    const env = { FRUIX_STORE: join(dir, "store") };
    const result = await fruix(["system", "build", bad], env);
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(new RegExp(`^${bad}:15:6: .*hostname.*host-name`));
    expect(await readdir(dir)).toEqual(["bad.scm"]); // no store was even created
  });

  it("lists the bindings when --system names none of them", async () => {
    const result = await fruix(["system", "build", exampleFile, "--system", "nope"]);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr.trim()).toBe(`fruix: no operating-system bound to 'nope' in ${exampleFile} (bindings: my-operating-system)`);
  });

  it("names the package it cannot download, leaving no half item", async () => {
    const dir = await tempDir();
    const aptConfig = join(dir, "apt.conf");
    // A proxy nobody listens on: apt fails at once, as it would with no network.
    await writeFile(aptConfig, 'Acquire::http::Proxy "http://127.0.0.1:9/";\nAcquire::https::Proxy "http://127.0.0.1:9/";\n');
    const env = { FRUIX_STORE: join(dir, "store"), FRUIX_CACHE_DIR: join(dir, "cache"), APT_CONFIG: aptConfig };
    const result = await fruix(["system", "build", exampleFile, "--quiet"], env);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim()).toMatch(/^fruix: cannot download Debian package linux-image-\S+ \S+: E: .*$/);
    const store = join(dir, "store");
    expect((await readdir(store)).filter((e) => !e.startsWith("."))).toEqual([]);
  });

  it("refuses to materialize a rootfs into a non-empty directory", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "keep"), "x");
    const result = await fruix(["system", "rootfs", exampleFile, dir, "--quiet"], { FRUIX_STORE: join(await tempDir(), "store") });
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim()).toBe(`fruix: rootfs target ${dir} is not empty; refusing to overwrite it`);
    expect(await readdir(dir)).toEqual(["keep"]);
  });
});

describe("store entries", () => {
  it("are all complete items (no temp directories left behind)", async () => {
    expect((await storeEntries(store)).filter((e) => e.startsWith("."))).toEqual([]);
  });
});
