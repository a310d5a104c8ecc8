// The partition table, written by sfdisk from a script. (sgdisk would do as
// well, but it sleeps a second after every write to let the kernel re-read.)
import type { DiskIds, DiskLayout, Partition } from "./layout.js";
import { SECTOR } from "./layout.js";
import { tool } from "./tools.js";

/** GPT partition type GUIDs: EFI system, Linux x86-64 root (sgdisk codes ef00 and 8304). */
export const ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
export const ROOT_TYPE = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";

/** The sfdisk script for a layout (pure). */
export function sfdiskScript(layout: DiskLayout, ids: DiskIds): string {
  const line = (p: Partition, type: string, uuid: string, name: string) =>
    `start=${p.offset / SECTOR}, size=${p.size / SECTOR}, type=${type}, uuid=${uuid}, name="${name}"`;
  return [
    "label: gpt",
    `label-id: ${ids.diskGuid}`,
    "unit: sectors",
    // Usable space starts right after the table (sfdisk would say 2048), which
    // sgdisk -v otherwise reports as a gap; the partitions stay 1 MiB aligned.
    "first-lba: 34",
    "",
    line(layout.esp, ESP_TYPE, ids.espGuid, "EFI system"),
    line(layout.root, ROOT_TYPE, ids.rootGuid, "fruix-root"),
    "",
  ].join("\n");
}

export async function writeGpt(device: string, layout: DiskLayout, ids: DiskIds): Promise<void> {
  await tool("sfdisk", ["--quiet", "--no-reread", "--no-tell-kernel", "--wipe", "always", device], {
    input: sfdiskScript(layout, ids),
  });
}
