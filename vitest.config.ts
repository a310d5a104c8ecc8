import { defineConfig } from "vitest/config";

// FRUIX_TEST_JSON=FILE also writes vitest's JSON report there (.ci/run reads its counts).
const json = process.env.FRUIX_TEST_JSON;

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests run real tools (dpkg-deb, mke2fs, QEMU); give them room.
    testTimeout: 120_000,
    hookTimeout: 600_000,
    pool: "forks",
    reporters: json ? ["default", "json"] : ["default"],
    outputFile: json ? { json } : undefined,
  },
});
