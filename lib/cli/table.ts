// The `fruix` command table: every command, its arguments, the options it
// takes (with what each accepts and its default) and an example. The one
// source the parser, `--help`, `fruix help`, shell completion and the man page
// are made from (pure data; parse.ts, help.ts, completion.ts, man.ts read it).
import { HYPERVISOR_NAMES } from "../../hypervisors/names.js";
import { parseSize } from "../disk/size.js";
import { FruixError } from "../errors.js";
import { ACCELS, parseRetries, parseShard } from "../validate/matrix.js";
import { defaultJobs, parseJobs } from "../validate/jobs.js";
import { OPTIMIZATIONS } from "../native-build/result.js";
import { checkInstallTargetDevice, parseForward } from "./args.js";

/** What the shell completes for a value or an argument ("scenario": the ids `fruix validate --list` prints). */
export type Completion = "file" | "directory" | "scenario" | "command";

/** An option that is present or not: `--json`. */
export interface FlagOption {
  readonly kind: "flag";
  readonly short?: string;
  readonly description: string;
}

/** An option with a value: `--store DIR`. */
export interface ValueOption {
  readonly kind: "value";
  /** The value's name in synopses: DIR, S, N. */
  readonly metavar: string;
  readonly short?: string;
  readonly description: string;
  /** What happens without the option, in words (help and man page). */
  readonly default?: string;
  /** This machine's figure for the default, for `--help` only: the man page is built once and read on other machines. */
  readonly defaultHere?: () => string;
  /** The only values accepted; anything else is refused, with a suggestion. */
  readonly choices?: readonly string[];
  /** With choices: "unknown <noun> 'x' (known: ...)" instead of "--opt must be one of ...". */
  readonly noun?: string;
  /** Throws a one-line FruixError naming the option when the value is unacceptable. */
  readonly check?: (value: string, option: string) => void;
  /** Given more than once, every value counts (otherwise the last one does). */
  readonly multiple?: boolean;
  readonly complete?: Completion;
}

export type OptionSpec = FlagOption | ValueOption;

function positiveNumber(value: string, option: string): void {
  if (!/^\d+(\.\d+)?$/.test(value) || !(Number(value) > 0)) {
    throw new FruixError(`${option} needs a positive number (such as 1 or 2.5), not '${value}'`, { exitCode: 2 });
  }
}

