// The engine's guests without a VM: a fake adapter whose machine "boots" by
// printing lines and answers marker-framed commands like a shell. What is
// checked: the transcript is in the report folder while the scenario runs,
// --verbose lines, and which kind of failure the report names.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ConsoleLog } from "../hypervisors/console/log.js";
import { MarkerShell } from "../hypervisors/console/shell.js";
import type { Hypervisor, Machine, MachineSpec } from "../hypervisors/types.js";
import { FruixError } from "../lib/errors.js";
import { silentLogger } from "../lib/log.js";
import type { Store } from "../lib/store/index.js";
import { runAttempt, type AttemptOptions } from "../lib/validate/engine.js";
import type { RunEvent } from "../lib/validate/report.js";
import { jsonReporter } from "../lib/validate/reporters/json.js";
import { markdownReporter } from "../lib/validate/reporters/markdown.js";
import { defineScenario, type Scenario } from "../lib/validate/scenario.js";
import { cleanupTempDirs, exampleFile, freshStore, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

const CLOSURE = "/frx/store/0000000000000000000000000000000000000000000000000000000000000000-fruix-system-test";

/** A machine that prints a boot and then behaves like the validation shell: `fail*` commands exit 1. */
class FakeMachine implements Machine {
  readonly console: ConsoleLog;
  readonly shell: MarkerShell;
  private readonly out = new PassThrough();
  private readonly typed = new PassThrough();
  destroyed = false;

  constructor(
    private readonly spec: MachineSpec,
    private readonly broken: boolean,
  ) {
    this.console = new ConsoleLog(spec.name, spec.console);
    this.shell = new MarkerShell(this.console);
  }

  get name(): string {
    return this.spec.name;
  }

  async start(): Promise<void> {
    if (this.broken) throw new FruixError(`${this.name}: the fake hypervisor refused to start it`);
    this.console.attach(this.out, this.typed);
    let buffer = "";
    this.typed.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const m = /^echo (\S+)-S""TART; \{ ([\s\S]*)\n\} 2>&1; echo \S+-E""ND-\$\?\n$/.exec(buffer);
      if (!m) return;
      buffer = "";
      const failing = m[2]!.startsWith("fail");
      this.out.write(`${m[1]}-START\r\n${failing ? "sh: fail: not found\r\n" : ""}${m[1]}-END-${failing ? 127 : 0}\r\n`);
    });
    this.out.write("[    0.000000] Linux version 6.1 (fake)\r\n");
    this.out.write(`fruix: activated ${CLOSURE}\r\n`);
  }

  async reboot(): Promise<void> {}
  async powerOff(): Promise<void> {}
  async waitForPowerOff(): Promise<void> {}
  async insertCdrom(): Promise<void> {}
  async ejectCdrom(): Promise<void> {}
  async destroy(): Promise<void> {
    this.destroyed = true;
    this.console.close();
  }
}

function fakeHypervisor(machines: FakeMachine[], broken = false): Hypervisor {
  return {
    name: "fake",
    capabilities: async () => ({ uefi: true, accels: ["tcg"], cdrom: false, snapshots: false, notes: ["a fake adapter (test/guest.test.ts)"] }),
    createMachine: async (spec) => {
      const machine = new FakeMachine(spec, broken);
      machines.push(machine);
      return machine;
    },
  };
}

function scenario(id: string, run: Scenario["run"]): Scenario {
  return defineScenario({ id, phase: "Test", title: `test scenario ${id}`, goal: "exercises the engine's guests", hypervisors: ["qemu"], run });
}

let store: Store;
beforeAll(async () => {
  store = await freshStore();
});

function options(hypervisor: Hypervisor, extra: Partial<AttemptOptions> = {}): AttemptOptions {
  return {
    store,
    log: silentLogger,
    hypervisor: () => hypervisor,
    declaration: exampleFile,
    timeoutScale: 1,
    keep: false,
    runId: "guest-test",
    ...extra,
  };
}

