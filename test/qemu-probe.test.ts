// The KVM probe's answer is kept for the boot: a second run does not wait the
// probe's 15 s again, and anything the answer depends on makes it anew.
import { readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cachedProbe, probeKey } from "../hypervisors/qemu/probe-cache.js";
import { cleanupTempDirs, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

describe("the kept KVM probe", () => {
  it("probes once, then answers from the kept file with the time of the probe", async () => {
    const dir = await tempDir();
    let probes = 0;
    const probe = async () => {
      probes += 1;
      return { usable: false, reason: "no firmware output under KVM within 15 s (guest hangs)" };
    };
    const first = await cachedProbe("k1", probe, dir);
    const second = await cachedProbe("k1", probe, dir);
    expect(probes).toBe(1);
    expect(second).toEqual(first);
    expect(first.probedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await readdir(dir)).toEqual(["k1.json"]); // no temporary left
    await cachedProbe("k2", probe, dir);
    expect(probes).toBe(2);
  });

  it("probes again when the kept file is not an answer", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "k.json"), "{ truncated");
    let probes = 0;
    const answer = await cachedProbe("k", async () => (probes++, { usable: true, reason: "OVMF ran under KVM" }), dir);
    expect([probes, answer.usable]).toEqual([1, true]);
  });

  it("has a key that changes with the firmware (and so with QEMU, /dev/kvm and the boot, fingerprinted alike)", async () => {
    const firmware = join(await tempDir(), "OVMF_CODE.fd");
    await writeFile(firmware, "code");
    const before = await probeKey([firmware]);
    expect(await probeKey([firmware])).toBe(before);
    await utimes(firmware, new Date(2020, 0, 1), new Date(2020, 0, 1));
    expect(await probeKey([firmware])).not.toBe(before);
  });
});
