// Every adapter the engine can use, by name. The CLI (and the matrix) pick
// adapters here; nothing outside hypervisors/ imports an adapter directly.
import { FruixError } from "../lib/errors.js";
import { QemuHypervisor } from "./qemu/index.js";
import { XcpngHypervisor } from "./xcp-ng/index.js";
import { HYPERVISOR_NAMES, type HypervisorName } from "./names.js";
import type { Accel, Hypervisor } from "./types.js";

export { HYPERVISOR_NAMES };

export interface AdapterOptions {
  readonly accel: "auto" | Accel;
  readonly timeoutScale: number;
  readonly log: (line: string) => void;
}

type AdapterFactory = (options: AdapterOptions) => Hypervisor;

// One factory per name in names.ts: the compiler holds the two lists together.
const ADAPTERS: Readonly<Record<HypervisorName, AdapterFactory>> = {
  qemu: (o) => new QemuHypervisor(o),
  "xcp-ng": (o) => new XcpngHypervisor(o),
};

/** Checks the name now and returns a factory the engine calls once per run. */
export function hypervisorFactory(name: string, options: AdapterOptions): () => Hypervisor {
  const factory = (HYPERVISOR_NAMES as readonly string[]).includes(name) ? ADAPTERS[name as HypervisorName] : undefined;
  if (!factory) throw new FruixError(`unknown hypervisor '${name}' (known: ${HYPERVISOR_NAMES.join(", ")})`, { exitCode: 2 });
  return () => factory(options);
}
