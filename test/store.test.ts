// The store on a real file system, in one process: hashing, add, references, closure,
// roots, gc and verify. Multi-process behaviour is in store-process.test.ts.

import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmod, copyFile, lstat, mkdir, mkdtemp, open, readdir, readFile, rm, symlink, truncate, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FruixError } from "../lib/errors.js";
import { hashItemTree, serializeItem, Store, type MemNode } from "../lib/store/index.js";
import { removeTree } from "../lib/store/tree.js";
import { dataExtents, parseFilefrag } from "../lib/store/extents.js";

let work: string;
let store: Store;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "fruix-store-test-"));
  store = await Store.open({ store: join(work, "frx", "store"), env: {} });
});

afterEach(async () => {
  await store.close();
  await removeTree(work);
});

/** Writes the same small tree; `variant` only changes what the hash must ignore. */
async function writeTree(dir: string, variant: "a" | "b"): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files: [string, string][] = [
    ["etc/motd", "hello\n"],
    ["bin/tool", "#!/bin/sh\necho hi\n"],
    ["empty", ""],
  ];
  if (variant === "b") files.reverse(); // different creation order
  for (const [rel, content] of files) {
    await mkdir(join(dir, rel, ".."), { recursive: true });
    await writeFile(join(dir, rel), content, { mode: variant === "a" ? 0o644 : 0o600 });
  }
  await chmod(join(dir, "bin/tool"), variant === "a" ? 0o755 : 0o700);
  await symlink("../etc/motd", join(dir, "bin/motd-link"));
  await mkdir(join(dir, "var/empty"), { recursive: true, mode: variant === "a" ? 0o755 : 0o700 });
  if (variant === "b") await utimes(join(dir, "etc/motd"), 123456, 654321);
}

const memTree: MemNode = {
  type: "directory",
  entries: {
    bin: {
      type: "directory",
      entries: {
        "motd-link": { type: "symlink", target: "../etc/motd" },
        tool: { type: "regular", content: "#!/bin/sh\necho hi\n", executable: true },
      },
    },
    empty: { type: "regular", content: "" },
    etc: { type: "directory", entries: { motd: { type: "regular", content: "hello\n" } } },
    var: { type: "directory", entries: { empty: { type: "directory", entries: {} } } },
  },
};

