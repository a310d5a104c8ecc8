// The command line, read against the command table (pure). Node's parseArgs
// only splits argv into tokens (non-strict: it never throws, and an option's
// value may start with a dash, as in `--retries -1`); every check and every
// message is ours, one line each, so no parser text reaches the operator.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { closestName } from "../declaration/schema.js";
import { FruixError } from "../errors.js";
import {
  argumentsSynopsis,
  type CommandSpec,
  commandName,
  COMMANDS,
  commandSynopsis,
  findCommand,
  GROUPS,
  type GroupSpec,
  type OptionName,
  OPTIONS,
  type Options,
  type OptionSpec,
  optionsOf,
  TOP_OPTIONS,
} from "./table.js";

/** What the command line asks for. */
export type Invocation =
  /** Run a command with its checked arguments and options. */
  | { readonly kind: "run"; readonly command: CommandSpec; readonly args: readonly string[]; readonly options: Options }
  /** `--help` (or `fruix help ...`): the help of fruix, a group or a command, on stdout. */
  | { readonly kind: "help"; readonly topic: HelpTopic }
  /** No command (`fruix`, `fruix system`): the listing on stderr, exit 2. */
  | { readonly kind: "usage"; readonly topic: HelpTopic }
  | { readonly kind: "version" };

export type HelpTopic = { readonly kind: "top" } | { readonly kind: "group"; readonly group: GroupSpec } | { readonly kind: "command"; readonly command: CommandSpec };

type Resolved =
  | { readonly kind: "none" }
  | { readonly kind: "group"; readonly group: GroupSpec }
  | { readonly kind: "command"; readonly command: CommandSpec; readonly args: readonly string[] }
  | { readonly kind: "unknown"; readonly words: readonly string[] };

interface OptionToken {
  /** The table's name (a short option is already its long name), or what was typed. */
  readonly name: string;
  /** As typed: --store, -v. */
  readonly raw: string;
  readonly value: string | undefined;
  readonly inline: boolean;
}

function usageError(message: string): FruixError {
  return new FruixError(message, { exitCode: 2 });
}

const PARSE_CONFIG: ParseArgsConfig["options"] = Object.fromEntries(
  Object.entries(OPTIONS).map(([name, spec]: [string, OptionSpec]) => [
    name,
    { type: spec.kind === "flag" ? "boolean" : "string", ...(spec.short ? { short: spec.short } : {}) },
  ]),
);

function tokenize(argv: readonly string[]): { positionals: string[]; options: OptionToken[] } {
  const { tokens } = parseArgs({ args: [...argv], options: PARSE_CONFIG, strict: false, allowPositionals: true, tokens: true });
  const positionals: string[] = [];
  const options: OptionToken[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") positionals.push(token.value);
    else if (token.kind === "option") options.push({ name: token.name, raw: token.rawName, value: token.value, inline: token.inlineValue ?? false });
  }
  return { positionals, options };
}

/** The command the leading words name: a group's subcommand, a one-word command, a bare group, or none. */
export function resolveCommand(words: readonly string[]): Resolved {
  const [first, second] = words;
  if (first === undefined) return { kind: "none" };
  const group = GROUPS.find((g) => g.word === first);
  if (group) {
    if (second === undefined) return { kind: "group", group };
    const command = findCommand([first, second]);
    return command ? { kind: "command", command, args: words.slice(2) } : { kind: "unknown", words: [first, second] };
  }
  const command = findCommand([first]);
  return command ? { kind: "command", command, args: words.slice(1) } : { kind: "unknown", words: [first, ...(second === undefined ? [] : [second])] };
}

/** The command an unknown one was probably meant to be: a typo (`sytem build`, `system buld`, `valdate`) or a subcommand without its group (`build`). */
export function suggestCommand(words: readonly string[]): string | undefined {
  const names = COMMANDS.map(commandName);
  const [first, second] = words;
  if (first === undefined) return undefined;
  if (GROUPS.some((g) => g.word === first)) return second === undefined ? undefined : closestName(`${first} ${second}`, names);
  if (second !== undefined) {
    const both = closestName(`${first} ${second}`, names);
    if (both) return both;
  }
  const bySubcommand = COMMANDS.find((c) => c.words.length > 1 && c.words.at(-1) === first);
  if (bySubcommand) return commandName(bySubcommand);
  const typo = closestName(first, [...names.filter((n) => !n.includes(" ")), ...GROUPS.map((g) => g.word)]);
  if (typo) return typo;
  const subcommandTypo = closestName(first, COMMANDS.filter((c) => c.words.length > 1).map((c) => c.words.at(-1)!));
  return subcommandTypo === undefined ? undefined : commandName(COMMANDS.find((c) => c.words.at(-1) === subcommandTypo)!);
}

function unknownCommand(words: readonly string[]): FruixError {
  const group = GROUPS.find((g) => g.word === words[0]);
  const typed = group ? words.join(" ") : words[0]!;
  const suggestion = suggestCommand(words);
  const hint = suggestion ? `did you mean 'fruix ${suggestion}'?` : `see 'fruix ${group ? `${group.word} ` : ""}--help'`;
  return usageError(`unknown command '${typed}' (${hint})`);
}

