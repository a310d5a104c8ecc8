// Test instrumentation (pure): scenarios need a shell on the serial console to
// run checks, so the system under test gets a validation-shell service there.
// Only validation does this; declarations never carry it unless they ask.
import type { OperatingSystem, ServiceSpec } from "../declaration/types.js";

export const CONSOLE_TTY = "ttyS0";

export function withValidationShell(os: OperatingSystem, tty = CONSOLE_TTY): OperatingSystem {
  const onTty = (s: ServiceSpec) => (s.type === "getty" || s.type === "validation-shell") && s.config.tty === tty;
  const shell: ServiceSpec = { type: "validation-shell", config: { tty }, location: os.location };
  // A getty on the same tty would fight the shell for it.
  return { ...os, services: [...os.services.filter((s) => !onTty(s)), shell] };
}
