// The EFI system partition: FAT32 made by mkfs.fat in place, filled by mcopy.
// mkfs.fat --invariant, and SOURCE_DATE_EPOCH as every entry's time in mtools, make it byte-stable.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Partition } from "./layout.js";
import { SECTOR } from "./layout.js";
import { tool } from "./tools.js";

/** FAT cannot store times before 1980; every ESP entry gets this one. */
const FAT_EPOCH = "315532800";

export async function writeEsp(device: string, esp: Partition, volumeId: string, contents: string): Promise<void> {
  await tool("mkfs.fat", [
    "-F", "32", "-S", String(SECTOR), "-s", "1", "--invariant", "-i", volumeId, "-n", "FRUIX-ESP",
    `--offset=${esp.offset / SECTOR}`, device, String(esp.size / 1024),
  ]);
  const top = (await readdir(contents)).sort().map((name) => join(contents, name));
  await tool("mcopy", ["-s", "-Q", "-i", `${device}@@${esp.offset}`, ...top, "::/"], {
    env: { SOURCE_DATE_EPOCH: FAT_EPOCH, MTOOLS_SKIP_CHECK: "1" },
  });
}
