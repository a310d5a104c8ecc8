// What validation knows of a family's running guest: where its console is,
// which console lines mean the boot failed, and how to read its state in one
// round trip. Each family folder exports one (validation consumes it; the
// family code never imports lib/validate).
import type { OperatingSystem } from "../declaration/types.js";

export interface GuestProfile {
  /** The guest's serial console tty, where validation runs its shell (instrumentation). */
  readonly consoleTty: string;
  /** Console lines that mean the boot failed: waiting longer cannot help. */
  readonly failurePatterns: readonly RegExp[];
  /** Commands that make the validation shell quiet and machine-readable (no echo, no prompt, no kernel chatter). */
  readonly quietShell: string;
  /**
   * Shell commands printing the running system's facts as key=value lines:
   * current_system, host_name, activation_logged, users, processes,
   * current_link, current_generation, generation_closure, generation_files,
   * gcroot_current, gcroot_generation, esp_mounted, helper_current.
   */
  readonly probeScript: string;
  /** The process names (as `ps -o comm` shows them) the declared services run. */
  expectedProcesses(os: OperatingSystem): string[];
}
