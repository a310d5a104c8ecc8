// Runs one attempt of a scenario against one hypervisor adapter: the context
// the scenario sees, its machines, and the record of what happened.
import { isDeepStrictEqual } from "node:util";
import { mkdir, rm } from "node:fs/promises";
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import { BootFailure, ConsoleTimeout } from "../../hypervisors/console/log.js";
import { GuestCommandFailed } from "../../hypervisors/console/shell.js";
import type { Hypervisor, Machine } from "../../hypervisors/types.js";
import { temporaryDirectory } from "../cleanup.js";
import { loadDeclaration, selectSystem } from "../declaration/index.js";
import { FruixError } from "../errors.js";
import type { OperatingSystem } from "../declaration/types.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/index.js";
import { buildSystem } from "../system/build.js";
import { buildImage } from "../deploy/image.js";
import { installSystem } from "../deploy/install.js";
import { buildInstallerSystem } from "../deploy/installer.js";
import { buildInstallerDisk, buildInstallerIso } from "../deploy/installer-media.js";
import { buildInstallerRoot } from "../deploy/installer.js";
import { fruixVersion } from "../version.js";
import { ESCAPE_NAME } from "../terminal.js";
import { recordHeld } from "./held.js";
import { packageRoot } from "../paths.js";
import { declarationHash } from "../system/system-build.js";
import { Guest, guestProfileOf } from "./guest.js";
import type { Mutex } from "./jobs.js";
import { requireValidatable, withValidationShell } from "./instrument.js";
import type { CheckRecord, Failure, FailureKind, ScenarioReport, StepRecord, SystemUnderTestRecord } from "./report.js";
import type { MachineRequest, Scenario, ScenarioContext, SystemUnderTest } from "./scenario.js";

/** What one attempt of one scenario runs with (RunSettings, narrowed to one cell). */
export interface AttemptOptions {
  readonly store: Store;
  readonly log: Logger;
  /** Makes the adapter for one attempt (a fresh one each, so state never leaks between attempts). */
  readonly hypervisor: () => Hypervisor;
  readonly declaration: string;
  readonly system?: string;
  /** --install-target-device: overrides the installer scenarios' default device. */
  readonly installTargetDevice?: string;
  readonly timeoutScale: number;
  /** Keep machine disks and state of a failed attempt (their path is printed). */
  readonly keep: boolean;
  readonly verbose?: boolean;
  /** Put before each verbose console line: the cell's label when cells run side by side. */
  readonly label?: string;
  readonly runId: string;
  /** Hears of each step as it ends. */
  readonly onStep?: (step: StepRecord) => void;
  /** Held while building into the store: cells running in parallel build one at a time. */
  readonly buildLock?: Mutex;
  /** Keep a failed attempt's machines running, say how to reach them, wait until they are ended. */
  readonly debugOnFailure?: boolean;
}

class CheckFailed extends FruixError {
  constructor(readonly record: CheckRecord) {
    super(`check ${record.number} failed: ${record.name}: expected ${record.expected}, seen ${record.actual}`);
  }
}

function show(value: unknown): string {
  if (value instanceof RegExp) return `a match of ${value}`;
  return typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
}

function matches(actual: unknown, expected: unknown): boolean {
  if (expected instanceof RegExp) return typeof actual === "string" && expected.test(actual);
  return isDeepStrictEqual(actual, expected);
}

/** One scenario's run: the context it sees, and what the report needs afterwards. */
class Run implements ScenarioContext {
  readonly steps: StepRecord[] = [];
  readonly checks: CheckRecord[] = [];
  readonly results: Array<[string, string]> = [];
  readonly notes: string[] = [];
  readonly machines: Machine[] = [];
  private built = new Map<string, Promise<SystemUnderTest>>();
  private declared: Promise<OperatingSystem> | undefined;
  /** The declared system as built (not a variant), for the report. */
  systemUnderTest: SystemUnderTestRecord | undefined;

