// The commands about fruix itself, which load nothing else: `fruix version`
// and `fruix completion SHELL` (help is an invocation of its own, parse.ts).
import { fruixCommit, fruixVersion } from "../version.js";
import { completionScript, type Shell } from "./completion.js";
import { type Command, Printout } from "./options.js";

/** `fruix 0.1.0 (commit 4a2c…)`: what `fruix --version` prints. */
export function versionLine(): string {
  const commit = fruixCommit();
  return `fruix ${fruixVersion}${commit ? ` (commit ${commit})` : ""}`;
}

export const metaCommands: Record<string, Command> = {
  async version() {
    const commit = fruixCommit();
    return { version: fruixVersion, ...(commit ? { commit } : {}) };
  },

  async completion(context) {
    const script = completionScript(context.args[0] as Shell); // the parser checked it is one of SHELLS
    return new Printout(script, { script });
  },
};
