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
