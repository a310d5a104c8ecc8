// Matrix runs, the pure parts: the matrix file (with file:line:column for
// every problem), the cells it makes, shard selection and retry classes.
import { describe, expect, it } from "vitest";
import { readJson, JsonSyntaxError } from "../lib/validate/json-source.js";
import { classify, matrixCells, MatrixFileError, parseMatrix, parseRetries, parseShard, shardCells } from "../lib/validate/matrix.js";

const known = {
  scenarios: [
    { id: "image-boot", title: "Image boot", hypervisors: ["qemu", "xcp-ng"] },
    { id: "direct-install", title: "Direct install", hypervisors: ["qemu", "xcp-ng"] },
    { id: "installer-disk", title: "Installer disk image", hypervisors: ["qemu"] },
  ],
  hypervisors: ["qemu", "xcp-ng"],
};

function problems(text: string): string[] {
  try {
    parseMatrix(text, "m.json", known);
  } catch (error) {
    if (error instanceof MatrixFileError) return [...error.problems];
    throw error;
  }
  throw new Error("the matrix file was accepted");
}

describe("readJson", () => {
  it("reads what JSON.parse reads, keeping positions", () => {
    const text = '{\n  "a": [1, -2.5e3, true, null],\n  "b": "x\\u00e9\\n"\n}';
    const node = readJson(text);
    expect(node.kind).toBe("object");
    if (node.kind !== "object") return;
    expect(node.entries.map((e) => [e.key, e.keyAt])).toEqual([
      ["a", { line: 2, column: 3 }],
      ["b", { line: 3, column: 3 }],
    ]);
    const strip = (n: ReturnType<typeof readJson>): unknown =>
      n.kind === "object" ? Object.fromEntries(n.entries.map((e) => [e.key, strip(e.value)])) : n.kind === "array" ? n.items.map(strip) : n.kind === "null" ? null : n.value;
    expect(strip(node)).toEqual(JSON.parse(text));
  });

  it("says where a syntax error is", () => {
    const at = (text: string) => {
      try {
        readJson(text);
      } catch (error) {
        if (error instanceof JsonSyntaxError) return `${error.at.line}:${error.at.column}: ${error.message}`;
      }
      return "accepted";
    };
    expect(at('{\n  "a": 1\n  "b": 2\n}')).toBe("3:3: expected ',' or '}', found '\"'");
    expect(at('{"a": [1, 2,]}')).toBe("1:13: expected a value, found ']'");
    expect(at('{"a": "open')).toMatch(/^1:7: unterminated string/);
    expect(at("{} x")).toBe("1:4: unexpected 'x' after the end of the document");
    expect(at("")).toBe("1:1: expected a value, found the end of the file");
  });
});

