// `fruix native-build run` and `fruix native-build promote` (docs/native-builds.md).
import { resolve } from "node:path";
import { parseDestination } from "../copy/destination.js";
import { authentication, withSession } from "../copy/ssh.js";
import { loadDeclaration, selectSystem } from "../declaration/index.js";
import { FruixError } from "../errors.js";
import { familyOf } from "../family/index.js";
import { createLogger } from "../log.js";
import { promoteResult } from "../native-build/promote.js";
import type { Optimization } from "../native-build/result.js";
import { runNativeBuild } from "../native-build/run.js";
import { Store } from "../store/index.js";
import type { CommandContext, Result } from "./options.js";

function oneArgument(context: CommandContext, name: string, command: string): string {
  if (context.args.length !== 1) throw new FruixError(`expected ${name}: fruix ${command} ${name}`, { exitCode: 2 });
  return context.args[0]!;
}

export async function nativeBuildRunCommand(context: CommandContext): Promise<Result> {
  const file = oneArgument(context, "FILE", "native-build run");
  const { options } = context;
  if (!options.to) throw new FruixError("native-build run needs --to ssh://[USER@]HOST[:PORT]", { exitCode: 2 });
  const destination = parseDestination(options.to);
  const log = createLogger({ quiet: options.quiet });
  const ssh = { identity: options.identity, knownHosts: options["known-hosts"], acceptNewHostKey: options["accept-new-host-key"] ?? false, log };
  await authentication(ssh); // a bad identity is refused before anything else
  const os = selectSystem(await loadDeclaration(file), options.system);
  const family = familyOf(os.base);
  const run = await withSession(destination, ssh, async (session) => {
    // The machine must run FILE's system: its family's sequence is the one sent.
    const guest = await session.exec("hostname");
    const hostName = guest.stdout.trim();
    if (guest.code !== 0 || hostName !== os.hostName) {
      throw new FruixError(`${destination.url} is ${hostName ? `'${hostName}'` : "unnamed"}, not ${file}'s '${os.hostName}'; is --to the right machine?`);
    }
    if ((await session.exec("test -x /usr/local/bin/fruix-development-environment")).code !== 0) throw new FruixError(`${destination.url}: no /usr/local/bin/fruix-development-environment: its system declares no development profile`);
    return runNativeBuild(session, family, {
      jobs: options["build-jobs"] === undefined ? undefined : Number(options["build-jobs"]),
      optimization: options.optimization as Optimization | undefined,
      resultDir: resolve(options["result-dir"] ?? "native-builds"),
      log,
    });
  });
  return {
    run_id: run.runId,
    result_root: run.resultRoot,
    guest_result_root: run.guestResultRoot,
    source_store: run.result.sourceStore,
    closure_path: run.result.closurePath,
    artifacts: run.result.artifacts.map((a) => a.kind).join(","),
    bytes_copied: run.bytesCopied,
  };
}

export async function nativeBuildPromoteCommand(context: CommandContext): Promise<Result> {
  const root = oneArgument(context, "RESULT_ROOT", "native-build promote");
  const log = createLogger({ quiet: context.options.quiet });
  const store = await Store.open({ store: context.options.store });
  const promoted = await promoteResult(store, resolve(root), log);
  return {
    run_id: promoted.runId,
    family: promoted.family,
    ...Object.fromEntries(promoted.artifacts.map((a) => [a.kind, a.path])),
    result_bundle: promoted.bundle,
  };
}
