// Starting QEMU so that it never outlives Fruix, even a Fruix killed with
// SIGKILL, which no exit handler sees: util-linux's setpriv sets the parent-death
// signal (prctl PR_SET_PDEATHSIG) and then execs QEMU, which keeps its pid.
import { execa, type Options } from "execa";

export const QEMU = "qemu-system-x86_64";

/** QEMU with `args`, killed by the kernel when the process that started it dies. */
export function startQemu<O extends Options = Options>(args: readonly string[], options: O) {
  return execa("setpriv", ["--pdeathsig", "KILL", "--", QEMU, ...args], options);
}