describe("parseMatrix", () => {
  it("reads projects with their options and resolves scenario selections", () => {
    const m = parseMatrix(
      JSON.stringify({
        "//": "a comment",
        retries: 2,
        declaration: "../examples/minimal.scm",
        scenarios: ["direct-install", "image-boot"],
        projects: [
          { name: "qemu", hypervisor: "qemu", accel: "tcg", timeoutScale: 2 },
          { name: "xcp-ng", hypervisor: "xcp-ng", requiresEnv: ["FRUIX_XAPI_URL"], installTargetDevice: "/dev/xvdb", grep: "install" },
        ],
      }),
      "/x/matrix/m.json",
      known,
    );
    expect(m.retries).toBe(2);
    expect(m.declaration).toBe("/x/examples/minimal.scm");
    expect(m.projects).toEqual([
      { name: "qemu", hypervisor: "qemu", accel: "tcg", timeoutScale: 2, requiresEnv: [], installTargetDevice: undefined, scenarios: ["direct-install", "image-boot"] },
      // Its own grep replaces the matrix's selection; installer-disk (qemu only) is not selected implicitly.
      { name: "xcp-ng", hypervisor: "xcp-ng", accel: "auto", timeoutScale: 1, requiresEnv: ["FRUIX_XAPI_URL"], installTargetDevice: "/dev/xvdb", scenarios: ["direct-install"] },
    ]);
  });

  it("defaults to every scenario the hypervisor runs, and no retries", () => {
    const m = parseMatrix('{"projects": [{"name": "q", "hypervisor": "qemu"}, {"name": "x", "hypervisor": "xcp-ng"}]}', "m.json", known);
    expect(m.retries).toBe(0);
    expect(m.projects.map((p) => p.scenarios)).toEqual([["image-boot", "direct-install", "installer-disk"], ["image-boot", "direct-install"]]);
  });

  it("reports every problem, one file:line:column line each", () => {
    const text = [
      "{",
      '  "retries": -1,',
      '  "scenario": ["image-boot"],',
      '  "scenarios": ["image-boot", "no-such"],',
      '  "projects": [',
      '    {"name": "qemu", "hypervisor": "qemu", "accel": "fast", "timeoutScale": 0},',
      '    {"name": "qemu", "hypervisor": "vmware", "requiresEnv": ["NOT A NAME"]},',
      '    {"hypervisor": "qemu", "grep": "("},',
      '    {"name": "a/b", "hypervisor": "qemu", "installTargetDevice": "sdb"}',
      "  ]",
      "}",
    ].join("\n");
    expect(problems(text)).toEqual([
      "m.json:2:14: 'retries' must be a whole number from 0 to 10",
      "m.json:3:3: unknown field 'scenario' in the matrix (known: retries, scenarios, grep, declaration, system, projects)",
      "m.json:4:31: unknown scenario 'no-such' (known: image-boot, direct-install, installer-disk)",
      "m.json:6:53: 'accel' must be one of auto, kvm, tcg",
      "m.json:6:77: 'timeoutScale' must be a positive number",
      "m.json:7:14: two projects are named 'qemu'",
      "m.json:7:36: unknown hypervisor 'vmware' (known: qemu, xcp-ng)",
      "m.json:7:62: 'NOT A NAME' is not an environment variable name",
      "m.json:8:5: a project needs a 'name'",
      expect.stringMatching(/^m\.json:8:36: 'grep': Invalid regular expression: \/\(\/: /),
      "m.json:9:14: project name 'a/b' must be letters, digits, '.', '_' or '-' (it names a folder)",
      "m.json:9:66: 'installTargetDevice' must be a device path such as /dev/vdb, not 'sdb'",
    ]);
  });

  it("rejects a file that is not a matrix at all, with one line", () => {
    expect(problems("[1, 2]")).toEqual(["m.json:1:1: a matrix file is one JSON object"]);
    expect(problems('{"retries": 1}')).toEqual([`m.json:1:1: the matrix needs 'projects': a list of { "name", "hypervisor", ... }`]);
    expect(problems('{"projects": [{"name": "q", "hypervisor": "qemu", "grep": "nothing-matches"}]}')).toEqual([
      "m.json:1:15: project 'q' selects no scenario (check 'scenarios' and 'grep')",
    ]);
    expect(problems('{"projects": [{"name": "q", "hypervisor": "qemu"},]}')).toEqual(["m.json:1:51: expected a value, found ']'"]);
  });

  it("gives a summary message that says nothing ran", () => {
    expect(() => parseMatrix("{", "m.json", known)).toThrow("m.json: 1 problem in the matrix file; nothing was run");
  });
});

describe("matrixCells", () => {
  const matrix = parseMatrix(
    JSON.stringify({
      scenarios: ["image-boot", "installer-disk"],
      projects: [
        { name: "qemu", hypervisor: "qemu" },
        { name: "xcp-ng", hypervisor: "xcp-ng", requiresEnv: ["FRUIX_XAPI_URL", "FRUIX_XAPI_USER"] },
      ],
    }),
    "m.json",
    known,
  );
  const scenarios = known.scenarios;
  const view = (cells: ReturnType<typeof matrixCells>) => cells.map((c) => `${c.project.name}/${c.scenario.id}${c.skip ? ` skip: ${c.skip}` : ""}`);

  it("lists projects x scenarios in file order, skipping (with the reason) what cannot run", () => {
    expect(view(matrixCells(matrix, scenarios, {}))).toEqual([
      "qemu/image-boot",
      "qemu/installer-disk",
      "xcp-ng/image-boot skip: not set in the environment: FRUIX_XAPI_URL, FRUIX_XAPI_USER",
      "xcp-ng/installer-disk skip: installer-disk does not run on xcp-ng (it supports qemu)",
    ]);
  });

  it("runs a project whose environment is set; an empty variable counts as unset", () => {
    const cells = matrixCells(matrix, scenarios, { FRUIX_XAPI_URL: "https://pool", FRUIX_XAPI_USER: "" });
    expect(cells[2]!.skip).toBe("not set in the environment: FRUIX_XAPI_USER");
    expect(matrixCells(matrix, scenarios, { FRUIX_XAPI_URL: "https://pool", FRUIX_XAPI_USER: "root" })[2]!.skip).toBeUndefined();
  });

  it("keeps only the --project ones, and names an unknown one", () => {
    expect(view(matrixCells(matrix, scenarios, {}, ["qemu"]))).toEqual(["qemu/image-boot", "qemu/installer-disk"]);
    expect(() => matrixCells(matrix, scenarios, {}, ["vmware"])).toThrow("unknown project vmware in m.json (projects: qemu, xcp-ng)");
  });
});

describe("shards", () => {
  it("parses i/n and rejects anything else with one line", () => {
    expect(parseShard("2/3")).toEqual({ index: 2, total: 3 });
    for (const bad of ["0/3", "4/3", "1/0", "a/b", "1", "1/2/3", "-1/2"]) {
      expect(() => parseShard(bad)).toThrow(`--shard must be i/n with 1 <= i <= n (e.g. --shard 2/3), not '${bad}'`);
    }
  });

  it("splits any list into disjoint shards whose union is the whole list, the same way every time", () => {
    for (let length = 0; length <= 23; length += 1) {
      const cells = Array.from({ length }, (_, k) => `cell-${k}`);
      for (let total = 1; total <= 7; total += 1) {
        const shards = Array.from({ length: total }, (_, k) => shardCells(cells, { index: k + 1, total }));
        const union = shards.flat();
        expect(new Set(union).size).toBe(union.length); // no overlaps
        expect([...union].sort()).toEqual([...cells].sort()); // nothing lost
        // Balanced: sizes differ by at most one.
        expect(Math.max(...shards.map((s) => s.length)) - Math.min(...shards.map((s) => s.length))).toBeLessThanOrEqual(1);
        // Deterministic: a second computation (another machine) picks the same cells.
        expect(Array.from({ length: total }, (_, k) => shardCells([...cells], { index: k + 1, total }))).toEqual(shards);
      }
    }
  });

  it("deals cells round-robin, so each shard gets a share of every project", () => {
    const cells = ["q/a", "q/b", "q/c", "x/a", "x/b", "x/c"];
    expect(shardCells(cells, { index: 1, total: 2 })).toEqual(["q/a", "q/c", "x/b"]);
    expect(shardCells(cells, { index: 2, total: 2 })).toEqual(["q/b", "x/a", "x/c"]);
    expect(shardCells(cells, undefined)).toEqual(cells);
  });
});

describe("retries", () => {
  it("classes attempts: passed first time, flaky on a later pass, failed when the last failed", () => {
    expect(classify(["PASS"])).toBe("passed");
    expect(classify(["FAIL", "PASS"])).toBe("flaky");
    expect(classify(["FAIL", "FAIL", "PASS"])).toBe("flaky");
    expect(classify(["FAIL"])).toBe("failed");
    expect(classify(["FAIL", "FAIL", "FAIL"])).toBe("failed");
    expect(classify([])).toBe("skipped");
  });

  it("parses --retries", () => {
    expect(parseRetries("0")).toBe(0);
    expect(parseRetries("3")).toBe(3);
    for (const bad of ["-1", "1.5", "x", "11", ""]) expect(() => parseRetries(bad)).toThrow(/^--retries needs a non-negative integer, at most 10, not /);
  });
});
