// TEST DOUBLE: starts the XCP-ng test host as a child process and reads the
// settings it writes (for tests and scripts that need one).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { packageRoot } from "../../../lib/paths.js";

export interface RunningTestHost {
  readonly env: Record<string, string>;
  readonly process: ResultPromise;
  /** What the test host printed on stderr so far. */
  log(): string;
  /** SIGTERM, then waits; resolves with its exit code. */
  stop(): Promise<number | undefined>;
}

/** Reads KEY=value lines (comments and blank lines skipped; values taken verbatim, spaces included). */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (!line.trim() || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

export async function launchTestHost(envFile: string, accel: "auto" | "kvm" | "tcg" = "tcg", timeoutMs = 60_000): Promise<RunningTestHost> {
  const main = join(packageRoot, "dist", "test", "doubles", "xcp-ng", "main.js");
  // `--` keeps Node 20 from taking --env-file for itself.
  const child = execa(process.execPath, [main, "--", "--env-file", envFile, "--accel", accel], { reject: false, stdin: "ignore", stdout: "ignore", buffer: false });
  let log = "";
  child.stderr?.on("data", (c: Buffer) => (log += c.toString()));
  let exited = false;
  void child.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(envFile)) {
    if (exited || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the XCP-ng test host did not start: ${log.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    env: parseEnvFile(readFileSync(envFile, "utf8")),
    process: child,
    log: () => log,
    async stop() {
      child.kill("SIGTERM");
      return (await child).exitCode;
    },
  };
}
