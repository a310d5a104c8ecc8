#!/usr/bin/env node
// Store tree hashing vs. `sha256sum` on the same ~200 MiB of files of assorted sizes.
// Needs the compiled store: `npm run build` (or `npx tsc -p tsconfig.json`) first.
// Prints both throughputs and their ratio; exits 1 if the store is below half of sha256sum.
//
//   node bench/store-hash.mjs [--mib N] [--runs N]

import { spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const storeJs = join(root, "dist", "lib", "store", "index.js");
if (!existsSync(storeJs)) {
  console.error(`bench/store-hash: ${storeJs} is missing; run \`npx tsc -p tsconfig.json\` first`);
  process.exit(2);
}
const { hashItemTree } = await import(pathToFileURL(storeJs).href);

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const totalMiB = arg("--mib", 200);
const runs = arg("--runs", 3);
const MiB = 1 << 20;

// Assorted sizes, each class taking a share of the total: a few big files, many small ones.
const classes = [
  { size: 64 * MiB, share: 0.32 },
  { size: 8 * MiB, share: 0.24 },
  { size: 1 * MiB, share: 0.2 },
  { size: 64 * 1024, share: 0.12 },
  { size: 4 * 1024, share: 0.08 },
  { size: 300, share: 0.04 },
];

const dir = await mkdtemp(join(tmpdir(), "fruix-bench-store-hash-"));
try {
  const files = [];
  let bytes = 0;
  const chunk = Buffer.allocUnsafe(64 * MiB);
  randomFillSync(chunk);
  for (const [ci, c] of classes.entries()) {
    const count = Math.max(1, Math.round((totalMiB * MiB * c.share) / c.size));
    for (let i = 0; i < count; i++) {
      const sub = join(dir, `class${ci}`, `d${i % 16}`);
      await mkdir(sub, { recursive: true });
      const file = join(sub, `f${i}`);
      const off = (i * 4099) % (chunk.length - c.size + 1);
      await writeFile(file, chunk.subarray(off, off + c.size));
      files.push(file);
      bytes += c.size;
    }
  }
  console.error(`bench/store-hash: ${files.length} files, ${(bytes / MiB).toFixed(1)} MiB in ${dir}`);

  // Warm the page cache so both sides read from memory.
  spawnSync("cat", files, { stdio: ["ignore", "ignore", "inherit"], maxBuffer: Infinity });

  const best = async (fn) => {
    let t = Infinity;
    for (let i = 0; i < runs; i++) {
      const start = process.hrtime.bigint();
      await fn();
      t = Math.min(t, Number(process.hrtime.bigint() - start) / 1e9);
    }
    return t;
  };

  const sumSeconds = await best(async () => {
    const r = spawnSync("sha256sum", files, { stdio: ["ignore", "ignore", "inherit"] });
    if (r.status !== 0) throw new Error(`sha256sum exited ${r.status}`);
  });
  const storeSeconds = await best(() => hashItemTree(dir, { name: "bench" }));

  const mbps = (s) => bytes / MiB / s;
  const ratio = mbps(storeSeconds) / mbps(sumSeconds);
  console.log(`files=${files.length}`);
  console.log(`bytes=${bytes}`);
  console.log(`sha256sum_mib_per_s=${mbps(sumSeconds).toFixed(1)}`);
  console.log(`store_hash_mib_per_s=${mbps(storeSeconds).toFixed(1)}`);
  console.log(`ratio=${ratio.toFixed(2)}`);
  if (ratio < 0.5) {
    console.error("bench/store-hash: FAIL store hashing is below 50% of sha256sum throughput");
    process.exitCode = 1;
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
