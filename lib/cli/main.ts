#!/usr/bin/env node
// The `fruix` command: results as key=value lines on stdout (or one JSON object
// with --json), progress on stderr, one clear line and a non-zero exit on error.
import { parseArgs } from "node:util";
import { handleInterrupts, sweepTemporaries } from "../cleanup.js";
import { DeclarationError, FruixError } from "../errors.js";
import { fruixVersion } from "../version.js";
import { commands } from "./commands.js";
import { type CommandContext, OPTIONS } from "./options.js";

const USAGE = `usage: fruix <command> [options]

  fruix system build FILE [--system NAME]            build the system closure
  fruix system rootfs FILE DIR [--system NAME]       materialize a root file system tree
  fruix system image FILE [--root-size S]            a bootable GPT/UEFI disk image
  fruix system install FILE --target PATH|/dev/X [--disk-capacity S] [--root-size S] [--force]
                                                     install onto a raw file or a block device
  fruix system installer FILE --install-target-device DEV [--root-size S]
                                                     a disk image that installs the system onto DEV, unattended
  fruix system installer-iso FILE --install-target-device DEV [--root-size S]
                                                     the same installer as a UEFI-bootable ISO
  fruix system copy CLOSURE --to ssh://[USER@]HOST[:PORT] [--identity KEY] [--known-hosts FILE] [--accept-new-host-key]
                                                     send a closure's missing store items to a Fruix machine
  fruix system reconfigure FILE --to ssh://... [SSH options as for copy]
                                                     build, copy and switch the machine to it (takes effect at reboot)
  fruix validate [SCENARIO...] [--list] [--grep RE] [--hypervisor qemu|xcp-ng] [--accel auto|kvm|tcg]
                 [--timeout-scale N] [--keep] [--report-dir D] [--declaration FILE] [--system NAME]
                 [--install-target-device DEV] [--retries N] [--shard I/N] [-v|--verbose]
                                                     boot scenarios in VMs and write PASS/FAIL reports
                                                     (-v: every console line on stderr as it arrives)
  fruix validate --matrix FILE [--project NAME]... [--shard I/N] [--retries N] [--list] [--keep] [--report-dir D]
                                                     run a matrix of hypervisors x scenarios (passed/flaky/failed/skipped)
  fruix report sign-off RUN_DIR... --output FILE.md  one Markdown + HTML sign-off document from run directories
  fruix store verify                                 re-hash every store item
  fruix store gc [--dry-run]                         delete items no GC root reaches

common options:
  --store DIR    the directory holding store items (default: FRUIX_STORE, /frx/store, or per-user)
  --json         print one JSON object instead of key=value lines
  sizes          bytes, or a number with k, m, g or t: 512m, 6g, 10G
  --quiet        no progress on stderr
  --version, --help`;

function parseOptions(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new FruixError(`${(error as Error).message.split("\n")[0]} (see 'fruix --help')`, { exitCode: 2 });
  }
}

function printResult(result: Record<string, string | number>, json: boolean): void {
  if (json) process.stdout.write(JSON.stringify(result) + "\n");
  else for (const [key, value] of Object.entries(result)) process.stdout.write(`${key}=${value}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv);
  if (values.version) {
    process.stdout.write(`fruix ${fruixVersion}\n`);
    return 0;
  }
  if (values.help || positionals.length === 0) {
    process.stdout.write(USAGE + "\n");
    return values.help ? 0 : 2;
  }
  // Two-word commands (`system build`) first, then one-word ones (`validate`).
  const words = commands[positionals.slice(0, 2).join(" ")] ? 2 : 1;
  const name = positionals.slice(0, words).join(" ");
  const command = commands[name];
  if (!command) throw new FruixError(`unknown command '${positionals.slice(0, 2).join(" ")}' (see 'fruix --help')`, { exitCode: 2 });
  // What a SIGKILLed run left in TMPDIR goes first (its makers are gone).
  await sweepTemporaries();
  const context: CommandContext = { args: positionals.slice(words), options: values };
  // A command may set exit_code (validate: 1 when a scenario failed); it is not printed.
  const { exit_code: exitCode, ...result } = await command(context);
  printResult(result, values.json ?? false);
  return typeof exitCode === "number" ? exitCode : 0;
}

function report(error: unknown): number {
  if (error instanceof DeclarationError) {
    process.stderr.write(`${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof FruixError) {
    process.stderr.write(`fruix: ${error.message}\n`);
    return error.exitCode;
  }
  if (process.env.FRUIX_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? error}\n`);
  else process.stderr.write(`fruix: internal error: ${(error as Error)?.message ?? error} (FRUIX_DEBUG=1 shows the trace)\n`);
  return 70;
}

handleInterrupts();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.exitCode = report(error);
  },
);