  constructor(
    readonly hypervisor: Hypervisor,
    readonly workDir: string,
    /** Where the machines' transcripts go (the attempt's report folder). */
    readonly folder: string,
    private readonly options: AttemptOptions,
  ) {}

  /** The declared system, loaded once per attempt. */
  private declaredSystem(): Promise<OperatingSystem> {
    this.declared ??= (async () => {
      const selected = selectSystem(await loadDeclaration(this.options.declaration), this.options.system);
      requireValidatable(selected);
      return selected;
    })();
    return this.declared;
  }

  get store(): Store {
    return this.options.store;
  }

  get log(): Logger {
    return this.options.log;
  }

  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const record = (passed: boolean) => {
      const step = { name, seconds: (Date.now() - started) / 1000, passed };
      this.steps.push(step);
      this.options.onStep?.(step);
    };
    try {
      const value = await this.log.step(name, fn);
      record(true);
      return value;
    } catch (error) {
      record(false);
      throw error;
    }
  }

  check(name: string, actual: unknown, expected: unknown): void {
    const record = { number: this.checks.length + 1, name, expected: show(expected), actual: show(actual), passed: matches(actual, expected) };
    this.checks.push(record);
    this.log.info(`check ${record.number}: ${name}: ${record.passed ? "PASS" : `FAIL (expected ${record.expected}, seen ${record.actual})`}`);
    if (!record.passed) throw new CheckFailed(record);
  }

  result(key: string, value: string | number): void {
    this.results.push([key, String(value)]);
  }

  note(text: string): void {
    this.notes.push(text);
  }

  timeout(ms: number): number {
    return ms * this.options.timeoutScale;
  }

  private building<T>(fn: () => Promise<T>): Promise<T> {
    return this.options.buildLock ? this.options.buildLock.run(fn) : fn();
  }

  buildSystem(variant?: { name: string; transform: (os: OperatingSystem) => OperatingSystem }): Promise<SystemUnderTest> {
    const key = `${this.options.declaration}\0${this.options.system ?? ""}\0${variant?.name ?? ""}`;
    if (!this.built.has(key)) {
      this.built.set(
        key,
        (async () => {
          const selected = await this.declaredSystem();
          const declared = withValidationShell(selected);
          const os = variant ? variant.transform(declared) : declared;
          this.note(
            variant
              ? `variant "${variant.name}" of the system under test (${os.hostName})`
              : `system under test: ${this.options.declaration} (${os.binding}) plus a validation shell on ttyS0 (instrumentation; a getty there is dropped)`,
          );
          const build = await this.building(() => buildSystem(this.store, os, this.log));
          if (!variant) {
            this.systemUnderTest = {
              declaration: declarationName(this.options.declaration),
              system: this.options.system,
              declarationHash: declarationHash(selected),
              base: [...build.packages.map((p) => `${p.pkg.name} ${p.pkg.version}`), ...(build.sets ?? []).map((s) => `${s.set.name} ${s.set.version}`)],
            };
          }
          return { os, build };
        })(),
      );
    }
    return this.built.get(key)!;
  }

  async image(system: SystemUnderTest): Promise<string> {
    return this.store.toHostPath(await this.building(() => buildImage(this.store, system.build, undefined, this.log)));
  }

  async install(system: SystemUnderTest, capacity: number): Promise<string> {
    const target = join(this.workDir, `installed-${this.machines.length}.img`);
    await this.building(() => installSystem(this.store, system.build, { target, diskCapacity: capacity, force: false }, this.log));
    return target;
  }

  installer(system: SystemUnderTest, device: string, media: "disk" | "iso"): Promise<string> {
    return this.building(() => this.buildInstaller(system, device, media));
  }

  private async buildInstaller(system: SystemUnderTest, device: string, media: "disk" | "iso"): Promise<string> {
    const { store, log } = this;
    const installer = await buildInstallerSystem(store, system.os, system.build, log);
    const root = await buildInstallerRoot(store, system.build, installer, { device }, log);
    this.note(`installer ${media} for ${device}: ${installer.closurePath} (the system under test plus the installer service)`);
    const image =
      media === "disk"
        ? await buildInstallerDisk(store, installer, root, system.build.hostName, log)
        : (await buildInstallerIso(store, installer, root, system.build.hostName, log)).iso;
    return store.toHostPath(image);
  }

  installTargetDevice(defaultDevice: string): string {
    return this.options.installTargetDevice ?? defaultDevice;
  }

  async guest(name: string, request: MachineRequest): Promise<Guest> {
    const profile = guestProfileOf(await this.declaredSystem());
    const verbose = this.options.verbose;
    const prefix = this.options.label ? `${this.options.label} ` : "";
    const machine = await this.hypervisor.createMachine({
      name,
      disks: request.disks,
      cdrom: request.cdrom,
      memoryMiB: request.memoryMiB,
      cpus: request.cpus,
      forwardPorts: request.forwardPorts,
      workDir: join(this.workDir, `machine-${name}`),
      console: {
        transcriptFile: join(this.folder, transcriptFile(name)),
        failurePatterns: request.failurePatterns ? request.failurePatterns(profile.failurePatterns) : profile.failurePatterns,
        onLine: verbose ? (line) => process.stderr.write(`${prefix}${name} # ${line}\n`) : undefined,
      },
    });
    this.machines.push(machine);
    return new Guest(machine, profile, this.log);
  }
}

