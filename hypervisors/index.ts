// Every adapter the engine can use, by name. The CLI (and the matrix) pick
// adapters here; nothing outside hypervisors/ imports an adapter directly.
import { FruixError } from "../lib/errors.js";
import { QemuHypervisor } from "./qemu/index.js";
import { XcpngHypervisor } from "./xcp-ng/index.js";
import type { Accel, Hypervisor } from "./types.js";

export interface AdapterOptions {
  readonly accel: "auto" | Accel;
  readonly timeoutScale: number;
  readonly log: (line: string) => void;
}

type AdapterFactory = (options: AdapterOptions) => Hypervisor;

const ADAPTERS: ReadonlyMap<string, AdapterFactory> = new Map<string, AdapterFactory>([
  ["qemu", (o) => new QemuHypervisor(o)],
  ["xcp-ng", (o) => new XcpngHypervisor(o)],
]);

export const HYPERVISOR_NAMES: readonly string[] = [...ADAPTERS.keys()];

/** Checks the name now and returns a factory the engine calls once per run. */
export function hypervisorFactory(name: string, options: AdapterOptions): () => Hypervisor {
  const factory = ADAPTERS.get(name);
  if (!factory) throw new FruixError(`unknown hypervisor '${name}' (known: ${HYPERVISOR_NAMES.join(", ")})`, { exitCode: 2 });
  return () => factory(options);
}
