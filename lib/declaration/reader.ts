// The s-expression reader: declaration text -> data with source positions.
// It knows Scheme's surface syntax only; meaning is evaluate.ts's job.

import { DeclarationError } from "../errors.js";
import type { SourceLocation } from "./types.js";

export type Datum = ListDatum | SymbolDatum | StringDatum | IntegerDatum | RealDatum | BooleanDatum | KeywordDatum;

export interface ListDatum {
  readonly kind: "list";
  readonly items: readonly Datum[];
  readonly loc: SourceLocation; // the opening parenthesis (or quote mark)
}
export interface SymbolDatum {
  readonly kind: "symbol";
  readonly name: string;
  readonly loc: SourceLocation;
}
export interface StringDatum {
  readonly kind: "string";
  readonly value: string;
  readonly loc: SourceLocation;
}
export interface IntegerDatum {
  readonly kind: "integer";
  readonly value: number;
  readonly loc: SourceLocation;
}
/** A non-integer number: kept as written, since no field accepts one. */
export interface RealDatum {
  readonly kind: "real";
  readonly text: string;
  readonly loc: SourceLocation;
}
export interface BooleanDatum {
  readonly kind: "boolean";
  readonly value: boolean;
  readonly loc: SourceLocation;
}
export interface KeywordDatum {
  readonly kind: "keyword";
  readonly name: string; // without "#:"
  readonly loc: SourceLocation;
}

/** Throws the one kind of error every declaration problem becomes. */
export function fail(loc: SourceLocation, detail: string): never {
  throw new DeclarationError(loc.file, loc.line, loc.column, detail);
}

/**
 * Decodes file bytes as UTF-8, reporting the position of the first byte that
 * is not valid UTF-8 (TextDecoder would only say "somewhere").
 */
export function decodeSource(bytes: Uint8Array, file: string): string {
  let line = 1;
  let column = 1;
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0; // a byte-order mark takes no column
  while (i < bytes.length) {
    const length = utf8SequenceLength(bytes, i);
    if (length === 0) {
      const hex = bytes[i]!.toString(16).toUpperCase().padStart(2, "0");
      fail({ file, line, column }, `invalid UTF-8 byte 0x${hex}: a declaration must be UTF-8 text`);
    }
    if (bytes[i] === 0x0a) {
      line += 1;
      column = 1;
    } else {
      column += 1;
    }
    i += length;
  }
  return new TextDecoder("utf-8").decode(bytes); // drops a leading byte-order mark
}

/** Length of the well-formed UTF-8 sequence at `i`, or 0 (Unicode Table 3-7). */
function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  const within = (k: number, lo: number, hi: number): boolean => {
    const b = bytes[i + k];
    return b !== undefined && b >= lo && b <= hi;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) return within(1, 0x80, 0xbf) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    return within(1, lo, hi) && within(2, 0x80, 0xbf) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    return within(1, lo, hi) && within(2, 0x80, 0xbf) && within(3, 0x80, 0xbf) ? 4 : 0;
  }
  return 0;
}

/** Reads every top-level datum of `source`. */
export function readData(source: string, file: string): Datum[] {
  const reader = new Reader(source, file);
  const data: Datum[] = [];
  for (;;) {
    reader.skipAtmosphere();
    if (reader.atEnd()) return data;
    data.push(reader.readDatum());
  }
}

const WHITESPACE = new Set([" ", "\t", "\n", "\r", "\f"]);
const DELIMITERS = new Set([...WHITESPACE, "(", ")", "[", "]", '"', ";"]);
const CLOSER: Record<string, string> = { "(": ")", "[": "]" };
const PREFIXES: Record<string, string> = { "'": "quote", "`": "quasiquote", ",": "unquote", ",@": "unquote-splicing" };
const STRING_ESCAPES: Record<string, string> = {
  '"': '"', "\\": "\\", n: "\n", t: "\t", r: "\r", a: "\x07", b: "\b", f: "\f", v: "\v", "0": "\0",
};

/** Nesting beyond this is garbage, not a system; refusing it keeps recursion off the stack limit. */
const MAX_DEPTH = 1000;

