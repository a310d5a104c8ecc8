// The in-guest helper's generation commands, run on a Fruix machine over SSH
// (`fruix system status|list-generations|rollback|switch-generation|
// delete-generations --on ssh://...`): its key=value output passed on, its
// refusals as one line with its exit status.
import { FruixError } from "../errors.js";
import { shellQuote } from "../shell.js";
import { keyValues } from "./copy.js";
import type { SshSession } from "./ssh.js";

export const GUEST_HELPER = "/usr/local/bin/fruix";

export interface GenerationLine {
  readonly number: number;
  readonly created: string;
  readonly closure: string;
  /** current, rollback, booted. */
  readonly roles: string[];
}

/** `N<TAB>CREATED<TAB>CLOSURE<TAB>ROLES` lines, as the helper's list-generations prints them (pure). */
export function parseGenerationList(text: string): GenerationLine[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const [number, created, closure, roles] = line.split("\t");
      if (!/^\d+$/.test(number ?? "") || closure === undefined) throw new FruixError(`unexpected list-generations line from the machine: '${line}'`);
      return { number: Number(number), created: created!, closure, roles: roles ? roles.split(" ") : [] };
    });
}

/** Runs `fruix system ARGS...` on the machine; its stdout, or its last stderr line as the error (exit 2 stays 2). */
export async function runGuestHelper(session: SshSession, args: readonly string[]): Promise<string> {
  const command = [GUEST_HELPER, "system", ...args].map(shellQuote).join(" ");
  const result = await session.exec(command);
  if (result.code !== 0) {
    const why = result.stderr.split("\n").filter(Boolean).pop()?.replace(/^fruix: /, "") ?? `exit status ${result.code}`;
    throw new FruixError(`${session.destination.url}: fruix system ${args[0]}: ${why}`, { exitCode: result.code === 2 ? 2 : 1 });
  }
  return result.stdout;
}

/** status, rollback, switch-generation, delete-generations: their key=value lines. */
export async function remoteKeyValues(session: SshSession, args: readonly string[]): Promise<Record<string, string>> {
  return keyValues(await runGuestHelper(session, args));
}
