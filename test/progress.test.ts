// Progress meters: the renderer and the throttling, fed byte counts and a fake
// clock; and, through the CLI, the plain lines stderr gets when it is no terminal.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Progress, type ProgressMode } from "../lib/progress/meter.js";
import { doneLine, fitLine, formatBytes, formatDuration, progressLine } from "../lib/progress/render.js";
import { Store } from "../lib/store/index.js";
import { cleanupTempDirs, fruix, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

const MiB = 1024 * 1024;

describe("render", () => {
  it("formats bytes, durations, rate and ETA", () => {
    expect([formatBytes(0), formatBytes(1023), formatBytes(1536), formatBytes(5 * MiB), formatBytes(3 * 1024 * MiB)]).toEqual(["0 B", "1023 B", "1.5 KiB", "5.0 MiB", "3.0 GiB"]);
    expect([formatDuration(400), formatDuration(7_000), formatDuration(125_000), formatDuration(3_720_000)]).toEqual(["0s", "7s", "2m05s", "1h02m"]);
    expect(progressLine({ label: "download k", done: 10 * MiB, total: 40 * MiB, elapsedMs: 5_000 })).toBe("download k  10.0 MiB / 40.0 MiB  25%  2.0 MiB/s  ETA 15s");
    expect(progressLine({ label: "hash x", done: 3 * MiB, elapsedMs: 1_000 })).toBe("hash x  3.0 MiB  3.0 MiB/s");
    expect(progressLine({ label: "upload d", done: 0, total: MiB, elapsedMs: 0 })).toBe("upload d  0 B / 1.0 MiB  0%");
    expect(doneLine({ label: "download k", done: 40 * MiB, total: 40 * MiB, elapsedMs: 20_000 })).toBe("download k: 40.0 MiB in 20s (2.0 MiB/s)");
    expect(fitLine("abcdefghij", 6)).toBe("abcd…");
    expect(fitLine("abc", 6)).toBe("abc");
  });
});

/** A meter on a fake clock; returns what it wrote. */
function harness(mode: ProgressMode, columns?: number) {
  let now = 1_000;
  const out: string[] = [];
  const progress = new Progress({ mode, write: (t) => out.push(t), now: () => now, columns: () => columns });
  return { progress, out, tick: (ms: number) => (now += ms) };
}

describe("meters", () => {
  it("on a terminal, redraw one line in place at most every 100 ms, then replace it with the done line", () => {
    const { progress, out, tick } = harness("terminal");
    const m = progress.start("download k", 4 * MiB);
    for (let i = 0; i < 4; i++) {
      tick(50);
      m.advance(MiB);
    }
    expect(out).toEqual(["\r\x1b[Kdownload k  2.0 MiB / 4.0 MiB  50%  20.0 MiB/s  ETA 0s", "\r\x1b[Kdownload k  4.0 MiB / 4.0 MiB  100%  20.0 MiB/s  ETA 0s"]);
    m.end();
    expect(out.slice(2)).toEqual(["\r\x1b[K", "download k: 4.0 MiB in 0s (20.0 MiB/s)\n"]);
  });

  it("on a terminal, cut the line to its width", () => {
    const { progress, out, tick } = harness("terminal", 20);
    const m = progress.start("download a-long-package-name", MiB);
    tick(200);
    m.advance(1);
    expect(out[0]).toBe("\r\x1b[Kdownload a-long-pa…");
  });

  it("otherwise, a plain line at most every 5 s, and the done line", () => {
    const { progress, out, tick } = harness("plain");
    const m = progress.start("hash big", 100 * MiB);
    for (let i = 0; i < 100; i++) {
      tick(120); // 12 s in all
      m.advance(MiB);
    }
    m.end();
    expect(out).toEqual([
      "hash big  42.0 MiB / 100.0 MiB  42%  8.3 MiB/s  ETA 7s\n",
      "hash big  84.0 MiB / 100.0 MiB  84%  8.3 MiB/s  ETA 2s\n",
      "hash big: 100.0 MiB in 12s (8.3 MiB/s)\n",
    ]);
  });

  it("off (--quiet) writes nothing; a failed meter writes no done line", () => {
    const off = harness("off");
    const m = off.progress.start("x", 10);
    off.tick(10_000);
    m.advance(10);
    m.end();
    expect(off.out).toEqual([]);
    const failed = harness("terminal");
    const f = failed.progress.start("upload d", 10);
    failed.tick(200);
    f.advance(5);
    f.end(false);
    expect(failed.out).toEqual(["\r\x1b[Kupload d  5 B / 10 B  50%  25 B/s  ETA 0s", "\r\x1b[K"]);
  });
});

describe("through the CLI, stderr not a terminal", () => {
  it("hashing a large item prints plain lines (at most one per 5 s) and a done line; --quiet prints none", async () => {
    const dir = await tempDir();
    const store = await Store.open({ store: join(dir, "store") });
    const item = await store.add("big", (out) => writeFile(join(out, "data"), Buffer.alloc(96 * MiB, 1)));
    await store.close();
    const started = Date.now();
    const shown = await fruix(["store", "verify", "--store", join(dir, "store")]);
    const seconds = (Date.now() - started) / 1000;
    expect(shown.exitCode).toBe(0);
    const lines = shown.stderr.split("\n");
    expect(lines).toContainEqual(expect.stringMatching(/^hash big: 96\.0 MiB in \d+s \([\d.]+ [KMG]iB\/s\)$/));
    expect(lines.filter((l) => l.startsWith("hash big  ")).length).toBeLessThanOrEqual(1 + seconds / 5);
    expect(shown.stderr).not.toContain("\r");
    const quiet = await fruix(["store", "verify", "--store", join(dir, "store"), "--quiet"]);
    expect([quiet.exitCode, quiet.stderr]).toEqual([0, ""]);
    expect(item).toMatch(/-big$/);
  });
});
