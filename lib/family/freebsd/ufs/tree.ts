// A staged tree as the UFS2 writer sees it: every node with what lstat says
// (the walk), and how big a file system it needs (pure).
import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { FruixError } from "../../../errors.js";
import { MiB, roundUp } from "../../../disk/size.js";
import { DENSITY, FRAGMENT_SIZE, MINFREE } from "./geometry.js";

export interface TreeNode {
  readonly path: string; // relative, "." for the top
  readonly type: "file" | "dir" | "link";
  readonly mode: number;
  readonly size: number;
  readonly ino: number;
  /** Bytes the host really stores (st_blocks * 512): less than `size` for a sparse file. */
  readonly allocated: number;
  readonly link?: string;
}

/**
 * Every node of a staged tree, parents before children, names sorted.
 * Synchronous calls: a world has tens of thousands of nodes, and each
 * promise round trip through the thread pool costs more than the lstat.
 */
export async function walkTree(root: string): Promise<TreeNode[]> {
  const nodes: TreeNode[] = [];
  const visit = (path: string): void => {
    const host = path === "." ? root : join(root, path);
    const info = lstatSync(host);
    const type = info.isDirectory() ? "dir" : info.isSymbolicLink() ? "link" : info.isFile() ? "file" : undefined;
    if (!type) throw new FruixError(`${host}: only files, directories and symlinks can go into a UFS2 image`);
    nodes.push({ path, type, mode: info.mode & 0o7777, size: info.size, ino: info.ino, allocated: info.blocks * 512, ...(type === "link" ? { link: readlinkSync(host) } : {}) });
    if (type === "dir") for (const name of readdirSync(host).sort()) visit(path === "." ? name : `${path}/${name}`);
  };
  visit(".");
  return nodes;
}

/** Bytes of data and inodes a tree takes on UFS2 (hard links counted once, short symlinks inline). */
export function ufsUsage(nodes: readonly TreeNode[]): { bytes: number; inodes: number } {
  const seen = new Set<number>();
  let bytes = 0;
  for (const node of nodes) {
    if (seen.has(node.ino)) continue;
    seen.add(node.ino);
    if (node.type === "dir") bytes += FRAGMENT_SIZE;
    else if (node.type === "link") bytes += node.size >= 120 ? FRAGMENT_SIZE : 0;
    else bytes += roundUp(node.size, FRAGMENT_SIZE);
  }
  return { bytes, inodes: seen.size };
}

/** The smallest file system (whole MiB) that holds `usage`: inode tables, minfree and a margin for the rest. */
export function minimumUfsSize(usage: { bytes: number; inodes: number }): number {
  const usable = 1 - 256 / DENSITY - MINFREE / 100 - 0.02;
  const forData = roundUp((usage.bytes * 1.05 + 4 * MiB) / usable, MiB);
  const forInodes = roundUp((usage.inodes + 64) * DENSITY, MiB);
  return Math.max(forData, forInodes, 8 * MiB);
}
