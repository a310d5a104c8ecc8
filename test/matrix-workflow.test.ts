// .github/workflows/nightly.yml: it parses as YAML (with python3-yaml, the one
// YAML parser on the machine; the project has no JavaScript one), its jobs
// are wired as documented, and its `fruix` command lines really run (--list).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../lib/paths.js";
import { cleanupTempDirs, fruix } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

const workflowFile = join(packageRoot, ".github", "workflows", "nightly.yml");
const yamlCheck = await execa("python3", ["-c", "import yaml"], { reject: false });
const noYaml = yamlCheck.exitCode === 0 ? undefined : "python3 with the yaml module (Debian: python3-yaml) is not installed, so the workflow cannot be parsed here";
if (noYaml) console.warn(`SKIPPED the nightly workflow checks: ${noYaml}`);

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface Job {
  needs?: string[];
  if?: string;
  env?: Record<string, string>;
  strategy?: { matrix: { shard: number[] } };
  steps: Step[];
}
interface Workflow {
  env: Record<string, string>;
  jobs: Record<string, Job>;
  [key: string]: unknown;
}

/** A `fruix` command line of a step as arguments, with the expressions replaced. */
function fruixArgs(run: string, values: Record<string, string>): string[] {
  const line = run.replace(/\$\{\{\s*([\w.]+)\s*\}\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`no value for ${name} in ${run}`);
    return values[name]!;
  });
  const [node, cli, ...args] = line.trim().split(/\s+/);
  expect([node, cli]).toEqual(["node", "dist/lib/cli/main.js"]);
  return args;
}

