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

/** The commands a family answers in its own terms inside the probe. */
export interface ProbeCommands {
  /** Prints the account names, space-separated. */
  readonly users: string;
  /** Prints the running processes' names (as expectedProcesses names them), space-separated. */
  readonly processes: string;
  /** Prints how many times /boot/efi is mounted. */
  readonly espMounted: string;
}

/**
 * The probe: the runtime contract's facts (DESIGN §6: the same paths in every
 * family) with the family's own commands for users, processes and mounts, as
 * one line of shell printing key=value lines.
 */
export function probeScript(commands: ProbeCommands): string {
  return [
    "cs=$(readlink /run/current-system)",
    'echo "current_system=$cs"',
    'echo "host_name=$(hostname)"',
    'echo "activation_logged=$(grep -c "activated $cs" /var/log/fruix-activation.log)"',
    `echo "users=$(${commands.users})"`,
    `echo "processes=$(${commands.processes})"`,
    'echo "current_link=$(readlink /var/lib/fruix/system/current)"',
    'echo "current_generation=$(cat /var/lib/fruix/system/current-generation)"',
    'echo "generation_closure=$(readlink /var/lib/fruix/system/generations/1/closure)"',
    "echo \"generation_files=$(ls /var/lib/fruix/system/generations/1 | tr '\\n' ' ')\"",
    'echo "gcroot_current=$(readlink /frx/var/fruix/gcroots/current-system)"',
    'echo "gcroot_generation=$(readlink /frx/var/fruix/gcroots/system-1)"',
    `echo "esp_mounted=$(${commands.espMounted})"`,
    "echo \"helper_current=$(/usr/local/bin/fruix system status | sed -n 's/^current_closure=//p')\"",
  ].join("; ");
}
