// Synthetic FreeBSD distribution sets with FreeBSD's layout, made by tar(1)
// and xz(1) the way the tests need them: root:wheel owners, a setuid su, a
// file owned by group operator, a hard link, a symlink, a name with a space.
// Nothing in them runs; they exercise import, closures and disks. Real sets
// (FRUIX_FREEBSD_DIST) are needed for a boot.
import { chmod, link, mkdir, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { execa } from "execa";

export interface SyntheticSets {
  readonly dir: string; // holds base.txz and kernel.txz (and src.txz with options.development)
  readonly loaderEfi: Buffer;
  readonly version: string;
}

/** Bytes that look like a PE image to file(1) and firmware menus alike ("MZ", PE header at 0x80). */
function fakePe(label: string): Buffer {
  const bytes = Buffer.alloc(1024);
  bytes.write("MZ", 0, "latin1");
  bytes.writeUInt32LE(0x80, 0x3c);
  bytes.write("PE\0\0", 0x80, "latin1");
  bytes.writeUInt16LE(0x8664, 0x84); // x86-64
  bytes.write(label, 0x200, "latin1");
  return bytes;
}

const MASTER_PASSWD = `root::0:0::0:0:Charlie &:/root:/bin/sh
toor:*:0:0::0:0:Bourne-again Superuser:/root:
daemon:*:1:1::0:0:Owner of many system processes:/root:/usr/sbin/nologin
operator:*:2:5::0:0:System &:/:/usr/sbin/nologin
sshd:*:22:22::0:0:Secure Shell Daemon:/var/empty:/usr/sbin/nologin
nobody:*:65534:65534::0:0:Unprivileged user:/nonexistent:/usr/sbin/nologin
`;

const GROUP = `wheel:*:0:root
daemon:*:1:
kmem:*:2:
sys:*:3:
tty:*:4:
operator:*:5:root
sshd:*:22:
nogroup:*:65533:
nobody:*:65534:
`;

const TTYS = `console\tnone\t\t\t\tunknown\toff secure
ttyv0\t"/usr/libexec/getty Pc"\t\txterm\tonifexists secure
ttyu0\t"/usr/libexec/getty 3wire"\tvt100\tonifconsole secure
`;

const GETTYTAB = `3wire:\\\n\t:np:nc:sp#0:\n3wire.115200|115200-3wire:\\\n\t:np:nc:sp#115200:\n`;

type Files = Record<string, string | Buffer | { data: string | Buffer; mode: number }>;

/** What `options.development` adds to base.txz: the toolchain, headers and share/mk a development profile links. */
const DEVELOPMENT_FILES: Files = {
  "usr/bin/cc": { data: "synthetic clang\n", mode: 0o555 },
  "usr/bin/c++": { data: "synthetic clang++\n", mode: 0o555 },
  "usr/bin/ld": { data: "synthetic ld.lld\n", mode: 0o555 },
  "usr/bin/ar": { data: "synthetic ar\n", mode: 0o555 },
  "usr/bin/make": { data: "synthetic bmake\n", mode: 0o555 },
  "usr/include/stdio.h": "/* synthetic stdio.h */\n",
  "usr/share/mk/bsd.prog.mk": "# synthetic bsd.prog.mk\n",
  "usr/lib/crt1.o": "synthetic crt1.o\n",
};

async function stage(root: string, files: Files, dirs: Record<string, number>): Promise<void> {
  for (const [path, mode] of Object.entries(dirs)) {
    await mkdir(join(root, path), { recursive: true });
    await chmod(join(root, path), mode);
  }
  for (const [path, spec] of Object.entries(files)) {
    const file = join(root, path);
    await mkdir(dirname(file), { recursive: true });
    const { data, mode } = typeof spec === "string" || Buffer.isBuffer(spec) ? { data: spec, mode: 0o444 } : spec;
    await writeFile(file, data);
    await chmod(file, mode);
  }
}

const TAR_COMMON = ["--format=pax", "--pax-option=delete=atime,delete=ctime", "--mtime=@0", "--sort=name"];

/** tar -cf, then one `tar -rf` per file with its own --owner/--group/--mode, then xz. */
async function makeSet(root: string, out: string, special: ReadonlyArray<{ path: string; owner: string; group: string; mode: string }>): Promise<void> {
  const tarFile = `${out}.tar`;
  await execa("tar", ["-cf", tarFile, ...TAR_COMMON, "--owner=root:0", "--group=wheel:0", ...special.map((s) => `--exclude=./${s.path}`), "-C", root, "."]);
  for (const s of special) {
    await execa("tar", ["-rf", tarFile, ...TAR_COMMON, `--owner=${s.owner}`, `--group=${s.group}`, `--mode=${s.mode}`, "-C", root, `./${s.path}`]);
  }
  await execa("sh", ["-c", `xz -T1 -c '${tarFile}' > '${out}' && rm '${tarFile}'`]);
}

/**
 * Sets of `version`; `kernelVersion` (default: `version`) changes only the
 * kernel set, so base.txz (and the world item made from it) stays identical to
 * other sets of the same `version`.
 */
export async function makeSyntheticSets(
  dir: string,
  version = "14.1-RELEASE",
  kernelVersion = version,
  options: { readonly development?: boolean } = {},
): Promise<SyntheticSets> {
  const loaderEfi = fakePe(`synthetic loader.efi ${version}`);
  const base = join(dir, "base-tree");
  await stage(
    base,
    {
      "bin/sh": { data: "synthetic /bin/sh\n", mode: 0o555 },
      "bin/test": { data: "synthetic test\n", mode: 0o555 },
      "bin/freebsd-version": { data: `#!/bin/sh\nUSERLAND_VERSION="${version}"\n`, mode: 0o555 },
      "sbin/init": { data: "synthetic init\n", mode: 0o500 },
      "sbin/shutdown": { data: "synthetic shutdown\n", mode: 0o555 },
      "libexec/ld-elf.so.1": { data: "synthetic rtld\n", mode: 0o555 },
      "lib/libc.so.7": "synthetic libc\n",
      "usr/bin/su": { data: "synthetic su\n", mode: 0o555 },
      "usr/sbin/pwd_mkdb": { data: "synthetic pwd_mkdb\n", mode: 0o555 },
      "usr/share/zoneinfo/UTC": "TZif synthetic\n",
      "usr/share/doc/read me": "a name with a space\n",
      "etc/rc": "# synthetic /etc/rc\n",
      "etc/rc.subr": "# synthetic rc.subr\n",
      "etc/rc.d/hostname": { data: "#!/bin/sh\n# PROVIDE: hostname\n", mode: 0o555 },
      "etc/defaults/rc.conf": "# synthetic defaults\n",
      "etc/master.passwd": { data: MASTER_PASSWD, mode: 0o600 },
      "etc/group": { data: GROUP, mode: 0o644 },
      "etc/ttys": { data: TTYS, mode: 0o644 },
      "etc/gettytab": { data: GETTYTAB, mode: 0o644 },
      "boot/loader.efi": loaderEfi,
      "boot/defaults/loader.conf": "# synthetic defaults/loader.conf\n",
      "boot/lua/loader.lua": "-- synthetic\n",
      "root/.profile": { data: "# root's profile\n", mode: 0o644 },
      ...(options.development ? DEVELOPMENT_FILES : {}),
    },
    { ".": 0o755, tmp: 0o1777, "var/tmp": 0o1777, "var/log": 0o755, "var/empty": 0o555, root: 0o750, dev: 0o555, "usr/lib": 0o755, "usr/local": 0o755 },
  );
  await link(join(base, "bin/test"), join(base, "bin/["));
  await symlink("../../lib/libc.so.7", join(base, "usr/lib/libc.so"));
  await makeSet(base, join(dir, "base.txz"), [
    { path: "usr/bin/su", owner: "root:0", group: "wheel:0", mode: "4555" },
    { path: "sbin/shutdown", owner: "root:0", group: "operator:5", mode: "4554" },
  ]);

  const kernel = join(dir, "kernel-tree");
  await stage(
    kernel,
    {
      "boot/kernel/kernel": { data: Buffer.concat([Buffer.from("\x7fELF synthetic kernel\0"), Buffer.from(`@(#)FreeBSD ${kernelVersion} #0: synthetic\n`)]), mode: 0o555 },
      "boot/kernel/virtio_blk.ko": { data: "synthetic module\n", mode: 0o555 },
      "boot/kernel/linker.hints": "synthetic hints\n",
    },
    { ".": 0o755, boot: 0o755 },
  );
  await makeSet(kernel, join(dir, "kernel.txz"), []);
  await execa("rm", ["-rf", base, kernel]);
  if (options.development) {
    const src = join(dir, "src-tree");
    const [revision, branch] = [version.split("-")[0]!, version.split("-").slice(1).join("-")];
    await stage(
      src,
      {
        "usr/src/Makefile": "# synthetic /usr/src/Makefile\nbuildworld:\n",
        "usr/src/Makefile.inc1": "# synthetic Makefile.inc1\n",
        "usr/src/sys/conf/newvers.sh": { data: `#!/bin/sh\nTYPE="FreeBSD"\nREVISION="${revision}"\nBRANCH="${branch}"\n`, mode: 0o555 },
        "usr/src/bin/sh/main.c": "int main(void) { return 0; }\n",
      },
      { ".": 0o755 },
    );
    await makeSet(src, join(dir, "src.txz"), []);
    await execa("rm", ["-rf", src]);
  }
  return { dir, loaderEfi, version };
}
