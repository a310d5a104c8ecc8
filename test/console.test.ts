// The console log and the guest shell on plain streams: a fake "machine" on the other end.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it, vi } from "vitest";
import { BootFailure, ConsoleLog, type ConsoleLogOptions, ConsoleTimeout } from "../hypervisors/console/log.js";
import { GuestCommandFailed, MarkerShell } from "../hypervisors/console/shell.js";
import { QEMU_FAILURE_PATTERNS } from "../hypervisors/qemu/machine.js";
import { linuxBusyboxGuest } from "../lib/family/linux-busybox/guest-profile.js";
import { cleanupTempDirs, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

/** FreeBSD's loader prompt when it cannot mount root: a FreeBSD profile's line (that profile is not written yet). */
const FREEBSD_MOUNTROOT = /^mountroot>.*$/m;
/** What a qemu machine running a linux-busybox guest scans for, plus FreeBSD's line. */
const PATTERNS = [...linuxBusyboxGuest.failurePatterns, ...QEMU_FAILURE_PATTERNS, FREEBSD_MOUNTROOT];

function attached(options: ConsoleLogOptions = {}) {
  const fromMachine = new PassThrough();
  const toMachine = new PassThrough();
  const console = new ConsoleLog("vm", { failurePatterns: PATTERNS, ...options });
  console.attach(fromMachine, toMachine);
  const shell = new MarkerShell(console);
  return { console, shell, say: (text: string | Buffer) => fromMachine.write(text), typed: toMachine };
}

/** Lets the stream deliver what was written. */
const settle = () => new Promise((r) => setImmediate(r));

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

describe("console log", () => {
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

  it("fails a wait at once when the console says nothing for silenceMs (a hang), naming the last line", async () => {
    // Timers and the clock only: the streams still deliver on setImmediate.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
    try {
      const { console, say } = attached({ timeoutScale: 2 });
      const waiting = console.waitFor(/fruix: activated/, { timeoutMs: 240_000, silenceMs: 30_000 });
      const outcome = waiting.then(() => "resolved", (e: Error) => e);
      // Talking keeps it waiting: a line every 50 s (scaled silence: 60 s), for five minutes of a slow boot.
      for (let i = 0; i < 5; i++) {
        say(`\x1b[0mboot line ${i}\r\n`);
        await settle();
        await vi.advanceTimersByTimeAsync(50_000);
      }
      say("/ # ");
      await settle();
      await vi.advanceTimersByTimeAsync(59_000);
      expect(await Promise.race([outcome, Promise.resolve("still waiting")])).toBe("still waiting");
      await vi.advanceTimersByTimeAsync(2_000);
      const error = await outcome;
      expect(error).toBeInstanceOf(ConsoleTimeout);
      expect((error as Error).message).toBe('vm: nothing on the console for 60 s while waiting for /fruix: activated/ (a hang?); the last line: "/ #"');
    } finally {
      vi.useRealTimers();
    }
  });

  it("runs a command between markers and returns its exit code and output, not the echo", async () => {
    const { shell, say, typed } = attached();
    fakeShell(typed, say, (cmd) => (cmd === "cat /etc/hostname" ? ["fruix-minimal\r\n", 0] : ["sh: nope: not found\r\n", 127]));
    expect(await shell.run("cat /etc/hostname")).toEqual({ exitCode: 0, output: "fruix-minimal" });
    expect(await shell.run("nope")).toEqual({ exitCode: 127, output: "sh: nope: not found" });
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

  it("fails on the hypervisor's own line too (QEMU's KVM internal error)", async () => {
    const { console, say } = attached();
    const waiting = console.waitFor(/never/, { timeoutMs: 60_000 });
    say("KVM internal error. Suberror: 1\r\n");
    await expect(waiting).rejects.toThrow("vm: the boot failed: KVM internal error. Suberror: 1");
  });

  it("scans only for the patterns it was given", async () => {
    const { console, say } = attached({ failurePatterns: [] });
    say("Kernel panic - not syncing: test\r\nfruix: activated /frx/store/x\r\n");
    await expect(console.waitFor(/fruix: activated (\S+)\r?\n/, { timeoutMs: 1000 })).resolves.toBeTruthy();
  });

  it("fails waits when the machine goes away", async () => {
    const { console } = attached();
    const waiting = console.waitFor(/x/, { timeoutMs: 60_000 });
    console.fail(new Error("vm: QEMU exited (code 1)"));
    await expect(waiting).rejects.toThrow("vm: QEMU exited (code 1)");
  });
});

describe("console log transcript file", () => {
  it("holds every byte as soon as it arrives, not when the machine ends", async () => {
    const file = join(await tempDir(), "vm-serial.log");
    const { console, say } = attached({ transcriptFile: file });
    expect(await readFile(file, "latin1")).toBe(""); // created at once, empty
    say("BdsDxe: loading Boot0001\r\n[    0.000000] Linux version 6.1");
    await settle();
    // The unfinished line is there too: a hang shows exactly where it stopped.
    expect(await readFile(file, "latin1")).toBe("BdsDxe: loading Boot0001\r\n[    0.000000] Linux version 6.1");
    say(Buffer.from([0xe9, 0x0d, 0x0a]));
    await settle();
    expect(await readFile(file)).toEqual(Buffer.concat([Buffer.from("BdsDxe: loading Boot0001\r\n[    0.000000] Linux version 6.1"), Buffer.from([0xe9, 0x0d, 0x0a])]));
    console.close();
    console.close(); // idempotent
    say("after the end\r\n");
    await settle();
    expect(await readFile(file, "latin1")).not.toContain("after the end");
    expect(console.transcript()).toContain("after the end");
  });

  it("is complete when a boot failure is reported", async () => {
    const file = join(await tempDir(), "vm-serial.log");
    const { console, say } = attached({ transcriptFile: file });
    const waiting = console.waitFor(/never/, { timeoutMs: 60_000 });
    say("fruix-initramfs: root device UUID=x not found after 3s\r\n");
    await expect(waiting).rejects.toBeInstanceOf(BootFailure);
    expect(await readFile(file, "latin1")).toContain("fruix-initramfs: root device UUID=x not found after 3s");
  });
});

describe("console lines as they arrive (--verbose)", () => {
  it("passes on each complete line once, without carriage returns or terminal control codes", async () => {
    const lines: string[] = [];
    const { console, say } = attached({ onLine: (line) => lines.push(line) });
    say("\x1b[2J\x1b[01;01HBdsDxe: loading\r\n[    1.0] Linux ver");
    await settle();
    expect(lines).toEqual(["BdsDxe: loading"]);
    say("sion 6.1\r\nfruix: activated /frx/store/x\r\n");
    await settle();
    expect(lines).toEqual(["BdsDxe: loading", "[    1.0] Linux version 6.1", "fruix: activated /frx/store/x"]);
    say("fruix login: ");
    await settle();
    console.close(); // the unfinished last line goes out at the end
    expect(lines.at(-1)).toBe("fruix login: ");
  });

  it("keeps passing lines on after a boot failure", async () => {
    const lines: string[] = [];
    const { console, say } = attached({ onLine: (line) => lines.push(line) });
    const waiting = console.waitFor(/never/, { timeoutMs: 60_000 });
    say("Kernel panic - not syncing: test\r\n");
    await expect(waiting).rejects.toBeInstanceOf(BootFailure);
    say("---[ end Kernel panic ]---\r\n");
    await settle();
    expect(lines).toEqual(["Kernel panic - not syncing: test", "---[ end Kernel panic ]---"]);
  });
});

describe("guest shell", () => {
  it("succeed returns the output of a command that exits 0", async () => {
    const { shell, say, typed } = attached();
    fakeShell(typed, say, () => ["fruix-minimal\r\n", 0]);
    expect(await shell.succeed("hostname")).toBe("fruix-minimal");
  });

  it("succeed throws GuestCommandFailed, with the command, its status and output, on a non-zero exit", async () => {
    const { shell, say, typed } = attached();
    fakeShell(typed, say, () => ["cat: /nope: No such file or directory\r\n", 1]);
    const error = await shell.succeed("cat /nope").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GuestCommandFailed);
    const failed = error as GuestCommandFailed;
    expect([failed.machine, failed.command, failed.status, failed.output]).toEqual(["vm", "cat /nope", 1, "cat: /nope: No such file or directory"]);
    expect(failed.message).toBe("'cat /nope' exited 1: cat: /nope: No such file or directory");
  });

  it("a command that never answers is a console timeout, not a failed command", async () => {
    const { shell } = attached();
    await expect(shell.succeed("sleep 1000", { timeoutMs: 50 })).rejects.toBeInstanceOf(ConsoleTimeout);
  });
});
