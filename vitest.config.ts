import { defineConfig } from "vitest/config";
import { LongestFirst } from "./test/helpers/durations.js";

// FRUIX_TEST_JSON=FILE also writes vitest's JSON report there (.ci/run reads its counts).
const json = process.env.FRUIX_TEST_JSON;
const workers = Number(process.env.FRUIX_TEST_WORKERS ?? 2);

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests run real tools (dpkg-deb, mke2fs, QEMU); give them room.
    testTimeout: 120_000,
    hookTimeout: 600_000,
    pool: "forks",
    // Two files at a time (vitest's default is one fewer than the cores: one here). Most of the
    // time is QEMU under TCG, one vCPU each, so the second core would idle. FRUIX_TEST_WORKERS
    // overrides. Each file has its own TMPDIR, so files never see each other's leftovers.
    poolOptions: { forks: { maxForks: workers, minForks: 1 } },
    setupFiles: ["test/helpers/own-tmpdir.ts"],
    // Longest first, by vitest's timings or, on a clean clone, test/durations.json.
    sequence: { sequencer: LongestFirst },
    reporters: json ? ["default", "json"] : ["default"],
    outputFile: json ? { json } : undefined,
  },
});
