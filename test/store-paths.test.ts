// Pure parts of the store: path grammar, location rules, metadata records, lock tickets,
// and the canonical serialization (unambiguity).

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { FruixError } from "../lib/errors.js";
import { chooseStateDir, chooseStoreDir } from "../lib/store/location.js";
import { parseTicket } from "../lib/store/lock.js";
import { decodeRecord, encodeRecord, makeRecord } from "../lib/store/metadata.js";
import {
  canonicalReferences,
  parseBaseName,
  parseStorePath,
  parseTempName,
  splitStorePath,
  tempName,
  validateItemName,
  validateRootName,
} from "../lib/store/paths.js";
import { parseProcStatStartTime } from "../lib/process.js";
import { CONTENT_BLOCK, FORMAT_VERSION, serializeItem, type MemNode } from "../lib/store/serialize.js";

const H = "a".repeat(64);
const H2 = "b".repeat(64);

describe("item names", () => {
  it("accepts the allowed alphabet up to 200 characters", () => {
    for (const n of ["fruix-system-host", "a+b_c.d?e=f-0", "x", "n".repeat(200)]) expect(validateItemName(n)).toBe(n);
  });
  it("rejects empty, dot-led, too long and foreign characters with a FruixError", () => {
    for (const n of ["", ".hidden", "a/b", "a b", "é", "n".repeat(201), "a\nb", "a*b"]) {
      expect(() => validateItemName(n)).toThrow(FruixError);
    }
  });
  it("validates gc root names", () => {
    expect(validateRootName("system-1")).toBe("system-1");
    for (const n of ["", ".tmp-1-a", "a/b", "x?"]) expect(() => validateRootName(n)).toThrow(FruixError);
  });
});

describe("store paths", () => {
  it("parses /frx/store/<hash>-<name>", () => {
    expect(parseStorePath(`/frx/store/${H}-fruix-system-x`)).toEqual({
      hash: H,
      name: "fruix-system-x",
      baseName: `${H}-fruix-system-x`,
      path: `/frx/store/${H}-fruix-system-x`,
    });
  });
  it("rejects non-store paths and malformed items", () => {
    const bad = [
      `/gnu/store/${H}-x`,
      `frx/store/${H}-x`,
      `/frx/store/${H.toUpperCase()}-x`,
      `/frx/store/${"a".repeat(63)}-x`,
      `/frx/store/${H}x`,
      `/frx/store/${H}-`,
      `/frx/store/${H}-.x`,
      `/frx/store/${H}-a b`,
      `/frx/store/${H}-x/disk.img`, // inside an item: not an item path
      `/frx/store/`,
      `/frx/store`,
    ];
    for (const p of bad) expect(() => parseStorePath(p), p).toThrow(FruixError);
  });
  it("splits paths inside items and refuses to climb out", () => {
    expect(splitStorePath(`/frx/store/${H}-x/boot/disk.img`).rest).toBe("boot/disk.img");
    expect(splitStorePath(`/frx/store/${H}-x`).rest).toBe("");
    for (const p of [`/frx/store/${H}-x/../y`, `/frx/store/${H}-x/a/../../y`, `/frx/store/${H}-x//a`]) {
      expect(() => splitStorePath(p), p).toThrow(FruixError);
    }
  });
  it("parses store directory entries, and only those", () => {
    expect(parseBaseName(`${H}-x`)?.name).toBe("x");
    expect(parseBaseName(".tmp-1-abc")).toBeUndefined();
    expect(parseBaseName("lost+found")).toBeUndefined();
  });
  it("canonicalizes references: valid, unique, sorted", () => {
    const a = `/frx/store/${H}-a`;
    const b = `/frx/store/${H2}-b`;
    expect(canonicalReferences([b, a, b])).toEqual([a, b]);
    expect(() => canonicalReferences(["/tmp/x"])).toThrow(FruixError);
  });
  it("names temporaries with the owner's pid", () => {
    expect(parseTempName(tempName("tmp", 42, "abc123"))).toEqual({ kind: "tmp", pid: 42 });
    expect(parseTempName(tempName("gc", 7, "z9"))).toEqual({ kind: "gc", pid: 7 });
    expect(parseTempName(".tmp-x-1")).toBeUndefined();
    expect(parseTempName(`${H}-x`)).toBeUndefined();
  });
});

