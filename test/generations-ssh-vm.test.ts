// `fruix system status|list-generations|switch-generation|rollback|delete-generations
// --on ssh://...` against a real guest: an image of the minimal system with
// dropbear and a DHCP client, booted in QEMU with its port 22 forwarded.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyPairFile } from "../lib/copy/keygen.js";
import { QemuHypervisor } from "../hypervisors/qemu/index.js";
import type { Machine } from "../hypervisors/types.js";
import { cleanupTempDirs, exampleFile, fruix, tempDir } from "./helpers/fixtures.js";

let machine: Machine | undefined;
afterAll(async () => {
  await machine?.destroy();
  await cleanupTempDirs();
});

describe("host-side generations over SSH", () => {
  let env: Record<string, string>;
  let ssh: string[];
  let on: string;
  let declaration: string;

  beforeAll(async () => {
    const dir = await tempDir();
    env = { FRUIX_STORE: join(dir, "store") };
    const { identity, ...key } = await keyPairFile(dir);
    ssh = ["--identity", identity, "--known-hosts", join(dir, "known_hosts")];
    // The minimal example, reachable: a DHCP client on eth0 and dropbear with this run's key.
    declaration = join(dir, "web.scm");
    const minimal = await readFile(exampleFile, "utf8");
    const services = `(service dhcp-client-service-type (dhcp-client-configuration (interface "eth0")))
            (service sshd-service-type (sshd-configuration (authorized-keys (list "${key.public.trim()}"))))
            (service syslogd-service-type)`;
    await writeFile(declaration, minimal.replace("(service syslogd-service-type)", services));
    const image = await fruix(["system", "image", declaration, "--quiet"], env);
    expect(image.exitCode, image.stderr).toBe(0);
    const disk = /^disk_image_file=(.*)$/m.exec(image.stdout)![1]!;

    const qemu = new QemuHypervisor({ accel: "auto", timeoutScale: 1, log: () => undefined });
    machine = await qemu.createMachine({ name: "web", workDir: join(dir, "vm"), disks: [{ path: disk, mode: "overlay" }], forwardPorts: [22] });
    await machine.start();
    await machine.console.waitFor(/login:/, { timeoutMs: 300_000 });
    const endpoint = await machine.endpoint!(22);
    on = `ssh://root@127.0.0.1:${endpoint.port}`;
    // dropbear starts with the services; the first answer records its key.
    for (let i = 0; ; i++) {
      const status = await fruix(["system", "status", "--on", on, ...ssh, "--accept-new-host-key"]);
      if (status.exitCode === 0) break;
      if (i === 60) throw new Error(`no SSH answer from the guest: ${status.stderr}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }, 900_000);

  it("status: generation 1 booted and current, no rollback, as key=value and as JSON", async () => {
    const status = await fruix(["system", "status", "--on", on, ...ssh]);
    expect([status.exitCode, status.stderr]).toEqual([0, ""]);
    const lines = status.stdout.split("\n");
    expect(lines[0]).toBe(`destination=${on}`);
    expect(lines).toContain("booted_generation=1");
    expect(lines).toContain("current_generation=1");
    expect(lines).toContain("rollback_generation=none");
    const json = JSON.parse((await fruix(["system", "status", "--on", on, ...ssh, "--json"])).stdout);
    expect(json).toMatchObject({ destination: on, booted_generation: "1", current_generation: "1", rollback_generation: "none" });
    expect(json.current_closure).toMatch(/^\/frx\/store\/[0-9a-f]{64}-fruix-system-fruix-minimal$/);
  });

  it("refuses what the helper refuses, with its line and exit status, changing nothing", async () => {
    const cases: Array<[string[], number, string]> = [
      [["switch-generation", "1"], 1, `fruix: ${on}: fruix system switch-generation: generation 1 is the current generation already`],
      [["rollback"], 1, `fruix: ${on}: fruix system rollback: no rollback generation recorded (there is one after a switch)`],
      [["list-generations", "1..x"], 2, `fruix: ${on}: fruix system list-generations: malformed generation pattern '1..x' (use N, N,M, N..M, N.., ..M, or a duration: 10d, 2w, 1m)`],
    ];
    for (const [args, code, line] of cases) {
      const result = await fruix(["system", ...args, "--on", on, ...ssh]);
      expect([result.exitCode, result.stderr.trim(), result.stdout], args.join(" ")).toEqual([code, line, ""]);
    }
  });

  it("after a reconfigure makes generation 2: switch-generation 1, rollback, list and delete", async () => {
    const reconfigured = await fruix(["system", "reconfigure", declaration, "--to", on, ...ssh, "--quiet"], env);
    expect(reconfigured.exitCode, reconfigured.stderr).toBe(0);
    expect(reconfigured.stdout).toContain("current_generation=2\n");

    const back = await fruix(["system", "switch-generation", "1", "--on", on, ...ssh]);
    expect([back.exitCode, back.stderr]).toEqual([0, ""]);
    expect(back.stdout).toContain("current_generation=1\nrollback_generation=2\n");
    const list = JSON.parse((await fruix(["system", "list-generations", "--on", on, ...ssh, "--json"])).stdout);
    // Both generations hold the same closure: the helper calls the newest of them booted.
    expect(list.generations.map((g: { number: number; roles: string[] }) => [g.number, g.roles])).toEqual([
      [1, ["current"]],
      [2, ["rollback", "booted"]],
    ]);
    const text = await fruix(["system", "list-generations", "2", "--on", on, ...ssh]);
    expect(text.stdout).toMatch(/^2\t\S+\t\/frx\/store\/\S+-fruix-system-fruix-minimal\trollback booted$/);

    const forward = await fruix(["system", "rollback", "--on", on, ...ssh]);
    expect(forward.stdout).toContain("current_generation=2\nrollback_generation=1\n");
    const deleted = await fruix(["system", "delete-generations", "1..2", "--on", on, ...ssh]);
    expect(deleted.exitCode).toBe(1);
    expect(deleted.stderr.trim()).toMatch(/: fruix system delete-generations: nothing deleted: generation 1 is rollback, 2 is current and booted$/);
  });
});
