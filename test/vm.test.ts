// `fruix system vm`: the pure parts, then the real thing: examples/minimal.scm
// booted in QEMU, driven through a pseudo-terminal (node-pty) to a shell, its
// httpd reached through --forward, Ctrl-] to leave; and without a terminal,
// the console on stdout and Ctrl-C (SIGINT) to stop. Nothing may be left behind.
import { mkdir, readdir } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { execa } from "execa";
import { spawn } from "node-pty";
import { afterAll, describe, expect, it } from "vitest";
import { parseForward } from "../lib/cli/args.js";
import { vmSystem } from "../lib/cli/vm.js";
import { ESCAPE_BYTE, terminalInput } from "../lib/terminal.js";
import { loadDeclaration, selectSystem } from "../lib/declaration/index.js";
import { packageRoot } from "../lib/paths.js";
import { cleanupTempDirs, exampleFile, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

const cli = join(packageRoot, "dist", "lib", "cli", "main.js");

describe("system vm, pure parts", () => {
  it("reads --forward HOST:GUEST and refuses anything else in one line", () => {
    expect(parseForward("8080:80")).toEqual({ host: 8080, guest: 80 });
    for (const bad of ["8080", "0:80", "8080:65536", "a:b", "1:2:3"]) expect(() => parseForward(bad), bad).toThrow(/--forward needs HOST:GUEST/);
  });

  it("passes terminal input to the guest up to the escape key, which leaves", () => {
    expect(terminalInput(Buffer.from("ls\r"))).toEqual({ forward: Buffer.from("ls\r"), leave: false });
    expect(terminalInput(Buffer.from([0x61, ESCAPE_BYTE, 0x62]))).toEqual({ forward: Buffer.from("a"), leave: true });
  });

  it("boots the declared system with a root shell on ttyS0 in place of its getty, and a DHCP client only for forwards", async () => {
    const os = selectSystem(await loadDeclaration(exampleFile));
    const types = (network: boolean) => vmSystem(os, network).services.map((s) => s.type);
    expect(types(false)).toContain("validation-shell");
    expect(types(false)).not.toContain("getty");
    expect(types(false)).not.toContain("dhcp-client");
    expect(types(true)).toContain("dhcp-client");
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** QEMU processes whose command line names `dir`: none may outlive the command. */
async function qemuUsing(dir: string): Promise<string[]> {
  const { stdout } = await execa("ps", ["-eo", "args"], { reject: false });
  return stdout.split("\n").filter((l) => l.includes("qemu-system") && l.includes(dir));
}

describe("fruix system vm examples/minimal.scm", () => {
  let store: string | undefined; // shared: the second boot reuses the first one's base items
  const storeDir = async () => (store ??= join(await tempDir(), "store"));
  it("reaches a shell through a pseudo-terminal, serves httpd through --forward, and leaves nothing after Ctrl-]", async () => {
    const dir = await tempDir();
    const tmp = join(dir, "tmp");
    await mkdir(tmp);
    const port = await freePort();
    const term = spawn(process.execPath, [cli, "system", "vm", exampleFile, "--forward", `${port}:8080`], {
      cols: 120,
      rows: 40,
      cwd: packageRoot,
      env: { ...process.env, FRUIX_STORE: await storeDir(), TMPDIR: tmp } as Record<string, string>,
    });
    let output = "";
    term.onData((d) => (output += d));
    const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
    const waitFor = async (pattern: RegExp, ms: number) => {
      const deadline = Date.now() + ms;
      while (!pattern.test(output)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} within ${ms / 1000} s; last output:\n${output.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    try {
      await waitFor(/Ctrl-\] leaves/, 300_000);
      await waitFor(/fruix: activated/, 400_000);
      // The shell may start after the first keys: ask until it answers.
      for (let i = 0; !/pty-42/.test(output); i++) {
        if (i === 60) throw new Error(`no shell answer; last output:\n${output.slice(-2000)}`);
        term.write("echo pty-$((6*7))\r");
        await new Promise((r) => setTimeout(r, 2000));
      }
      let page = "";
      for (let i = 0; i < 60 && !page.includes("Hello"); i++) {
        page = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => "");
        if (!page.includes("Hello")) await new Promise((r) => setTimeout(r, 2000));
      }
      expect(page).toBe("Hello from fruix-minimal\n");
      term.write(Buffer.from([ESCAPE_BYTE]).toString("latin1"));
      expect(await exited).toBe(0);
    } finally {
      term.kill("SIGKILL");
    }
    expect(await readdir(tmp)).toEqual([]);
    expect(await qemuUsing(tmp)).toEqual([]);
  }, 900_000);

  it("without a terminal, streams the console to stdout; Ctrl-C (SIGINT) stops it and leaves nothing", async () => {
    const dir = await tempDir();
    const tmp = join(dir, "tmp");
    await mkdir(tmp);
    const child = execa(process.execPath, [cli, "system", "vm", exampleFile], {
      cwd: packageRoot,
      env: { FRUIX_STORE: await storeDir(), TMPDIR: tmp },
      reject: false,
      stdin: "ignore",
    });
    let stdout = "";
    child.stdout!.on("data", (c: Buffer) => (stdout += c.toString("latin1")));
    const deadline = Date.now() + 600_000;
    while (!/fruix: activated/.test(stdout) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 500));
    expect(stdout).toMatch(/fruix: activated \/frx\/store\/\S+-fruix-system-fruix-minimal/);
    child.kill("SIGINT");
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(await readdir(tmp)).toEqual([]);
    expect(await qemuUsing(tmp)).toEqual([]);
  }, 900_000);
});
