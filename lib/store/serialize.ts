// The canonical serialization whose sha256 names a store item (docs/store.md, "What the hash covers").
//
//   item   := str("fruix-store-item") u64(FORMAT_VERSION) str(name) u64(#refs) str(ref)* node
//   node   := str("directory")  u64(#entries) (str(entry-name) node)*   entries in byte order
//           | str("regular")    u64(size) content
//           | str("executable") u64(size) content
//           | str("symlink")    str(target)
//   content := block*       the file cut in 64 KiB blocks, the last one shorter
//   block  := 0x00           a block of zero bytes only (holes in disk images cost no hashing)
//           | 0x01 bytes     any other block, its bytes as they are
//   str(b) := u64(byte length of b) b        (strings as UTF-8)
//   u64    := 8 bytes, little-endian
//
// Every token is either fixed width or length-prefixed, so the grammar is prefix-free and
// decoding is unique: two different items can never serialize to the same bytes.
// Owner, times and permission bits other than "executable" are deliberately absent.
//
// The token encoders here are pure and shared by the streaming hasher (hash.ts) and by
// `serializeItem`, the in-memory reference implementation tests compare against.

import { createHash } from "node:crypto";
import { compareBytes } from "./paths.js";

export const SERIALIZATION_MAGIC = "fruix-store-item";
/** Bump when the serialization changes: every item path changes with it. */
export const FORMAT_VERSION = 2;

/** Content is serialized in blocks of this size (see the grammar above). */
export const CONTENT_BLOCK = 64 * 1024;
const ZERO_BLOCK = Buffer.alloc(CONTENT_BLOCK);
/** The whole serialization of a block of zero bytes, whatever its length. */
export const ZERO_TAG = Buffer.from([0]);
const DATA_TAG = Buffer.from([1]);

/**
 * Serializes file content that starts at a block boundary; `bytes` must hold
 * whole blocks, or end at the end of the file.
 */
export function contentBlocks(bytes: Uint8Array, sink: Sink): void {
  for (let at = 0; at < bytes.length; at += CONTENT_BLOCK) {
    const block = bytes.subarray(at, Math.min(at + CONTENT_BLOCK, bytes.length));
    if (ZERO_BLOCK.compare(block, 0, block.length, 0, block.length) === 0) sink.update(ZERO_TAG);
    else {
      sink.update(DATA_TAG);
      sink.update(block);
    }
  }
}

export type NodeType = "directory" | "regular" | "executable" | "symlink";

/** Where serialized bytes go: a hash, or a buffer collector in tests. */
export interface Sink {
  update(data: Uint8Array): unknown;
}

export function u64(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a length: ${n}`);
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

export function str(s: string | Uint8Array): Buffer {
  const bytes = typeof s === "string" ? Buffer.from(s, "utf8") : Buffer.from(s);
  return Buffer.concat([u64(bytes.length), bytes]);
}

/** Header: magic, version, name, then the references (already canonical: sorted, unique). */
export function itemHeader(name: string, references: readonly string[]): Buffer {
  return Buffer.concat([
    str(SERIALIZATION_MAGIC),
    u64(FORMAT_VERSION),
    str(name),
    u64(references.length),
    ...references.map((r) => str(r)),
  ]);
}

export function directoryHeader(entryCount: number): Buffer {
  return Buffer.concat([str("directory"), u64(entryCount)]);
}

export function entryName(name: string): Buffer {
  return str(name);
}

/** Followed by the content of exactly `size` bytes (contentBlocks). */
export function fileHeader(executable: boolean, size: number): Buffer {
  return Buffer.concat([str(executable ? "executable" : "regular"), u64(size)]);
}

export function symlinkNode(target: string | Uint8Array): Buffer {
  return Buffer.concat([str("symlink"), str(target)]);
}

/** Any execute bit counts; after normalization an item's files are 0444 or 0555 anyway. */
export function isExecutableMode(mode: number): boolean {
  return (mode & 0o111) !== 0;
}

/** An in-memory tree, for tests and for documenting the format by example. */
export type MemNode =
  | { readonly type: "directory"; readonly entries: Readonly<Record<string, MemNode>> }
  | { readonly type: "regular"; readonly content: string | Uint8Array; readonly executable?: boolean }
  | { readonly type: "symlink"; readonly target: string };

export function serializeNode(node: MemNode, sink: Sink): void {
  switch (node.type) {
    case "directory": {
      const names = Object.keys(node.entries).sort(compareBytes);
      sink.update(directoryHeader(names.length));
      for (const n of names) {
        sink.update(entryName(n));
        serializeNode(node.entries[n]!, sink);
      }
      return;
    }
    case "regular": {
      const bytes = typeof node.content === "string" ? Buffer.from(node.content, "utf8") : node.content;
      sink.update(fileHeader(node.executable === true, bytes.length));
      contentBlocks(bytes, sink);
      return;
    }
    case "symlink":
      sink.update(symlinkNode(node.target));
      return;
  }
}

/** The full serialization of an in-memory item. `references` must be canonical. */
export function serializeItem(name: string, references: readonly string[], root: MemNode): Buffer {
  const parts: Uint8Array[] = [itemHeader(name, references)];
  serializeNode(root, { update: (d) => parts.push(Buffer.from(d)) });
  return Buffer.concat(parts);
}

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
