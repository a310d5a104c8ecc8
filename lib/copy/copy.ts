// `fruix system copy`: send a closure's missing store items to a Fruix machine
// over SSH. Per item: re-hash the local copy, stream it as a tar archive into a
// staging directory beside the remote store, compare the manifest of what
// landed there with the local item, and only then, dependencies first, rename
// the staged items into the remote /frx/store (lib/guest/receive.sh).
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { Transform } from "node:stream";
import { execa } from "execa";
import { FruixError } from "../errors.js";
import type { Logger } from "../log.js";
import { guestDir } from "../paths.js";
import { shellQuote } from "../shell.js";
import type { Store } from "../store/index.js";
import { itemManifest, manifestDifference, manifestLines } from "./manifest.js";
import type { SshSession } from "./ssh.js";

export interface CopyResult {
  /** Every item of the closure, dependencies first. */
  readonly items: readonly string[];
  /** Those the destination lacked, now sent and committed. */
  readonly sent: readonly string[];
  readonly bytesSent: number;
}

/** Orders `items` so every item comes after the items it references (pure). */
export function referencesFirst(items: readonly string[], references: ReadonlyMap<string, readonly string[]>): string[] {
  const order: string[] = [];
  const placed = new Set<string>();
  const visit = (item: string, path: readonly string[]) => {
    if (placed.has(item)) return;
    if (path.includes(item)) throw new FruixError(`store items reference each other in a cycle: ${[...path, item].join(" -> ")}`);
    for (const ref of references.get(item) ?? []) if (ref !== item) visit(ref, [...path, item]);
    placed.add(item);
    order.push(item);
  };
  for (const item of [...items].sort()) visit(item, []);
  return order;
}

let receiver: Promise<string> | undefined;

/** The SSH command that runs the receiver with `args` under the remote user's shell. */
async function receiveCommand(...args: string[]): Promise<string> {
  receiver ??= readFile(join(guestDir, "receive.sh"), "utf8");
  return ["sh", "-c", shellQuote(await receiver), "fruix-receive", ...args.map(shellQuote)].join(" ");
}

async function receive(session: SshSession, args: string[], stdin?: NodeJS.ReadableStream | string): Promise<string> {
  const result = await session.exec(await receiveCommand(...args), stdin as never);
  if (result.code !== 0) {
    const why = result.stderr.split("\n").filter(Boolean).pop() ?? `exit status ${result.code}`;
    throw new FruixError(`${session.destination.url}: ${why.replace(/^fruix-receive: /, "")}`);
  }
  return result.stdout;
}

function itemBaseName(path: string): string {
  return path.slice("/frx/store/".length);
}

/** Refuses, before any connection, a closure the local store does not hold. */
export async function requireInStore(store: Store, closure: string): Promise<void> {
  if (!(await store.has(closure))) throw new FruixError(`${closure} is not in the store ${store.storeDir} (build it first)`);
}

export async function copyClosure(session: SshSession, store: Store, closure: string, log: Logger): Promise<CopyResult> {
  await requireInStore(store, closure);
  const closureItems = await store.closure([closure]);
  const refs = new Map<string, string[]>();
  for (const item of closureItems) refs.set(item, await store.references(item));
  const items = referencesFirst(closureItems, refs);

  const absent = new Set(
    (await receive(session, ["missing"], items.map(itemBaseName).join("\n") + "\n")).split("\n").filter(Boolean),
  );
  const toSend = items.filter((i) => absent.has(itemBaseName(i)));
  log.info(`${session.destination.url} has ${items.length - toSend.length} of the closure's ${items.length} store items; sending ${toSend.length}`);
  if (toSend.length === 0) return { items, sent: [], bytesSent: 0 };

  const id = randomBytes(8).toString("hex");
  let bytesSent = 0;
  try {
    for (const [n, item] of toSend.entries()) {
      const name = itemBaseName(item);
      await log.step(`[${n + 1}/${toSend.length}] ${name}`, async () => {
        const problems = await store.verifyItem(item);
        if (problems.length > 0) throw new FruixError(`refusing to send ${item}: the local copy is damaged (${problems.join("; ")}); run 'fruix store verify'`);
        const local = store.toHostPath(item);
        const sent = await itemManifest(local);
        const tar = execa("tar", ["--format=gnu", "--numeric-owner", "--owner=0", "--group=0", "--sort=name", "-C", join(local, ".."), "-cf", "-", basename(local)], {
          stdin: "ignore",
          buffer: { stdout: false },
        });
        // Counted in the pipe: a "data" listener would start the flow before the channel opens.
        const counted = tar.stdout!.pipe(
          new Transform({
            transform(chunk: Buffer, _encoding, done) {
              bytesSent += chunk.length;
              done(null, chunk);
            },
          }),
        );
        const [arrived] = await Promise.all([receive(session, ["stage", id, name], counted), tar]);
        const difference = manifestDifference(sent, manifestLines(arrived));
        if (difference) throw new FruixError(`${name} arrived damaged at ${session.destination.url}: ${difference}`);
      });
    }
    await log.step(`commit ${toSend.length} store items`, () => receive(session, ["commit", id, ...toSend.map(itemBaseName)]));
  } catch (error) {
    await receive(session, ["discard", id]).catch(() => undefined);
    throw error;
  }
  return { items, sent: toSend, bytesSent };
}

/** Key=value lines (the helper's output) as a record. */
export function keyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1);
  }
  return out;
}

/** Stages `closure` on the destination with its helper (`fruix system switch [--trial]`); returns the helper's result. */
export async function switchRemote(session: SshSession, closure: string, options: { readonly trial?: boolean } = {}): Promise<Record<string, string>> {
  const command = options.trial ? "switch --trial" : "switch";
  const result = await session.exec(`/usr/local/bin/fruix system ${command} ${shellQuote(closure)}`);
  if (result.code !== 0) {
    const why = result.stderr.split("\n").filter(Boolean).pop() ?? `exit status ${result.code}`;
    throw new FruixError(`${session.destination.url}: fruix system ${command} failed: ${why}`);
  }
  return keyValues(result.stdout);
}
