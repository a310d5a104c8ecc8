// The `fruix` command: its store verbs, its behaviour on interruption, and
// the command line made from the command table (help, refusals, --version,
// --list, completion, the man page), run as an operator runs it.
import { chmod, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { completionScript } from "../lib/cli/completion.js";
import { allHelpTopics, helpText } from "../lib/cli/help.js";
import { manPage } from "../lib/cli/man.js";
import type { HelpTopic } from "../lib/cli/parse.js";
import { packageRoot } from "../lib/paths.js";
import { Store } from "../lib/store/index.js";
import { fruixVersion } from "../lib/version.js";
import { cleanupTempDirs, exampleFile, fruix, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

async function storeWithItem() {
  const dir = await tempDir();
  const store = await Store.open({ store: join(dir, "store") });
  const item = await store.add("sample", (out) => writeFile(join(out, "data"), "original"));
  await store.close(); // drop this process's temp root, so only real GC roots count
  return { dir, store, item };
}

describe("fruix store", () => {
  it("verify passes an intact store and names a tampered item", async () => {
    const { dir, store, item } = await storeWithItem();
    const args = ["store", "verify", "--store", join(dir, "store")];
    const ok = await fruix(args);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toBe("checked=1\ncorrupt=0");

    const data = join(store.toHostPath(item), "data");
    await chmod(data, 0o644);
    await writeFile(data, "tampered");
    const bad = await fruix(args);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain(`fruix: ${item}: `);
    expect(bad.stderr).toContain("fruix: store verify: 1 of 1 items are damaged");
  });

  it("gc removes what no root reaches, and --dry-run only reports it", async () => {
    const { dir, store, item } = await storeWithItem();
    const args = ["store", "gc", "--store", join(dir, "store")];
    const dry = await fruix([...args, "--dry-run"]);
    expect(dry.stdout).toBe(`would_remove=${item}\nremoved=1\nfreed_bytes=${/freed_bytes=(\d+)/.exec(dry.stdout)?.[1]}\ndry_run=true`);
    expect(JSON.parse((await fruix([...args, "--dry-run", "--json"])).stdout)).toMatchObject({ would_remove: [item], removed: 1, dry_run: "true" });
    expect(await store.has(item)).toBe(true);
    const real = await fruix(args);
    expect(real.exitCode).toBe(0);
    expect(real.stdout).toContain("removed=1\n");
    expect(await store.has(item)).toBe(false);
  });

  it("gc --dry-run of a store that does not exist yet makes nothing", async () => {
    const dir = await tempDir();
    const dry = await fruix(["store", "gc", "--dry-run", "--store", join(dir, "store")]);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toBe("removed=0\nfreed_bytes=0\ndry_run=true");
    expect(await readdir(dir)).toEqual([]);
  });

  it("keeps the newest image of each host name as a GC root, beside its closure", async () => {
    const dir = await tempDir();
    const env = { FRUIX_STORE: join(dir, "store") };
    const made = await fruix(["system", "image", exampleFile, "--quiet"], env);
    expect(made.exitCode, made.stderr).toBe(0);
    const image = /^disk_image=(\S+)\/disk\.img$/m.exec(made.stdout)?.[1];
    const closure = /^closure_path=(\S+)$/m.exec(made.stdout)?.[1];
    expect((await fruix(["store", "gc", "--quiet"], env)).exitCode).toBe(0);
    const store = await Store.open({ store: join(dir, "store") });
    expect([await store.has(image!), await store.has(closure!)]).toEqual([true, true]);
    expect((await store.roots()).map((r) => [r.name, r.target])).toEqual([["image-fruix-minimal", image], ["system-fruix-minimal", closure]]);
  });

  it("keeps the newest build of each host name as a GC root", async () => {
    const dir = await tempDir();
    const env = { FRUIX_STORE: join(dir, "store") };
    const built = await fruix(["system", "build", exampleFile, "--quiet"], env);
    const closure = built.stdout.replace("closure_path=", "");
    const gc = await fruix(["store", "gc", "--quiet"], env);
    expect(gc.exitCode).toBe(0);
    const store = await Store.open({ store: join(dir, "store") });
    expect(await store.has(closure)).toBe(true);
    expect((await store.roots()).map((r) => [r.name, r.target])).toEqual([["system-fruix-minimal", closure]]);
  });
});

describe("interruption", () => {
  it("Ctrl-C during a build exits 130 and leaves no temporary files in the store or the temporary directory", async () => {
    const dir = await tempDir();
    const tmp = join(dir, "tmp"); // the child's TMPDIR: the kernel is unpacked there
    await mkdir(tmp);
    const child = execa(process.execPath, [join(packageRoot, "dist/lib/cli/main.js"), "system", "build", exampleFile], {
      env: { FRUIX_STORE: join(dir, "store"), TMPDIR: tmp },
      reject: false,
    });
    // Interrupt once the first item is being built (its temp directory exists).
    const store = join(dir, "store");
    for (let i = 0; i < 300; i++) {
      const entries = await readdir(store).catch(() => []);
      if (entries.some((e) => e.startsWith(".tmp"))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGINT");
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(result.stderr).toContain("fruix: interrupted (SIGINT); temporary files removed");
    expect((await readdir(store)).filter((e) => e.startsWith(".tmp"))).toEqual([]);
    expect(await readdir(tmp)).toEqual([]);
  });
});

/** The words that ask for a topic's help: `system build` for `fruix system build --help`. */
function topicWords(topic: HelpTopic): string[] {
  if (topic.kind === "command") return [...topic.command.words];
  if (topic.kind === "group") return [topic.group.word];
  return [];
}

describe("help", () => {
  it("--help, -h and `fruix help` print each command's, group's and fruix's help on stdout", async () => {
    for (const topic of allHelpTopics()) {
      const words = topicWords(topic);
      for (const argv of [[...words, "--help"], [...words, "-h"], ["help", ...words]]) {
        const result = await fruix(argv);
        expect([result.exitCode, result.stderr], argv.join(" ")).toEqual([0, ""]);
        expect(result.stdout, argv.join(" ")).toBe(helpText(topic));
      }
    }
  }, 60_000);

  it("`fruix system` alone lists its commands, and `fruix` alone every command, on stderr with exit 2", async () => {
    for (const topic of allHelpTopics().filter((t) => t.kind !== "command")) {
      const result = await fruix(topicWords(topic));
      expect([result.exitCode, result.stdout, result.stderr]).toEqual([2, "", helpText(topic)]);
    }
    expect((await fruix(["system"])).stderr).toMatch(/\n {2}system build FILE +build the system closure\n/);
  });
});

describe("refused command lines", () => {
  it("are one line naming what is wrong, with a suggestion where one is close, exit 2 and no stack trace", async () => {
    const cases: Array<[string[], string]> = [
      [["build", "examples/minimal.scm"], "fruix: unknown command 'build' (did you mean 'fruix system build'?)"],
      [["sytem", "build", "x"], "fruix: unknown command 'sytem' (did you mean 'fruix system build'?)"],
      [["system", "buld", "x"], "fruix: unknown command 'system buld' (did you mean 'fruix system build'?)"],
      [["store", "verify", "--jsno"], "fruix: unknown option --jsno (did you mean --json?)"],
      [["system", "build", exampleFile, "--root-size=abc"], "fruix: 'fruix system build' does not take --root-size (see 'fruix system build --help')"],
      [["system", "image", exampleFile, "--root-size=abc"], "fruix: --root-size: invalid size 'abc' (use bytes, or a number with k, m, g or t, as in 512m or 6g)"],
      [["validate", "--retries", "-1"], "fruix: --retries needs a non-negative integer, at most 10, not '-1'"],
      [["validate", "--hypervisor", "vmware", "image-boot"], "fruix: unknown hypervisor 'vmware' (known: qemu, xcp-ng)"],
      [["validate", "--list", "--hypervisor", "vmware"], "fruix: unknown hypervisor 'vmware' (known: qemu, xcp-ng)"],
      [["completion", "fish"], "fruix: completion: unknown shell 'fish' (known: bash, zsh)"],
    ];
    for (const [argv, line] of cases) {
      const result = await fruix(argv);
      expect([result.exitCode, result.stderr, result.stdout], argv.join(" ")).toEqual([2, line, ""]);
    }
  }, 30_000);
});

describe("a --store that cannot be a store", () => {
  const refused = (result: { exitCode?: number; stderr: string; stdout: string }) => [result.exitCode, result.stderr, result.stdout];

  it("is refused at once, in one line: under /proc, /sys or /dev, a file, or below a file", async () => {
    const file = join(await tempDir(), "file");
    await writeFile(file, "");
    const cases: Array<[string, string]> = [
      ["/proc/fruix-store", "/proc is a kernel file system, not a place for a store"],
      ["/sys/fruix-store", "/sys is a kernel file system, not a place for a store"],
      ["/dev/shm/fruix-store", "/dev is a kernel file system, not a place for a store"],
      [file, "not a directory"],
      [join(file, "store"), `${file} is not a directory`],
    ];
    for (const [dir, problem] of cases) {
      expect(refused(await fruix(["store", "verify", "--store", dir])), dir).toEqual([2, `fruix: --store ${dir}: ${problem}`, ""]);
    }
    expect(refused(await fruix(["system", "build", exampleFile], { FRUIX_STORE: "/proc/fruix-store" }))).toEqual([
      2,
      "fruix: FRUIX_STORE /proc/fruix-store: /proc is a kernel file system, not a place for a store",
      "",
    ]);
  }, 30_000);

  it("is refused when it is not writable", async () => {
    const dir = await tempDir();
    await chmod(dir, 0o755);
    const readOnly = join(dir, "read-only");
    await mkdir(readOnly, { mode: 0o555 });
    const cli = join(packageRoot, "dist", "lib", "cli", "main.js");
    // root writes anywhere: run as nobody to see what an operator sees.
    const asOperator = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath] : [process.execPath];
    const run = (store: string) => execa(asOperator[0]!, [...asOperator.slice(1), cli, "store", "gc", "--store", store], { reject: false, env: {} });
    expect(refused(await run(readOnly))).toEqual([2, `fruix: --store ${readOnly}: not writable`, ""]);
    expect(refused(await run(join(readOnly, "store")))).toEqual([2, `fruix: --store ${join(readOnly, "store")}: cannot be made: ${readOnly} is not writable`, ""]);
  }, 20_000);
});

describe("the version", () => {
  it("--version and `fruix version` name the version and, in this git checkout, the commit", async () => {
    const commit = (await execa("git", ["-C", packageRoot, "rev-parse", "HEAD"])).stdout;
    expect((await fruix(["--version"])).stdout).toBe(`fruix ${fruixVersion} (commit ${commit})`);
    expect((await fruix(["version"])).stdout).toBe(`version=${fruixVersion}\ncommit=${commit}`);
    expect(JSON.parse((await fruix(["version", "--json"])).stdout)).toEqual({ version: fruixVersion, commit });
  });
});

describe("fruix validate --list", () => {
  const ids = async (...argv: string[]) => (await fruix(["validate", "--list", ...argv])).stdout.split("\n").map((line) => line.split("\t")[0]);

  it("honours --grep, scenario ids and --hypervisor", async () => {
    const all = await ids();
    expect(all).toEqual(expect.arrayContaining(["image-boot", "direct-install", "installer-iso"]));
    expect(await ids("--grep", "^installer")).toEqual(["installer-disk", "installer-iso"]);
    expect(await ids("direct-install", "image-boot")).toEqual(["direct-install", "image-boot"]);
    const xcpng = await ids("--hypervisor", "xcp-ng");
    expect(xcpng).toEqual(expect.arrayContaining(["image-boot", "installer-iso", "switch-rollback"]));
    expect(xcpng).not.toContain("trial-fallback");
    expect(xcpng.length).toBeLessThan(all.length);
  });

  it("prints one JSON document with --json, for scenarios and for a matrix's cells", async () => {
    const list = await fruix(["validate", "--list", "--json", "image-boot"]);
    expect(JSON.parse(list.stdout)).toEqual({
      scenarios: [{ id: "image-boot", phase: "Image boot", title: expect.any(String), hypervisors: ["qemu", "xcp-ng"] }],
    });
    const env = { FRUIX_XAPI_URL: "", FRUIX_XAPI_USER: "", FRUIX_XAPI_PASSWORD: "" };
    const cells = JSON.parse((await fruix(["validate", "--matrix", join(packageRoot, "matrix", "nightly.json"), "--list", "--json"], env)).stdout);
    expect(cells.cells).toContainEqual({ project: "qemu", scenario: "image-boot", run: true });
    expect(cells.cells).toContainEqual({ project: "xcp-ng", scenario: "image-boot", run: false, skip: expect.stringMatching(/^not set in the environment/) });
  });
});

describe("completion and the man page", () => {
  it("`fruix completion bash|zsh` prints the scripts made from the table", async () => {
    for (const shell of ["bash", "zsh"] as const) expect((await fruix(["completion", shell])).stdout).toBe(completionScript(shell).trimEnd());
  });

  it("the build writes the man page package.json names", async () => {
    const pkg = JSON.parse(await readFile(join(packageRoot, "package.json"), "utf8"));
    expect(pkg.man).toEqual(["./dist/man/fruix.1"]);
    expect(pkg.scripts.build).toContain("node dist/lib/cli/man-page.js");
    expect(await readFile(join(packageRoot, pkg.man[0]), "utf8")).toBe(manPage(fruixVersion));
  });
});