describe.skipIf(noYaml !== undefined)(`the nightly workflow${noYaml ? ` (skipped: ${noYaml})` : ""}`, () => {
  let workflow: Workflow;

  beforeAll(async () => {
    const { stdout } = await execa("python3", ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", workflowFile]);
    workflow = JSON.parse(stdout);
  });

  it("runs nightly and by hand", () => {
    // YAML 1.1 reads the key `on` as true; GitHub reads it as "on".
    const on = (workflow.on ?? workflow.true) as Record<string, unknown>;
    expect(Object.keys(on).sort()).toEqual(["schedule", "workflow_dispatch"]);
  });

  it("shards the qemu project over as many runners as --shard says, and uploads each run directory even on failure", async () => {
    const job = workflow.jobs.qemu!;
    const total = Number(workflow.env.QEMU_SHARDS);
    expect(job.strategy!.matrix.shard).toEqual(Array.from({ length: total }, (_, k) => k + 1));
    expect(job.steps.map((s) => s.run).filter(Boolean)).toEqual(expect.arrayContaining(["npm run setup", "npm run build"]));
    const validate = job.steps.find((s) => s.run?.includes(" validate "))!;
    const upload = job.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"))!;
    expect(upload.if).toBe("always()");

    // The commands themselves, one per shard, with --list: together they are the whole qemu project, once.
    const lists: string[][] = [];
    for (const shard of job.strategy!.matrix.shard) {
      const values = { "matrix.shard": String(shard), "env.QEMU_SHARDS": String(total) };
      const args = fruixArgs(validate.run!, values);
      expect(args).toContain("--report-dir");
      expect(args[args.indexOf("--report-dir") + 1]).toBe(String(upload.with!.path).replace("${{ matrix.shard }}", String(shard)));
      const result = await fruix([...args, "--list"]);
      expect(result.exitCode, result.stderr).toBe(0);
      lists.push(result.stdout.split("\n").filter(Boolean));
    }
    const whole = (await fruix(["validate", "--matrix", "matrix/nightly.json", "--project", "qemu", "--list"])).stdout.split("\n").filter(Boolean);
    expect(whole.length).toBeGreaterThan(0);
    expect(lists.flat().sort()).toEqual([...whole].sort());
  });

  it("gives the xcp-ng validate step alone its secrets, and sets the job up only when they are all there", async () => {
    const job = workflow.jobs["xcp-ng"]!;
    const validateStep = job.steps.find((s) => s.run?.includes(" validate "))! as Step & { env?: Record<string, string> };
    for (const name of ["FRUIX_XAPI_URL", "FRUIX_XAPI_USER", "FRUIX_XAPI_PASSWORD"]) expect(validateStep.env![name]).toBe(`\${{ secrets.${name} }}`);
    for (const name of ["FRUIX_XCPNG_SSH_HOST_KEY", "FRUIX_XAPI_TLS_SHA256", "FRUIX_XCPNG_SR", "FRUIX_XCPNG_ISO_SR", "FRUIX_XCPNG_NETWORK"]) expect(validateStep.env![name]).toMatch(/^\$\{\{ vars\./);
    // No secret where npm's install scripts (npm run setup, npm install) would see it.
    expect(JSON.stringify(job.env ?? {})).not.toMatch(/\$\{\{ secrets\.\w+ \}\}/);
    expect(JSON.stringify(workflow.env)).not.toContain("secrets.");
    for (const step of job.steps.filter((s) => s !== validateStep)) expect(JSON.stringify(step)).not.toContain("secrets.");
    const setup = job.steps.find((s) => s.run === "npm run setup")!;
    expect(setup.if).toBe("env.XCPNG_SECRETS_SET == 'true'");
    expect(job.env!.XCPNG_SECRETS_SET).toBe("${{ secrets.FRUIX_XAPI_URL != '' && secrets.FRUIX_XAPI_USER != '' && secrets.FRUIX_XAPI_PASSWORD != '' }}");
    // The matrix's own requirement agrees with the secrets, so an unset one makes the cells SKIPPED.
    const matrix = JSON.parse(await readFile(join(packageRoot, "matrix", "nightly.json"), "utf8"));
    const project = matrix.projects.find((p: { name: string }) => p.name === "xcp-ng");
    expect(project.requiresEnv).toEqual(["FRUIX_XAPI_URL", "FRUIX_XAPI_USER", "FRUIX_XAPI_PASSWORD"]);
    const validate = job.steps.find((s) => s.run?.includes(" validate "))!;
    const result = await fruix([...fruixArgs(validate.run!, {}), "--list"], { FRUIX_XAPI_URL: "", FRUIX_XAPI_USER: "", FRUIX_XAPI_PASSWORD: "" });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^xcp-ng\/image-boot\tskip: not set in the environment: FRUIX_XAPI_URL, FRUIX_XAPI_USER, FRUIX_XAPI_PASSWORD$/m);
    expect(job.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"))!.if).toBe("always()");
  });

  it("signs off after both, whatever happened, from every uploaded run directory", () => {
    const job = workflow.jobs["sign-off"]!;
    expect(job.needs).toEqual(["qemu", "xcp-ng"]);
    expect(job.if).toBe("always()");
    const download = job.steps.find((s) => s.uses?.startsWith("actions/download-artifact@"))!;
    expect(download.with).toEqual({ pattern: "run-*", path: "sign-off/runs" });
    const uploads = Object.values(workflow.jobs).flatMap((j) => j.steps.filter((s) => s.uses?.startsWith("actions/upload-artifact@")));
    // Every run directory's artifact matches the download pattern; the document's does not.
    expect(uploads.map((u) => String(u.with!.name))).toEqual(["run-qemu-${{ matrix.shard }}", "run-xcp-ng", "sign-off"]);
    const signOff = job.steps.find((s) => s.run?.includes("report sign-off"))!;
    expect(signOff.run).toContain("node dist/lib/cli/main.js report sign-off sign-off/runs/* --output sign-off/sign-off.md");
    expect(uploads.at(-1)!.with!.path).toBe("sign-off");
  });

  it("names only actions and files that exist", () => {
    const uses = Object.values(workflow.jobs).flatMap((j) => j.steps.map((s) => s.uses).filter(Boolean));
    for (const u of uses) expect(u).toMatch(/^actions\/(checkout|upload-artifact|download-artifact)@v4$/);
    expect(existsSync(join(packageRoot, "matrix", "nightly.json"))).toBe(true);
  });
});
