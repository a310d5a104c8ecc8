// A JSON reader that keeps where each value was written, so a problem in a
// hand-written file (a matrix file) can be reported as file:line:column.
// JSON.parse says what is wrong but, for a well-formed file, never where.

export interface Position {
  readonly line: number;
  readonly column: number;
}

export type JsonNode =
  | { readonly kind: "object"; readonly at: Position; readonly entries: ReadonlyArray<{ readonly key: string; readonly keyAt: Position; readonly value: JsonNode }> }
  | { readonly kind: "array"; readonly at: Position; readonly items: readonly JsonNode[] }
  | { readonly kind: "string"; readonly at: Position; readonly value: string }
  | { readonly kind: "number"; readonly at: Position; readonly value: number }
  | { readonly kind: "boolean"; readonly at: Position; readonly value: boolean }
  | { readonly kind: "null"; readonly at: Position };

/** A syntax error, at the offending character. */
export class JsonSyntaxError extends Error {
  constructor(
    readonly at: Position,
    detail: string,
  ) {
    super(detail);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

export function readJson(text: string): JsonNode {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  const position = (offset: number): Position => {
    let line = 1;
    let start = 0;
    for (let k = text.indexOf("\n"); k !== -1 && k < offset; k = text.indexOf("\n", k + 1)) {
      line += 1;
      start = k + 1;
    }
    return { line, column: offset - start + 1 };
  };
  const fail = (detail: string, offset = i): never => {
    throw new JsonSyntaxError(position(offset), detail);
  };
  const describe = (): string => (i >= text.length ? "the end of the file" : `'${text[i]}'`);
  const skipSpace = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i += 1;
  };
  const expect = (char: string) => {
    skipSpace();
    if (text[i] !== char) fail(`expected '${char}', found ${describe()}`);
    i += 1;
  };

  const string = (): string => {
    STRING.lastIndex = i;
    const match = STRING.exec(text);
    if (!match) fail(text[i] === '"' ? "unterminated string, or a bad escape or control character in it" : `expected a string, found ${describe()}`);
    i += match![0].length;
    return JSON.parse(match![0]) as string;
  };

  const value = (): JsonNode => {
    skipSpace();
    const start = i;
    const at = position(start);
    const c = text[i];
    if (c === "{") {
      i += 1;
      const entries: Array<{ key: string; keyAt: Position; value: JsonNode }> = [];
      skipSpace();
      if (text[i] === "}") {
        i += 1;
        return { kind: "object", at, entries };
      }
      for (;;) {
        skipSpace();
        const keyAt = position(i);
        const key = string();
        expect(":");
        entries.push({ key, keyAt, value: value() });
        skipSpace();
        if (text[i] === ",") i += 1;
        else if (text[i] === "}") {
          i += 1;
          return { kind: "object", at, entries };
        } else fail(`expected ',' or '}', found ${describe()}`);
      }
    }
    if (c === "[") {
      i += 1;
      const items: JsonNode[] = [];
      skipSpace();
      if (text[i] === "]") {
        i += 1;
        return { kind: "array", at, items };
      }
      for (;;) {
        items.push(value());
        skipSpace();
        if (text[i] === ",") i += 1;
        else if (text[i] === "]") {
          i += 1;
          return { kind: "array", at, items };
        } else fail(`expected ',' or ']', found ${describe()}`);
      }
    }
    if (c === '"') return { kind: "string", at, value: string() };
    for (const [word, node] of [
      ["true", { kind: "boolean", at, value: true }],
      ["false", { kind: "boolean", at, value: false }],
      ["null", { kind: "null", at }],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return node;
      }
    }
    NUMBER.lastIndex = i;
    const number = NUMBER.exec(text);
    if (number) {
      i += number[0].length;
      return { kind: "number", at, value: Number(number[0]) };
    }
    return fail(`expected a value, found ${describe()}`);
  };

  const root = value();
  skipSpace();
  if (i < text.length) fail(`unexpected ${describe()} after the end of the document`);
  return root;
}
