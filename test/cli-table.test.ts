// The command table and what is made from it, without running the command:
// the parser (options per command, values, suggestions), help, completion
// scripts and the man page. test/cli.test.ts runs the built command.
import { existsSync } from "node:fs";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { commands } from "../lib/cli/commands.js";
import { completionScript } from "../lib/cli/completion.js";
import { allHelpTopics, helpText, wrap } from "../lib/cli/help.js";
import { manPage, roff } from "../lib/cli/man.js";
import { metaCommands } from "../lib/cli/meta.js";
import { parseCommandLine, suggestCommand } from "../lib/cli/parse.js";
import { commandName, COMMANDS, OPTIONS, optionsOf } from "../lib/cli/table.js";
import { packageRoot } from "../lib/paths.js";

/** The one line a refused command line gives (and its exit code). */
function refusal(argv: string[]): string {
  try {
    parseCommandLine(argv);
  } catch (error) {
    expect((error as { exitCode?: number }).exitCode, argv.join(" ")).toBe(2);
    return (error as Error).message;
  }
  throw new Error(`accepted: ${argv.join(" ")}`);
}

describe("the command table", () => {
  it("has an implementation for every command but help, and a command for every implementation", () => {
    const implemented = [...Object.keys(commands), ...Object.keys(metaCommands)].sort();
    expect(implemented).toEqual(COMMANDS.map(commandName).filter((n) => n !== "help").sort());
  });

  it("accepts every example it gives", () => {
    for (const command of COMMANDS) {
      for (const example of command.examples) {
        const argv = example.replace(/^source <\((.*)\)$/, "$1").replace(/ > .*$/, "").split(" ").slice(1);
        const invocation = parseCommandLine(argv);
        expect(invocation.kind === "run" ? invocation.command : invocation.kind === "help" ? COMMANDS.find((c) => c.words[0] === "help") : undefined, example).toBe(command);
      }
    }
  });
});

