// Shell completion scripts from the command table (pure): `fruix completion
// bash|zsh` prints one. Both scripts work alike: skip the values of options
// that take one, find the command in the remaining words, then complete an
// option's value, the command's options, or its next argument.
import {
  type ArgumentSpec,
  COMMANDS,
  commandName,
  commandsOfGroup,
  type Completion,
  GROUPS,
  type OptionName,
  OPTIONS,
  type OptionSpec,
  optionsOf,
  type SHELLS,
  TOP_OPTIONS,
} from "./table.js";

export type Shell = (typeof SHELLS)[number];

/** How each shell says the few things the scripts do. */
interface Dialect {
  /** Offer these words (space-separated, shell-quoted where needed). */
  words(list: string): string;
  files: string;
  directories: string;
  /** The i-th word before the cursor that is not an option (from 0). */
  position(i: number | string): string;
  count: string;
  /** The command the operator typed, to ask it for scenario ids. */
  self: string;
}

const bash: Dialect = {
  words: (list) => `COMPREPLY=($(compgen -W "${list}" -- "$cur"))`,
  files: `compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))`,
  directories: `compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur"))`,
  position: (i) => `\${pos[${i}]-}`,
  count: "${#pos[@]}",
  self: "${COMP_WORDS[0]}",
};

const zsh: Dialect = {
  // A command's output splits at newlines, a variable at spaces, a list is written out.
  words: (list) => (list.startsWith("$(") ? `compadd -- \${(f)"${list}"}` : list.startsWith("$") ? `compadd -- \${=${list.slice(1)}}` : `compadd -- ${list}`),
  files: "_files",
  directories: "_files -/",
  position: (i) => `\${pos[${typeof i === "number" ? i + 1 : `${i}+1`}]-}`,
  count: "${#pos}",
  self: "${words[1]}",
};

const TOP_WORDS = [...GROUPS.map((g) => g.word), ...COMMANDS.filter((c) => c.words.length === 1).map((c) => c.words[0]!)];

function longOptions(names: readonly OptionName[]): string {
  return names.map((n) => `--${n}`).join(" ");
}

function valueOptionPattern(): string {
  return Object.entries(OPTIONS)
    .filter(([, spec]: [string, OptionSpec]) => spec.kind === "value")
    .flatMap(([name, spec]: [string, OptionSpec]) => [`--${name}`, ...(spec.short ? [`-${spec.short}`] : [])])
    .join("|");
}

function completeAction(d: Dialect, complete: Completion | undefined, choices: readonly string[] | undefined): string {
  if (choices) return d.words(choices.join(" "));
  switch (complete) {
    case "file":
      return d.files;
    case "directory":
      return d.directories;
    case "scenario":
      return d.words(`$("${d.self}" validate --list 2>/dev/null | cut -f1)`);
    case "command": {
      // `fruix help system <TAB>`: the group's commands; `fruix help <TAB>`: the top words.
      const groups = GROUPS.map((g) => `${g.word}) ${d.words(commandsOfGroup(g.word).map((c) => c.words[1]).join(" "))} ;;`).join(" ");
      return `if [ "$k" -eq 0 ]; then ${d.words(TOP_WORDS.join(" "))}; elif [ "$k" -eq 1 ]; then case ${d.position(1)} in ${groups} esac; fi`;
    }
    default:
      return ":";
  }
}

function valueBranches(d: Dialect): string[] {
  return Object.entries(OPTIONS)
    .filter(([, spec]: [string, OptionSpec]) => spec.kind === "value")
    .map(([name, spec]: [string, OptionSpec]) => {
      const value = spec as Extract<OptionSpec, { kind: "value" }>;
      return `    --${name}) ${completeAction(d, value.complete, value.choices)}; return ;;`;
    });
}

function argumentBranches(d: Dialect): string[] {
  return COMMANDS.flatMap((command) => {
    const name = commandName(command);
    const branch = (pattern: string, arg: ArgumentSpec) => `    "${name}:"${pattern}) ${completeAction(d, arg.complete, arg.choices)} ;;`;
    return command.arguments.flatMap((arg, i) => [branch(String(i), arg), ...(arg.repeats ? [branch("*", arg)] : [])]);
  });
}

function body(d: Dialect, first: number): string {
  const groupCases = GROUPS.map((g) => `    1:${g.word}) ${d.words(commandsOfGroup(g.word).map((c) => c.words[1]).join(" "))}; return ;;`);
  const groupWords = GROUPS.map((g) => g.word).join("|");
  return [
    `  local cur=$CUR prev=$PREV`,
    `  local i w skip=0 cmd="" opts="" k=0`,
    `  local -a pos`,
    `  pos=()`,
    `  for ((i = ${first}; i < $CWORD; i++)); do`,
    `    w=$WORD_I`,
    `    if [ "$skip" -eq 1 ]; then skip=0; continue; fi`,
    `    case $w in`,
    `      --*=*) ;;`,
    `      ${valueOptionPattern()}) skip=1 ;;`,
    `      -*) ;;`,
    `      *) pos+=("$w") ;;`,
    `    esac`,
    `  done`,
    `  case $prev in`,
    ...valueBranches(d),
    `  esac`,
    `  case ${d.count}:${d.position(0)} in`,
    `    0:*) if [[ $cur == -* ]]; then ${d.words(longOptions(TOP_OPTIONS))}; else ${d.words(TOP_WORDS.join(" "))}; fi; return ;;`,
    ...groupCases,
    `  esac`,
    `  case ${d.position(0)} in`,
    `    ${groupWords}) cmd="${d.position(0)} ${d.position(1)}"; k=$((${d.count} - 2)) ;;`,
    `    *) cmd=${d.position(0)}; k=$((${d.count} - 1)) ;;`,
    `  esac`,
    `  case $cmd in`,
    ...COMMANDS.map((c) => `    "${commandName(c)}") opts="${longOptions(optionsOf(c))}" ;;`),
    `    *) return ;;`,
    `  esac`,
    `  if [[ $cur == -* ]]; then ${d.words("$opts")}; return; fi`,
    `  case "$cmd:$k" in`,
    ...argumentBranches(d),
    `  esac`,
  ].join("\n");
}

export function completionScript(shell: Shell): string {
  if (shell === "bash") {
    const text = body(bash, 1)
      .replace("$CUR", "${COMP_WORDS[COMP_CWORD]}")
      .replace("$PREV", "${COMP_WORDS[COMP_CWORD-1]}")
      .replace("$CWORD", "COMP_CWORD")
      .replace("$WORD_I", "${COMP_WORDS[i]}");
    return [
      "# bash completion for fruix, made from its command table by `fruix completion bash`.",
      "# Load it with: source <(fruix completion bash)",
      "_fruix() {",
      "  COMPREPLY=()",
      text,
      "}",
      "complete -F _fruix fruix",
      "",
    ].join("\n");
  }
  const text = body(zsh, 2)
    .replace("$CUR", "${words[CURRENT]}")
    .replace("$PREV", "${words[CURRENT-1]}")
    .replace("$CWORD", "CURRENT")
    .replace("$WORD_I", "${words[i]}");
  return [
    "#compdef fruix",
    "# zsh completion for fruix, made from its command table by `fruix completion zsh`.",
    "# Put it in a directory of $fpath as _fruix, or load it with: source <(fruix completion zsh)",
    "_fruix() {",
    text,
    "}",
    'if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then _fruix "$@"; else compdef _fruix fruix; fi',
    "",
  ].join("\n");
}
