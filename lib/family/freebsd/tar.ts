// Reads the headers of a tar stream (pure): FreeBSD's distribution sets are
// pax archives whose headers carry what the store cannot keep — owners, the
// setuid bit, file flags (SCHILY.fflags). The files themselves are extracted
// by tar(1); this only lists, and makes the set's mtree manifest.
import type { Manifest, ManifestEntry } from "../../disk/mtree.js";

export type TarEntryType = "file" | "dir" | "symlink" | "hardlink" | "other";

export interface TarEntry {
  /** Relative path without a leading "./" or trailing "/"; "." for the top directory. */
  readonly path: string;
  readonly type: TarEntryType;
  readonly mode: number; // permission bits, setuid/setgid/sticky included
  readonly uid: number;
  readonly gid: number;
  readonly uname: string;
  readonly gname: string;
  readonly size: number;
  /** Symlink target, or the path a hard link refers to (normalized like `path`). */
  readonly link?: string;
  /** BSD file flags as pax SCHILY.fflags spells them (e.g. "schg"); absent when none. */
  readonly flags?: string;
}

const BLOCK = 512;

export function normalizeTarPath(name: string): string {
  let path = name.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
  if (path === "" || path === ".") path = ".";
  return path;
}

function text(block: Uint8Array, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return Buffer.from(end < 0 ? field : field.subarray(0, end)).toString("utf8");
}

/** Octal fields, or GNU base-256 for large values. */
function number(block: Uint8Array, offset: number, length: number): number {
  if (block[offset]! & 0x80) {
    let value = 0;
    for (let i = offset + 1; i < offset + length; i++) value = value * 256 + block[i]!;
    return value;
  }
  const digits = text(block, offset, length).trim();
  return digits === "" ? 0 : parseInt(digits, 8);
}

/** pax records: "LEN key=value\n" repeated. */
export function parsePaxRecords(data: Uint8Array): Map<string, string> {
  const records = new Map<string, string>();
  const buffer = Buffer.from(data);
  let at = 0;
  while (at < buffer.length) {
    const space = buffer.indexOf(0x20, at);
    if (space < 0) break;
    const length = parseInt(buffer.toString("ascii", at, space), 10);
    if (!Number.isFinite(length) || length <= 0) throw new Error("malformed pax extended header");
    const record = buffer.toString("utf8", space + 1, at + length - 1);
    const equals = record.indexOf("=");
    if (equals > 0) records.set(record.slice(0, equals), record.slice(equals + 1));
    at += length;
  }
  return records;
}

function entryType(flag: string): TarEntryType {
  if (flag === "0" || flag === "" || flag === "7") return "file";
  if (flag === "5") return "dir";
  if (flag === "2") return "symlink";
  if (flag === "1") return "hardlink";
  return "other";
}

/**
 * Incremental reader: feed it the decompressed archive in chunks of any size,
 * collect `entries` when done. Throws on a malformed header.
 */
export class TarLister {
  readonly entries: TarEntry[] = [];
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes of member data (with padding) still to skip, or to collect for pax/GNU headers. */
  private skip = 0;
  private collect: { kind: "pax" | "global" | "longname" | "longlink"; size: number; parts: Buffer[] } | undefined;
  private pax = new Map<string, string>();
  private globalPax = new Map<string, string>();
  private longName: string | undefined;
  private longLink: string | undefined;
  private ended = false;

  push(chunk: Uint8Array): void {
    this.pending = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
    for (;;) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, this.pending.length);
        if (this.collect) this.collect.parts.push(this.pending.subarray(0, take));
        this.pending = this.pending.subarray(take);
        this.skip -= take;
        if (this.skip > 0) return;
        if (this.collect) this.finishCollect();
        continue;
      }
      if (this.ended || this.pending.length < BLOCK) return;
      const block = this.pending.subarray(0, BLOCK);
      this.pending = this.pending.subarray(BLOCK);
      this.header(block);
    }
  }

  /** Whether the end-of-archive marker was seen (a truncated archive lacks it). */
  get complete(): boolean {
    return this.ended;
  }

  private finishCollect(): void {
    const { kind, size, parts } = this.collect!;
    this.collect = undefined;
    const data = Buffer.concat(parts).subarray(0, size);
    if (kind === "pax") this.pax = parsePaxRecords(data);
    else if (kind === "global") for (const [k, v] of parsePaxRecords(data)) this.globalPax.set(k, v);
    else {
      const value = text(data, 0, data.length);
      if (kind === "longname") this.longName = value;
      else this.longLink = value;
    }
  }

  private header(block: Buffer): void {
    if (block.every((b) => b === 0)) {
      this.ended = true; // the first of two zero blocks ends the archive
      return;
    }
    const sum = number(block, 148, 8);
    let computed = 0;
    for (let i = 0; i < BLOCK; i++) computed += i >= 148 && i < 156 ? 0x20 : block[i]!;
    if (sum !== computed) throw new Error("bad tar header checksum (is this a tar archive?)");

    const flag = String.fromCharCode(block[156]!);
    const size = number(block, 124, 12);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const special = { x: "pax", g: "global", L: "longname", K: "longlink" } as const;
    if (flag in special) {
      this.collect = { kind: special[flag as keyof typeof special], size, parts: [] };
      this.skip = padded;
      if (padded === 0) this.finishCollect();
      return;
    }

    const pax = new Map([...this.globalPax, ...this.pax]);
    const prefix = text(block, 345, 155);
    const name = this.longName ?? pax.get("path") ?? (prefix ? `${prefix}/${text(block, 0, 100)}` : text(block, 0, 100));
    const link = this.longLink ?? pax.get("linkpath") ?? text(block, 157, 100);
    const type = entryType(flag);
    const entrySize = pax.has("size") ? Number(pax.get("size")) : size;
    const flags = pax.get("SCHILY.fflags");
    this.entries.push({
      path: normalizeTarPath(name),
      type,
      mode: number(block, 100, 8) & 0o7777,
      uid: pax.has("uid") ? Number(pax.get("uid")) : number(block, 108, 8),
      gid: pax.has("gid") ? Number(pax.get("gid")) : number(block, 116, 8),
      uname: pax.get("uname") ?? text(block, 265, 32),
      gname: pax.get("gname") ?? text(block, 297, 32),
      size: type === "file" ? entrySize : 0,
      ...(type === "symlink" ? { link } : type === "hardlink" ? { link: normalizeTarPath(link) } : {}),
      ...(flags && flags !== "none" ? { flags } : {}),
    });
    this.pax = new Map();
    this.longName = undefined;
    this.longLink = undefined;
    // Hard links and directories carry no data, whatever their size field says.
    this.skip = type === "file" || type === "other" ? Math.ceil(entrySize / BLOCK) * BLOCK : 0;
  }
}

const KIND: Record<TarEntryType, ManifestEntry["type"] | undefined> = {
  file: "file", hardlink: "file", dir: "dir", symlink: "link", other: undefined,
};

/** A hard link takes the attributes its header gives, like any file. */
export function manifestFromTar(entries: readonly TarEntry[]): Manifest {
  const manifest = new Map<string, ManifestEntry>();
  for (const e of entries) {
    const type = KIND[e.type];
    if (!type) continue;
    manifest.set(e.path, {
      type, mode: e.mode, uid: e.uid, gid: e.gid,
      ...(e.uname ? { uname: e.uname } : {}),
      ...(e.gname ? { gname: e.gname } : {}),
      ...(type === "link" ? { link: e.link! } : {}),
      ...(e.flags ? { flags: e.flags } : {}),
    });
  }
  return manifest;
}
