#!/usr/bin/env node
// Harness overhead: `fruix validate image-boot` (build no-op, image, boot,
// every check, reports) vs a bare qemu-system-x86_64 + OVMF boot of the same
// image to the same console line, alternating, in one run. Target: <= 1.15x.
// Also records the TCG boot time and where it goes (firmware, loader and the
// kernel's EFI stub, kernel, activation). Needs `npm run build` first.
//
//   node bench/boot.mjs [--runs N]
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cli = join(root, "dist", "lib", "cli", "main.js");
const runsIndex = process.argv.indexOf("--runs");
const runs = runsIndex < 0 ? 3 : Number(process.argv[runsIndex + 1]);

const work = mkdtempSync(join(tmpdir(), "fruix-bench-boot-"));
process.on("exit", () => {
  spawnSync("chmod", ["-R", "u+w", work]);
  rmSync(work, { recursive: true, force: true });
});
const storeDir = join(work, "var", "store");
const env = { ...process.env, FRUIX_STORE: storeDir };

function validate(i) {
  const reportDir = join(work, `report-${i}`);
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [cli, "validate", "image-boot", "--accel", "tcg", "--quiet", "--report-dir", reportDir], { env, encoding: "utf8" });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`fruix validate failed:\n${result.stdout}${result.stderr}`);
  const results = JSON.parse(readFileSync(join(reportDir, "image-boot", "result.json"), "utf8")).results;
  return { seconds, image: Object.fromEntries(results).disk_image };
}

/** Console lines that end each phase of a boot, in order. */
const PHASES = [
  ["firmware (OVMF to its boot manager starting systemd-boot)", /BdsDxe: starting/],
  ["systemd-boot and the kernel's EFI stub (loads, decompresses)", /Linux version/],
  ["kernel (to the root file system mounted)", /EXT4-fs \(vda2\): mounted/],
  ["activation (to the activation line)", /fruix: activated \S+\r?\n/],
];

/** The same image, the same firmware, the same console line: nothing else. Resolves to each phase's end, in seconds. */
function bareBoot(image) {
  const vars = join(work, "vars.fd");
  copyFileSync("/usr/share/OVMF/OVMF_VARS_4M.fd", vars);
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const qemu = spawn("qemu-system-x86_64", [
      "-machine", "q35", "-accel", "tcg", "-m", "512", "-nodefaults", "-display", "none", "-serial", "stdio",
      "-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
      "-drive", `if=pflash,format=raw,file=${vars}`,
      "-drive", `file=${image},if=virtio,format=raw,snapshot=on`, "-nic", "none",
    ], { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    const ends = [];
    const timer = setTimeout(() => { qemu.kill("SIGKILL"); reject(new Error("bare boot: no activation line in 300 s")); }, 300_000);
    qemu.stdout.on("data", (chunk) => {
      text += chunk.toString("latin1");
      while (ends.length < PHASES.length && PHASES[ends.length][1].test(text)) ends.push(Number(process.hrtime.bigint() - started) / 1e9);
      if (ends.length === PHASES.length) {
        clearTimeout(timer);
        qemu.kill("SIGKILL");
        qemu.on("exit", () => resolve(ends));
      }
    });
  });
}

// Warm up: the first run builds the closure and the image (not measured).
const { image: storeImage } = validate("warm");
const image = join(storeDir, storeImage.slice("/frx/store/".length));
execFileSync("test", ["-f", image]);

const harness = [];
const bare = [];
const phases = PHASES.map(() => []);
for (let i = 0; i < runs; i++) {
  harness.push(validate(i).seconds);
  const ends = await bareBoot(image);
  bare.push(ends.at(-1));
  ends.forEach((end, p) => phases[p].push(end - (ends[p - 1] ?? 0)));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
PHASES.forEach(([name], p) => console.log(`  bare boot phase: ${name}: ${median(phases[p]).toFixed(2)} s (median of ${runs})`));
const ratio = median(harness) / median(bare);
console.log(`fruix validate image-boot (whole command, TCG): ${median(harness).toFixed(2)} s (median of ${runs})`);
console.log(`bare qemu-system-x86_64 + OVMF to the activation line (TCG boot time): ${median(bare).toFixed(2)} s (median of ${runs})`);
console.log(`ratio: ${ratio.toFixed(3)} (target <= 1.15) ${ratio <= 1.15 ? "ok" : "MISSED"}`);
process.exitCode = ratio <= 1.15 ? 0 : 1;