/**
 * The declaration as reports name it, never an absolute host path: relative to
 * Fruix's folder or the working directory when inside one, else its file name.
 */
export function declarationName(file: string, cwd = process.cwd(), root = packageRoot): string {
  const absolute = resolve(cwd, file);
  for (const base of [root, cwd]) {
    const rel = relative(base, absolute);
    if (rel && !rel.startsWith("..") && !isAbsolute(rel)) return rel;
  }
  return basename(absolute);
}

/**
 * --debug-on-failure: each machine still running is left to the operator, who
 * is told how to attach and how to end it; the attempt goes on when all have
 * ended (Ctrl-C ends them too). Said on stderr even with --quiet.
 */
async function holdForDebugging(machines: readonly Machine[], scenario: string): Promise<void> {
  const held = [];
  for (const machine of machines) {
    if (!machine.keepForDebugging) continue;
    const hold = await machine.keepForDebugging();
    const lines = [...hold.instructions];
    if (hold.console) {
      const { record, forget } = await recordHeld({ scenario, machine: machine.name, pid: hold.console.pid, serialSocket: hold.console.socket, end: hold.console.end });
      lines.splice(1, 0, `  attach:         fruix vm attach ${record.name}   (${ESCAPE_NAME} leaves it running)`);
      void hold.ended.finally(forget);
    }
    process.stderr.write(lines.map((line) => `DEBUG: ${line}\n`).join(""));
    held.push(hold.ended);
  }
  if (held.length === 0) return;
  process.stderr.write(`DEBUG: ${scenario} failed; waiting until its machines are ended (Ctrl-C ends them and the run)\n`);
  await Promise.all(held);
}

/** A machine's serial transcript, in the attempt's report folder. */
function transcriptFile(machine: string): string {
  return `${machine}-serial.log`;
}

/** Which kind of thing failed: the report says it, so a failed assertion never looks like a broken host. */
function kindOf(error: unknown): FailureKind {
  if (error instanceof CheckFailed) return "check";
  if (error instanceof GuestCommandFailed) return "guest-command";
  if (error instanceof BootFailure) return "boot";
  if (error instanceof ConsoleTimeout) return "timeout";
  return "infrastructure";
}

