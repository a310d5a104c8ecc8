// The Linux kernel's own UFS driver as a test oracle: a linux-busybox guest
// (Debian's kernel, its virtio modules and BusyBox, from the same base
// Fruix systems use) boots under QEMU/TCG with fs/ufs/ufs.ko from that
// kernel's package, mounts each attached disk read-only with
// `-t ufs -o ufstype=ufs2`, and writes what it sees (stat fields, link
// targets, sha256 of every file) to an output disk the test reads back.
import { execa } from "execa";
import { readFile, writeFile, truncate } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { LinuxBusyboxBase } from "../../lib/declaration/types.js";
import { fetchPackage, resolveKernelPackage } from "../../lib/debian/apt.js";
import { realizeLinuxBusybox } from "../../lib/family/linux-busybox/base.js";
import { silentLogger } from "../../lib/log.js";
import type { Store } from "../../lib/store/index.js";
import { cpioArchive, type CpioEntry } from "../../lib/system/cpio.js";
import { runQemuUntil } from "./qemu-direct.js";
import type { ExpectedNode } from "./ufs-trees.js";

/** What Linux shows for a path: the shape of ufs-trees.ts's expected nodes. */
export type SeenNode = ExpectedNode;

export interface DiskReading {
  /** What mount printed and its exit status. */
  readonly mount: string;
  readonly mounted: boolean;
  readonly tree: Map<string, SeenNode>;
}

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/load-order); do insmod /lib/modules/$m.ko 2>/dev/null; done
insmod /lib/modules/ufs.ko || echo "ufs-reader: insmod ufs failed"
echo "ufs-reader: kernel $(uname -r)"
out=/tmp/out
: > $out
n=0
for spec in $(cat /disks); do
  n=$((n + 1))
  dev=/dev/$spec
  mkdir -p /mnt/$n
  msg=$(mount -t ufs -o ro,ufstype=ufs2 $dev /mnt/$n 2>&1)
  rc=$?
  echo "ufs-reader: mount $dev rc=$rc $msg"
  echo "DISK $n rc=$rc $msg" | tr '\\n' ' ' >> $out
  echo >> $out
  [ $rc = 0 ] || continue
  cd /mnt/$n
  find . -exec stat -c 'S|%F|%a|%u|%g|%s|%h|%n' {} + >> $out
  find . -type l | while read -r l; do echo "L|$(readlink "$l")|$l"; done >> $out
  find . -type f -exec sha256sum {} + | sed 's/^\\([0-9a-f]*\\)  /H|\\1|/' >> $out
  cd /
