#!/usr/bin/env node
// Prepares a fresh Debian machine for Fruix: Debian tools, then npm dependencies.
// Plain JavaScript with no dependencies, because it runs before `npm ci`.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Debian package -> a file it installs (checked instead of asking dpkg, which is slow). */
const debianTools = {
  "qemu-system-x86": "/usr/bin/qemu-system-x86_64",
  "qemu-utils": "/usr/bin/qemu-img",
  "util-linux": "/usr/bin/setpriv", // QEMU is started through it, to die with Fruix (hypervisors/qemu/process.ts)
  ovmf: "/usr/share/OVMF/OVMF_CODE_4M.fd",
  "systemd-boot-efi": "/usr/lib/systemd/boot/efi/systemd-bootx64.efi",
  "busybox-static": "/bin/busybox",
  dash: "/usr/bin/dash",
  gdisk: "/usr/sbin/sgdisk",
  fdisk: "/usr/sbin/sfdisk",
  dosfstools: "/usr/sbin/mkfs.fat",
  mtools: "/usr/bin/mcopy",
  e2fsprogs: "/usr/sbin/mke2fs",
  xorriso: "/usr/bin/xorriso",
  makefs: "/usr/sbin/makefs", // tests only: its UFS2 root is the negative fixture the UFS2 oracles refuse
  zsh: "/usr/bin/zsh", // tests only: the zsh completion script is run, not just read
  cpio: "/usr/bin/cpio",
  "xz-utils": "/usr/bin/xz",
  shellcheck: "/usr/bin/shellcheck",
  socat: "/usr/bin/socat", // operators: --debug-on-failure's instructions reach QEMU's QMP socket with it
  chromium: "/usr/bin/chromium", // tests only: the sign-off page is rendered and screenshotted in a real browser
  // tests only: node-pty (test/vm.test.ts) has no Linux prebuilt addon; npm builds it with node-gyp.
  make: "/usr/bin/make",
  "g++": "/usr/bin/g++",
};

function log(message) {
  process.stderr.write(`setup: ${message}\n`);
}

function missingDebianPackages() {
  return Object.entries(debianTools)
    .filter(([, file]) => !existsSync(file))
    .map(([pkg]) => pkg);
}

function installDebianPackages(packages) {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot) {
    log(`missing Debian packages: ${packages.join(" ")}`);
    log(`install them with: sudo apt-get install -y ${packages.join(" ")}`);
    process.exit(1);
  }
  log(`installing Debian packages: ${packages.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const run = (args) => spawnSync("apt-get", args, { stdio: ["ignore", "inherit", "inherit"], env });
  if (run(["update"]).status !== 0) log("apt-get update failed; trying the install with the lists we have");
  const result = run(["install", "-y", "--no-install-recommends", ...packages]);
  const still = missingDebianPackages();
  if (result.status !== 0 || still.length > 0) {
    log(`could not install: ${still.join(" ") || packages.join(" ")}`);
    process.exit(1);
  }
}

function npmDependenciesCurrent() {
  const marker = join(root, "node_modules", ".package-lock.json");
  if (!existsSync(marker)) return false;
  return statSync(marker).mtimeMs >= statSync(join(root, "package-lock.json")).mtimeMs;
}

const missing = missingDebianPackages();
if (missing.length > 0) installDebianPackages(missing);

// `npm install` rather than `npm ci`: with npm 11 the lock file omits other
// platforms' optional packages (rollup's), which `npm ci` then calls out of sync.
if (!npmDependenciesCurrent()) {
  log("installing npm dependencies (npm install, as locked)");
  execFileSync("npm", ["install", "--no-audit", "--no-fund"], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
}