const INTEGER = /^[+-]?[0-9]+$/;
const REAL = /^[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(e[+-]?[0-9]+)?$|^[+-]?[0-9]+\/[0-9]+$|^[+-](inf|nan)\.0$/i;

class Reader {
  private readonly chars: string[]; // code points, so columns count characters
  private pos = 0;
  private line = 1;
  private column = 1;
  private depth = 0;

  constructor(
    source: string,
    private readonly file: string,
  ) {
    this.chars = Array.from(source.startsWith("\uFEFF") ? source.slice(1) : source);
  }

  atEnd(): boolean {
    return this.pos >= this.chars.length;
  }

  private peek(offset = 0): string | undefined {
    return this.chars[this.pos + offset];
  }

  private here(): SourceLocation {
    return { file: this.file, line: this.line, column: this.column };
  }

  private advance(): string {
    const c = this.chars[this.pos]!;
    const code = c.codePointAt(0)!;
    // Control characters are never part of a declaration; catching them here
    // also reports binary garbage (NUL bytes) at the first bad character.
    if ((code < 0x20 && !WHITESPACE.has(c)) || code === 0x7f) {
      fail(this.here(), `unexpected control character U+${code.toString(16).toUpperCase().padStart(4, "0")}: a declaration must be text`);
    }
    this.pos += 1;
    if (c === "\n") {
      this.line += 1;
      this.column = 1;
    } else {
      this.column += 1;
    }
    return c;
  }

  /** Skips whitespace and all three comment forms. */
  skipAtmosphere(): void {
    for (;;) {
      const c = this.peek();
      if (c === undefined) return;
      if (WHITESPACE.has(c)) {
        this.advance();
      } else if (c === ";") {
        while (!this.atEnd() && this.peek() !== "\n") this.advance();
      } else if (c === "#" && this.peek(1) === "|") {
        this.skipBlockComment();
      } else if (c === "#" && this.peek(1) === ";") {
        const start = this.here();
        this.advance();
        this.advance();
        this.nested(start, () => {
          this.skipAtmosphere();
          if (this.atEnd() || this.isCloser(this.peek())) fail(start, "datum comment '#;' is not followed by a datum");
          this.readDatum();
        });
      } else {
        // Control characters outside strings are reported by advance().
        const code = c.codePointAt(0)!;
        if ((code < 0x20 && !WHITESPACE.has(c)) || code === 0x7f) this.advance();
        return;
      }
    }
  }

  /** `#| ... |#`, nesting as in R7RS. */
  private skipBlockComment(): void {
    const opens: SourceLocation[] = [];
    do {
      if (this.atEnd()) fail(opens[opens.length - 1]!, "unterminated block comment '#|' (no closing '|#')");
      if (this.peek() === "#" && this.peek(1) === "|") {
        opens.push(this.here());
        this.advance();
        this.advance();
      } else if (this.peek() === "|" && this.peek(1) === "#") {
        opens.pop();
        this.advance();
        this.advance();
      } else {
        this.advance();
      }
    } while (opens.length > 0);
  }

  private isCloser(c: string | undefined): boolean {
    return c === ")" || c === "]";
  }

  private nested<T>(loc: SourceLocation, read: () => T): T {
    if (++this.depth > MAX_DEPTH) fail(loc, `data nested more than ${MAX_DEPTH} levels deep`);
    try {
      return read();
    } finally {
      this.depth -= 1;
    }
  }

  /** Reads one datum; the caller has skipped atmosphere and checked for end of input. */
  readDatum(): Datum {
    const c = this.peek()!;
    const loc = this.here();
    if (c === "(" || c === "[") return this.nested(loc, () => this.readList());
    if (this.isCloser(c)) fail(loc, `unexpected '${c}' (no matching opening parenthesis)`);
    if (c === '"') return this.readString();
    if (c === "'" || c === "`" || c === ",") return this.nested(loc, () => this.readPrefixed());
    if (c === "#") return this.readHash();
    if (c === "|") fail(loc, "symbols written with '|' are not supported");
    const token = this.readToken();
    if (token === ".") fail(loc, "dotted pairs ('.') are not supported; use a list");
    if (INTEGER.test(token)) {
      const value = Number(token);
      if (!Number.isSafeInteger(value)) fail(loc, `integer ${token} is too large`);
      return { kind: "integer", value: value === 0 ? 0 : value, loc };
    }
    if (REAL.test(token)) return { kind: "real", text: token, loc };
    return { kind: "symbol", name: token, loc };
  }

  private readToken(): string {
    let token = "";
    while (!this.atEnd() && !DELIMITERS.has(this.peek()!)) token += this.advance();
    return token;
  }

  private readList(): ListDatum {
    const loc = this.here();
    const open = this.advance();
    const items: Datum[] = [];
    for (;;) {
      this.skipAtmosphere();
      const c = this.peek();
      if (c === undefined) fail(loc, `unclosed '${open}': no matching '${CLOSER[open]}' before the end of the file`);
      if (this.isCloser(c)) {
        if (c !== CLOSER[open]) {
          fail(this.here(), `'${c}' does not match the '${open}' opened at ${loc.line}:${loc.column}`);
        }
        this.advance();
        return { kind: "list", items, loc };
      }
      items.push(this.readDatum());
    }
  }

  private readString(): StringDatum {
    const loc = this.here();
    this.advance();
    let value = "";
    for (;;) {
      if (this.atEnd()) fail(loc, "unterminated string (no closing '\"')");
      const c = this.advance();
      if (c === '"') return { kind: "string", value, loc };
      if (c !== "\\") {
        value += c;
        continue;
      }
      value += this.readEscape(loc);
    }
  }

  /** The part of a string escape after the backslash. */
  private readEscape(stringLoc: SourceLocation): string {
    const at: SourceLocation = { ...this.here(), column: this.column - 1 };
    if (this.atEnd()) fail(stringLoc, "unterminated string (no closing '\"')");
    const c = this.advance();
    const simple = STRING_ESCAPES[c];
    if (simple !== undefined) return simple;
    if (c === "x") {
      let hex = "";
      while (!this.atEnd() && /[0-9a-fA-F]/.test(this.peek()!)) hex += this.advance();
      const code = parseInt(hex, 16);
      if (hex === "" || this.peek() !== ";" || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
        fail(at, "malformed hex escape in string: write \\xHH; (hex digits, then ';')");
      }
      this.advance();
      return String.fromCodePoint(code);
    }
    if (c === "\n" || c === " " || c === "\t" || c === "\r") {
      // Line continuation: \ <spaces> newline <spaces> -> nothing.
      let sawNewline = c === "\n";
      while (!this.atEnd() && [" ", "\t", "\r"].includes(this.peek()!)) this.advance();
      if (!sawNewline && this.peek() === "\n") {
        this.advance();
        sawNewline = true;
      }
      if (!sawNewline) fail(at, "a backslash before spaces must end the line (line continuation)");
      while (!this.atEnd() && (this.peek() === " " || this.peek() === "\t")) this.advance();
      return "";
    }
    return fail(at, `unknown string escape '\\${c}' (known: \\" \\\\ \\n \\t \\r \\xHH;)`);
  }

  private readPrefixed(): ListDatum {
    const loc = this.here();
    let mark = this.advance();
    if (mark === "," && this.peek() === "@") mark += this.advance();
    this.skipAtmosphere();
    if (this.atEnd() || this.isCloser(this.peek())) fail(loc, `'${mark}' is not followed by a datum`);
    const datum = this.readDatum();
    return { kind: "list", items: [{ kind: "symbol", name: PREFIXES[mark]!, loc }, datum], loc };
  }

  private readHash(): Datum {
    const loc = this.here();
    const next = this.peek(1);
    if (next === ":") {
      this.advance();
      this.advance();
      const name = this.readToken();
      if (name === "") fail(loc, "keyword '#:' has no name");
      return { kind: "keyword", name, loc };
    }
    if (next === "\\") fail(loc, "character literals ('#\\') are not supported; use a string");
    if (next === "(") fail(loc, "vectors ('#(') are not supported; use a list");
    const token = this.readToken();
    if (token === "#t" || token === "#true") return { kind: "boolean", value: true, loc };
    if (token === "#f" || token === "#false") return { kind: "boolean", value: false, loc };
    const shown = token.length > 1 ? token.slice(0, 12) : "#";
    return fail(loc, `unsupported syntax '${shown}'`);
  }
}
