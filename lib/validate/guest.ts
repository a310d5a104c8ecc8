// The guest as a scenario drives it: a machine, the family's guest profile and
// the scenario's log. Booting, the validation shell, commands, status, a
// guest-initiated reboot, the in-guest installer and the probe are each one
// nested, timed log step, written once here for every scenario.
import type { Machine } from "../../hypervisors/types.js";
import type { RunResult } from "../../hypervisors/console/shell.js";
import { keyValues } from "../copy/copy.js";
import type { OperatingSystem } from "../declaration/types.js";
import type { GuestProfile } from "../family/guest-profile.js";
import { familyOf } from "../family/index.js";
import type { Logger } from "../log.js";

/** The guest profile of the family a system belongs to. */
export function guestProfileOf(os: OperatingSystem): GuestProfile {
  return familyOf(os.base).guest;
}

/**
 * The activation script's last line: the closure it activated. The kernel's
 * messages may land on the same line (printk interleaves with the script's
 * output: e1000's "NIC Link is Up" did, on the XCP-ng test double), so the
 * path ends at the first character no store name has; that character must
 * have arrived (a line may come in pieces), so a cut path never matches.
 */
export const ACTIVATED = /fruix: activated (\/frx\/store\/[A-Za-z0-9+._?=-]+)(?=[\s[])/;
/** The in-guest installer's last line before it powers off. */
const INSTALLED = /fruix-installer: installed (\S+) onto (\S+)\r?\n/;
const BOOT_MS = 240_000;
/** A booting machine that says nothing for this long hangs (a healthy boot's longest quiet stretch, OVMF's start, is 4 s under idle TCG). */
const BOOT_SILENCE_MS = 90_000;
const INSTALL_MS = 600_000;
const POWER_OFF_MS = 120_000;

/** A command as a log step's name: its first line, shortened. */
function label(command: string): string {
  const line = command.trim().split("\n")[0]!;
  return line.length > 70 ? `${line.slice(0, 67)}...` : line;
}

export class Guest {
  constructor(
    readonly machine: Machine,
    readonly profile: GuestProfile,
    private readonly log: Logger,
  ) {}

  get name(): string {
    return this.machine.name;
  }

  private step<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.log.step(`${this.name}: ${what}`, fn);
  }

  /** Starts the machine and waits for the activation line; returns the closure it names and the seconds it took. */
  boot(): Promise<{ closure: string; seconds: number }> {
    return this.step("start and wait for the activation line", async () => {
      const started = Date.now();
      await this.machine.start();
      const line = await this.machine.console.waitFor(ACTIVATED, { timeoutMs: BOOT_MS, silenceMs: BOOT_SILENCE_MS });
      return { closure: line[1]!, seconds: (Date.now() - started) / 1000 };
    });
  }

  /** Makes the validation shell quiet and machine-readable (the profile says how). */
  openShell(): Promise<void> {
    return this.step("open the validation shell", async () => {
      // The shell starts just after activation; input typed earlier may be lost, so try again:
      // 12 attempts of 5 s each (scaled by the console), about a minute in all.
      for (let attempt = 1; ; attempt++) {
        try {
          await this.machine.shell.run(this.profile.quietShell, { timeoutMs: 5_000 });
          return;
        } catch (error) {
          if (attempt >= 12) throw error;
        }
      }
    });
  }

  /** Runs a command in the guest; its exit code is the caller's to judge. */
  run(command: string, opts?: { timeoutMs?: number }): Promise<RunResult> {
    return this.step(`run: ${label(command)}`, () => this.machine.shell.run(command, opts));
  }

  /** Runs a command that must succeed (else GuestCommandFailed) and returns its output. */
  succeed(command: string, opts?: { timeoutMs?: number }): Promise<string> {
    return this.step(`succeed: ${label(command)}`, () => this.machine.shell.succeed(command, opts));
  }

  /** `fruix system status` in the guest, as key=value pairs. */
  status(): Promise<Record<string, string>> {
    return this.step("fruix system status", async () => keyValues(await this.machine.shell.succeed("fruix system status")));
  }

  /** Reboots through the guest (init runs the shutdown script), waits for the next activation and reopens the shell; returns the closure activated. */
  reboot(): Promise<string> {
    return this.step("reboot from inside and wait for the activation line", async () => {
      this.machine.console.send("reboot\n");
      const line = await this.machine.console.waitFor(ACTIVATED, { timeoutMs: BOOT_MS, silenceMs: BOOT_SILENCE_MS });
      await this.openShell();
      return line[1]!;
    });
  }

  /**
   * Boots the in-guest installer and waits for `fruix-installer: installed
   * CLOSURE onto DEV`, then runs `beforePowerOff` (eject the medium, say) and
   * waits for the power-off that follows. A refusal (`fruix-installer:
   * error: ...`) fails the wait at once through the console's failure scan.
   */
  runInstaller(options: { beforePowerOff?: { readonly name: string; readonly run: () => Promise<void> } } = {}): Promise<{ closure: string; device: string; seconds: number }> {
    return this.step("start the installer and wait for its completion line and power-off", async () => {
      const started = Date.now();
      await this.machine.start();
      const line = await this.machine.console.waitFor(INSTALLED, { timeoutMs: INSTALL_MS });
      const before = options.beforePowerOff;
      if (before) await this.step(before.name, before.run);
      await this.machine.waitForPowerOff(POWER_OFF_MS);
      return { closure: line[1]!, device: line[2]!, seconds: (Date.now() - started) / 1000 };
    });
  }

  /** One round trip through the shell: the profile's probe, as key=value facts. */
  probe(): Promise<Map<string, string>> {
    return this.step("probe the running system", async () => {
      return new Map(Object.entries(keyValues(await this.machine.shell.succeed(this.profile.probeScript))));
    });
  }
}
