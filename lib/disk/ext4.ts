// The root file system: ext4 made by `mke2fs -d` in place from a tree, with
// every identifier and time pinned so the same tree gives the same bytes.
import { lstat, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Partition, TreeUsage } from "./layout.js";
import { EXT4_BYTES_PER_INODE } from "./layout.js";
import { tool } from "./tools.js";

/** Blocks and inodes a tree takes on ext4 with 4 KiB blocks (inline symlinks under 60 bytes). */
export async function treeUsage(root: string): Promise<TreeUsage> {
  let blocks = 1;
  let inodes = 1;
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir);
    blocks += Math.ceil((entries.length * 280) / 4096) || 1; // directory entries, generously
    for (const name of entries) {
      const path = join(dir, name);
      const info = await lstat(path);
      inodes++;
      if (info.isDirectory()) await walk(path);
      else if (info.isSymbolicLink()) blocks += info.size >= 60 ? 1 : 0;
      else blocks += Math.ceil(info.size / 4096);
    }
  };
  await walk(root);
  return { blocks, inodes };
}

async function allPaths(root: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(root, prefix))).sort()) {
    const path = `${prefix}/${name}`;
    out.push(path);
    if ((await lstat(join(root, path))).isDirectory()) out.push(...(await allPaths(root, path)));
  }
  return out;
}

/**
 * mke2fs copies each source file's atime and ctime, which no one can pin on
 * the host (reading a file moves its atime); debugfs sets them afterwards.
 */
async function pinInodeTimes(device: string, root: string, scratch: string): Promise<void> {
  const commands = ["/", ...(await allPaths(root))].flatMap((path) => {
    const quoted = `"${path.replace(/(["\\])/g, "\\$1")}"`;
    return ["atime", "ctime"].flatMap((f) => [`sif ${quoted} ${f} @1`, `sif ${quoted} ${f}_extra 0`]);
  });
  const script = join(scratch, "pin-times.debugfs");
  await writeFile(script, commands.join("\n") + "\n");
  await tool("debugfs", ["-w", "-f", script, device], { env: { E2FSPROGS_FAKE_TIME: "1" } });
}

export interface Ext4Options {
  readonly uuid: string;
  readonly hashSeed: string;
  readonly label: string;
  /** A directory for the debugfs script. */
  readonly scratch: string;
}

export async function writeExt4(device: string, part: Partition, tree: string, options: Ext4Options): Promise<void> {
  const at = `${device}?offset=${part.offset}`;
  await tool(
    "mke2fs",
    [
      "-q", "-F", "-t", "ext4", "-b", "4096", "-I", "256", "-i", String(EXT4_BYTES_PER_INODE), "-m", "0",
      "-L", options.label, "-U", options.uuid,
      "-E", `offset=${part.offset},hash_seed=${options.hashSeed},root_owner=0:0`,
      "-d", tree, device, `${part.size / 1024}k`,
    ],
    { env: { E2FSPROGS_FAKE_TIME: "1" } },
  );
  await pinInodeTimes(at, tree, options.scratch);
}
