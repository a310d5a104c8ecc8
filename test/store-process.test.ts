// The store across processes: SIGKILL in the middle of an add or while holding the lock,
// concurrent adds of the same content, mutual exclusion, and gc vs. live builds.
// Children run test/helpers/store-child.mjs against the compiled store in dist/.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Store } from "../lib/store/index.js";
import { removeTree } from "../lib/store/tree.js";
import { childScript, ensureStoreDist } from "./helpers/store-dist.js";

let work: string;
let storeDir: string;
let stateDir: string;
let store: Store;
const children: ChildProcess[] = [];

beforeAll(() => ensureStoreDist(), 120_000);

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "fruix-store-proc-test-"));
  storeDir = join(work, "store");
  stateDir = join(work, "state");
  store = await Store.open({ store: storeDir, stateDir });
});

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await store.close();
  await removeTree(work);
});

interface Child {
  proc: ChildProcess;
  /** Resolves with the first stdout line starting with `prefix` (without the prefix). */
  line(prefix: string): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function startChild(args: string[]): Child {
  const proc = spawn(process.execPath, [childScript, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(proc);
  let out = "";
  let err = "";
  const waiters: { prefix: string; resolve: (s: string) => void }[] = [];
  const check = () => {
    for (const l of out.split("\n").slice(0, -1)) {
      for (const w of waiters.splice(0)) {
        if (l.startsWith(w.prefix)) w.resolve(l.slice(w.prefix.length));
        else waiters.push(w);
      }
    }
  };
  proc.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    check();
  });
  proc.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal, stderr: err })),
  );
  return {
    proc,
    exited,
    line: (prefix) =>
      new Promise<string>((resolve, reject) => {
        waiters.push({ prefix, resolve });
        check();
        void exited.then((e) => reject(new Error(`child exited (${e.code ?? e.signal}) before printing ${prefix}: ${e.stderr}`)));
      }),
  };
}

async function kill9(c: Child): Promise<void> {
  c.proc.kill("SIGKILL");
  expect((await c.exited).signal).toBe("SIGKILL");
}

const finalEntries = async () => (await readdir(storeDir)).filter((e) => !e.startsWith("."));

describe("crash safety", () => {
  it("a child SIGKILLed during its build leaves no item, and the next add succeeds promptly", async () => {
    const child = startChild(["add", storeDir, stateDir, "item", "payload", "--hold"]);
    const tmp = await child.line("building=");
    expect((await readdir(storeDir)).map((e) => join(storeDir, e))).toEqual([tmp]);
    await kill9(child);

    expect(await finalEntries()).toEqual([]);
    expect(await store.list()).toEqual([]);
    expect(await readdir(join(stateDir, "db"))).toEqual([]);

    const t0 = Date.now();
    const p = await store.add("item", (dir) => writeFile(join(dir, "data"), "payload"));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await store.list()).toEqual([p]);

    // The dead child's temporary is garbage now.
    const res = await store.gc();
    expect(res.leftovers).toEqual([tmp]);
    expect(await readdir(storeDir)).toEqual([p.slice("/frx/store/".length)]);
  });

  it("a child SIGKILLed while holding the store lock does not block the next add", async () => {
    const child = startChild(["lock", stateDir, "--hold"]);
    await child.line("locked");

    // With a timeout, waiting gives up with a clear error naming the holder.
    const waitedFor: number[] = [];
    const impatient = await Store.open({ store: storeDir, stateDir, lock: { timeoutMs: 200, onWait: (h) => waitedFor.push(h.pid) } });
    await expect(impatient.add("impatient", (dir) => writeFile(join(dir, "data"), "y"))).rejects.toThrow(
      `timed out waiting for the store lock ${join(stateDir, "lock")} (held by pid ${child.proc.pid}`,
    );
    expect(waitedFor).toEqual([child.proc.pid]);
    await impatient.close();

    let done = false;
    const adding = store.add("after-crash", (dir) => writeFile(join(dir, "data"), "x")).finally(() => (done = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false); // really blocked by the child's lock

    const killedAt = Date.now();
    await kill9(child);
    const p = await adding;
    expect(Date.now() - killedAt).toBeLessThan(2000);
    expect(await store.has(p)).toBe(true);
  });
});

describe("concurrency", () => {
  it("two processes adding the same content both succeed with one item", async () => {
    const barrier = join(work, "go");
    const args = (n: number) => ["add", storeDir, stateDir, "same", "identical bytes", "--barrier", barrier, "--build-ms", String(100 + n)];
    const a = startChild(args(0));
    const b = startChild(args(1));
    await new Promise((r) => setTimeout(r, 150)); // let both start up and wait at the barrier
    await writeFile(barrier, "");
    const [pa, pb] = await Promise.all([a.line("path="), b.line("path=")]);
    expect((await a.exited).code).toBe(0);
    expect((await b.exited).code).toBe(0);
    expect(pa).toBe(pb);
    expect(await readdir(storeDir)).toEqual([pa.slice("/frx/store/".length)]);
    expect(await store.list()).toEqual([pa]);
    expect(await readFile(join(store.toHostPath(pa), "data"), "utf8")).toBe("identical bytes");
  });

  it("the store lock excludes other processes", async () => {
    const log = join(work, "log");
    const kids = Array.from({ length: 4 }, () => startChild(["lock", stateDir, "--log", log, "--rounds", "8"]));
    for (const k of kids) expect((await k.exited).code).toBe(0);
    const lines = (await readFile(log, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(4 * 8 * 2);
    for (let i = 0; i < lines.length; i += 2) {
      const pid = lines[i]!.split(" ")[1];
      expect([lines[i], lines[i + 1]]).toEqual([`enter ${pid}`, `exit ${pid}`]);
    }
    // Tickets do not pile up: only the latest "free" one is left.
    expect((await readdir(join(stateDir, "lock"))).filter((e) => !e.startsWith("."))).toHaveLength(1);
  });

  it("gc keeps the temporary of a live build and removes it once the builder is dead", async () => {
    const child = startChild(["add", storeDir, stateDir, "slow", "x", "--hold"]);
    const tmp = await child.line("building=");
    const live = await store.gc();
    expect(live.leftovers).toEqual([]);
    expect((await readdir(storeDir)).map((e) => join(storeDir, e))).toEqual([tmp]);

    await kill9(child);
    expect((await store.gc()).leftovers).toEqual([tmp]);
    expect(await readdir(storeDir)).toEqual([]);
  });
});
