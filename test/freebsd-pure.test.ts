// The freebsd base's pure parts: tar headers, manifests, accounts, services,
// boot files, set locations, the UFS superblock reader and the GPT script.
import { describe, expect, it } from "vitest";
import { distDirectory, kernelVersion, userlandVersion } from "../lib/family/freebsd/base.js";
import { formatManifest, mtreeEscape, mtreeUnescape, parseManifest } from "../lib/disk/mtree.js";
import { manifestFromTar, TarLister } from "../lib/family/freebsd/tar.js";
import { parseDeclaration, selectSystem } from "../lib/declaration/index.js";
import { FREEBSD_PARTITIONS, setAttributes } from "../lib/family/freebsd/disk.js";
import { sfdiskScript } from "../lib/disk/gpt.js";
import { diskIds, diskLayout } from "../lib/disk/layout.js";
import { MiB } from "../lib/disk/size.js";
import { readUfsSuperblock, ufsEntry, ufsUsage, type TreeNode } from "../lib/family/freebsd/ufs/index.js";
import { freebsdAccounts, freebsdGroupFile, masterPasswdFile } from "../lib/family/freebsd/accounts.js";
import { closureLoaderConf, freebsdFstab, loaderConfFor, RC_CONF_STUB } from "../lib/family/freebsd/boot.js";
import { planFreebsdService, rcConfFile, ttysFile } from "../lib/family/freebsd/services.js";
import { passwdFromMaster } from "../lib/family/freebsd/rootfs.js";

