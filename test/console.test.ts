// The serial console on plain streams: a fake "machine" on the other end.
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { BootFailure, ConsoleTimeout, SerialConsole } from "../lib/validate/console.js";

function attached(options = {}) {
  const fromMachine = new PassThrough();
  const toMachine = new PassThrough();
  const console = new SerialConsole("vm", options);
  console.attach(fromMachine, toMachine);
  return { console, say: (text: string) => fromMachine.write(text), typed: toMachine };
}

/** Answers marker-framed commands like a shell would, echoing the typed line first. */
function fakeShell(typed: PassThrough, say: (t: string) => void, answer: (command: string) => [string, number]) {
  let buffer = "";
  typed.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const m = /^echo (\S+)-S""TART; \{ ([\s\S]*)\n\} 2>&1; echo \S+-E""ND-\$\?\n$/.exec(buffer);
    if (!m) return;
    buffer = "";
    say(`${m[0].replace(/\n/g, "\r\n")}`); // the tty echo of what was typed
    const [output, code] = answer(m[2]!);
    say(`${m[1]}-START\r\n${output}${m[1]}-END-${code}\r\n`);
  });
}

describe("serial console", () => {
  it("waits for text, consuming it so the next wait looks further", async () => {
    const { console, say } = attached();
    const first = console.waitFor(/login: /, { timeoutMs: 1000 });
    say("boot...\r\nfruix login: ");
    await first;
    say("\r\nfruix login: ");
    await expect(console.waitFor(/login: /, { timeoutMs: 1000 })).resolves.toBeTruthy();
    await expect(console.waitFor(/login: /, { timeoutMs: 50 })).rejects.toBeInstanceOf(ConsoleTimeout);
    expect(console.transcript()).toBe("boot...\r\nfruix login: \r\nfruix login: ");
  });

  it("scales timeouts", async () => {
    const { console } = attached({ timeoutScale: 3 });
    const started = Date.now();
    await expect(console.waitFor(/never/, { timeoutMs: 40 })).rejects.toThrow(/within 0\.1 s/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
  });

  it("runs a command between markers and returns its exit code and output, not the echo", async () => {
    const { console, say, typed } = attached();
    fakeShell(typed, say, (cmd) => (cmd === "cat /etc/hostname" ? ["fruix-minimal\r\n", 0] : ["sh: nope: not found\r\n", 127]));
    expect(await console.run("cat /etc/hostname")).toEqual({ exitCode: 0, output: "fruix-minimal" });
    expect(await console.run("nope")).toEqual({ exitCode: 127, output: "sh: nope: not found" });
  });

  it("fails every wait at once on a kernel panic, quoting the lines", async () => {
    const { console, say } = attached();
    const waiting = console.waitFor(/fruix: activated/, { timeoutMs: 60_000 });
    const started = Date.now();
    say("[    1.0] VFS: Cannot open root device\r\n[    1.1] Kernel panic - not syncing: VFS: Unable to mount root fs\r\n");
    const error = await waiting.catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toBeInstanceOf(BootFailure);
    expect((error as BootFailure).message).toBe("vm: the boot failed: [    1.1] Kernel panic - not syncing: VFS: Unable to mount root fs");
    expect((error as BootFailure).lines).toContain("[    1.0] VFS: Cannot open root device");
    await expect(console.waitFor(/anything/, { timeoutMs: 1000 })).rejects.toBeInstanceOf(BootFailure);
  });

  it.each([
    "fruix-initramfs: root device UUID=x not found after 3s",
    "fruix-initramfs: dropping to emergency shell",
    "mountroot> ",
    "[ 2.0] Oops: 0002 [#1] PREEMPT SMP NOPTI",
  ])("treats %j as a failed boot", async (line) => {
    const { console, say } = attached();
    const waiting = console.waitFor(/never/, { timeoutMs: 60_000 });
    say(`${line}\r\n`);
    await expect(waiting).rejects.toBeInstanceOf(BootFailure);
  });

  it("does not mistake ordinary lines for failures", async () => {
    const { console, say } = attached();
    say("panic=-1 on the command line\r\nNo Oops here\r\nfruix: activated /frx/store/x\r\n");
    await expect(console.waitFor(/fruix: activated (\S+)\r?\n/, { timeoutMs: 1000 })).resolves.toBeTruthy();
  });

  it("fails waits when the machine goes away", async () => {
    const { console } = attached();
    const waiting = console.waitFor(/x/, { timeoutMs: 60_000 });
    console.fail(new Error("vm: QEMU exited (code 1)"));
    await expect(waiting).rejects.toThrow("vm: QEMU exited (code 1)");
  });
});
