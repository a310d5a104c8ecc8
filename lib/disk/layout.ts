// Where things go on a Fruix system disk (pure): a GPT with an EFI system
// partition and an ext4 root, 1 MiB aligned, and the identifiers that make
// two builds of the same disk byte-identical.
import { createHash } from "node:crypto";
import { MiB, roundUp } from "./size.js";

export const SECTOR = 512;
/** 64 MiB of 512-byte clusters: enough clusters for FAT32, room for several generations' kernels. */
export const ESP_SIZE = 64 * MiB;
const ALIGN = MiB;
/** The backup GPT needs 33 sectors at the end; keep the last MiB free. */
const TAIL = MiB;

export interface Partition {
  readonly offset: number; // bytes
  readonly size: number; // bytes
}

export interface DiskLayout {
  readonly diskSize: number;
  readonly esp: Partition;
  readonly root: Partition;
}

/**
 * With a disk size, the root takes `rootSize` or else the rest of the disk;
 * without one, the disk is just large enough.
 */
export function diskLayout(rootSize: number | undefined, diskSize?: number): DiskLayout {
  const esp = { offset: ALIGN, size: ESP_SIZE };
  const rootOffset = esp.offset + esp.size;
  const available = diskSize === undefined ? undefined : Math.floor((diskSize - TAIL - rootOffset) / ALIGN) * ALIGN;
  const size = rootSize === undefined ? available : roundUp(rootSize, ALIGN);
  if (size === undefined) throw new Error("diskLayout needs a root size or a disk size");
  return { diskSize: diskSize ?? rootOffset + size + TAIL, esp, root: { offset: rootOffset, size } };
}

/** The smallest disk that holds a root file system of `rootSize`. */
export function minimumDiskSize(rootSize: number): number {
  return diskLayout(rootSize).diskSize;
}

/** Stable identifiers derived from a seed (the closure, and for installs the target spec). */
export interface DiskIds {
  readonly diskGuid: string;
  readonly espGuid: string;
  readonly rootGuid: string;
  readonly rootUuid: string;
  readonly rootHashSeed: string;
  readonly espVolumeId: string; // 8 hex digits
}

function uuidFrom(seed: string, purpose: string): string {
  const h = createHash("sha256").update(`${seed}\0${purpose}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x40; // version 4 layout, as random UUIDs have
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export function diskIds(seed: string): DiskIds {
  return {
    diskGuid: uuidFrom(seed, "disk"),
    espGuid: uuidFrom(seed, "esp"),
    rootGuid: uuidFrom(seed, "root-partition"),
    rootUuid: uuidFrom(seed, "root-filesystem"),
    rootHashSeed: uuidFrom(seed, "root-hash-seed"),
    espVolumeId: createHash("sha256").update(`${seed}\0esp-volume-id`).digest("hex").slice(0, 8),
  };
}

/** ext4 block counts the way mke2fs sizes its journal by default (4 KiB blocks). */
function journalBlocks(blocks: number): number {
  if (blocks < 2048) return 0;
  if (blocks < 32768) return 1024;
  if (blocks < 256 * 1024) return 4096;
  if (blocks < 512 * 1024) return 8192;
  if (blocks < 4096 * 1024) return 16384;
  if (blocks < 8192 * 1024) return 32768;
  if (blocks < 16384 * 1024) return 65536;
  if (blocks < 32768 * 1024) return 131072;
  return 262144;
}

/** What a tree needs on ext4 with 4 KiB blocks and 256-byte inodes. */
export interface TreeUsage {
  readonly blocks: number; // data blocks of files, directories and long symlinks
  readonly inodes: number;
}

export const EXT4_BYTES_PER_INODE = 16384;

/**
 * The smallest ext4 (whole MiB) that holds `usage`, counting the journal,
 * inode tables, group metadata and a 10% margin for what we do not model.
 */
export function minimumRootSize(usage: TreeUsage): number {
  for (let size = roundUp((usage.blocks * 4096 * 1.1) + 8 * MiB, MiB); ; size += MiB) {
    const blocks = size / 4096;
    const inodes = size / EXT4_BYTES_PER_INODE;
    const groups = Math.ceil(blocks / 32768);
    const metadata = journalBlocks(blocks) + (inodes * 256) / 4096 + groups * 4 + 64;
    if (inodes >= usage.inodes + 16 && usage.blocks * 1.1 + metadata <= blocks) return size;
  }
}