describe("parsing the command line", () => {
  it("finds the command, its arguments and its options, and an option's value may start with a dash", () => {
    const invocation = parseCommandLine(["--store", "/s", "system", "image", "f.scm", "--root-size=1g", "-h"]);
    expect(invocation).toEqual({ kind: "help", topic: { kind: "command", command: COMMANDS.find((c) => commandName(c) === "system image") } });
    const run = parseCommandLine(["validate", "a", "b", "-v", "--project", "p", "--project", "q", "--grep", "-x", "--matrix", "m"]);
    expect(run.kind === "run" && [commandName(run.command), run.args, run.options]).toEqual([
      "validate",
      ["a", "b"],
      { verbose: true, project: ["p", "q"], grep: "-x", matrix: "m" },
    ]);
  });

  it("refuses an option the command does not take, naming the command", () => {
    expect(refusal(["system", "build", "f.scm", "--root-size", "1g"])).toBe("'fruix system build' does not take --root-size (see 'fruix system build --help')");
    expect(refusal(["store", "verify", "--hypervisor", "qemu"])).toBe("'fruix store verify' does not take --hypervisor (see 'fruix store verify --help')");
    expect(refusal(["--json"])).toBe("'fruix' does not take --json (see 'fruix --help')");
  });

  it("suggests the option meant, or points at the command's help", () => {
    expect(refusal(["store", "verify", "--jsno"])).toBe("unknown option --jsno (did you mean --json?)");
    expect(refusal(["system", "image", "f", "--root-sise", "1g"])).toBe("unknown option --root-sise (did you mean --root-size?)");
    expect(refusal(["store", "gc", "--frobnicate"])).toBe("unknown option --frobnicate (see 'fruix store gc --help')");
    expect(refusal(["store", "gc", "-x"])).toBe("unknown option -x (see 'fruix store gc --help')");
  });

  it("says which value an option needs, negative numbers included", () => {
    expect(refusal(["validate", "--retries", "-1"])).toBe("--retries needs a non-negative integer, at most 10, not '-1'");
    expect(refusal(["validate", "--retries"])).toBe("--retries needs a value: --retries N");
    expect(refusal(["validate", "--timeout-scale", "-2"])).toBe("--timeout-scale needs a positive number (such as 1 or 2.5), not '-2'");
    expect(refusal(["validate", "--accel", "kmv"])).toBe("--accel must be one of auto, kvm, tcg, not 'kmv' (did you mean 'kvm'?)");
    expect(refusal(["validate", "--hypervisor", "vmware", "image-boot"])).toBe("unknown hypervisor 'vmware' (known: qemu, xcp-ng)");
    expect(refusal(["validate", "--hypervisor", "qmeu"])).toBe("unknown hypervisor 'qmeu' (did you mean 'qemu'?) (known: qemu, xcp-ng)");
    expect(refusal(["system", "image", "f", "--root-size", "abc"])).toMatch(/^--root-size: invalid size 'abc'/);
    expect(refusal(["validate", "--shard", "0/2"])).toMatch(/^--shard must be i\/n/);
    expect(refusal(["system", "installer", "f", "--install-target-device", "vdb"])).toBe("--install-target-device must be a device path such as /dev/vdb, not 'vdb'");
    expect(refusal(["store", "gc", "--dry-run=yes"])).toBe("--dry-run takes no value, not 'yes'");
    expect(refusal(["completion", "fish"])).toBe("completion: unknown shell 'fish' (known: bash, zsh)");
  });

  it("checks the number of arguments", () => {
    expect(refusal(["system", "build"])).toBe("expected FILE: fruix system build FILE");
    expect(refusal(["system", "rootfs", "f"])).toBe("expected DIR: fruix system rootfs FILE DIR");
    expect(refusal(["system", "build", "a", "b"])).toBe("unexpected argument 'b': fruix system build FILE");
    expect(refusal(["store", "gc", "x", "y"])).toBe("unexpected arguments 'x' 'y': fruix store gc");
  });

  it("suggests the command meant", () => {
    expect(refusal(["build", "examples/minimal.scm"])).toBe("unknown command 'build' (did you mean 'fruix system build'?)");
    expect(refusal(["sytem", "build", "x"])).toBe("unknown command 'sytem' (did you mean 'fruix system build'?)");
    expect(refusal(["system", "buld", "x"])).toBe("unknown command 'system buld' (did you mean 'fruix system build'?)");
    expect(refusal(["valdate"])).toBe("unknown command 'valdate' (did you mean 'fruix validate'?)");
    expect(refusal(["system", "frobnicate"])).toBe("unknown command 'system frobnicate' (see 'fruix system --help')");
    expect(refusal(["examples/minimal.scm"])).toBe("unknown command 'examples/minimal.scm' (see 'fruix --help')");
    expect(refusal(["help", "sytem"])).toBe("unknown command 'sytem' (did you mean 'fruix system'?)");
    expect(suggestCommand(["gc"])).toBe("store gc");
    expect(suggestCommand(["verfy"])).toBe("store verify");
  });

  it("lists a group's commands when only the group is given, and fruix's without a command", () => {
    const group = parseCommandLine(["system"]);
    expect(group.kind === "usage" && group.topic.kind === "group" && group.topic.group.word).toBe("system");
    expect(parseCommandLine([])).toEqual({ kind: "usage", topic: { kind: "top" } });
    expect(parseCommandLine(["--version"])).toEqual({ kind: "version" });
    expect(parseCommandLine(["help", "store"])).toEqual(parseCommandLine(["store", "--help"]));
  });
});

describe("help", () => {
  it("shows every command's synopsis, each option with what it accepts and its default, and an example, in 80 columns", () => {
    for (const command of COMMANDS) {
      const text = helpText({ kind: "command", command });
      expect(text, commandName(command)).toMatch(new RegExp(`^usage: fruix ${commandName(command)}`));
      for (const name of optionsOf(command)) {
        expect(text, `${commandName(command)} --${name}`).toContain(`--${name}`);
        const spec = OPTIONS[name];
        if ("default" in spec) expect(text.replace(/\s+/g, " "), `${commandName(command)} --${name}`).toContain(`(default: ${spec.default}`);
        if ("choices" in spec) expect(text, `${commandName(command)} --${name}`).toContain(`(one of: ${spec.choices.join(", ")})`);
      }
      for (const example of command.examples) expect(text).toContain(`\n  ${example}`);
    }
    // Examples are commands to copy, never wrapped; everything else fits 80 columns.
    const examples = new Set(COMMANDS.flatMap((c) => c.examples.map((e) => `  ${e}`)));
    for (const topic of allHelpTopics()) {
      for (const line of helpText(topic).split("\n")) if (!examples.has(line)) expect(line.length, line).toBeLessThanOrEqual(80);
    }
  });

  it("lists every command at the top and a group's commands in the group", () => {
    const top = helpText({ kind: "top" });
    for (const command of COMMANDS) expect(top).toContain(`\n  ${commandName(command)}`);
    const store = allHelpTopics().find((t) => t.kind === "group" && t.group.word === "store")!;
    expect(helpText(store)).toMatch(/\n {2}store verify +re-hash every store item\n {2}store gc +delete items no GC root reaches\n/);
    expect(helpText(store)).not.toContain("system build");
  });

  it("wraps words", () => {
    expect(wrap("aa bb cc dd", 5, "  ")).toBe("aa bb\n  cc dd");
  });
});

