// Runs the disk tools with one clear error line when they fail.
import { execa, type Options } from "execa";
import { FruixError } from "../errors.js";

export async function tool(command: string, args: readonly string[], options: Options = {}): Promise<string> {
  const result = await execa(command, args, { reject: false, all: true, ...options });
  if (result.exitCode !== 0 || result.failed) {
    const output = String(result.all ?? "").trim().split("\n").filter(Boolean);
    const reason = output.at(-1) ?? (result.signal ? `killed by ${result.signal}` : `exit ${result.exitCode}`);
    throw new FruixError(`${command} failed: ${reason}`);
  }
  return String(result.stdout ?? "");
}
