// What a scenario is (DESIGN §8), and what it gets to work with. A scenario
// file reads like a phase report: id, phase, title, goal, then steps and checks.
import type { Hypervisor } from "../../hypervisors/types.js";
import type { OperatingSystem } from "../declaration/types.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import type { SystemBuild } from "../system/build.js";
import type { Guest } from "./guest.js";

export type HypervisorName = "qemu" | "xcp-ng";

export interface Scenario {
  readonly id: string;
  readonly phase: string;
  readonly title: string;
  /** One paragraph: what this phase proves. Goes first in the report. */
  readonly goal: string;
  readonly hypervisors: readonly HypervisorName[];
  run(ctx: ScenarioContext): Promise<void>;
}

export function defineScenario(scenario: Scenario): Scenario {
  return scenario;
}

export interface MachineRequest {
  /** Host paths of raw disk images; see DiskSpec.mode. */
  readonly disks: ReadonlyArray<{ readonly path: string; readonly mode: "overlay" | "direct" }>;
  /** An ISO's path, null for an empty CD drive, absent for no drive. */
  readonly cdrom?: string | null;
  readonly memoryMiB?: number;
  /** Virtual CPUs (default the adapter's, 1 on QEMU): a guest that compiles wants more. */
  readonly cpus?: number;
  /** Guest TCP ports to reach from the host; see Machine.endpoint. */
  readonly forwardPorts?: readonly number[];
  /**
   * Console lines that fail the machine at once: the family's failure
   * patterns, less those a scenario provokes on purpose (a panic it expects).
   */
  readonly failurePatterns?: (defaults: readonly RegExp[]) => readonly RegExp[];
}

/** The system under test: its evaluated declaration and its build. */
export interface SystemUnderTest {
  readonly os: OperatingSystem;
  readonly build: SystemBuild;
}

export interface ScenarioContext {
  readonly hypervisor: Hypervisor;
  readonly store: Store;
  readonly log: Logger;
  /** A directory for this scenario's files; removed after the run (kept with --keep on failure). */
  readonly workDir: string;
  /** Runs a named, timed step; the report lists every step with its duration. */
  step<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** A numbered check: passes when `actual` equals `expected` (or matches it, for a RegExp); else the scenario fails here. */
  check(name: string, actual: unknown, expected: unknown): void;
  /** A line of the report's "Validated result summary" (`key=value`). */
  result(key: string, value: string | number): void;
  /** A note for the report's environment section. */
  note(text: string): void;
  /**
   * Builds the scenario's declaration, instrumented with a validation shell on
   * the console. A variant (a candidate that differs from it) is the same
   * declaration changed by `transform`, named for the report.
   */
  buildSystem(variant?: { readonly name: string; readonly transform: (os: OperatingSystem) => OperatingSystem }): Promise<SystemUnderTest>;
  /** Builds a disk image of a system; returns its host path. */
  image(system: SystemUnderTest): Promise<string>;
  /** Installs a system onto a new raw file of `capacity` bytes in the work directory; returns its path. */
  install(system: SystemUnderTest, capacity: number): Promise<string>;
  /**
   * Builds the installer for a system (`fruix system installer`, or with
   * `iso` `fruix system installer-iso`) that installs onto `device`; returns
   * the host path of the installer's disk image or ISO.
   */
  installer(system: SystemUnderTest, device: string, media: "disk" | "iso"): Promise<string>;
  /** The install target device: --install-target-device when given, else the scenario's default for its hypervisor. */
  installTargetDevice(defaultDevice: string): string;
  /**
   * Creates a machine through the chosen adapter and returns it as a Guest (the
   * family's profile, this scenario's log). Its transcript goes to the report
   * folder as it arrives; the engine destroys the machine afterwards.
   */
  guest(name: string, request: MachineRequest): Promise<Guest>;
  /**
   * Scales a base timeout by --timeout-scale, for waits a scenario times itself.
   * Console and machine waits scale on their own: pass them base timeouts.
   */
  timeout(ms: number): number;
}
