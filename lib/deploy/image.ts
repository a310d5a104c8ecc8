// `fruix system image`: a bootable GPT/UEFI disk image of a system, as the
// store item `<hash>-fruix-disk-image-<host>/disk.img`.
import { truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { diskIds, diskLayout } from "../disk/layout.js";
import { MiB, roundUp } from "../disk/size.js";
import type { Logger } from "../log.js";
import { field, sexpDocument, sym } from "../sexp.js";
import type { Store } from "../store/index.js";
import { memoized } from "../store/memo.js";
import type { SystemBuild } from "../system/build.js";
import { generationTime } from "../system/generation.js";
import { checkRootSize, stageSystem, writeSystemDisk } from "./system-disk.js";

/** Without --root-size: half again the minimum, in whole 64 MiB, for room to switch generations. */
export function defaultRootSize(minimum: number): number {
  return roundUp(minimum * 1.5, 64 * MiB);
}

/** Returns the store path of the image's disk.img. */
export async function buildImage(store: Store, build: SystemBuild, rootSize: number | undefined, log: Logger): Promise<string> {
  const created = generationTime();
  const key = { recipe: "disk-image", version: 1, closure: build.closurePath, rootSize: rootSize ?? "default", created };
  const item = await memoized(store, key, async () => {
    const staged = await log.step("stage rootfs", () => stageSystem(store, build, created));
    try {
      const layout = diskLayout(rootSize ?? defaultRootSize(staged.minimumRootSize));
      checkRootSize(layout, staged, "--root-size");
      return await store.add(`fruix-disk-image-${build.hostName}`, async (out) => {
        const disk = join(out, "disk.img");
        await writeFile(disk, "");
        await truncate(disk, layout.diskSize);
        await writeSystemDisk(store, build, staged, disk, layout, diskIds(build.closurePath), created, log);
        const record = [sym("disk-image"), field("closure", build.closurePath), field("disk-size", layout.diskSize), field("root-size", layout.root.size)];
        await writeFile(join(out, "image.scm"), sexpDocument(record));
      });
    } finally {
      await staged.dispose();
    }
  }, { name: `fruix-disk-image-${build.hostName}` });
  return `${item}/disk.img`;
}