describe("hashing", () => {
  it("gives the same hash for the same tree in two places, ignoring times and permissions", async () => {
    await writeTree(join(work, "t1"), "a");
    await writeTree(join(work, "t2"), "b");
    const h1 = await hashItemTree(join(work, "t1"), { name: "x" });
    const h2 = await hashItemTree(join(work, "t2"), { name: "x" });
    expect(h2).toEqual(h1);
    // The streaming hasher agrees with the in-memory reference serialization.
    expect(h1.hash).toBe(createHash("sha256").update(serializeItem("x", [], memTree)).digest("hex"));
  });

  it("hashes a sparse file like the same bytes written out, and like the in-memory serialization", async () => {
    const sparse = join(work, "sparse.img");
    const dense = join(work, "dense.img");
    const size = 5 * 1024 * 1024 + 123;
    await writeFile(sparse, "");
    await truncate(sparse, size);
    const handle = await open(sparse, "r+");
    await handle.write(Buffer.from("boot sector"), 0, 11, 3 * 1024 * 1024 + 7);
    await handle.close();
    await copyFile(sparse, dense); // same bytes; whether holes survive does not matter
    const content = Buffer.alloc(size);
    content.write("boot sector", 3 * 1024 * 1024 + 7, "latin1");
    const expected = createHash("sha256").update(serializeItem("disk", [], { type: "regular", content })).digest("hex");
    expect((await hashItemTree(sparse, { name: "disk" })).hash).toBe(expected);
    expect((await hashItemTree(dense, { name: "disk" })).hash).toBe(expected);
  });

  it("hashes a large sparse file from its data extents only, to the same hash as every byte read", async () => {
    const size = 40 * 1024 * 1024 + 123; // above the size from which holes are looked up; a short last block
    const content = Buffer.alloc(size);
    const spots: Array<[number, Buffer]> = [
      [5, Buffer.from("partition table")],
      [64 * 1024 - 3, Buffer.from("across a block boundary")],
      [9 * 1024 * 1024, Buffer.alloc(4096)], // zeros written as data: an extent that reads as a zero block
      [17 * 1024 * 1024 + 1, randomBytes(200_000)],
      [size - 10, Buffer.from("last bytes")],
    ];
    const expected = createHash("sha256");
    for (const [at, bytes] of spots) bytes.copy(content, at);
    expected.update(serializeItem("disk", [], { type: "regular", content }));
    const hash = expected.digest("hex");

    for (const dir of [work, "/dev/shm"]) {
      const file = join(await mkdtemp(join(dir, "fruix-sparse-")), "disk.img");
      try {
        await writeFile(file, "");
        await truncate(file, size);
        const handle = await open(file, "r+");
        for (const [at, bytes] of spots) await handle.write(bytes, 0, bytes.length, at);
        await handle.close();
        const extents = dataExtents(file);
        if (dir === work) {
          if (extents === undefined) console.warn(`NOT RUN: ${work}'s file system does not list extents (filefrag); the sparse path is untested here`);
          else expect(extents.reduce((sum, r) => sum + (r.end - r.start), 0)).toBeLessThan(size / 10);
        }
        expect((await hashItemTree(file, { name: "disk" })).hash, dir).toBe(hash);
      } finally {
        await rm(dirname(file), { recursive: true, force: true });
      }
    }
  });

  it("reads filefrag's extent listing", () => {
    const listing = [
      "Filesystem type is: ef53",
      "File size of disk.img is 384827392 (93952 blocks of 4096 bytes)",
      " ext:     logical_offset:        physical_offset: length:   expected: flags:",
      "   0:        0..       4:   21549056..  21549060:      5:            ",
      "   1:      256..    3214:   21549312..  21552270:   2959:            ",
      "   2:    49448..   53542:   21553153..  21557247:   4095:             unwritten",
      "   3:    93947..   93951:          0..         0:      0:             last,unknown_loc,delalloc,eof",
      "disk.img: 2 extents found", // physically contiguous runs, not lines
    ].join("\n");
    expect(parseFilefrag(listing + "\n")).toEqual([
      { start: 0, end: 5 * 4096 },
      { start: 256 * 4096, end: 3215 * 4096 },
      { start: 49448 * 4096, end: 53543 * 4096 },
      { start: 93947 * 4096, end: 93952 * 4096 },
    ]);
    expect(parseFilefrag("Filesystem type is: ef53\nFile size of h.img is 104857600 (25600 blocks of 4096 bytes)\nh.img: 0 extents found\n")).toEqual([]);
    expect(parseFilefrag("h.img: 3 extents found\n")).toBeUndefined(); // no block size
    expect(parseFilefrag("File size of h.img is 1 (1 block of 4096 bytes)\nh.img: 3 extents found\n")).toBeUndefined(); // lines lost
    expect(parseFilefrag("filefrag: Operation not supported\n")).toBeUndefined();
  });

  it("changes with the name, a reference, a byte, the executable bit and a symlink target", async () => {
    const t = join(work, "t");
    await writeTree(t, "a");
    const ref = `/frx/store/${"c".repeat(64)}-dep`;
    const base = (await hashItemTree(t, { name: "x" })).hash;
    const seen = new Set([base]);
    const expectNew = async (h: string) => {
      expect(seen.has(h)).toBe(false);
      seen.add(h);
    };
    await expectNew((await hashItemTree(t, { name: "y" })).hash);
    await expectNew((await hashItemTree(t, { name: "x", references: [ref] })).hash);
    await writeFile(join(t, "etc/motd"), "hellO\n");
    await expectNew((await hashItemTree(t, { name: "x" })).hash);
    await writeFile(join(t, "etc/motd"), "hello\n");
    expect((await hashItemTree(t, { name: "x" })).hash).toBe(base);
    await chmod(join(t, "bin/tool"), 0o644);
    await expectNew((await hashItemTree(t, { name: "x" })).hash);
    await chmod(join(t, "bin/tool"), 0o755);
    await rm(join(t, "bin/motd-link"));
    await symlink("../etc/motd2", join(t, "bin/motd-link"));
    await expectNew((await hashItemTree(t, { name: "x" })).hash);
  });
});