describe("store location", () => {
  const base = { env: {}, homeDir: "/home/u", frxStoreUsable: true };
  it("prefers the explicit option, then FRUIX_STORE, then /frx/store, then the data dir", () => {
    expect(chooseStoreDir({ ...base, store: "/s", env: { FRUIX_STORE: "/e" } })).toBe("/s");
    expect(chooseStoreDir({ ...base, env: { FRUIX_STORE: "/e" } })).toBe("/e");
    expect(chooseStoreDir(base)).toBe("/frx/store");
    expect(chooseStoreDir({ ...base, frxStoreUsable: false })).toBe("/home/u/.local/share/fruix/store");
    expect(chooseStoreDir({ ...base, frxStoreUsable: false, env: { XDG_DATA_HOME: "/xdg" } })).toBe("/xdg/fruix/store");
    expect(chooseStoreDir({ ...base, frxStoreUsable: false, env: { XDG_DATA_HOME: "rel" } })).toBe("/home/u/.local/share/fruix/store");
  });
  it("puts state beside the store, mirroring /frx/store and /frx/var/fruix", () => {
    expect(chooseStateDir("/frx/store", undefined, {})).toBe("/frx/var/fruix");
    expect(chooseStateDir("/data/fruix/store", undefined, {})).toBe("/data/fruix/var/fruix");
    // Any other name gets its own: stores side by side never share state.
    expect(chooseStateDir("/data/a", undefined, {})).toBe("/data/var/fruix-a");
    expect(chooseStateDir("/data/b", undefined, {})).toBe("/data/var/fruix-b");
    expect(chooseStateDir("/data/fruix", undefined, {})).toBe("/data/var/fruix-fruix");
    expect(chooseStateDir("/s", undefined, { FRUIX_STATE_DIR: "/st" })).toBe("/st");
    expect(chooseStateDir("/s", "/explicit", { FRUIX_STATE_DIR: "/st" })).toBe("/explicit");
  });
});

describe("metadata records", () => {
  const path = `/frx/store/${H}-x`;
  const ref = `/frx/store/${H2}-y`;
  it("round-trips and is deterministic", () => {
    const r = makeRecord(path, [ref, ref], 12, "directory");
    const text = encodeRecord(r);
    expect(encodeRecord(makeRecord(path, [ref], 12, "directory"))).toBe(text);
    expect(decodeRecord(text, path)).toEqual(r);
    expect(r).toMatchObject({ version: FORMAT_VERSION, name: "x", hash: H, references: [ref] });
  });
  it("rejects records that do not belong to the path or are not canonical", () => {
    const r = makeRecord(path, [], 0, "file");
    expect(() => decodeRecord(encodeRecord(r), `/frx/store/${H2}-x`)).toThrow(/malformed/);
    expect(() => decodeRecord("{", path)).toThrow(FruixError);
    const unsorted = { ...r, references: [ref, `/frx/store/${H}-a`] };
    expect(() => decodeRecord(JSON.stringify(unsorted), path)).toThrow(/sorted/);
  });
});

describe("lock tickets and process identity", () => {
  it("parses held and free tickets; garbage counts as free", () => {
    expect(parseTicket('{"held":true,"pid":5,"host":"h","token":"t","start":"9"}')).toEqual({
      held: true,
      pid: 5,
      host: "h",
      token: "t",
      start: "9",
    });
    expect(parseTicket('{"held":false}')).toEqual({ held: false });
    expect(parseTicket("")).toEqual({ held: false });
  });
  it("reads the start time from /proc/<pid>/stat even with odd command names", () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3)); // field numbers 3..52
    expect(parseProcStatStartTime(`123 (a) (b c) ${fields.join(" ")}`)).toBe("22");
  });
});

// A decoder for the serialization grammar (see lib/store/serialize.ts). If every serialization
// decodes back to the tree it came from, no two different trees can share one.
function decode(buf: Buffer): { name: string; references: string[]; root: MemNode } {
  let off = 0;
  const u64 = () => {
    const n = Number(buf.readBigUInt64LE(off));
    off += 8;
    return n;
  };
  const bytes = () => {
    const n = u64();
    const b = buf.subarray(off, off + n);
    if (b.length !== n) throw new Error("truncated");
    off += n;
    return b;
  };
  const str = () => bytes().toString("utf8");
  const node = (): MemNode => {
    const tag = str();
    if (tag === "directory") {
      const n = u64();
      const entries: Record<string, MemNode> = {};
      for (let i = 0; i < n; i++) {
        const name = str();
        entries[name] = node();
      }
      return { type: "directory", entries };
    }
    if (tag === "regular" || tag === "executable") {
      const n = u64();
      const blocks: Buffer[] = [];
      for (let left = n; left > 0; left -= CONTENT_BLOCK) {
        const length = Math.min(left, CONTENT_BLOCK);
        const blockTag = buf[off++];
        if (blockTag === 0) blocks.push(Buffer.alloc(length));
        else if (blockTag === 1) {
          blocks.push(buf.subarray(off, off + length));
          off += length;
        } else throw new Error(`bad block tag ${blockTag}`);
      }
      return { type: "regular", content: Buffer.concat(blocks).toString("utf8"), executable: tag === "executable" };
    }
    if (tag === "symlink") return { type: "symlink", target: str() };
    throw new Error(`bad tag ${tag}`);
  };
  if (str() !== "fruix-store-item" || u64() !== FORMAT_VERSION) throw new Error("bad header");
  const name = str();
  const references = Array.from({ length: u64() }, str);
  const root = node();
  if (off !== buf.length) throw new Error("trailing bytes");
  return { name, references, root };
}

