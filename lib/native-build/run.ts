// `fruix native-build run`: the host-initiated native build (the seed's
// default path). Over an SSH session to a development-enabled guest, run the
// family's build sequence with the shared driver (the guest records the result
// under /var/lib/fruix/native-builds/<run-id>), then copy that result root
// back: streamed as tar into a temporary directory beside the destination,
// checked as promotion would check it, and only then renamed to its final
// name, so an interrupted or damaged copy never looks like a result root.
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { execa } from "execa";
import { removeOnInterrupt } from "../cleanup.js";
import { keyValues } from "../copy/copy.js";
import type { SshSession } from "../copy/ssh.js";
import { FruixError } from "../errors.js";
import type { Family } from "../family/index.js";
import type { Logger } from "../log.js";
import { nativeBuildScript } from "../family/native-build-script.js";
import { meter } from "../progress/index.js";
import { shellQuote } from "../shell.js";
import { fruixVersion } from "../version.js";
import { checkResultRoot } from "./promote.js";
import type { BuildResult, Optimization } from "./result.js";

/** Where a guest records its native builds (the mutable side of the split). */
export const GUEST_STATE_DIR = "/var/lib/fruix/native-builds";
/** Where the heavy object and stage work goes in the guest. */
export const GUEST_WORK_DIR = "/var/tmp/fruix-native-builds";

export { nativeBuildScript };

/** `20261206T221503Z-1a2b3c`: sortable, and unique enough for one host's runs (pure but for its defaults). */
export function newRunId(now: Date = new Date(), random: string = randomBytes(3).toString("hex")): string {
  return `${now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}-${random}`;
}

export interface RunOptions {
  /** make -jN in the guest; undefined: the guest's CPU count. */
  readonly jobs?: number;
  /** `none`: -O0, where the family offers it (the guest refuses it otherwise); default: the configuration's own. */
  readonly optimization?: Optimization;
  /** The result root is copied to `<resultDir>/<run-id>`. */
  readonly resultDir: string;
  readonly runId?: string;
  /** Give up on the build (closing the session) after this long; default: wait as long as it takes. */
  readonly timeoutMs?: number;
  readonly log: Logger;
}

export interface RunResult {
  readonly runId: string;
  /** On this host. */
  readonly resultRoot: string;
  /** In the guest. */
  readonly guestResultRoot: string;
  readonly result: BuildResult;
  readonly bytesCopied: number;
}

/** Forwards the guest's stderr line by line as progress. */
function lineForwarder(log: Logger): { push: (text: string) => void; flush: () => void } {
  let pending = "";
  return {
    push(text) {
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) if (line.trim()) log.info(`guest: ${line}`);
    },
    flush() {
      if (pending.trim()) log.info(`guest: ${pending}`);
      pending = "";
    },
  };
}

function lastLine(text: string, fallback: string): string {
  return text.split("\n").filter((l) => l.trim()).pop() ?? fallback;
}