/** One 512-byte ustar header (and its data blocks), checksum included. */
function tarMember(name: string, options: { flag?: string; mode?: number; uid?: number; gid?: number; data?: string; link?: string }): Buffer {
  const data = Buffer.from(options.data ?? "");
  const header = Buffer.alloc(512);
  const octal = (value: number, offset: number, length: number) => header.write(value.toString(8).padStart(length - 1, "0") + "\0", offset, "latin1");
  header.write(name, 0, "utf8");
  octal(options.mode ?? 0o644, 100, 8);
  octal(options.uid ?? 0, 108, 8);
  octal(options.gid ?? 0, 116, 8);
  octal(data.length, 124, 12);
  octal(0, 136, 12);
  header.write(options.flag ?? "0", 156, "latin1");
  if (options.link) header.write(options.link, 157, "utf8");
  header.write("ustar\0" + "00", 257, "latin1");
  header.write("root", 265, "latin1");
  header.write("wheel", 297, "latin1");
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  return Buffer.concat([header, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

function paxMember(records: Record<string, string>): Buffer {
  const body = Object.entries(records)
    .map(([k, v]) => {
      const rest = ` ${k}=${v}\n`;
      let length = rest.length + 1;
      while (String(length).length + rest.length !== length) length++;
      return `${length}${rest}`;
    })
    .join("");
  return tarMember("./PaxHeaders/x", { flag: "x", data: body });
}

describe("TarLister", () => {
  const archive = Buffer.concat([
    tarMember("./", { flag: "5", mode: 0o755 }),
    tarMember("./bin/test", { mode: 0o555, data: "test" }),
    tarMember("./bin/[", { flag: "1", mode: 0o555, link: "./bin/test" }),
    paxMember({ path: "./usr/bin/a-very-long-name-that-pax-carries", "SCHILY.fflags": "schg", uname: "root" }),
    tarMember("./usr/bin/short", { mode: 0o4555, data: "su" }),
    tarMember("./lib/libc.so", { flag: "2", mode: 0o755, link: "libc.so.7" }),
    Buffer.alloc(1024),
  ]);

  it("lists paths, types, modes, links and pax overrides, in any chunking", () => {
    for (const size of [archive.length, 100, 7]) {
      const lister = new TarLister();
      for (let at = 0; at < archive.length; at += size) lister.push(archive.subarray(at, at + size));
      expect(lister.complete).toBe(true);
      expect(lister.entries.map((e) => [e.path, e.type, e.mode.toString(8), e.link, e.flags])).toEqual([
        [".", "dir", "755", undefined, undefined],
        ["bin/test", "file", "555", undefined, undefined],
        ["bin/[", "hardlink", "555", "bin/test", undefined],
        ["usr/bin/a-very-long-name-that-pax-carries", "file", "4555", undefined, "schg"],
        ["lib/libc.so", "symlink", "755", "libc.so.7", undefined],
      ]);
    }
  });

  it("refuses a bad checksum and notices a missing end", () => {
    const bad = Buffer.from(archive);
    bad[0] = 0x58;
    expect(() => new TarLister().push(bad)).toThrow("bad tar header checksum");
    const truncated = new TarLister();
    truncated.push(archive.subarray(0, 1024));
    expect(truncated.complete).toBe(false);
  });
});

describe("manifests", () => {
  it("escapes what mtree would misread and reads it back", () => {
    for (const name of ["./bin/[", "./usr/share/doc/read me", "./é#x\\y*"]) {
      expect(mtreeEscape(name)).toMatch(/^[A-Za-z0-9._/+,:@%^~=\\-]+$/);
      expect(mtreeUnescape(mtreeEscape(name))).toBe(name);
    }
    expect(mtreeEscape("./bin/[")).toBe("./bin/\\133");
  });

  it("round-trips owners, setuid modes, flags and links", () => {
    const lister = new TarLister();
    lister.push(Buffer.concat([paxMember({ "SCHILY.fflags": "schg" }), tarMember("./usr/bin/su", { mode: 0o4555, gid: 5, data: "x" }), Buffer.alloc(1024)]));
    const manifest = manifestFromTar(lister.entries);
    const text = formatManifest(manifest, "base.txz");
    expect(text).toContain("./usr/bin/su type=file uid=0 gid=5 uname=root gname=wheel mode=04555 flags=schg");
    expect(parseManifest(text)).toEqual(manifest);
  });
});

const WORLD_PASSWD = "root::0:0::0:0:Charlie &:/root:/bin/sh\noperator:*:2:5::0:0:System &:/:/usr/sbin/nologin\n";
const WORLD_GROUP = "wheel:*:0:root\ntty:*:4:\noperator:*:5:root\n";

function os(body: string) {
  return selectSystem(parseDeclaration(`(define os (operating-system (host-name "b") (base (freebsd-base))\n${body}))`, "sys.scm"));
}

describe("FreeBSD accounts", () => {
  it("adds declared users and groups to the world's, locks root, and maps Fruix's group names", () => {
    const accounts = freebsdAccounts(
      os(`(groups (list (user-group (name "ops") (gid 1100))))
          (users (list (user-account (name "alice") (supplementary-groups (list "ops" "wheel")))
                       (user-account (name "bob") (uid 1500) (group "wheel"))))`),
      WORLD_PASSWD,
      WORLD_GROUP,
    );
    expect(masterPasswdFile(accounts)).toBe(
      "root:*:0:0::0:0:Charlie &:/root:/bin/sh\noperator:*:2:5::0:0:System &:/:/usr/sbin/nologin\n" +
        "alice:*:1000:100::0:0::/home/alice:/bin/sh\nbob:*:1500:0::0:0::/home/bob:/bin/sh\n",
    );
    expect(freebsdGroupFile(accounts)).toBe("wheel:*:0:root,alice\ntty:*:4:\noperator:*:5:root\nops:*:1100:alice\nusers:*:100:\n");
    expect(accounts.declared).toEqual(["alice", "bob"]);
    expect(passwdFromMaster(masterPasswdFile(accounts))).toContain("alice:*:1000:100::/home/alice:/bin/sh\n");
  });

  it("refuses ids FreeBSD's own accounts hold, at the declaration", () => {
    expect(() => freebsdAccounts(os(`(groups (list (user-group (name "ops") (gid 4))))`), WORLD_PASSWD, WORLD_GROUP)).toThrow(
      /^sys\.scm:2:\d+: group 'ops' gid 4 is taken by FreeBSD's group 'tty'$/,
    );
    expect(() => freebsdAccounts(os(`(users (list (user-account (name "x") (uid 2))))`), WORLD_PASSWD, WORLD_GROUP)).toThrow(
      /^sys\.scm:2:\d+: user 'x' uid 2 is taken by FreeBSD's user 'operator'$/,
    );
  });
});

describe("FreeBSD services", () => {
  const plan = (service: string) => os(`(services (list ${service}))`).services.map(planFreebsdService);

  it("maps services to rc.conf and /etc/ttys", () => {
    const plans = [
      ...plan("(service syslogd-service-type)"),
      ...plan("(service crond-service-type)"),
      ...plan("(service sshd-service-type (sshd-configuration (port 2222) (authorized-keys (list \"ssh-ed25519 AAAA k\"))))"),
      ...plan('(service dhcp-client-service-type (dhcp-client-configuration (interface "vtnet0")))'),
      ...plan('(service validation-shell-service-type (validation-shell-configuration (tty "ttyu0")))'),
    ];
    expect(rcConfFile("h", plans)).toBe(
      '# Generated by Fruix from the declaration; /etc/rc.conf reads it from the booted system.\nhostname="h"\n' +
        'syslogd_enable="YES"\ncron_enable="YES"\nsshd_enable="YES"\nsshd_flags="-o Port=2222 -o PermitRootLogin=prohibit-password"\nifconfig_vtnet0="DHCP"\n',
    );
    expect(plans[2]!.rootAuthorizedKeys).toEqual(["ssh-ed25519 AAAA k"]);
    const ttys = ttysFile('console none unknown off secure\nttyu0\t"/usr/libexec/getty 3wire"\tvt100\tonifconsole secure\n', plans);
    expect(ttys).toBe('console none unknown off secure\nttyu0\t"/usr/libexec/getty fruix.autologin"\tvt100\ton  secure\n');
  });

  it.each([
    ["(service httpd-service-type)", "service type 'httpd-service-type' is not available on the freebsd base: FreeBSD's base system has no web server"],
    ["(service klogd-service-type)", "service type 'klogd-service-type' is not needed on the freebsd base"],
    ["(service getty-service-type)", "cannot use 'ttyS0' on the freebsd base: FreeBSD's serial ports are ttyu0, ttyu1, ... (write (tty \"ttyu0\"))"],
    ["(service dhcp-client-service-type)", "cannot configure 'eth0' on the freebsd base"],
    ['(service syslogd-service-type (syslogd-configuration (log-file "/var/log/all")))', "cannot log to /var/log/all on the freebsd base"],
  ])("refuses %s at its position", (service, message) => {
    expect(() => plan(service)).toThrow(/^sys\.scm:2:\d+: /);
    expect(() => plan(service)).toThrow(message);
  });
});

describe("FreeBSD boot files", () => {
  it("loader.conf: serial console, root by GPT label, and the closure in the kernel environment", () => {
    const text = loaderConfFor(closureLoaderConf(), "/frx/store/abc-fruix-system-h", 1);
    for (const line of ['console="comconsole"', 'boot_serial="YES"', 'autoboot_delay="3"', 'vfs.root.mountfrom="ufs:/dev/gpt/fruix-root"', 'vfs.mountroot.timeout="30"', 'fruix.system="/frx/store/abc-fruix-system-h"']) {
      expect(text.split("\n")).toContain(line);
    }
    expect(closureLoaderConf()).not.toContain("fruix.system");
  });

  it("fstab mounts root and ESP by label; rc.conf sources the booted closure's settings", () => {
    expect(freebsdFstab()).toMatch(/^\/dev\/gpt\/fruix-root\t\/\t\tufs\trw\t1\t1$/m);
    expect(freebsdFstab()).toMatch(/^\/dev\/gpt\/efiesp\t\/boot\/efi\tmsdosfs\trw\t2\t2$/m);
    expect(RC_CONF_STUB).toContain("kenv -q fruix.system");
    expect(RC_CONF_STUB).toContain('. "$fruix_system/rc.conf"');
  });
});

describe("sets", () => {
  const base = () => os("").base;
  it("come from dist-directory, else FRUIX_FREEBSD_DIST, else /usr/freebsd-dist", () => {
    const declared = selectSystem(parseDeclaration('(define os (operating-system (host-name "b")\n  (base (freebsd-base (dist-directory "/srv/dist")))))', "d.scm")).base;
    expect(distDirectory(declared as never, {})).toEqual({ dir: "/srv/dist", origin: "dist-directory of the freebsd-base at d.scm:2:9" });
    expect(distDirectory(base() as never, { FRUIX_FREEBSD_DIST: "/x" })).toEqual({ dir: "/x", origin: "FRUIX_FREEBSD_DIST" });
    expect(distDirectory(base() as never, {}).dir).toBe("/usr/freebsd-dist");
  });

  it("name their versions from freebsd-version and the kernel's version string", () => {
    expect(userlandVersion('#!/bin/sh\nUSERLAND_VERSION="14.1-RELEASE-p5"\n')).toBe("14.1-RELEASE-p5");
    expect(userlandVersion(undefined)).toBe("unknown");
    expect(kernelVersion(Buffer.from("\0\0@(#)FreeBSD 14.1-RELEASE releng/14.1-n267679 GENERIC\n"))).toBe("14.1-RELEASE");
  });
});

describe("UFS", () => {
  function superblockAt(location: number, magic: number, sblockloc: number): Buffer {
    const head = Buffer.alloc(270336);
    head.writeUInt32LE(magic, location + 1372);
    head.writeBigInt64LE(BigInt(sblockloc), location + 1000);
    head.writeInt32LE(32768, location + 48);
    head.writeInt32LE(4096, location + 52);
    head.writeBigInt64LE(16384n, location + 1080);
    return head;
  }

  it("finds superblocks as FreeBSD's ffs_sbget does", () => {
    expect(readUfsSuperblock(superblockAt(65536, 0x19540119, 65536))).toMatchObject({ location: 65536, version: 2, sizeBytes: 64 * MiB });
    expect(readUfsSuperblock(superblockAt(8192, 0x19540119, 8192))).toMatchObject({ location: 8192, version: 2 });
    expect(readUfsSuperblock(superblockAt(8192, 0x19540119, 65536))).toBeUndefined();
    expect(readUfsSuperblock(superblockAt(8192, 0x011954, 8192))).toMatchObject({ version: 1 });
  });

  it("gives the UFS2 writer every node, with the sets' attributes for their paths and root:wheel for the rest", () => {
    const node = (path: string, type: TreeNode["type"], mode: number, ino: number, size = 0): TreeNode => ({ path, type, mode, size, ino, allocated: size });
    const world = { item: "/frx/store/h-freebsd-world-14.1", manifest: new Map([["usr/bin/su", { type: "file" as const, mode: 0o4555, uid: 0, gid: 0, flags: "schg" }]]) };
    const kernel = { item: "/frx/store/k-freebsd-kernel-14.1", manifest: new Map([["boot/kernel/kernel", { type: "file" as const, mode: 0o555, uid: 0, gid: 0 }]]) };
    const nodes = [
      node(".", "dir", 0o755, 1),
      node("usr/bin/su", "file", 0o444, 2, 5000),
      node("frx/store/h-freebsd-world-14.1/tree/usr/bin/su", "file", 0o444, 2, 5000),
      node("boot/kernel/kernel", "file", 0o555, 3, 9000),
      node("etc/rc.conf", "file", 0o644, 4, 10),
    ];
    const attributes = setAttributes(world, kernel);
    const entries = nodes.map((n) => ufsEntry(n, attributes(n)));
    expect(entries.map((e) => [e.path, e.mode.toString(8), e.uid, e.gid, e.flags])).toEqual([
      [".", "755", 0, 0, 0],
      ["usr/bin/su", "4555", 0, 0, 0x20000], // schg: Debian's makefs dropped it, the writer keeps it
      ["frx/store/h-freebsd-world-14.1/tree/usr/bin/su", "4555", 0, 0, 0x20000],
      ["boot/kernel/kernel", "555", 0, 0, 0],
      ["etc/rc.conf", "644", 0, 0, 0],
    ]);
    // Both names of the hard link want the same attributes, so they stay one inode.
    expect(entries[1]!.inode).toBe(entries[2]!.inode);
    expect(ufsUsage(nodes)).toEqual({ bytes: 4096 + 8192 + 12288 + 4096, inodes: 4 }); // the hard link counted once
  });
});

describe("GPT", () => {
  it("types the root freebsd-ufs and names both partitions for /dev/gpt", () => {
    const script = sfdiskScript(diskLayout(64 * MiB), diskIds("seed"), FREEBSD_PARTITIONS);
    expect(script).toMatch(/type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=[-0-9a-f]+, name="efiesp"$/m);
    expect(script).toMatch(/type=516E7CB6-6ECF-11D6-8FF8-00022D09712B, uuid=[-0-9a-f]+, name="fruix-root"$/m);
  });
});
