// The partition table, written by sfdisk from a script. (sgdisk would do as
// well, but it sleeps a second after every write to let the kernel re-read.)
import type { DiskIds, DiskLayout, Partition } from "./layout.js";
import { SECTOR } from "./layout.js";
import { tool } from "./tools.js";

/** GPT partition type GUIDs: EFI system, Linux x86-64 root (sgdisk codes ef00 and 8304). */
export const ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
export const ROOT_TYPE = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";
/** freebsd-ufs (sgdisk code a503). */
export const FREEBSD_UFS_TYPE = "516E7CB6-6ECF-11D6-8FF8-00022D09712B";

/** What a family's disk calls and types its two partitions. */
export interface PartitionScheme {
  readonly espName: string;
  readonly rootType: string;
  readonly rootName: string;
}

export const LINUX_PARTITIONS: PartitionScheme = { espName: "EFI system", rootType: ROOT_TYPE, rootName: "fruix-root" };

/** One partition of an sfdisk script. */
interface TableEntry {
  readonly part: Partition;
  readonly type: string;
  readonly uuid: string;
  readonly name: string;
}

/** An sfdisk script for a GPT holding `entries` (pure). */
function tableScript(ids: DiskIds, entries: readonly TableEntry[]): string {
  return [
    "label: gpt",
    `label-id: ${ids.diskGuid}`,
    "unit: sectors",
    // Usable space starts right after the table (sfdisk would say 2048), which
    // sgdisk -v otherwise reports as a gap; the partitions stay 1 MiB aligned.
    "first-lba: 34",
    "",
    ...entries.map((e) => `start=${e.part.offset / SECTOR}, size=${e.part.size / SECTOR}, type=${e.type}, uuid=${e.uuid}, name="${e.name}"`),
    "",
  ].join("\n");
}

async function writeTable(device: string, script: string): Promise<void> {
  await tool("sfdisk", ["--quiet", "--no-reread", "--no-tell-kernel", "--wipe", "always", device], { input: script });
}

/** The sfdisk script for a system disk's layout (pure). */
export function sfdiskScript(layout: DiskLayout, ids: DiskIds, scheme: PartitionScheme = LINUX_PARTITIONS): string {
  return tableScript(ids, [
    { part: layout.esp, type: ESP_TYPE, uuid: ids.espGuid, name: scheme.espName },
    { part: layout.root, type: scheme.rootType, uuid: ids.rootGuid, name: scheme.rootName },
  ]);
}

export function writeGpt(device: string, layout: DiskLayout, ids: DiskIds, scheme: PartitionScheme = LINUX_PARTITIONS): Promise<void> {
  return writeTable(device, sfdiskScript(layout, ids, scheme));
}

/** The installer disk's table: one EFI system partition (pure). */
export function espOnlySfdiskScript(esp: Partition, ids: DiskIds): string {
  return tableScript(ids, [{ part: esp, type: ESP_TYPE, uuid: ids.espGuid, name: "fruix-installer" }]);
}

export function writeEspOnlyGpt(device: string, esp: Partition, ids: DiskIds): Promise<void> {
  return writeTable(device, espOnlySfdiskScript(esp, ids));
}
