// What an install target is, and whether it is safe to overwrite. Every
// refusal happens before anything is written.
import { open, readdir, readFile, realpath, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { FruixError } from "../errors.js";

export type TargetKind = "raw-file" | "block-device";

export interface Target {
  readonly path: string; // as resolved (symlinks followed)
  readonly kind: TargetKind;
  /** Current size in bytes (0 for a file that does not exist yet). */
  readonly size: number;
  readonly exists: boolean;
}

/** What the first 4 KiB of a disk say it holds, if anything (pure). */
export function contentSignature(head: Buffer): string | undefined {
  if (head.length >= 520 && head.toString("latin1", 512, 520) === "EFI PART") return "a GPT partition table";
  if (head.length >= 1082 && head.readUInt16LE(1080) === 0xef53) return "an ext2/3/4 file system";
  if (head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa) {
    if (head.toString("latin1", 82, 87) === "FAT32" || head.toString("latin1", 54, 57) === "FAT") return "a FAT file system";
    for (let i = 0; i < 4; i++) if (head[446 + i * 16 + 4] !== 0) return "an MBR partition table";
  }
  if (head.length >= 4096 && head.toString("latin1", 4086, 4096) === "SWAPSPACE2") return "swap space";
  return undefined;
}

async function readHead(path: string): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function deviceSize(device: string): Promise<number> {
  const sectors = await readFile(`/sys/class/block/${basename(device)}/size`, "utf8");
  return Number(sectors.trim()) * 512;
}

/** The device and its partitions, by kernel name (sda, sda1, loop0p1, ...). */
async function deviceFamily(device: string): Promise<string[]> {
  const name = basename(device);
  const children = await readdir(`/sys/class/block/${name}`).catch(() => [] as string[]);
  return [name, ...children.filter((c) => c.startsWith(name))];
}

async function inUseBy(device: string): Promise<string | undefined> {
  const family = new Set(await deviceFamily(device));
  const mounts = await readFile("/proc/self/mounts", "utf8");
  for (const line of mounts.split("\n")) {
    const [source, mountPoint] = line.split(" ");
    if (!source?.startsWith("/dev/")) continue;
    const real = await realpath(source).catch(() => source);
    if (family.has(basename(real))) return `${real} is mounted on ${mountPoint}`;
  }
  const swaps = await readFile("/proc/swaps", "utf8").catch(() => "");
  for (const line of swaps.split("\n").slice(1)) {
    const source = line.split(/\s+/)[0];
    if (source && family.has(basename(source))) return `${source} is in use as swap`;
  }
  const holders = await readdir(`/sys/class/block/${basename(device)}/holders`).catch(() => [] as string[]);
  if (holders.length > 0) return `it is held by ${holders.join(", ")}`;
  return undefined;
}

/** Resolves `--target` and refuses what must not be overwritten. */
export async function inspectTarget(path: string, force: boolean): Promise<Target> {
  const info = await stat(path).catch(() => undefined);
  if (!info) {
    const parent = await stat(dirname(path)).catch(() => undefined);
    if (!parent?.isDirectory()) throw new FruixError(`target ${path}: directory ${dirname(path)} does not exist`);
    return { path, kind: "raw-file", size: 0, exists: false };
  }
  const real = await realpath(path);
  if (!info.isFile() && !info.isBlockDevice()) {
    throw new FruixError(`target ${path} is neither a regular file nor a block device`);
  }
  const kind: TargetKind = info.isBlockDevice() ? "block-device" : "raw-file";
  if (kind === "block-device") {
    const busy = await inUseBy(real);
    if (busy) throw new FruixError(`target ${path} is in use: ${busy}`);
    const partitions = (await deviceFamily(real)).slice(1);
    if (partitions.length > 0 && !force) {
      throw new FruixError(`target ${path} holds partitions (${partitions.join(", ")}); use --force to overwrite them`);
    }
  }
  const size = kind === "block-device" ? await deviceSize(real) : info.size;
  const holds = size > 0 ? contentSignature(await readHead(real)) : undefined;
  if (holds && !force) throw new FruixError(`target ${path} holds ${holds}; use --force to overwrite it`);
  return { path: real, kind, size, exists: true };
}
