// Checks of command-line (and matrix-file) arguments that are refused before
// anything is built (pure).
import { FruixError } from "../errors.js";

/** Install targets are device paths; anything else is refused before building. */
export function checkInstallTargetDevice(device: string | undefined, option = "--install-target-device"): string {
  if (!device) throw new FruixError(`${option} DEV is required (e.g. /dev/vdb: see docs/installer.md for each hypervisor's names)`, { exitCode: 2 });
  if (!/^\/dev\/[A-Za-z0-9][A-Za-z0-9_./-]*$/.test(device) || device.includes("..")) {
    throw new FruixError(`${option} must be a device path such as /dev/vdb, not '${device}'`, { exitCode: 2 });
  }
  return device;
}

/** `--forward HOST:GUEST` (both TCP ports, 1..65535) (pure). */
export function parseForward(text: string, option = "--forward"): { host: number; guest: number } {
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(text);
  const valid = (n: number) => n >= 1 && n <= 65535;
  if (!m || !valid(Number(m[1])) || !valid(Number(m[2]))) {
    throw new FruixError(`${option} needs HOST:GUEST, two TCP ports from 1 to 65535 (such as 8080:8080), not '${text}'`, { exitCode: 2 });
  }
  return { host: Number(m[1]), guest: Number(m[2]) };
}
