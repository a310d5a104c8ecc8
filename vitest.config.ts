import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests run real tools (dpkg-deb, mke2fs, QEMU); give them room.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: "forks",
  },
});
