// The records of machines --debug-on-failure holds, which `fruix vm attach`
// reads from another process (test/validate.test.ts attaches to a real one).
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findHeld, heldMachines, heldName, recordHeld } from "../lib/validate/held.js";
import { cleanupTempDirs, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

const machine = (pid: number) => ({ scenario: "image-boot", machine: "vm", pid, serialSocket: "/tmp/x/serial.sock", end: "kill 1" });

describe("held machines", () => {
  it("are named <scenario>-<machine>, then -2, -3 when the name is taken", () => {
    expect(heldName("image-boot", "vm", new Set())).toBe("image-boot-vm");
    expect(heldName("image-boot", "vm", new Set(["image-boot-vm"]))).toBe("image-boot-vm-2");
    expect(heldName("image-boot", "vm", new Set(["image-boot-vm", "image-boot-vm-2"]))).toBe("image-boot-vm-3");
  });

  it("are found by name while their process lives, and forgotten when told", async () => {
    const dir = join(await tempDir(), "held");
    const first = await recordHeld(machine(process.pid), dir);
    const second = await recordHeld(machine(process.pid), dir);
    expect([first.record.name, second.record.name]).toEqual(["image-boot-vm", "image-boot-vm-2"]);
    expect((await findHeld("image-boot-vm-2", dir)).serialSocket).toBe("/tmp/x/serial.sock");
    await first.forget();
    expect((await heldMachines(dir)).map((m) => m.name)).toEqual(["image-boot-vm-2"]);
    await expect(findHeld("image-boot-vm", dir)).rejects.toThrow("no held machine 'image-boot-vm'; held now: image-boot-vm-2");
  });

  it("whose process died are stale: not listed, and their record is removed", async () => {
    const dir = join(await tempDir(), "held");
    const child = spawn("true");
    await new Promise((resolve) => child.on("exit", resolve));
    await recordHeld(machine(child.pid!), dir);
    expect(await readdir(dir)).toEqual(["image-boot-vm.json"]);
    expect(await heldMachines(dir)).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
    await expect(findHeld("image-boot-vm", dir)).rejects.toThrow(
      "no held machine 'image-boot-vm'; none is held now (fruix validate --debug-on-failure holds a failed scenario's machines)",
    );
  });
});
