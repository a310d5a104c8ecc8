// Carrying store items into a running guest on a second disk: an ext4 image
// holding frx/store/<item>... that the guest mounts and copies from. This is
// the scenarios' stand-in for `fruix system copy` over SSH, which does not
// exist yet; the report says so.
import { mkdir, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { treeUsage } from "../../lib/disk/ext4.js";
import { minimumRootSize } from "../../lib/disk/layout.js";
import type { Machine } from "../../hypervisors/types.js";
import type { ScenarioContext } from "../../lib/validate/scenario.js";
import { sh } from "./running-system.js";

export async function transferDisk(ctx: ScenarioContext, items: readonly string[]): Promise<string> {
  const tree = join(ctx.workDir, "transfer-tree");
  await mkdir(join(tree, "frx", "store"), { recursive: true });
  if (items.length > 0) await execa("cp", ["-a", "--", ...items.map((i) => ctx.store.toHostPath(i)), join(tree, "frx", "store")]);
  const image = join(ctx.workDir, "transfer.img");
  await writeFile(image, "");
  await truncate(image, minimumRootSize(await treeUsage(tree)));
  await execa("mke2fs", ["-q", "-F", "-t", "ext4", "-L", "fruix-xfer", "-d", tree, image]);
  return image;
}

/** In the guest: copy the items the transfer disk (the second disk, vdb) holds and the store lacks. */
export async function receiveItems(vm: Machine, device = "/dev/vdb"): Promise<string[]> {
  const copied = await sh(
    vm,
    `mkdir -p /mnt/transfer && mount -t ext4 -o ro ${device} /mnt/transfer && ` +
      `for i in /mnt/transfer/frx/store/*; do [ -e "/frx/store/\${i##*/}" ] || { cp -a "$i" /frx/store/ && echo "\${i##*/}"; }; done; ` +
      `umount /mnt/transfer && sync`,
  );
  return copied.split("\n").filter(Boolean);
}
