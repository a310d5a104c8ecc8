#!/usr/bin/env node
// Fruix's UFS2 writer vs Debian's makefs on the same tree, same size and
// geometry, measured alternately in one run. Target: the writer no slower
// than makefs (ratio <= 1.0). Needs `npm run build` first.
//
// The tree stands in for a FreeBSD world: 20,000 small files in 400
// directories, 200 files of 64 KiB to 1 MiB, symlinks and hard links
// (about 300 MiB).
//
//   node bench/ufs.mjs [--runs N]
import { execFileSync } from "node:child_process";
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { writeUfs } = await import(join(root, "dist", "lib", "family", "freebsd", "ufs", "index.js"));
const runsIndex = process.argv.indexOf("--runs");
const runs = runsIndex < 0 ? 5 : Number(process.argv[runsIndex + 1]);
const MiB = 1024 * 1024;
const SIZE = 1024 * MiB;

const work = mkdtempSync(join(tmpdir(), "fruix-bench-ufs-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

const tree = join(work, "tree");
for (let d = 0; d < 400; d++) mkdirSync(join(tree, `usr/share/d${d}`), { recursive: true });
for (let i = 0; i < 20_000; i++) writeFileSync(join(tree, `usr/share/d${i % 400}/f${i}`), randomBytes(200 + (i % 50) * 100));
mkdirSync(join(tree, "usr/lib"), { recursive: true });
for (let i = 0; i < 200; i++) writeFileSync(join(tree, `usr/lib/lib${i}.so`), randomBytes(64 * 1024 + (i % 16) * 60 * 1024));
for (let i = 0; i < 200; i++) symlinkSync(`lib${i}.so`, join(tree, `usr/lib/lib${i}.so.1`));
for (let i = 0; i < 100; i++) linkSync(join(tree, `usr/lib/lib${i}.so`), join(tree, `usr/lib/hard${i}`));
execFileSync("sync");

function image(name) {
  const file = join(work, name);
  rmSync(file, { force: true });
  execFileSync("truncate", ["-s", String(SIZE), file]);
  return file;
}

async function seconds(fn) {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const times = { fruix: [], makefs: [] };
for (let i = 0; i < runs; i++) {
  const ours = image("fruix.img");
  times.fruix.push(await seconds(() => writeUfs(ours, { offset: 0, size: SIZE }, tree, () => undefined, true)));
  const theirs = join(work, "makefs.img");
  rmSync(theirs, { force: true });
  times.makefs.push(
    await seconds(() =>
      execFileSync("makefs", ["-t", "ffs", "-B", "little", "-o", "version=2,bsize=32768,fsize=4096,density=8192,minfree=8", "-s", String(SIZE), theirs, tree], { stdio: "ignore" }),
    ),
  );
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const [f, m] = [median(times.fruix), median(times.makefs)];
console.log(`tree: 20,000 small files, 200 libraries, links; file system ${SIZE / MiB} MiB; ${runs} runs each, alternating`);
console.log(`fruix UFS2 writer  median ${f.toFixed(2)} s  (${times.fruix.map((t) => t.toFixed(2)).join(" ")})`);
console.log(`makefs -t ffs      median ${m.toFixed(2)} s  (${times.makefs.map((t) => t.toFixed(2)).join(" ")})`);
console.log(`ratio fruix/makefs ${(f / m).toFixed(2)} (target <= 1.00)`);
process.exitCode = f / m <= 1 ? 0 : 1;