done
echo "END" >> $out
dd if=$out of=/dev/vda bs=4096 conv=sync 2>/dev/null
sync
echo "ufs-reader: done $(wc -c < $out)"
poweroff -f
`;

async function ufsModule(kernelPackage: string, release: string): Promise<Buffer> {
  const deb = await fetchPackage(await resolveKernelPackage(kernelPackage));
  const { stdout } = await execa("sh", ["-c", `dpkg-deb --fsys-tarfile "$1" | tar -xOf - "./lib/modules/$2/kernel/fs/ufs/ufs.ko"`, "sh", deb, release], { encoding: "buffer" });
  return Buffer.from(stdout);
}

const TYPES: Record<string, SeenNode["type"]> = { directory: "dir", "regular file": "file", "regular empty file": "file", "symbolic link": "link" };

function parseOutput(text: string): DiskReading[] {
  const readings: Array<{ mount: string; mounted: boolean; tree: Map<string, SeenNode> }> = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("DISK ")) {
      const rc = /rc=(\d+)/.exec(line)?.[1];
      readings.push({ mount: line.replace(/^DISK \d+ /, "").trim(), mounted: rc === "0", tree: new Map() });
      continue;
    }
    const reading = readings[readings.length - 1];
    if (!reading) continue;
    const rel = (p: string) => (p === "." ? "." : p.replace(/^\.\//, ""));
    if (line.startsWith("S|")) {
      const [, type, mode, uid, gid, size, nlink, ...name] = line.split("|");
      reading.tree.set(rel(name.join("|")), { type: TYPES[type!] ?? (type as SeenNode["type"]), mode: parseInt(mode!, 8), uid: Number(uid), gid: Number(gid), size: Number(size), nlink: Number(nlink) });
    } else if (line.startsWith("L|") || line.startsWith("H|")) {
      const [kind, value, ...name] = line.split("|");
      const path = rel(name.join("|"));
      const node = reading.tree.get(path);
      if (node) reading.tree.set(path, kind === "L" ? { ...node, link: value! } : { ...node, sha256: value! });
    }
  }
  return readings;
}

/**
 * Boots the reader with `disks` attached (each a raw image and, when the
 * file system is in a partition, its number) and returns what Linux saw on each.
 */
export async function readWithLinux(store: Store, work: string, disks: ReadonlyArray<{ image: string; partition?: number }>): Promise<{ readings: DiskReading[]; transcript: string }> {
  const base: LinuxBusyboxBase = { family: "linux-busybox", kernelPackage: "linux-image-amd64", location: { file: "test", line: 1, column: 1 } };
  const items = await realizeLinuxBusybox(store, base, silentLogger);
  const modulesDir = join(store.toHostPath(items.modules), "lib", "modules", items.kernelRelease);
  const order = (await readFile(join(modulesDir, "load-order"), "utf8")).split("\n").filter(Boolean);
  const letters = "bcdefgh";
  const entries: CpioEntry[] = [
    { path: "bin", type: "dir", mode: 0o755 },
    { path: "bin/busybox", type: "file", mode: 0o755, data: await readFile(join(store.toHostPath(items.busybox), "bin", "busybox")) },
    { path: "dev", type: "dir", mode: 0o755 },
    { path: "dev/console", type: "char", mode: 0o600, major: 5, minor: 1 },
    { path: "init", type: "file", mode: 0o755, data: Buffer.from(INIT) },
    { path: "disks", type: "file", mode: 0o644, data: Buffer.from(disks.map((d, k) => `vd${letters[k]}${d.partition ?? ""}`).join("\n") + "\n") },
    { path: "lib", type: "dir", mode: 0o755 },
    { path: "lib/modules", type: "dir", mode: 0o755 },
    { path: "lib/modules/load-order", type: "file", mode: 0o644, data: Buffer.from(order.join("\n") + "\n") },
    { path: "lib/modules/ufs.ko", type: "file", mode: 0o644, data: await ufsModule(base.kernelPackage, items.kernelRelease) },
    { path: "mnt", type: "dir", mode: 0o755 },
    { path: "proc", type: "dir", mode: 0o755 },
    { path: "sys", type: "dir", mode: 0o755 },
    { path: "tmp", type: "dir", mode: 0o1777 },
  ];
  for (const name of order) entries.push({ path: `lib/modules/${name}.ko`, type: "file", mode: 0o644, data: await readFile(join(modulesDir, `${name}.ko`)) });
  const initrd = join(work, "reader-initrd.img");
  await writeFile(initrd, gzipSync(cpioArchive(entries), { level: 1 }));
  const output = join(work, "reader-output.img");
  await writeFile(output, "");
  await truncate(output, 64 * 1024 * 1024);
  const kernel = join(store.toHostPath(items.kernel), "vmlinuz");
  const { matched, transcript } = await runQemuUntil(
    [
      "-m", "1024", "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 panic=-1 quiet",
      "-drive", `file=${output},if=virtio,format=raw`,
      ...disks.flatMap((d) => ["-drive", `file=${d.image},if=virtio,format=raw,readonly=on`]),
    ],
    /ufs-reader: done|Kernel panic/,
    300_000,
  );
  if (!matched || !/ufs-reader: done/.test(transcript)) throw new Error(`the Linux UFS reader did not finish:\n${transcript.slice(-3000)}`);
  const text = (await readFile(output, "utf8")).split("\nEND\n")[0]!;
  return { readings: parseOutput(text), transcript };
}