function failureOf(error: unknown, run: Run): Failure {
  const message = error instanceof Error ? error.message : String(error);
  const check = error instanceof CheckFailed ? error.record : undefined;
  const kind = kindOf(error);
  if (error instanceof BootFailure) return { message, kind, console: { machine: error.console, lines: error.lines } };
  const machine = run.machines.at(-1);
  return { message, kind, check, console: machine ? { machine: machine.name, lines: machine.console.tail(25) } : undefined };
}

/**
 * Runs one attempt of a scenario with its own work directory; its machines'
 * transcripts go into `folder` (the attempt's folder of the run directory).
 * The reporters write the rest (run.ts).
 */
export async function runAttempt(
  scenario: Scenario,
  options: AttemptOptions,
  folder: string,
  attempt?: { readonly number: number; readonly max: number },
): Promise<ScenarioReport> {
  const started = new Date();
  // First: an adapter that cannot be configured fails before there is anything to clean up.
  const hypervisor = options.hypervisor();
  // Short: QEMU's sockets go inside, and a unix socket path has at most 107 bytes.
  const { path: workRoot, forget } = await temporaryDirectory("fruix-validate-", { keep: options.keep });
  // --keep: an interrupted run keeps its machines' files too (and, named without a pid, no later run sweeps them).
  if (options.keep) forget();
  const workDir = join(workRoot, scenario.id);
  const run = new Run(hypervisor, workDir, folder, options);
  let failure: Failure | undefined;
  let capabilities: string[] = [];
  let keep = false;
  try {
    await mkdir(workDir, { recursive: true });
    // Before the scenario: machines write their transcripts here as they run.
    await mkdir(folder, { recursive: true });
    try {
      capabilities = [...(await hypervisor.capabilities()).notes];
      await options.log.step(`scenario ${scenario.id} on ${hypervisor.name}`, () => scenario.run(run));
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      failure = failureOf(error, run);
      options.log.info(`FAIL ${scenario.id}: ${failure.message}`);
    }

    if (failure && options.debugOnFailure) await holdForDebugging(run.machines, scenario.id);

    // Transcripts are kept whatever happened (complete before the report is written); machines
    // go unless --keep asks to look at a failure.
    const transcripts: Array<{ machine: string; file: string }> = [];
    const invocations = run.machines.flatMap((m) => {
      const invocation = m.invocation?.();
      return invocation ? [{ machine: m.name, ...invocation }] : [];
    });
    for (const machine of run.machines) {
      machine.console.close();
      transcripts.push({ machine: machine.name, file: transcriptFile(machine.name) });
    }
    keep = options.keep && failure !== undefined;
    for (const machine of run.machines) await machine.destroy({ keepFiles: keep });
    if (keep) options.log.info(`kept the machines' disks and state of ${scenario.id} in ${workDir}`);

    const report: ScenarioReport = {
      id: scenario.id,
      phase: scenario.phase,
      title: scenario.title,
      goal: scenario.goal,
      hypervisor: hypervisor.name,
      status: failure ? "FAIL" : "PASS",
      started: started.toISOString(),
      seconds: (Date.now() - started.getTime()) / 1000,
      environment: [...capabilities, ...run.notes, `fruix ${fruixVersion}`],
      hypervisorNotes: capabilities,
      attempt,
      steps: run.steps,
      checks: run.checks,
      results: run.results,
      failure,
      systemUnderTest: run.systemUnderTest,
      machines: invocations,
      transcripts,
    };
    return report;
  } finally {
    forget();
    if (!keep) await rm(workRoot, { recursive: true, force: true });
  }
}

/**
 * Refuses, before any scenario builds or boots anything (the CLI calls it
 * before opening the store or making a report directory), a declared system
 * the engine cannot run (requireValidatable).
 * A declaration that does not load is left to the scenarios, which report it
 * as their failure, as they always have.
 */
export async function requireValidatableDeclaration(declaration: string, system: string | undefined): Promise<void> {
  let os: OperatingSystem;
  try {
    os = selectSystem(await loadDeclaration(declaration), system);
  } catch {
    return;
  }
  requireValidatable(os);
}
