// `fruix system status|list-generations|rollback|switch-generation|delete-generations
// --on ssh://...`: the machine's own helper run over SSH (lib/copy/generations.ts),
// its output passed on as key=value lines or --json.
import { parseDestination } from "../copy/destination.js";
import { FruixError } from "../errors.js";
import { createLogger } from "../log.js";
import { Printout, type CommandContext, type Result } from "./options.js";

/** The helper's arguments for each command, from the command line's. */
const HELPER_ARGS: Record<string, (args: readonly string[]) => string[]> = {
  "system status": () => ["status"],
  "system list-generations": (args) => ["list-generations", ...args],
  "system rollback": () => ["rollback"],
  "system switch-generation": (args) => ["switch-generation", ...args],
  "system delete-generations": (args) => ["delete-generations", ...args],
};

export async function remoteGenerationsCommand(name: string, context: CommandContext): Promise<Result | Printout> {
  const on = context.options.on;
  if (!on) throw new FruixError(`${name} needs --on ssh://[USER@]HOST[:PORT] (inside a Fruix machine, run /usr/local/bin/fruix ${name})`, { exitCode: 2 });
  const destination = parseDestination(on, "--on");
  const log = createLogger({ quiet: context.options.quiet });
  const ssh = {
    identity: context.options.identity,
    knownHosts: context.options["known-hosts"],
    acceptNewHostKey: context.options["accept-new-host-key"] ?? false,
    log,
  };
  const [{ authentication, withSession }, remote] = await Promise.all([import("../copy/ssh.js"), import("../copy/generations.js")]);
  await authentication(ssh); // a bad identity is refused before connecting
  const helperArgs = HELPER_ARGS[name]!(context.args);
  return withSession(destination, ssh, async (session) => {
    if (name === "system list-generations") {
      const text = await remote.runGuestHelper(session, helperArgs);
      const generations = remote.parseGenerationList(text);
      return new Printout(text, { destination: destination.url, generations });
    }
    return { destination: destination.url, ...(await remote.remoteKeyValues(session, helperArgs)) };
  });
}