describe("a guest's transcript", () => {
  it("is in the report folder while the scenario runs, and listed in the report", async () => {
    const folder = join(await tempDir(), "attempt");
    const machines: FakeMachine[] = [];
    let during = "";
    const report = await runAttempt(
      scenario("streams", async (ctx) => {
        const vm = await ctx.guest("vm", { disks: [] });
        const boot = await vm.boot();
        ctx.check("the activation line names the closure", boot.closure, CLOSURE);
        during = await readFile(join(folder, "vm-serial.log"), "latin1");
      }),
      options(fakeHypervisor(machines)),
      folder,
    );
    expect(report.status).toBe("PASS");
    expect(during).toContain("Linux version 6.1 (fake)");
    expect(during).toContain(`fruix: activated ${CLOSURE}`);
    expect(report.transcripts).toEqual([{ machine: "vm", file: "vm-serial.log" }]);
    expect(machines[0]!.destroyed).toBe(true);
    expect(await readFile(join(folder, "vm-serial.log"), "latin1")).toBe(`[    0.000000] Linux version 6.1 (fake)\r\nfruix: activated ${CLOSURE}\r\n`);
  });

  /** What a booting guest's attempt writes to stderr, with or without --verbose. */
  async function stderrOfBoot(verbose: boolean): Promise<string[]> {
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      await runAttempt(
        scenario(verbose ? "verbose" : "quiet", async (ctx) => {
          await (await ctx.guest("vm", { disks: [] })).boot();
        }),
        options(fakeHypervisor([]), { verbose }),
        join(await tempDir(), "attempt"),
      );
    } finally {
      spy.mockRestore();
    }
    return written;
  }

  it("with --verbose, goes to stderr line by line as `<machine> # <line>`", async () => {
    const written = await stderrOfBoot(true);
    expect(written).toContain("vm # [    0.000000] Linux version 6.1 (fake)\n");
    expect(written).toContain(`vm # fruix: activated ${CLOSURE}\n`);
  });

  it("without --verbose, stays off stderr", async () => {
    expect((await stderrOfBoot(false)).filter((w) => w.startsWith("vm # "))).toEqual([]);
  });
});

describe("the kind of failure a report names", () => {
  const cases: Array<[string, string, Scenario["run"], boolean]> = [
    [
      "a failed command in the guest",
      "guest-command",
      async (ctx) => {
        const vm = await ctx.guest("vm", { disks: [] });
        await vm.boot();
        ctx.check("the guest answers", await vm.succeed("hostname"), "");
        await vm.succeed("fail --now");
      },
      false,
    ],
    [
      "a failed check",
      "check",
      async (ctx) => {
        ctx.check("two is three", 2, 3);
      },
      false,
    ],
    [
      "a machine the adapter cannot start",
      "infrastructure",
      async (ctx) => {
        await (await ctx.guest("vm", { disks: [] })).boot();
      },
      true,
    ],
  ];
  for (const [what, kind, run, broken] of cases) {
    it(`${what}: ${kind}, in result.json and report.md`, async () => {
      const folder = join(await tempDir(), "attempt");
      const report = await runAttempt(scenario(kind, run), options(fakeHypervisor([], broken)), folder);
      expect(report.status).toBe("FAIL");
      expect(report.failure?.kind).toBe(kind);
      // What the run writes for the attempt (run.ts): the reporters' files at its end.
      const end: RunEvent = { type: "attempt-end", cell: { project: "fake", scenario: kind }, report, record: { number: 1, status: report.status, seconds: report.seconds, folder: ".", report: "report.md", transcripts: [] } };
      const files: Record<string, string> = { ...markdownReporter.onEvent(end), ...jsonReporter.onEvent(end) };
      expect(JSON.parse(files["./result.json"]!).failure.kind).toBe(kind);
      const markdown = files["report.md"]!;
      expect(markdown).toMatch(new RegExp(`^## Failure\\n\\nKind: ${kind}\\n`, "m"));
      expect(markdown).toMatch(/^`FAIL /m);
    });
  }

  it("a failed guest command's report quotes the command, its status and output", async () => {
    const folder = join(await tempDir(), "attempt");
    const report = await runAttempt(
      scenario("guest-command-message", async (ctx) => {
        const vm = await ctx.guest("vm", { disks: [] });
        await vm.boot();
        await vm.succeed("fail --now");
      }),
      options(fakeHypervisor([])),
      folder,
    );
    expect(report.failure?.message).toBe("'fail --now' exited 127: sh: fail: not found");
    expect(report.failure?.console?.machine).toBe("vm");
  });
});