/** Every option of every command. A name means the same thing, and takes the same value, wherever it is used. */
export const OPTIONS = {
  help: { kind: "flag", short: "h", description: "show this help and exit" },
  version: { kind: "flag", description: "print the version (and, in a git checkout, the commit) and exit" },
  json: { kind: "flag", description: "print one JSON object instead of key=value lines" },
  quiet: { kind: "flag", description: "no progress on stderr" },
  verbose: { kind: "flag", short: "v", description: "every console line on stderr as it arrives" },
  system: {
    kind: "value",
    metavar: "NAME",
    description: "the operating-system binding of FILE to use",
    default: "the only one FILE binds",
  },
  store: {
    kind: "value",
    metavar: "DIR",
    complete: "directory",
    description: "the directory holding the store items (the host's /frx/store)",
    default: "$FRUIX_STORE, else /frx/store when writable, else ~/.local/share/fruix/store",
  },
  "dry-run": { kind: "flag", description: "say what would be done (built, downloaded, written or deleted); do none of it" },
  "root-size": {
    kind: "value",
    metavar: "S",
    check: (value, option) => void parseSize(value, option),
    description: "size of the root file system: bytes, or a number with k, m, g or t (512m, 6g)",
    default: "what the closure needs, with room to spare; on install, the rest of the disk",
  },
  "disk-capacity": {
    kind: "value",
    metavar: "S",
    check: (value, option) => void parseSize(value, option),
    description: "size of a raw-file target (refused for a block device)",
    default: "an existing file keeps its size; a new one gets the image's default size",
  },
  target: {
    kind: "value",
    metavar: "PATH|/dev/X",
    complete: "file",
    description: "the raw disk image file or the block device to install onto",
  },
  "install-target-device": {
    kind: "value",
    metavar: "DEV",
    check: (value, option) => void checkInstallTargetDevice(value, option),
    description: "the disk the installer writes to, as the machine it boots on names it (/dev/vdb)",
  },
  force: { kind: "flag", description: "overwrite a target that holds partitions or a file system (never a mounted one)" },
  list: { kind: "flag", description: "list what would run (the scenarios, or a matrix's cells) and run nothing" },
  grep: { kind: "value", metavar: "RE", description: "only the scenarios whose id or title matches the regular expression RE" },
  hypervisor: {
    kind: "value",
    metavar: "NAME",
    choices: HYPERVISOR_NAMES,
    noun: "hypervisor",
    description: "the hypervisor adapter that runs the machines",
    default: "qemu",
  },
  accel: { kind: "value", metavar: "A", choices: ACCELS, description: "QEMU acceleration", default: "auto: KVM when usable, else TCG, said loudly" },
  "timeout-scale": { kind: "value", metavar: "N", check: positiveNumber, description: "multiply every boot and step timeout by N", default: "1" },
  keep: { kind: "flag", description: "keep a failed attempt's machines' files to look at" },
  "report-dir": {
    kind: "value",
    metavar: "D",
    complete: "directory",
    description: "write the run's reports here",
    default: "reports/<run-id>, with reports/latest pointing at it",
  },
  declaration: {
    kind: "value",
    metavar: "FILE",
    complete: "file",
    description: "the declaration the scenarios build and boot",
    default: "examples/minimal.scm, or the matrix file's",
  },
  matrix: { kind: "value", metavar: "FILE", complete: "file", description: "run the hypervisors x scenarios of a matrix file (docs/validation.md)" },
  project: { kind: "value", metavar: "NAME", multiple: true, description: "only this project of the --matrix file", default: "every project" },
  shard: { kind: "value", metavar: "I/N", check: (value) => void parseShard(value), description: "run only shard I of N of the cells" },
  retries: {
    kind: "value",
    metavar: "N",
    check: (value) => void parseRetries(value),
    description: "run a failed cell up to N more times (a pass on a retry is FLAKY)",
    default: "0, or the matrix file's",
  },
  jobs: {
    kind: "value",
    metavar: "N",
    check: (value, option) => void parseJobs(value, option),
    description: "run up to N scenarios (or matrix cells) at once, each with its own machines; builds stay one at a time",
    default: "one per core, at most one per 1.5 GiB of memory",
    defaultHere: () => `${defaultJobs()} on this machine`,
  },
  "debug-on-failure": {
    kind: "flag",
    description: "keep a failed scenario's machines running, print how to attach to and end each, and wait until they are ended",
  },
  to: { kind: "value", metavar: "ssh://[USER@]HOST[:PORT]", description: "the Fruix machine to send to" },
  forward: {
    kind: "value",
    metavar: "HOST:GUEST",
    multiple: true,
    check: (value, option) => void parseForward(value, option),
    description: "forward TCP port HOST on 127.0.0.1 to port GUEST of the VM (again for more ports)",
  },
  on: { kind: "value", metavar: "ssh://HOST", description: "the Fruix machine whose generations to act on, over SSH: ssh://[USER@]HOST[:PORT]" },
  identity: {
    kind: "value",
    metavar: "KEY",
    complete: "file",
    description: "the SSH private key to log in with",
    default: "~/.ssh/id_ed25519 (and the other usual names), else the ssh-agent",
  },
  "known-hosts": { kind: "value", metavar: "FILE", complete: "file", description: "the known_hosts file pinning host keys", default: "~/.ssh/known_hosts" },
  trial: { kind: "flag", description: "stage the new generation on trial: it becomes current only if its health checks pass at its first boot, else the machine returns to the old one by itself" },
  "accept-new-host-key": { kind: "flag", description: "record the key of a host not yet in known_hosts (a changed key is refused regardless)" },
  "build-jobs": {
    kind: "value",
    metavar: "N",
    check: (value, option) => void parseJobs(value, option),
    description: "make -jN for the build inside the guest",
    default: "the guest's CPU count",
  },
  optimization: {
    kind: "value",
    metavar: "O",
    choices: OPTIMIZATIONS,
    description: "the build's optimization: default (the configuration's own flags) or none (-O0; linux-busybox only: a quicker build, recorded in the result)",
    default: "default",
  },
  "result-dir": {
    kind: "value",
    metavar: "DIR",
    complete: "directory",
    description: "copy the guest's result root to DIR/<run-id>",
    default: "./native-builds",
  },
  output: { kind: "value", metavar: "FILE.md", complete: "file", description: "the Markdown document to write (the HTML one goes beside it)" },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

type ValueOf<S> = S extends { kind: "flag" } ? boolean : S extends { multiple: true } ? string[] : string;

/** The options a command is given, as the table types them: flags are booleans, values strings (checked already). */
export type Options = { -readonly [K in OptionName]?: ValueOf<(typeof OPTIONS)[K]> };

/** A positional argument: FILE, DIR, SCENARIO... */
export interface ArgumentSpec {
  readonly name: string;
  readonly optional?: boolean;
  /** Any number of them (at least one unless optional). */
  readonly repeats?: boolean;
  readonly complete?: Completion;
  /** Words the shell completes for it (completion's shells, help's topics). */
  readonly choices?: readonly string[];
}

export interface CommandSpec {
  /** `["system", "build"]`: what is typed after `fruix`. */
  readonly words: readonly string[];
  /** One line, lower case, no full stop: the listings and the man page's NAME. */
  readonly summary: string;
  /** What the command does and prints, a few sentences. */
  readonly description: string;
  readonly arguments: readonly ArgumentSpec[];
  readonly options: readonly OptionName[];
  /** Options the command cannot work without (the synopsis shows them unbracketed; the command checks them). */
  readonly required?: readonly OptionName[];
  readonly examples: readonly string[];
}

/** A word that only groups commands: `fruix system` alone lists them. */
export interface GroupSpec {
  readonly word: string;
  readonly summary: string;
}

const OUTPUT = ["json", "quiet"] as const satisfies readonly OptionName[];
const BUILD = ["system", "store", ...OUTPUT] as const satisfies readonly OptionName[];
const SSH = ["to", "identity", "known-hosts", "accept-new-host-key"] as const satisfies readonly OptionName[];
const ON = ["on", "identity", "known-hosts", "accept-new-host-key", ...OUTPUT] as const satisfies readonly OptionName[];
const ON_NOTE = "Runs the machine's own helper (/usr/local/bin/fruix) over SSH, with pinned host keys as 'fruix system copy'.";
const FILE: ArgumentSpec = { name: "FILE", complete: "file" };

export const GROUPS: readonly GroupSpec[] = [
  { word: "system", summary: "build, materialize, install and deploy a declared system" },
  { word: "store", summary: "check and clean the store" },
  { word: "report", summary: "documents made from validation runs" },
  { word: "vm", summary: "machines validation keeps running for an operator" },
  { word: "native-build", summary: "build the base inside a Fruix guest and promote the result into the store" },
];

export const SHELLS = ["bash", "zsh"] as const;

export const COMMANDS: readonly CommandSpec[] = [
  {
    words: ["system", "build"],
    summary: "build the system closure",
    description: "Reads FILE, builds the operating system it declares into the store and prints closure_path=. The newest build of each host name is a GC root.",
    arguments: [FILE],
    options: [...BUILD, "dry-run"],
    examples: ["fruix system build examples/minimal.scm", "fruix system build examples/minimal.scm --dry-run"],
  },
  {
    words: ["system", "rootfs"],
    summary: "materialize a root file system tree",
    description: "Builds the system and writes its root file system tree into DIR. Prints rootfs= and closure_path=.",
    arguments: [FILE, { name: "DIR", complete: "directory" }],
    options: BUILD,
    examples: ["fruix system rootfs examples/minimal.scm ./rootfs"],
  },
  {
    words: ["system", "image"],
    summary: "a bootable GPT/UEFI disk image",
    description: "Builds the system and a bootable GPT/UEFI raw disk image of it in the store. Prints disk_image= (the store path), disk_image_file= (where it is on this host) and closure_path=.",
    arguments: [FILE],
    options: [...BUILD, "root-size", "dry-run"],
    examples: ["fruix system image examples/minimal.scm --root-size 1g"],
  },
  {
    words: ["system", "install"],
    summary: "install onto a raw file or a block device",
    description: "Builds the system and installs it onto --target: a raw disk image file (made, or reused when it holds nothing) or a block device. A target holding data is refused unless --force; a mounted one always is. Prints target=, target_kind=, disk_capacity=, install_metadata_path= and closure_path=.",
    arguments: [FILE],
    options: [...BUILD, "target", "disk-capacity", "root-size", "force", "dry-run"],
    required: ["target"],
    examples: ["fruix system install examples/minimal.scm --target disk.img --disk-capacity 1g"],
  },
  {
    words: ["system", "installer"],
    summary: "a disk image that installs the system onto DEV, unattended",
    description: "Builds the system and an installer disk image that, booted, installs it onto --install-target-device and powers off. Prints installer_disk_image=, installer_disk_image_file=, root_image=, install_target_device=, installer_closure_path= and closure_path=.",
    arguments: [FILE],
    options: [...BUILD, "install-target-device", "root-size", "dry-run"],
    required: ["install-target-device"],
    examples: ["fruix system installer examples/minimal.scm --install-target-device /dev/vdb"],
  },
  {
    words: ["system", "installer-iso"],
    summary: "the same installer as a UEFI-bootable ISO",
    description: "As 'fruix system installer', on a UEFI-bootable ISO 9660 image. Prints iso_image=, iso_image_file=, boot_efi_image=, root_image=, install_target_device=, installer_closure_path= and closure_path=.",
    arguments: [FILE],
    options: [...BUILD, "install-target-device", "root-size", "dry-run"],
    required: ["install-target-device"],
    examples: ["fruix system installer-iso examples/minimal.scm --install-target-device /dev/vda"],
  },
  {
    words: ["system", "vm"],
    summary: "boot the system in a throw-away QEMU VM on this terminal",
    description:
      "Builds the system's disk image and boots it in QEMU on a copy-on-write overlay, the image untouched. The VM's serial console is a root shell (in place of a getty there). On a terminal, it is attached in raw mode: Ctrl-] leaves and stops the VM. Without a terminal the console streams to stdout. With --forward, the VM gets QEMU's user network (and a DHCP client on eth0 when the declaration has none). Nothing is left behind when it ends, the guest powers off, or on Ctrl-C without a terminal.",
    arguments: [FILE],
    options: ["system", "store", "quiet", "forward", "accel", "root-size"],
    examples: ["fruix system vm examples/minimal.scm --forward 8080:8080"],
  },
  {
    words: ["system", "copy"],
    summary: "send a closure's missing store items to a Fruix machine",
    description: "Sends the store items of CLOSURE the machine at --to lacks, over SSH with pinned host keys. Prints closure_path=, destination=, items=, items_sent= and bytes_sent=.",
    arguments: [{ name: "CLOSURE" }],
    options: ["store", ...OUTPUT, ...SSH],
    required: ["to"],
    examples: ["fruix system copy /frx/store/<hash>-fruix-system-web --to ssh://root@web:22"],
  },
  {
    words: ["system", "reconfigure"],
    summary: "build, copy and switch a machine to the system",
    description: "Builds FILE, copies the closure to the machine at --to and runs 'fruix system switch' there: the new generation takes effect at its next reboot. With --trial, 'fruix system switch --trial': it boots once on trial (docs/generations.md).",
    arguments: [FILE],
    options: [...BUILD, ...SSH, "trial"],
    required: ["to"],
    examples: ["fruix system reconfigure web.scm --to ssh://root@web", "fruix system reconfigure web.scm --to ssh://root@web --trial"],
  },
  {
    words: ["system", "status"],
    summary: "a machine's booted, current and rollback generations",
    description: `${ON_NOTE} Prints destination=, then booted_, current_ and rollback_generation= (each with its _closure= and _created=, or =none).`,
    arguments: [],
    options: ON,
    required: ["on"],
    examples: ["fruix system status --on ssh://root@web"],
  },
  {
    words: ["system", "list-generations"],
    summary: "list a machine's generations",
    description: `${ON_NOTE} Prints one line per generation: its number, creation date, closure and roles (current, rollback, booted), tab-separated; PATTERN (N, N,M, N..M, N.., ..M, or an age: 10d, 2w, 1m) selects some. --json: {"destination", "generations": [{number, created, closure, roles}]}.`,
    arguments: [{ name: "PATTERN", optional: true }],
    options: ON,
    required: ["on"],
    examples: ["fruix system list-generations --on ssh://root@web", "fruix system list-generations 2.. --on ssh://root@web --json"],
  },
  {
    words: ["system", "rollback"],
    summary: "make a machine's rollback generation the boot default",
    description: `${ON_NOTE} The rollback generation becomes current (the boot default, at the next reboot) and the current one the rollback. Prints destination=, current_generation=, rollback_generation=, closure= and reboot_required=.`,
    arguments: [],
    options: ON,
    required: ["on"],
    examples: ["fruix system rollback --on ssh://root@web"],
  },
  {
    words: ["system", "switch-generation"],
    summary: "make generation N a machine's boot default",
    description: `${ON_NOTE} Generation N becomes current (the boot default, at the next reboot) and the current one the rollback. Prints as 'fruix system rollback'.`,
    arguments: [{ name: "N" }],
    options: ON,
    required: ["on"],
    examples: ["fruix system switch-generation 3 --on ssh://root@web"],
  },
  {
    words: ["system", "delete-generations"],
    summary: "delete a machine's old generations",
    description: `${ON_NOTE} Deletes the generations PATTERN selects (as list-generations), keeping the booted, current and rollback ones and saying so. Prints destination=, deleted_generations= and kept_generations=.`,
    arguments: [{ name: "PATTERN" }],
    options: ON,
    required: ["on"],
    examples: ["fruix system delete-generations ..5 --on ssh://root@web", "fruix system delete-generations 1m --on ssh://root@web"],
  },
  {
    words: ["native-build", "run"],
    summary: "build the base inside a development-enabled guest over SSH and copy the result back",
    description:
      "Connects to the machine at --to (pinned host keys, as 'fruix system copy'), which runs FILE's system with a development profile; recovers the source store from its /run/current-system/metadata/store-layout.scm; runs the family's build sequence there with make -jN (linux-busybox: BusyBox from its Debian source; freebsd: buildworld, buildkernel, installworld, distribution, installkernel into DESTDIR with DB_FROM_SRC=yes); the guest records the result under /var/lib/fruix/native-builds/<run-id> (and latest), heavy work under /var/tmp/fruix-native-builds/<run-id>. The result root is copied back, checked, and only then named DIR/<run-id>. Prints run_id=, result_root=, guest_result_root=, source_store=, closure_path=, artifacts= and bytes_copied=.",
    arguments: [FILE],
    options: ["system", "build-jobs", "optimization", "result-dir", ...SSH, ...OUTPUT],
    required: ["to"],
    examples: ["fruix native-build run dev.scm --to ssh://root@builder --build-jobs 2"],
  },
  {
    words: ["native-build", "promote"],
    summary: "turn a copied native-build result root into store items",
    description:
      "Checks RESULT_ROOT (its result.scm, the family's artifact kinds and required files, every file's sha256 against the listings) and only then adds one store item per artifact kind (...-fruix-native-world-, -kernel-, -headers-, -bootloader-<run-id>) and a ...-fruix-native-build-result-<run-id> bundle referencing them, each with the build's metadata in native-build.scm; the bundle becomes a GC root. A result root that fails a check is refused with one line and adds nothing. Prints run_id=, family=, one <kind>= per artifact and result_bundle=.",
    arguments: [{ name: "RESULT_ROOT", complete: "directory" }],
    options: ["store", ...OUTPUT],
    examples: ["fruix native-build promote native-builds/20261206T221503Z-1a2b3c"],
  },
  {
    words: ["validate"],
    summary: "boot scenarios in VMs and write PASS/FAIL reports",
    description:
      "Builds the declaration, boots each SCENARIO (all of them without one) on the hypervisor and writes a Markdown, JSON and JUnit report per run under reports/. Prints run_id=, report_dir=, <scenario>=PASS|FAIL and result=; exits 1 when a scenario failed. With --matrix, runs the hypervisors x scenarios a matrix file names (--retries and --shard make any run a matrix run). --list shows what would run.",
    arguments: [{ name: "SCENARIO", optional: true, repeats: true, complete: "scenario" }],
    options: [
      "list", "grep", "hypervisor", "accel", "timeout-scale", "keep", "report-dir", "declaration", "system",
      "install-target-device", "matrix", "project", "retries", "shard", "jobs", "debug-on-failure", "verbose", "store", ...OUTPUT,
    ],
    examples: ["fruix validate image-boot direct-install", "fruix validate --list --grep install --hypervisor xcp-ng", "fruix validate --matrix matrix/nightly.json --shard 1/3 --retries 1"],
  },
  {
    words: ["report", "sign-off"],
    summary: "one Markdown + HTML sign-off document from run directories",
    description: "Reads one or more run directories (plain or matrix runs) and writes one Markdown sign-off document to --output and an HTML one beside it. Prints sign_off=, sign_off_html=, the counts and verdict=.",
    arguments: [{ name: "RUN_DIR", repeats: true, complete: "directory" }],
    options: [...OUTPUT, "output"],
    required: ["output"],
    examples: ["fruix report sign-off reports/latest --output sign-off.md"],
  },
  {
    words: ["vm", "attach"],
    summary: "attach this terminal to a machine --debug-on-failure kept running",
    description:
      "Attaches this terminal to the serial console of NAME, a machine 'fruix validate --debug-on-failure' kept running (the name it printed: <scenario>-<machine>), as 'fruix system vm' does: raw mode on a terminal, the console streamed otherwise. Ctrl-] leaves and the machine keeps running; ending it is the operator's (the way is printed). One client at a time: a second attach sees nothing until the first leaves. Fails with the held names when NAME is not one.",
    arguments: [{ name: "NAME" }],
    options: ["quiet"],
    examples: ["fruix vm attach image-boot-vm"],
  },
  {
    words: ["store", "verify"],
    summary: "re-hash every store item",
    description: "Re-hashes every item in the store and names each damaged one on stderr. Prints checked= and corrupt=; exits 1 when an item is damaged.",
    arguments: [],
    options: ["store", ...OUTPUT],
    examples: ["fruix store verify"],
  },
  {
    words: ["store", "gc"],
    summary: "delete items no GC root reaches",
    description: "Deletes the store items no GC root reaches. Prints removed=, freed_bytes= and dry_run=; with --dry-run deletes nothing and first names each item it would delete (would_remove=).",
    arguments: [],
    options: ["store", "dry-run", ...OUTPUT],
    examples: ["fruix store gc --dry-run"],
  },
  {
    words: ["help"],
    summary: "show the help of fruix or of a command",
    description: "Without COMMAND, lists the commands; with one, shows its synopsis, options and an example (as 'fruix COMMAND --help').",
    arguments: [{ name: "COMMAND", optional: true, repeats: true, complete: "command" }],
    options: [],
    examples: ["fruix help system build"],
  },
  {
    words: ["version"],
    summary: "print the version and, in a git checkout, the commit",
    description: "Prints version= and, when Fruix runs from a git checkout, commit=.",
    arguments: [],
    options: ["json"],
    examples: ["fruix version --json"],
  },
  {
    words: ["completion"],
    summary: "print a shell completion script",
    description: "Prints the completion script for SHELL: bash or zsh.",
    arguments: [{ name: "SHELL", choices: SHELLS }],
    options: [],
    examples: ["source <(fruix completion bash)", "fruix completion zsh > ~/.zfunc/_fruix"],
  },
];

/** Options every command takes besides its own. */
export const COMMON_OPTIONS: readonly OptionName[] = ["help"];

/** Options `fruix` takes without a command. */
export const TOP_OPTIONS: readonly OptionName[] = ["help", "version"];

/** Environment variables the man page documents. */
export const ENVIRONMENT: ReadonlyArray<readonly [string, string]> = [
  ["FRUIX_STORE", "the store directory when --store is not given"],
  ["FRUIX_HELD_DIR", "where --debug-on-failure records the machines it keeps, for 'fruix vm attach' (default: fruix-held-<uid> in TMPDIR)"],
  ["FRUIX_STATE_DIR", "where the store's metadata, GC roots and locks live (default: var/fruix beside the store)"],
  ["FRUIX_CACHE_DIR", "the download cache (default: $XDG_CACHE_HOME/fruix)"],
  ["FRUIX_XAPI_URL, FRUIX_XAPI_USER, FRUIX_XAPI_PASSWORD", "the XCP-ng pool the xcp-ng adapter uses (docs/xcp-ng.md)"],
  ["FRUIX_DEBUG", "set, an internal error prints its stack trace"],
];

export function commandName(command: CommandSpec): string {
  return command.words.join(" ");
}

/** Every option a command accepts, its own first. */
export function optionsOf(command: CommandSpec): OptionName[] {
  return [...new Set([...command.options, ...COMMON_OPTIONS])];
}

export function findCommand(words: readonly string[]): CommandSpec | undefined {
  return COMMANDS.find((c) => c.words.length === words.length && c.words.every((w, i) => w === words[i]));
}

export function commandsOfGroup(word: string): CommandSpec[] {
  return COMMANDS.filter((c) => c.words.length > 1 && c.words[0] === word);
}

/** `FILE DIR`, `[SCENARIO...]`, `RUN_DIR...`. */
export function argumentsSynopsis(specs: readonly ArgumentSpec[]): string {
  return specs.map((a) => (a.optional ? `[${a.name}${a.repeats ? "..." : ""}]` : `${a.name}${a.repeats ? "..." : ""}`)).join(" ");
}

/** `system build FILE`: the command and its arguments, as synopses show them. */
export function commandSynopsis(command: CommandSpec): string {
  const args = argumentsSynopsis(command.arguments);
  return `${commandName(command)}${args ? ` ${args}` : ""}`;
}
