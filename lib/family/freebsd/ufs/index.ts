// Fruix's own UFS2 writer: FreeBSD's layout (superblock at 64 KiB, as
// FreeBSD 13.2 and later require), written from a staged tree and the sets'
// manifests. See docs/freebsd.md, "The UFS2 root".
import { open } from "node:fs/promises";
import { readUfsSuperblock, type UfsSuperblock } from "./superblock.js";

export { BLOCK_SIZE, DENSITY, FRAGMENT_SIZE, MINFREE, ufsGeometry, type UfsGeometry } from "./geometry.js";
export { planUfs, type UfsEntry, type UfsPlan } from "./plan.js";
export { readUfsSuperblock, SUPERBLOCK_SEARCH, type UfsSuperblock } from "./superblock.js";
export { minimumUfsSize, ufsUsage, walkTree, type TreeNode } from "./tree.js";
export { PINNED_TIME, ufsEntries, ufsEntry, writePlan, writeUfs, type Attributes } from "./write.js";

/** The superblock of the file system at `offset` of `file`, found as FreeBSD's ffs_sbget finds it. */
export async function readUfsSuperblockAt(file: string, offset: number): Promise<UfsSuperblock | undefined> {
  const handle = await open(file, "r");
  try {
    const head = Buffer.alloc(262144 + 8192);
    const { bytesRead } = await handle.read(head, 0, head.length, offset);
    return readUfsSuperblock(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}
