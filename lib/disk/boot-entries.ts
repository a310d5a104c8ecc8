// systemd-boot configuration for Fruix generations (pure). Every generation
// gets one entry; loader.conf makes the current one the default.

export interface GenerationEntry {
  readonly generation: number;
  readonly created: string; // ISO 8601
  readonly hostName: string;
  readonly closure: string;
  /** Paths on the ESP, as systemd-boot wants them (leading slash). */
  readonly kernel: string;
  readonly initrd: string;
  readonly rootUuid: string;
  readonly kernelArguments: readonly string[];
}

export function entryFileName(generation: number): string {
  return `fruix-generation-${generation}.conf`;
}

export function bootEntry(entry: GenerationEntry): string {
  const day = entry.created.slice(0, 10);
  const options = [`root=UUID=${entry.rootUuid}`, "rootfstype=ext4", `fruix.system=${entry.closure}`, ...entry.kernelArguments];
  return [
    `title Fruix ${entry.hostName}, generation ${entry.generation} (${day})`,
    `version ${entry.generation}`,
    `linux ${entry.kernel}`,
    `initrd ${entry.initrd}`,
    `options ${options.join(" ")}`,
    "",
  ].join("\n");
}

/** No menu delay: validation boots unattended (hold a key at start-up to see the menu). */
export function loaderConf(defaultGeneration: number): string {
  return [`default ${entryFileName(defaultGeneration)}`, "timeout 0", "editor no", ""].join("\n");
}

/** Where a store item's boot file goes on the ESP: named by its item, so generations share it. */
export function espPathFor(storeFile: string): string {
  const match = /^\/frx\/store\/([^/]+)\/(.+)$/.exec(storeFile);
  if (!match) throw new Error(`not a file in a store item: ${storeFile}`);
  return `/fruix/${match[1]}/${match[2]}`;
}
