// Test instrumentation (pure): scenarios need a shell on the serial console to
// run checks, so the system under test gets a validation-shell service there.
// Only validation does this; declarations never carry it unless they ask.
import type { OperatingSystem, ServiceSpec } from "../declaration/types.js";
import { FruixError } from "../errors.js";

export const CONSOLE_TTY = "ttyS0";

export function withValidationShell(os: OperatingSystem, tty = CONSOLE_TTY): OperatingSystem {
  const onTty = (s: ServiceSpec) => (s.type === "getty" || s.type === "validation-shell") && s.config.tty === tty;
  const shell: ServiceSpec = { type: "validation-shell", config: { tty }, location: os.location };
  // A getty on the same tty would fight the shell for it.
  return { ...os, services: [...os.services.filter((s) => !onTty(s)), shell] };
}

/**
 * Refuses a system the engine cannot run (pure). Scenarios instrument ttyS0
 * and probe a Linux guest (BusyBox, /proc, vda disks, dropbear); no FreeBSD
 * guest has been booted here, so no FreeBSD probe has been checked against one.
 */
export function requireValidatable(os: OperatingSystem): void {
  if (os.base.family === "freebsd") {
    throw new FruixError(
      "validate cannot run FreeBSD systems yet: no FreeBSD guest has been booted on this project's test host (docs/freebsd.md); build, image and install them with fruix system ...",
      { exitCode: 2 },
    );
  }
}
