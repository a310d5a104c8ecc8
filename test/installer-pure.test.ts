// The installer's pure parts: ELF dynamic sections, library closures, the
// install plan the guest sources, the boot entry, the installer declaration.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { libraryClosure, wrapperScript } from "../lib/debian/binaries.js";
import { readDynamic } from "../lib/debian/elf.js";
import { loadDeclaration, selectSystem } from "../lib/declaration/index.js";
import { installerEntry } from "../lib/family/linux-busybox/boot-entries.js";
import { diskIds } from "../lib/disk/layout.js";
import { installMetadata } from "../lib/system/install-metadata.js";
import { checkInstallTargetDevice } from "../lib/cli/args.js";
import { withInstaller } from "../lib/system/installer.js";
import { installConf } from "../lib/family/linux-busybox/installer.js";
import type { SystemBuild } from "../lib/system/build.js";
import { exampleFile } from "./helpers/fixtures.js";

const build: SystemBuild = {
  family: "linux-busybox",
  closurePath: `/frx/store/${"a".repeat(64)}-fruix-system-demo`,
  hostName: "demo",
  items: [],
  declarationHash: "b".repeat(64),
  packages: [],
};

describe("ELF dynamic sections", () => {
  it("reads DT_NEEDED and DT_SONAME as readelf -d does", async () => {
    const sh = readDynamic(await readFile("/bin/sh"));
    expect(sh.needed).toContain("libc.so.6");
    const libc = readDynamic(await readFile("/lib/x86_64-linux-gnu/libc.so.6"));
    expect(libc.soname).toBe("libc.so.6");
    expect(libc.needed).toContain("ld-linux-x86-64.so.2");
  });

  it("follows libraries transitively and names the binary whose library is missing", () => {
    const deps: Record<string, string[]> = { "liba.so.1": ["libc.so.6"], "libc.so.6": [] };
    expect(libraryClosure([{ name: "tool", needed: ["liba.so.1"] }], (s) => deps[s])).toEqual(["liba.so.1", "libc.so.6"]);
    expect(() => libraryClosure([{ name: "tool", needed: ["libz.so.1"] }], (s) => deps[s])).toThrow(
      "tool needs libz.so.1, which none of the listed Debian packages ships",
    );
  });

  it("wraps each binary to run with its own loader and libraries", () => {
    expect(wrapperScript("sfdisk")).toContain('exec "$item/loader/sfdisk" --library-path "$item/lib" --argv0 "${0##*/}" "$item/libexec/sfdisk" "$@"');
  });
});

describe("the install plan", () => {
  it("install.conf carries the layout of lib/disk/layout.ts and the ids derived on the host", () => {
    const ids = diskIds("seed");
    const conf = installConf(build, { device: "/dev/vdb" }, ids, 40 * 1024 * 1024);
    expect(conf).toContain("DEVICE='/dev/vdb'\n");
    expect(conf).toContain("ESP_START='2048'\nESP_SECTORS='131072'\nROOT_START='133120'\n");
    expect(conf).toContain(`ROOT_UUID='${ids.rootUuid}'\n`);
    expect(conf).toContain("ROOT_SIZE=''\n");
    expect(installConf(build, { device: "/dev/vdb", rootSize: 300 * 1024 * 1024 }, ids, 0)).toContain(`ROOT_SIZE='${300 * 1024 * 1024}'\n`);
  });

  it("install.scm leaves the disk's capacity and root size to the guest", () => {
    const text = installMetadata(build, {
      target: "/dev/vdb", targetKind: "block-device", installTargetDevice: "/dev/vdb",
      diskCapacity: { placeholder: "disk-capacity" }, rootSize: { placeholder: "root-size" },
      espSize: 64, rootUuid: "u", installed: "1970-01-01T00:00:00Z",
    }, "root-uuid");
    expect(text).toContain("(disk-capacity @disk-capacity@)");
    expect(text).toContain("(root-size @root-size@)");
    expect(text).toContain('(install-target-device "/dev/vdb")');
  });

  it("checks --install-target-device", () => {
    expect(checkInstallTargetDevice("/dev/nvme0n1")).toBe("/dev/nvme0n1");
    expect(() => checkInstallTargetDevice(undefined)).toThrow(/is required/);
    expect(() => checkInstallTargetDevice("sda")).toThrow("--install-target-device must be a device path such as /dev/vdb, not 'sda'");
    expect(() => checkInstallTargetDevice("/dev/../etc/passwd")).toThrow(/device path/);
  });
});

describe("the installer system and its boot entry", () => {
  it("keeps the ttys, drops the daemons, adds the installer", async () => {
    const os = withInstaller(selectSystem(await loadDeclaration(exampleFile)));
    expect(os.hostName).toBe("fruix-minimal-installer");
    expect(os.services.map((s) => s.type)).toEqual(["getty", "fruix-installer"]);
  });

  it("boots from RAM with the root image as a second initrd", () => {
    const entry = installerEntry({
      hostName: "demo", closure: build.closurePath, kernel: "/fruix/k/vmlinuz",
      initrds: ["/fruix/i/initrd.img", "/fruix/r/root.cpio.gz"], bootMedium: "UUID=ABCD-1234", kernelArguments: ["console=ttyS0,115200"],
    });
    expect(entry).toBe(
      "title Fruix installer for demo\nlinux /fruix/k/vmlinuz\ninitrd /fruix/i/initrd.img\ninitrd /fruix/r/root.cpio.gz\n" +
        `options fruix.root=ram fruix.system=${build.closurePath} fruix.installer.boot=UUID=ABCD-1234 console=ttyS0,115200\n`,
    );
  });
});
