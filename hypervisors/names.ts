// The adapters' names alone, without the adapters: the command table (help,
// completion, option checks) names them without loading QEMU or XAPI code.
export const HYPERVISOR_NAMES = ["qemu", "xcp-ng"] as const;

export type HypervisorName = (typeof HYPERVISOR_NAMES)[number];
