// TEST DOUBLE: `npm run xcpng-testhost -- --env-file F [--accel auto|kvm|tcg]`.
// Starts Fruix's XCP-ng test host on loopback: a pool of two "hosts" (the
// master at 127.0.0.1 answers XAPI; a member at 127.0.0.2 answers
// HOST_IS_SLAVE and owns the VM disks' SR), VMs that really run under QEMU,
// and an SSH endpoint serving `xl console`. It writes the FRUIX_* settings to F
// and runs until SIGTERM/SIGINT, which kill every VM and remove every file.
// Passing against it is not passing against XCP-ng.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, renameSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import ssh2 from "ssh2";
import { probeKvm } from "../../../hypervisors/qemu/index.js";
import { ENV } from "../../../hypervisors/xcp-ng/config.js";
import { ed25519KeyPair } from "../../../lib/copy/keygen.js";
import { hostKeyFingerprint } from "../../../hypervisors/xcp-ng/ssh-console.js";
import { createHostServer } from "./http.js";
import { createSshServer } from "./ssh.js";
import { XapiModel } from "./xapi-model.js";

const MASTER = "127.0.0.1";
const MEMBER = "127.0.0.2";
const BANNER = "fruix xcpng-testhost (XCP-ng TEST DOUBLE: QEMU behind XAPI's rules; passing here is not passing against XCP-ng)";

function log(line: string): void {
  process.stderr.write(`xcpng-testhost [TEST DOUBLE]: ${line}\n`);
}

function fail(message: string): never {
  process.stderr.write(`xcpng-testhost: ${message}\n`);
  process.exit(2);
}

function listen(server: { listen: (port: number, host: string, cb: () => void) => unknown; once: (e: string, cb: (err: Error) => void) => unknown }, port: number, host: string): Promise<void> {
  return new Promise((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolveListen());
  });
}

/** Binds `make()` servers on the same port at both loopback addresses (XAPI's port is the pool's port). */
async function bindPair<T extends Server | ssh2.Server>(make: (address: string) => T): Promise<{ port: number; servers: T[] }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = make(MASTER);
    await listen(first, 0, MASTER);
    const port = (first.address() as AddressInfo).port;
    const second = make(MEMBER);
    try {
      await listen(second, port, MEMBER);
      return { port, servers: [first, second] };
    } catch {
      first.close();
    }
  }
  throw new Error("could not bind one port on both 127.0.0.1 and 127.0.0.2");
}

async function main(): Promise<void> {
  let values;
  try {
    // Node 20 itself reads `--env-file F` even after the script name (and stops when F does not
    // exist yet), so callers may put a `--` first: `node main.js -- --env-file F`.
    const args = process.argv.slice(2);
    if (args[0] === "--") args.shift();
    ({ values } = parseArgs({ args, options: { "env-file": { type: "string" }, accel: { type: "string", default: "auto" } }, strict: true }));
  } catch (error) {
    fail((error as Error).message);
  }
  const envFile = values["env-file"];
  if (!envFile) fail("usage: npm run xcpng-testhost -- --env-file FILE [--accel auto|kvm|tcg]");
  if (!["auto", "kvm", "tcg"].includes(values.accel!)) fail("--accel must be auto, kvm or tcg");

  const dir = mkdtempSync(join(tmpdir(), "fruix-xcpng-testhost-"));
  for (const sub of ["vdis", "domains", "nvram"]) mkdirSync(join(dir, sub));
  const password = randomBytes(18).toString("base64url");
  let model: XapiModel | undefined;
  const envPath = resolve(envFile);

  const cleanupNow = (): void => {
    model?.killAllNow();
    rmSync(dir, { recursive: true, force: true });
    rmSync(envPath, { force: true });
  };
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: killing every VM and removing ${dir}`);
    const hardStop = setTimeout(() => {
      cleanupNow();
      process.exit(0);
    }, 10_000);
    void (model?.stopAll() ?? Promise.resolve()).finally(() => {
      clearTimeout(hardStop);
      cleanupNow();
      log("stopped; nothing left behind");
      process.exit(0);
    });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => stop("SIGHUP"));
  process.on("exit", () => {
    if (!stopping) cleanupNow();
  });

  try {
    let accel: "kvm" | "tcg" = values.accel === "kvm" ? "kvm" : "tcg";
    if (values.accel === "auto") {
      const kvm = await probeKvm();
      accel = kvm.usable ? "kvm" : "tcg";
      log(`acceleration ${accel} (${kvm.reason})`);
    }
    model = new XapiModel({ dir, user: "root", password, accel, log });
    model.setupPool(MASTER, MEMBER);
    const xapiPort = { value: 0 };
    const hosts = model.hosts;
    const http = await bindPair((address) => createHostServer(model!, hosts.find((h) => h.address === address)!, () => xapiPort.value, log));
    xapiPort.value = http.port;

    const hostKey = ed25519KeyPair();
    const clientKey = ed25519KeyPair();
    const ssh = await bindPair(() => createSshServer(model!, { hostPrivate: hostKey.private, clientPublic: clientKey.public }, { user: "root", password }, log));

    const keyFile = join(dir, "client_ed25519");
    writeFileSync(keyFile, clientKey.private, { mode: 0o600 });
    const passwordFile = join(dir, "xapi-password");
    writeFileSync(passwordFile, password + "\n", { mode: 0o600 });
    const settings: Record<string, string> = {
      // The member's address: logging in follows HOST_IS_SLAVE to the master, as with a real pool.
      [ENV.url]: `http://${MEMBER}:${http.port}/`,
      [ENV.user]: "root",
      [ENV.passwordFile]: passwordFile,
      [ENV.sr]: "Local storage",
      [ENV.isoSr]: "ISO library",
      [ENV.sshUser]: "root",
      [ENV.sshPort]: String(ssh.port),
      [ENV.sshKeyFile]: keyFile,
      [ENV.sshHostKey]: hostKeyFingerprint(hostKey.parsed.getPublicSSH()),
    };
    const text = `# ${BANNER}\n# written by npm run xcpng-testhost (pid ${process.pid}); removed when it stops\n${Object.entries(settings)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n")}\n`;
    // Written last and renamed into place: the file's presence means the host is ready.
    writeFileSync(`${envPath}.tmp`, text, { mode: 0o600 });
    renameSync(`${envPath}.tmp`, envPath);
    log(BANNER);
    log(`XAPI master http://${MASTER}:${http.port}/, member http://${MEMBER}:${http.port}/; SSH port ${ssh.port}; files in ${dir}`);
    log(`settings written to ${envPath}; stop with SIGTERM or Ctrl-C`);
  } catch (error) {
    log(`failed to start: ${(error as Error).message}`);
    cleanupNow();
    process.exit(1);
  }
}

void main();