function where(resolved: Resolved): string {
  if (resolved.kind === "command") return `fruix ${commandName(resolved.command)}`;
  if (resolved.kind === "group") return `fruix ${resolved.group.word}`;
  return "fruix";
}

function allowedOptions(resolved: Resolved): readonly OptionName[] {
  if (resolved.kind === "command") return optionsOf(resolved.command);
  if (resolved.kind === "group") return ["help"];
  return TOP_OPTIONS;
}

function isOptionName(name: string): name is OptionName {
  return Object.hasOwn(OPTIONS, name);
}

function unknownOption(token: OptionToken, resolved: Resolved): FruixError {
  const long = token.raw.startsWith("--");
  // The command's own options first; then any, which the command may not take (it says so next).
  const suggestion = long ? (closestName(token.name, allowedOptions(resolved)) ?? closestName(token.name, Object.keys(OPTIONS))) : undefined;
  const hint = suggestion ? `did you mean --${suggestion}?` : `see '${where(resolved)} --help'`;
  return usageError(`unknown option ${token.raw} (${hint})`);
}

/** Checks one option's value against the table; returns it. */
function checkValue(name: OptionName, token: OptionToken): string | true {
  const spec: OptionSpec = OPTIONS[name];
  const option = `--${name}`;
  if (spec.kind === "flag") {
    if (token.inline) throw usageError(`${option} takes no value, not '${token.value}'`);
    return true;
  }
  const value = token.value;
  if (value === undefined) throw usageError(`${option} needs a value: ${option} ${spec.metavar}`);
  if (spec.choices && !spec.choices.includes(value)) {
    const close = closestName(value, spec.choices);
    const hint = close ? ` (did you mean '${close}'?)` : "";
    if (spec.noun) throw usageError(`unknown ${spec.noun} '${value}'${hint} (known: ${spec.choices.join(", ")})`);
    throw usageError(`${option} must be one of ${spec.choices.join(", ")}, not '${value}'${hint}`);
  }
  spec.check?.(value, option);
  return value;
}

function checkArguments(command: CommandSpec, args: readonly string[]): void {
  const specs = command.arguments;
  const min = specs.filter((a) => !a.optional).length;
  const max = specs.some((a) => a.repeats) ? Infinity : specs.length;
  const usage = `fruix ${commandSynopsis(command)}`;
  if (args.length < min) throw usageError(`expected ${argumentsSynopsis(specs.slice(args.length).filter((a) => !a.optional))}: ${usage}`);
  if (args.length > max) throw usageError(`unexpected argument${args.length - max > 1 ? "s" : ""} ${args.slice(max).map((a) => `'${a}'`).join(" ")}: ${usage}`);
  specs.forEach((spec, i) => {
    const value = args[i];
    if (spec.choices && value !== undefined && !spec.choices.includes(value)) {
      const close = closestName(value, spec.choices);
      const hint = close ? ` (did you mean '${close}'?)` : "";
      throw usageError(`${commandName(command)}: unknown ${spec.name.toLowerCase()} '${value}'${hint} (known: ${spec.choices.join(", ")})`);
    }
  });
}

function helpTopic(resolved: Resolved): HelpTopic {
  if (resolved.kind === "command") return { kind: "command", command: resolved.command };
  if (resolved.kind === "group") return { kind: "group", group: resolved.group };
  if (resolved.kind === "unknown") throw unknownCommand(resolved.words);
  return { kind: "top" };
}

/** Reads `fruix`'s argv (without node and the script). Throws a one-line FruixError (exit 2) for anything the table does not allow. */
export function parseCommandLine(argv: readonly string[]): Invocation {
  const { positionals, options: tokens } = tokenize(argv);
  const resolved = resolveCommand(positionals);
  for (const token of tokens) if (!isOptionName(token.name)) throw unknownOption(token, resolved);
  const given = new Set(tokens.map((t) => t.name));
  if (given.has("help")) return { kind: "help", topic: helpTopic(resolved) };
  if (resolved.kind === "unknown") throw unknownCommand(resolved.words);
  const allowed = allowedOptions(resolved);
  for (const token of tokens) {
    if (!allowed.includes(token.name as OptionName)) {
      throw usageError(`'${where(resolved)}' does not take ${token.raw} (see '${where(resolved)} --help')`);
    }
  }
  if (resolved.kind === "none") return given.has("version") ? { kind: "version" } : { kind: "usage", topic: { kind: "top" } };
  if (resolved.kind === "group") return { kind: "usage", topic: { kind: "group", group: resolved.group } };

  const { command, args } = resolved;
  const options: Record<string, string | string[] | boolean> = {};
  for (const token of tokens) {
    const name = token.name as OptionName;
    const value = checkValue(name, token);
    const spec: OptionSpec = OPTIONS[name];
    if (spec.kind === "value" && spec.multiple) options[name] = [...((options[name] as string[] | undefined) ?? []), value as string];
    else options[name] = value;
  }
  checkArguments(command, args);
  if (command.words[0] === "help") return { kind: "help", topic: helpTopic(resolveCommand(args)) };
  return { kind: "run", command, args, options: options as Options };
}