describe("add", () => {
  it("adds a directory atomically, read-only and normalized, and is idempotent", async () => {
    const p1 = await store.add("tree", (tmp) => writeTree(tmp, "a"));
    const p2 = await store.add("tree", (tmp) => writeTree(tmp, "b"));
    expect(p2).toBe(p1);
    expect(p1).toMatch(/^\/frx\/store\/[0-9a-f]{64}-tree$/);
    // The name is the hash of what is stored (re-hashing the item gives its name back).
    expect(p1).toBe(`/frx/store/${(await hashItemTree(store.toHostPath(p1), { name: "tree" })).hash}-tree`);
    expect(await store.list()).toEqual([p1]);
    expect(await store.has(p1)).toBe(true);
    const host = store.toHostPath(p1);
    expect(host).toBe(join(work, "frx", "store", p1.slice("/frx/store/".length)));

    const mode = async (rel: string) => (await lstat(join(host, rel))).mode & 0o7777;
    expect(await mode("")).toBe(0o555);
    expect(await mode("etc")).toBe(0o555);
    expect(await mode("etc/motd")).toBe(0o444);
    expect(await mode("bin/tool")).toBe(0o555);
    for (const rel of ["", "etc/motd", "bin/tool", "var/empty"]) expect((await lstat(join(host, rel))).mtimeMs).toBe(1000);
    expect((await lstat(join(host, "bin/motd-link"))).mtimeMs).toBe(1000);

    // Nothing left behind but the item; metadata beside the store.
    expect(await readdir(store.storeDir)).toEqual([p1.slice("/frx/store/".length)]);
    expect(store.stateDir).toBe(join(work, "frx", "var", "fruix"));
    const info = await store.info(p1);
    expect(info).toMatchObject({ path: p1, name: "tree", references: [], kind: "directory", size: 6 + 18 + 11 });
  });

  it("handles concurrent adds of the same content in one process", async () => {
    const paths = await Promise.all(Array.from({ length: 5 }, () => store.add("same", (tmp) => writeTree(tmp, "a"))));
    expect(new Set(paths).size).toBe(1);
    expect(await readdir(store.storeDir)).toEqual([paths[0]!.slice("/frx/store/".length)]);
  });

  it("adds single files", async () => {
    const src = join(work, "script.sh");
    await writeFile(src, "#!/bin/sh\n", { mode: 0o755 });
    const p = await store.addFile("script.sh", src);
    const host = store.toHostPath(p);
    expect((await lstat(host)).isFile()).toBe(true);
    expect((await lstat(host)).mode & 0o7777).toBe(0o555);
    expect(await readFile(host, "utf8")).toBe("#!/bin/sh\n");
    expect((await store.info(p)).kind).toBe("file");
    const plain = await store.addFile("script.sh", src, { executable: false });
    expect(plain).not.toBe(p);
    expect((await lstat(store.toHostPath(plain))).mode & 0o7777).toBe(0o444);
    await expect(store.addFile("nope", join(work, "missing"))).rejects.toThrow(FruixError);
  });

  it("leaves nothing behind when the build fails", async () => {
    const boom = new Error("build exploded");
    await expect(
      store.add("broken", async (tmp) => {
        await writeFile(join(tmp, "half"), "x");
        await mkdir(join(tmp, "sub"));
        await chmod(join(tmp, "sub"), 0o555);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await readdir(store.storeDir)).toEqual([]);
    expect(await readdir(join(store.stateDir, "db"))).toEqual([]);
  });

  it("rejects bad names, sockets and missing references with one clear line", async () => {
    await expect(store.add(".bad", async () => {})).rejects.toThrow(/invalid store item name/);
    const missing = `/frx/store/${"d".repeat(64)}-gone`;
    const err = await store.add("needs-gone", async () => {}, { references: [missing] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FruixError);
    expect((err as Error).message).toBe(`store item ${missing} is missing; referenced by new item needs-gone`);
    await expect(store.add("x", async () => {}, { references: ["/tmp/not-a-store-path"] })).rejects.toThrow(/not a store path/);
    await expect(
      store.add("with-fifo", async (tmp) => {
        const r = spawnSync("mkfifo", [join(tmp, "fifo")]);
        if (r.status !== 0) throw new Error("mkfifo failed");
      }),
    ).rejects.toThrow(/fifo is not allowed/);
    expect(await readdir(store.storeDir)).toEqual([]);
  });
});

async function addText(name: string, text: string, references: string[] = []): Promise<string> {
  return store.add(name, (tmp) => writeFile(join(tmp, "content"), text), { references });
}

describe("references and closure", () => {
  it("records sorted references and computes transitive closures", async () => {
    const a = await addText("a", "a");
    const b = await addText("b", "b", [a]);
    const c = await addText("c", "c", [b]);
    const d = await addText("d", "d", [c, a, a]);
    expect(await store.references(d)).toEqual([a, c].sort());
    expect(await store.closure([c])).toEqual([a, b, c].sort());
    expect(await store.closure([d, a])).toEqual([a, b, c, d].sort());
    // References are part of the hash: same content, different references, different item.
    expect(await addText("e", "e", [a])).not.toBe(await addText("e", "e"));
  });

  it("names the missing item and who refers to it", async () => {
    const a = await addText("a", "a");
    const b = await addText("b", "b", [a]);
    await removeTree(store.toHostPath(a));
    await expect(store.closure([b])).rejects.toThrow(`store item ${a} is missing; referenced by ${b}`);
    await expect(store.references(a)).rejects.toThrow(`store item ${a} is missing`);
  });
});

describe("paths", () => {
  it("maps in-guest store paths to host paths and back, rejecting others", () => {
    const item = `/frx/store/${"e".repeat(64)}-x`;
    expect(store.toHostPath(item)).toBe(join(store.storeDir, item.slice(11)));
    expect(store.toHostPath(`${item}/boot/disk.img`)).toBe(join(store.storeDir, item.slice(11), "boot/disk.img"));
    expect(store.toStorePath(join(store.storeDir, item.slice(11), "a"))).toBe(`${item}/a`);
    for (const p of ["/etc/passwd", `/frx/store/${"e".repeat(64)}-.x`, `/frx/store/${"e".repeat(64)}-x/../y`, "/frx/store/abc-x"]) {
      expect(() => store.toHostPath(p), p).toThrow(FruixError);
    }
    expect(() => store.toStorePath("/etc/passwd")).toThrow(FruixError);
  });

  it("finds the store through FRUIX_STORE and FRUIX_STATE_DIR", async () => {
    const s = await Store.open({ env: { FRUIX_STORE: join(work, "s"), FRUIX_STATE_DIR: join(work, "st") } });
    expect(s.storeDir).toBe(join(work, "s"));
    expect(s.stateDir).toBe(join(work, "st"));
    expect(await readdir(join(work, "st"))).toEqual(expect.arrayContaining(["db", "gcroots", "lock", "temproots"]));
  });
});

describe("gc roots and gc", () => {
  it("keeps rooted closures, removes the rest, and honours dry runs and temp roots", async () => {
    const a = await addText("a", "a");
    const b = await addText("b", "b", [a]);
    const c = await addText("c", "c", [b]);
    const lone = await addText("lone", "lonely bytes");
    const other = await addText("other", "o");
    await store.addRoot("current-system", c);
    await store.addRoot("other", other);
    expect(await store.roots()).toEqual([
      { name: "current-system", target: c },
      { name: "other", target: other },
    ]);
    await expect(store.addRoot("bad", `/frx/store/${"f".repeat(64)}-nope`)).rejects.toThrow(/missing/);

    // This process added them all, so its temp roots keep everything alive for now.
    expect((await store.gc()).removed).toEqual([]);
    await store.close();

    expect(await store.removeRoot("other")).toBe(true);
    expect(await store.removeRoot("other")).toBe(false);
    const dry = await store.gc({ dryRun: true });
    expect(dry).toMatchObject({ removed: [lone, other].sort(), dryRun: true });
    expect(dry.freedBytes).toBe("lonely bytes".length + 1);
    expect(await store.has(lone)).toBe(true);

    const done = await store.gc();
    expect(done.removed).toEqual(dry.removed);
    expect(done.freedBytes).toBe(dry.freedBytes);
    expect(await store.list()).toEqual([a, b, c].sort());
    expect(await readdir(join(store.stateDir, "db"))).toHaveLength(3);

    await store.removeRoot("current-system");
    expect((await store.gc()).removed).toEqual([a, b, c].sort());
    expect(await readdir(store.storeDir)).toEqual([]);
  });

  it("removes temporaries of dead processes, keeps live ones, and removes orphan records", async () => {
    const dead = spawnSync(process.execPath, ["-e", "process.pid"]).pid!;
    const deadTmp = join(store.storeDir, `.tmp-${dead}-abc`);
    const liveTmp = join(store.storeDir, `.tmp-${process.pid}-abc`);
    for (const d of [deadTmp, liveTmp]) {
      await mkdir(join(d, "sub"), { recursive: true });
      await writeFile(join(d, "sub", "f"), "1234");
      await chmod(join(d, "sub"), 0o555);
    }
    // As if an add was killed between writing its record and its rename.
    const p = await addText("orphan", "o");
    await store.close();
    await rm(store.toHostPath(p), { recursive: true, force: true });
    expect(await store.has(p)).toBe(false);

    const dry = await store.gc({ dryRun: true });
    expect(dry.leftovers).toEqual([deadTmp, join(store.stateDir, "db", `${p.slice(11)}.json`)].sort());
    const res = await store.gc();
    expect(res.leftovers).toEqual(dry.leftovers);
    expect(res.freedBytes).toBe(4);
    expect(await readdir(store.storeDir)).toEqual([`.tmp-${process.pid}-abc`]);
    expect(await readdir(join(store.stateDir, "db"))).toEqual([]);

    // And adding that content again works.
    expect(await addText("orphan", "o")).toBe(p);
    expect(await store.has(p)).toBe(true);
  });

  it("replaces content found under a final name without a record", async () => {
    const p = await addText("x", "x");
    await rm(join(store.stateDir, "db", `${p.slice(11)}.json`));
    expect(await store.has(p)).toBe(false);
    expect(await addText("x", "x")).toBe(p);
    expect(await store.has(p)).toBe(true);
    expect((await readdir(store.storeDir)).filter((e) => e.startsWith("."))).toEqual([]);
  });
});

describe("verify", () => {
  it("reports modified and deleted files, missing references and missing metadata", async () => {
    const dep = await addText("dep", "dep");
    const mod = await store.add("modified", (tmp) => writeFile(join(tmp, "f"), "original"));
    const del = await store.add("deleted", async (tmp) => {
      await writeFile(join(tmp, "keep"), "k");
      await writeFile(join(tmp, "gone"), "g");
    });
    const user = await addText("user", "u", [dep]);
    const nometa = await addText("nometa", "n");
    expect(await store.verify()).toEqual({ checked: 5, corrupt: [] });

    const modHost = store.toHostPath(mod);
    await chmod(join(modHost, "f"), 0o644);
    await writeFile(join(modHost, "f"), "tampered");
    const delHost = store.toHostPath(del);
    await chmod(delHost, 0o755);
    await rm(join(delHost, "gone"));
    await removeTree(store.toHostPath(dep)); // bypassing gc
    await rm(join(store.stateDir, "db", `${nometa.slice(11)}.json`));

    const res = await store.verify();
    expect(res.checked).toBe(5); // four items plus dep's orphan record
    const reasons = res.corrupt.map((c) => [c.path, c.reason.replace(/[0-9a-f]{64}\)$/, "…)")]);
    expect(reasons).toEqual(
      expect.arrayContaining([
        [mod, "content does not match its hash (it now hashes to …)"],
        [del, "content does not match its hash (it now hashes to …)"],
        [user, `reference ${dep} is missing`],
        [nometa, "metadata record is missing"],
        [dep, expect.stringMatching(/^content is missing but its metadata record .* exists$/)],
      ]),
    );
    expect(res.corrupt).toHaveLength(5);
  });
});
