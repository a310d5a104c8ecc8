// Child process for test/store-process.test.ts: exercises the compiled store (dist/) from
// another process, so tests can SIGKILL it or race it against the test process.
//
//   add   STORE STATE NAME CONTENT [--barrier FILE] [--build-ms N] [--hold]
//         adds a directory item holding file "data" = CONTENT; prints `path=<store path>`.
//         --barrier waits for FILE to exist before starting; --build-ms sleeps inside the
//         build callback; --hold prints `building=<tmp dir>` inside the build and never returns.
//   lock  STATE [--hold] [--log FILE --rounds N]
//         --hold: takes the store lock, prints `locked`, and never releases it.
//         --log: N times takes the lock, appends "enter <pid>" / "exit <pid>" around a short
//         sleep, releases it.

import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dist = new URL("../../dist/lib/store/", import.meta.url);
const { Store } = await import(new URL("index.js", dist).href);
const { StoreLock } = await import(new URL("lock.js", dist).href);

const [cmd, ...rest] = process.argv.slice(2);
const flag = (name) => rest.includes(name);
const opt = (name) => {
  const i = rest.indexOf(name);
  return i < 0 ? undefined : rest[i + 1];
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const forever = () => new Promise(() => setInterval(() => {}, 1 << 30));

if (cmd === "add") {
  const [storeDir, stateDir, name, content] = rest;
  const store = await Store.open({ store: storeDir, stateDir });
  const barrier = opt("--barrier");
  if (barrier !== undefined) while (!existsSync(barrier)) await sleep(2);
  const buildMs = Number(opt("--build-ms") ?? 0);
  const path = await store.add(name, async (tmp) => {
    writeFileSync(join(tmp, "data"), content);
    if (flag("--hold")) {
      process.stdout.write(`building=${tmp}\n`);
      await forever();
    }
    if (buildMs > 0) await sleep(buildMs);
  });
  process.stdout.write(`path=${path}\n`);
} else if (cmd === "lock") {
  const [stateDir] = rest;
  const lock = new StoreLock(join(stateDir, "lock"));
  if (flag("--hold")) {
    await lock.acquire();
    process.stdout.write("locked\n");
    await forever();
  }
  const log = opt("--log");
  const rounds = Number(opt("--rounds") ?? 1);
  for (let i = 0; i < rounds; i++) {
    await lock.withLock(async () => {
      appendFileSync(log, `enter ${process.pid}\n`);
      await sleep(3);
      appendFileSync(log, `exit ${process.pid}\n`);
    });
  }
} else {
  process.stderr.write(`store-child: unknown command ${cmd}\n`);
  process.exit(2);
}
