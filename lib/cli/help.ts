// Help text from the command table (pure): `fruix --help`, `fruix system`,
// `fruix system build --help` and `fruix help ...` all print one of these.
import type { HelpTopic } from "./parse.js";
import {
  type CommandSpec,
  COMMANDS,
  commandsOfGroup,
  commandSynopsis,
  GROUPS,
  type GroupSpec,
  type OptionName,
  OPTIONS,
  type OptionSpec,
  optionsOf,
  TOP_OPTIONS,
} from "./table.js";

const WIDTH = 80;

/** Words wrapped to lines of at most `width` characters, every line after the first then indented by `indent`. */
export function wrap(text: string, width: number, indent = ""): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push((lines.length === 0 ? "" : indent) + line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push((lines.length === 0 ? "" : indent) + line);
  return lines.join("\n");
}

/** `-v, --verbose`, `--store DIR`: an option as it is typed. */
export function optionUsage(name: OptionName): string {
  const spec: OptionSpec = OPTIONS[name];
  const long = spec.kind === "value" ? `--${name} ${spec.metavar}` : `--${name}`;
  return spec.short ? `-${spec.short}, ${long}` : long;
}

/**
 * The option's description with what it accepts and its default; `here`
 * (--help) adds this machine's figure, which the man page, built once, leaves out.
 */
export function optionText(name: OptionName, here = true): string {
  const spec: OptionSpec = OPTIONS[name];
  if (spec.kind === "flag") return spec.description;
  const parts = [spec.description];
  if (spec.choices) parts.push(`(one of: ${spec.choices.join(", ")})`);
  if (spec.multiple) parts.push("(may be given more than once)");
  if (spec.default) parts.push(`(default: ${spec.default}${here && spec.defaultHere ? `; ${spec.defaultHere()}` : ""})`);
  return parts.join(" ");
}

function table(rows: ReadonlyArray<readonly [string, string]>): string {
  const column = Math.min(Math.max(...rows.map(([left]) => left.length)) + 4, 32);
  return rows
    .map(([left, right]) => {
      const indent = " ".repeat(column);
      const first = left.length + 2 < column - 1 ? `  ${left.padEnd(column - 2)}` : `  ${left}\n${indent}`;
      return first + wrap(right, WIDTH - column, indent);
    })
    .join("\n");
}

/** `fruix system install FILE --target PATH|/dev/X [OPTION...]` */
export function usageLine(command: CommandSpec): string {
  const required = (command.required ?? []).map((name) => optionUsage(name));
  const rest = optionsOf(command).some((name) => !(command.required ?? []).includes(name)) ? ["[OPTION...]"] : [];
  return ["usage: fruix", commandSynopsis(command), ...required, ...rest].join(" ");
}

export function commandHelp(command: CommandSpec): string {
  const summary = command.summary[0]!.toUpperCase() + command.summary.slice(1);
  const options = optionsOf(command).map((name) => [optionUsage(name), optionText(name)] as const);
  return [
    usageLine(command),
    "",
    wrap(`${summary}. ${command.description}`, WIDTH),
    "",
    "options:",
    table(options),
    "",
    `example${command.examples.length > 1 ? "s" : ""}:`,
    ...command.examples.map((e) => `  ${e}`),
  ].join("\n");
}

function commandRows(commands: readonly CommandSpec[]): Array<readonly [string, string]> {
  return commands.map((c) => [commandSynopsis(c), c.summary] as const);
}

export function groupHelp(group: GroupSpec): string {
  return [
    `usage: fruix ${group.word} COMMAND [ARGUMENT...] [OPTION...]`,
    "",
    wrap(`${group.summary[0]!.toUpperCase()}${group.summary.slice(1)}.`, WIDTH),
    "",
    "commands:",
    table(commandRows(commandsOfGroup(group.word))),
    "",
    `'fruix ${group.word} COMMAND --help' shows a command's options and an example.`,
  ].join("\n");
}

export function topHelp(): string {
  return [
    "usage: fruix COMMAND [ARGUMENT...] [OPTION...]",
    "",
    "Declare an operating system in a Scheme file, build it into the store, make disk images and installers of it, and validate them by booting virtual machines.",
    "",
    "commands:",
    table(commandRows(COMMANDS)),
    "",
    "options:",
    table(TOP_OPTIONS.map((name) => [optionUsage(name), optionText(name)] as const)),
    "",
    "Results go to stdout as key=value lines (--json: one JSON object), progress to stderr.",
    "'fruix help COMMAND' or 'fruix COMMAND --help' shows a command's options and an example.",
  ]
    .map((line) => (line.startsWith(" ") || line.includes("\n") ? line : wrap(line, WIDTH)))
    .join("\n");
}

export function helpText(topic: HelpTopic): string {
  if (topic.kind === "command") return commandHelp(topic.command);
  if (topic.kind === "group") return groupHelp(topic.group);
  return topHelp();
}

/** Every topic there is help for: fruix itself, each group, each command (tests walk them all). */
export function allHelpTopics(): HelpTopic[] {
  return [{ kind: "top" }, ...GROUPS.map((group) => ({ kind: "group", group }) as const), ...COMMANDS.map((command) => ({ kind: "command", command }) as const)];
}
