// Test instrumentation (pure): scenarios need a shell on the serial console to
// run checks, so the system under test gets a validation-shell service there.
// Only validation does this; declarations never carry it unless they ask.
import type { OperatingSystem, ServiceSpec } from "../declaration/types.js";
import { FruixError } from "../errors.js";
import { familyOf } from "../family/index.js";

/** The shell goes on the family's serial console (linux-busybox's ttyS0) unless a tty is given. */
export function withValidationShell(os: OperatingSystem, tty = familyOf(os.base).guest.consoleTty): OperatingSystem {
  const onTty = (s: ServiceSpec) => (s.type === "getty" || s.type === "validation-shell") && s.config.tty === tty;
  const shell: ServiceSpec = { type: "validation-shell", config: { tty }, location: os.location };
  // A getty on the same tty would fight the shell for it.
  return { ...os, services: [...os.services.filter((s) => !onTty(s)), shell] };
}

/**
 * Refuses a system the engine cannot run (pure): its family says why
 * (FreeBSD: no FreeBSD guest has been booted here, so its guest profile has
 * not been checked against one).
 */
export function requireValidatable(os: OperatingSystem): void {
  const refused = familyOf(os.base).validationRefused;
  if (refused !== undefined) throw new FruixError(refused, { exitCode: 2 });
}