describe("shell completion", () => {
  async function complete(...words: string[]): Promise<string[]> {
    const script = `${completionScript("bash")}
fruix() { node ${packageRoot}/dist/lib/cli/main.js "$@"; }
COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _fruix; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const result = await execa("bash", ["-c", script], { cwd: packageRoot });
    return result.stdout.split("\n").filter(Boolean);
  }

  it("completes bash command words, subcommands, options, option values and arguments from the table", async () => {
    expect(await complete("fruix", "")).toEqual(["system", "store", "report", "vm", "native-build", "validate", "help", "version", "completion"]);
    expect(await complete("fruix", "system", "inst")).toEqual(["install", "installer", "installer-iso"]);
    expect(await complete("fruix", "--store", "/tmp", "store", "")).toEqual(["verify", "gc"]);
    expect(await complete("fruix", "system", "image", "f", "--r")).toEqual(["--root-size"]);
    expect(await complete("fruix", "validate", "--hypervisor", "")).toEqual(["qemu", "xcp-ng"]);
    expect(await complete("fruix", "completion", "")).toEqual(["bash", "zsh"]);
    expect(await complete("fruix", "help", "report", "")).toEqual(["sign-off"]);
    expect(await complete("fruix", "system", "build", "examples/minim")).toEqual(["examples/minimal.scm"]);
  });

  it("completes scenario ids by asking fruix", async () => {
    expect(await complete("fruix", "validate", "image")).toEqual(["image-boot"]);
  }, 20_000);

  it("writes a zsh function with the same words (#compdef, compadd, _files)", () => {
    const script = completionScript("zsh");
    expect(script.startsWith("#compdef fruix\n")).toBe(true);
    expect(script).toContain("compadd -- build rootfs image install installer installer-iso vm copy reconfigure status list-generations rollback switch-generation delete-generations");
    expect(script).toContain("--hypervisor) compadd -- qemu xcp-ng; return ;;");
    expect(script).toContain(`"system build:"0) _files ;;`);
    expect(script).toContain("compdef _fruix fruix");
    for (const command of COMMANDS) expect(script).toContain(`"${commandName(command)}") opts="${optionsOf(command).map((n) => `--${n}`).join(" ")}" ;;`);
  });

  // zsh is not among the Debian packages set-up installs: where it is there, the script runs for real.
  it.skipIf(!existsSync("/usr/bin/zsh"))("offers the same words under zsh", async () => {
    const offered = async (...words: string[]) => {
      const script = `compadd() { [[ $1 == -- ]] && shift; print -r -- "$*"; }
_files() { print -r -- "(files $*)"; }
compdef() { :; }
${completionScript("zsh")}
fruix() { node ${packageRoot}/dist/lib/cli/main.js "$@"; }
words=(${words.map((w) => `'${w}'`).join(" ")}); CURRENT=${words.length}; _fruix`;
      return (await execa("zsh", ["-f", "-c", script], { cwd: packageRoot })).stdout;
    };
    expect(await offered("fruix", "")).toBe("system store report vm native-build validate help version completion");
    expect(await offered("fruix", "--store", "/tmp", "store", "")).toBe("verify gc");
    expect(await offered("fruix", "validate", "--hypervisor", "")).toBe("qemu xcp-ng");
    expect(await offered("fruix", "system", "build", "--s")).toBe("--system --store --json --quiet --dry-run --help");
    expect(await offered("fruix", "system", "rootfs", "f", "")).toBe("(files -/)");
    expect((await offered("fruix", "validate", "")).split(" ")).toContain("image-boot");
  }, 20_000);

  it("is valid bash", async () => {
    expect((await execa("bash", ["-n"], { input: completionScript("bash"), reject: false })).exitCode).toBe(0);
  });
});

describe("the man page", () => {
  it("documents every command and option, and formats without warnings", async () => {
    const page = manPage("1.2.3");
    expect(page).toMatch(/^\.TH FRUIX 1 "" "fruix 1\.2\.3"/);
    for (const command of COMMANDS) {
      expect(page).toContain(`.SS fruix ${roff(commandName(command))}`);
      for (const name of optionsOf(command)) expect(page).toContain(`\\-\\-${roff(name)}`);
    }
    const rendered = await execa("groff", ["-man", "-Tutf8", "-ww", "-z"], { input: page, reject: false });
    expect([rendered.exitCode, rendered.stderr]).toEqual([0, ""]);
  });

  it("escapes what roff would read as requests", () => {
    expect(roff(".x\n'y\na\\b-c")).toBe("\\&.x\n\\&'y\na\\eb\\-c");
  });
});
