// The initramfs: BusyBox, the boot modules and guest/initramfs-init.sh,
// as one gzip'd newc archive in its own store item.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { Logger } from "../../log.js";
import type { Store } from "../../store/index.js";
import { memoized } from "../../store/memo.js";
import { cpioArchive, type CpioEntry } from "../../system/cpio.js";
import type { LinuxBusyboxItems } from "./base.js";
import { guestDir } from "./guest.js";

export async function buildInitramfs(store: Store, base: LinuxBusyboxItems, log: Logger): Promise<string> {
  const init = await readFile(join(guestDir, "initramfs-init.sh"));
  const key = { recipe: "initramfs", version: 1, busybox: base.busybox, modules: base.modules, init: init.toString() };
  return memoized(store, key, () =>
    log.step("build initramfs", async () => {
      const modulesDir = join(store.toHostPath(base.modules), "lib", "modules", base.kernelRelease);
      const order = (await readFile(join(modulesDir, "load-order"), "utf8")).split("\n").filter(Boolean);
      const entries: CpioEntry[] = [
        { path: "bin", type: "dir", mode: 0o755 },
        { path: "bin/busybox", type: "file", mode: 0o755, data: await readFile(join(store.toHostPath(base.busybox), "bin", "busybox")) },
        { path: "dev", type: "dir", mode: 0o755 },
        // The kernel opens /dev/console before /init runs; without it init has no output.
        { path: "dev/console", type: "char", mode: 0o600, major: 5, minor: 1 },
        { path: "init", type: "file", mode: 0o755, data: init },
        { path: "lib", type: "dir", mode: 0o755 },
        { path: "lib/modules", type: "dir", mode: 0o755 },
        { path: "lib/modules/load-order", type: "file", mode: 0o644, data: Buffer.from(order.join("\n") + "\n") },
      ];
      for (const name of order) {
        entries.push({ path: `lib/modules/${name}.ko`, type: "file", mode: 0o644, data: await readFile(join(modulesDir, `${name}.ko`)) });
      }
      entries.push({ path: "newroot", type: "dir", mode: 0o755 }, { path: "proc", type: "dir", mode: 0o755 }, { path: "sys", type: "dir", mode: 0o755 });
      const image = gzipSync(cpioArchive(entries), { level: 6 });
      return store.add(`fruix-initramfs-${base.kernelRelease}`, (out) => writeFile(join(out, "initrd.img"), image), {
        references: [],
      });
    }),
    { name: `fruix-initramfs-${base.kernelRelease}` },
  );
}
