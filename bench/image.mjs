#!/usr/bin/env node
// `fruix system image` from an existing closure vs the same work done by hand
// with the plain tools (cp -a of the tree, sfdisk, mkfs.fat + mcopy, mke2fs -d),
// same sizes, measured alternately in one run. Target: fruix <= 1.5x by hand.
// Needs `npm run build` first.
//
//   node bench/image.mjs [--runs N]
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cli = join(root, "dist", "lib", "cli", "main.js");
const example = join(root, "examples", "minimal.scm");
const runsIndex = process.argv.indexOf("--runs");
const runs = runsIndex < 0 ? 5 : Number(process.argv[runsIndex + 1]);
const MiB = 1024 * 1024;

const work = mkdtempSync(join(tmpdir(), "fruix-bench-image-"));
process.on("exit", () => {
  spawnSync("chmod", ["-R", "u+w", work]);
  rmSync(work, { recursive: true, force: true });
});
const storeDir = join(work, "var", "store");
const env = { ...process.env, FRUIX_STORE: storeDir };

function fruix(...args) {
  return execFileSync(process.execPath, [cli, ...args, "--quiet"], { env, encoding: "utf8" });
}

function seconds(fn) {
  const started = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const run = (cmd, args, input) => execFileSync(cmd, args, { input, stdio: ["pipe", "ignore", "inherit"] });

// The closure exists before anything is timed.
const closure = fruix("system", "build", example).trim().replace("closure_path=", "");
const items = execFileSync("find", [storeDir, "-mindepth", "1", "-maxdepth", "1", "-not", "-name", ".*"], { encoding: "utf8" })
  .trim()
  .split("\n");
const closureDir = join(storeDir, closure.slice("/frx/store/".length));
// Closure links name in-guest paths; follow them through the host's store.
const inStore = (link) => join(storeDir, readlinkSync(join(closureDir, link)).slice("/frx/store/".length));
const kernel = inStore("boot/vmlinuz");
const initrd = inStore("boot/initrd.img");
const bootloader = inStore("boot/bootloader.efi");

/** The same disk by hand: a tree, a GPT, a FAT ESP with the boot files, an ext4 root. */
function byHand(i, rootMiB) {
  const dir = join(work, `hand-${i}`);
  const tree = join(dir, "root");
  mkdirSync(join(tree, "frx", "store"), { recursive: true });
  run("cp", ["-a", ...items, join(tree, "frx", "store")]);
  const disk = join(dir, "disk.img");
  const diskMiB = 1 + 64 + rootMiB + 1;
  run("truncate", ["-s", `${diskMiB}M`, disk]);
  run("sfdisk", ["--quiet", "--no-reread", disk], `label: gpt\nstart=2048, size=${64 * 2048}, type=U\nstart=${65 * 2048}, size=${rootMiB * 2048}, type=L\n`);
  run("mkfs.fat", ["-F", "32", "-S", "512", "-s", "1", `--offset=2048`, disk, String(64 * 1024)]);
  run("mmd", ["-i", `${disk}@@${MiB}`, "::/EFI", "::/EFI/BOOT", "::/fruix"]);
  run("mcopy", ["-i", `${disk}@@${MiB}`, bootloader, "::/EFI/BOOT/BOOTX64.EFI"]);
  run("mcopy", ["-i", `${disk}@@${MiB}`, kernel, initrd, "::/fruix/"]);
  run("mke2fs", ["-q", "-F", "-t", "ext4", "-E", `offset=${65 * MiB}`, "-d", tree, disk, `${rootMiB}M`]);
  spawnSync("chmod", ["-R", "u+w", dir]);
  rmSync(dir, { recursive: true, force: true });
}

const fruixTimes = [];
const handTimes = [];
for (let i = 0; i < runs; i++) {
  const rootMiB = 128 + i; // a new size each run, so fruix really builds a new image
  fruixTimes.push(seconds(() => fruix("system", "image", example, "--root-size", `${rootMiB}m`)));
  handTimes.push(seconds(() => byHand(i, rootMiB)));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratio = median(fruixTimes) / median(handTimes);
console.log(`fruix system image (closure built, whole command): ${median(fruixTimes).toFixed(3)} s (median of ${runs})`);
console.log(`same work by hand (cp -a, sfdisk, mkfs.fat, mcopy, mke2fs -d): ${median(handTimes).toFixed(3)} s (median of ${runs})`);
console.log(`ratio: ${ratio.toFixed(2)} (target <= 1.5) ${ratio <= 1.5 ? "ok" : "MISSED"}`);
process.exitCode = ratio <= 1.5 ? 0 : 1;