/** Runs the build in the guest and copies its result root back. */
export async function runNativeBuild(session: SshSession, family: Family, options: RunOptions): Promise<RunResult> {
  const { log } = options;
  const runId = options.runId ?? newRunId();
  const where = session.destination.url;
  const final = join(options.resultDir, runId);
  if (await stat(final).catch(() => undefined)) throw new FruixError(`${final} exists already; remove it or choose another --result-dir`);

  const env = [
    `FRUIX_NATIVE_BUILD_RUN_ID=${shellQuote(runId)}`,
    `FRUIX_NATIVE_BUILD_EXECUTOR=${shellQuote("fruix native-build run")}`,
    `FRUIX_NATIVE_BUILD_EXECUTOR_VERSION=${shellQuote(fruixVersion)}`,
    `FRUIX_NATIVE_BUILD_STATE_DIR=${GUEST_STATE_DIR}`,
    `FRUIX_NATIVE_BUILD_WORK_DIR=${GUEST_WORK_DIR}`,
    ...(options.jobs === undefined ? [] : [`FRUIX_NATIVE_BUILD_JOBS=${options.jobs}`]),
    ...(options.optimization === undefined ? [] : [`FRUIX_NATIVE_BUILD_OPTIMIZATION=${options.optimization}`]),
  ];
  const script = await nativeBuildScript(family);
  const progress = lineForwarder(log);
  const built = await log.step(`build ${family.name} in ${where} (run ${runId})`, async () => {
    let timedOut = false;
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      session.close();
    }, options.timeoutMs);
    // The script goes over stdin into a file first: dropbear refuses exec commands longer than 9000 bytes.
    const staged = await session.exec("umask 077 && f=$(mktemp /tmp/fruix-native-build.XXXXXX) && cat >\"$f\" && echo \"$f\"", script);
    const file = staged.stdout.trim();
    if (staged.code !== 0 || !file.startsWith("/tmp/fruix-native-build.")) throw new FruixError(`${where}: cannot stage the build script: ${lastLine(staged.stderr, `exit status ${staged.code}`)}`);
    const r = await session
      .exec(`${env.join(" ")} sh ${shellQuote(file)}; status=$?; rm -f ${shellQuote(file)}; exit $status`, undefined, { onStderr: progress.push })
      .catch((error: unknown) => {
        if (timedOut) throw new FruixError(`${where}: the native build did not finish in ${Math.round(options.timeoutMs! / 60_000)} min; its work is in ${GUEST_WORK_DIR}/${runId}`);
        throw error;
      })
      .finally(() => clearTimeout(timer));
    progress.flush();
    if (r.code !== 0) throw new FruixError(`${where}: the native build failed: ${lastLine(r.stderr, `exit status ${r.code}`).replace(/^fruix-native-build: /, "")}`);
    return keyValues(r.stdout);
  });
  const guestRoot = `${GUEST_STATE_DIR}/${runId}`;
  if (built.result_root !== guestRoot) throw new FruixError(`${where}: the build recorded ${built.result_root ?? "nothing"}, expected ${guestRoot}`);

  // The copy: into a partial directory beside the destination, renamed once whole and checked.
  await mkdir(options.resultDir, { recursive: true });
  const partial = join(options.resultDir, `.${runId}.partial-${process.pid}`);
  const forget = removeOnInterrupt(partial);
  let bytesCopied = 0;
  try {
    await mkdir(partial);
    await log.step(`copy ${guestRoot} to ${final}`, async () => {
      const m = meter(`copy ${runId}`);
      const untar = execa("tar", ["-x", "-f", "-", "-C", partial, "--no-same-owner"], { stdin: "pipe", stdout: "ignore", stderr: "pipe" });
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          bytesCopied += chunk.length;
          m.advance(chunk.length);
          done(null, chunk);
        },
      });
      counter.pipe(untar.stdin!);
      try {
        const [sent] = await Promise.all([
          session.exec(`tar -C ${GUEST_STATE_DIR} -cf - ${shellQuote(runId)}`, undefined, { stdout: counter }),
          untar,
        ]);
        if (sent.code !== 0) throw new FruixError(`${where}: cannot send ${guestRoot}: ${lastLine(sent.stderr, `exit status ${sent.code}`)}`);
        m.end(true);
      } catch (error) {
        m.end(false);
        untar.kill();
        if (error instanceof FruixError) throw error;
        throw new FruixError(`copying ${guestRoot} from ${where} failed: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`);
      }
    });
    // What arrived is what the guest recorded (listings and hashes), before it gets its final name.
    const { result } = await log.step("check the copied result root", () => checkResultRoot(join(partial, runId)));
    if (result.runId !== runId) throw new FruixError(`${where}: the result root records run ${result.runId}, expected ${runId}`);
    await rename(join(partial, runId), final);
    await rm(partial, { recursive: true, force: true });
    return { runId, resultRoot: final, guestResultRoot: guestRoot, result, bytesCopied };
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  } finally {
    forget();
  }
}