/** Canonical form of a MemNode as the decoder returns it (executable always explicit). */
function canon(n: MemNode): MemNode {
  if (n.type === "directory") return { type: "directory", entries: Object.fromEntries(Object.entries(n.entries).map(([k, v]) => [k, canon(v)])) };
  if (n.type === "regular") return { type: "regular", content: String(n.content), executable: n.executable === true };
  return n;
}

describe("canonical serialization", () => {
  const file = (content: string, executable = false): MemNode => ({ type: "regular", content, executable });
  const dir = (entries: Record<string, MemNode>): MemNode => ({ type: "directory", entries });
  const link = (target: string): MemNode => ({ type: "symlink", target });

  it("keeps look-alike trees apart", () => {
    // Pairs that naive concatenation of names and contents would confuse.
    const trees: MemNode[] = [
      file("ab"),
      dir({ a: file("b") }),
      dir({ ab: file("") }),
      dir({ a: file(""), b: file("") }),
      dir({ a: dir({ b: file("") }) }),
      dir({ "a/b": file("") }),
      file(""),
      dir({}),
      link("ab"),
      file("ab", true),
      dir({ a: link("b") }),
      dir({ a: file("b", true) }),
    ];
    const serialized = trees.map((t) => serializeItem("x", [], t).toString("hex"));
    expect(new Set(serialized).size).toBe(trees.length);
    for (const t of trees) expect(decode(serializeItem("x", [], t)).root).toEqual(canon(t));
  });

  it("keeps name and reference boundaries apart", () => {
    const r1 = `/frx/store/${H}-a`;
    const r2 = `/frx/store/${H2}-b`;
    const a = serializeItem("ab", [r1], file(""));
    const b = serializeItem("a", [r1], file(""));
    const c = serializeItem("ab", [r1, r2], file(""));
    expect(new Set([a, b, c].map((x) => x.toString("hex"))).size).toBe(3);
    expect(decode(c)).toEqual({ name: "ab", references: [r1, r2], root: canon(file("")) });
  });

  it("serializes zero blocks as one byte and decodes them back, whatever the block boundaries", () => {
    const zeros = "\0".repeat(CONTENT_BLOCK);
    for (const content of [zeros, zeros + "x", "x" + zeros, zeros + zeros.slice(1), "\0"]) {
      const s = serializeItem("z", [], file(content));
      expect(decode(s).root).toEqual(canon(file(content)));
    }
    expect(serializeItem("z", [], file(zeros)).length).toBeLessThan(100);
    expect(serializeItem("z", [], file(zeros)).equals(serializeItem("z", [], file(zeros.slice(1) + "\0")))).toBe(true);
    expect(serializeItem("z", [], file(zeros)).equals(serializeItem("z", [], file(zeros.slice(1) + "\x01")))).toBe(false);
  });

  it("decodes random trees back to themselves (prefix-free grammar)", () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ["a", "b", "ab", "", "\0", "é"];
    const randomNode = (depth: number): MemNode => {
      const k = rand(depth > 3 ? 3 : 4);
      if (k === 0) return file(Array.from({ length: rand(4) }, () => alphabet[rand(alphabet.length)]).join(""), rand(2) === 1);
      if (k === 1) return link(alphabet[rand(alphabet.length)]!);
      if (k === 2) return file("");
      const entries: Record<string, MemNode> = {};
      for (let i = rand(4); i > 0; i--) entries[`n${rand(5)}${alphabet[rand(3)]}`] = randomNode(depth + 1);
      return dir(entries);
    };
    const seen = new Map<string, string>();
    for (let i = 0; i < 300; i++) {
      const t = randomNode(0);
      const s = serializeItem("item", [], t);
      expect(decode(s).root).toEqual(canon(t));
      const key = createHash("sha256").update(s).digest("hex");
      const shape = JSON.stringify(canon(t), (_k, v) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v));
      if (seen.has(key)) expect(seen.get(key)).toBe(shape);
      seen.set(key, shape);
    }
  });
});
