// The fruix(1) man page from the command table (pure). `npm run build` writes
// it to dist/man/fruix.1 (man-page.ts), which package.json's "man" names.
import { optionText, optionUsage } from "./help.js";
import { COMMANDS, commandSynopsis, ENVIRONMENT, GROUPS, type CommandSpec, optionsOf, TOP_OPTIONS } from "./table.js";

/** Text made safe for roff: backslashes, hyphens that are minus signs, and control characters at line starts. */
export function roff(text: string): string {
  return text
    .replace(/\\/g, "\\e")
    .replace(/-/g, "\\-")
    .split("\n")
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join("\n");
}

function bold(text: string): string {
  return `\\fB${roff(text)}\\fR`;
}

function commandSection(command: CommandSpec): string[] {
  const required = (command.required ?? []).map((name) => ` ${optionUsage(name)}`).join("");
  return [
    `.SS ${roff(`fruix ${commandSynopsis(command)}${required}`)}`,
    roff(`${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}. ${command.description}`),
    ...optionsOf(command).flatMap((name) => [".TP", bold(optionUsage(name)), roff(optionText(name, false))]),
    ".PP",
    `Example${command.examples.length > 1 ? "s" : ""}:`,
    ".RS",
    ...command.examples.flatMap((e) => [".nf", roff(e), ".fi"]),
    ".RE",
  ];
}

export function manPage(version: string): string {
  return [
    `.TH FRUIX 1 "" "fruix ${roff(version)}" "Fruix manual"`,
    ".SH NAME",
    "fruix \\- declarative, content\\-addressed system deployment, validated by booting virtual machines",
    ".SH SYNOPSIS",
    ...COMMANDS.flatMap((c) => [`${bold(`fruix ${c.words.join(" ")}`)}${c.arguments.length > 0 ? ` ${roff(commandSynopsis(c).slice(c.words.join(" ").length + 1))}` : ""} [\\fIOPTION\\fR...]`, ".br"]),
    `${bold("fruix")} [${bold("--help")}] [${bold("--version")}]`,
    ".SH DESCRIPTION",
    roff(
      "Fruix reads an operating system declared in a Scheme file, builds it into an immutable, content-addressed system closure in the store, materializes disk images, installs and installers from it, and validates every phase by booting real virtual machines. Results go to standard output as key=value lines (with --json, one JSON object); progress and logs go to standard error.",
    ),
    ".PP",
    roff(`Commands come in groups: ${GROUPS.map((g) => `${g.word} (${g.summary})`).join("; ")}. 'fruix GROUP' alone lists a group's commands; 'fruix COMMAND --help' shows a command's options.`),
    ".SH OPTIONS",
    ...TOP_OPTIONS.flatMap((name) => [".TP", bold(optionUsage(name)), roff(optionText(name, false))]),
    ".SH COMMANDS",
    ...COMMANDS.flatMap(commandSection),
    ".SH ENVIRONMENT",
    ...ENVIRONMENT.flatMap(([name, text]) => [".TP", bold(name), roff(text)]),
    ".SH EXIT STATUS",
    roff("0 on success; 1 when the work failed (a scenario failed, a store item is damaged); 2 for a command line or declaration Fruix refuses; 130 when interrupted; 70 for an internal error."),
    ".SH SEE ALSO",
    roff("The documentation in docs/ of the Fruix source: workflow.md, declarations.md, store.md, validation.md."),
    "",
  ].join("\n");
}
