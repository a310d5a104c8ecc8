// Writes the Scheme data Fruix records in metadata files (`metadata.scm`,
// `install.scm`, ...). Deterministic: same value, same bytes.

export type Sexp = string | number | boolean | Sym | readonly Sexp[];

export interface Sym {
  readonly symbol: string;
}

export const sym = (symbol: string): Sym => ({ symbol });

/** `(name value)` — the field form used throughout Fruix metadata. */
export const field = (name: string, value: Sexp): Sexp => [sym(name), value];

function atom(value: Exclude<Sexp, readonly Sexp[]>): string {
  if (typeof value === "string") return JSON.stringify(value).replace(/\\u00([0-9a-f]{2})/g, "\\x$1;");
  if (typeof value === "number") return String(value);
  if (typeof value === "boolean") return value ? "#t" : "#f";
  return value.symbol;
}

function flat(value: Sexp): string {
  if (!Array.isArray(value)) return atom(value as Exclude<Sexp, readonly Sexp[]>);
  return `(${(value as readonly Sexp[]).map(flat).join(" ")})`;
}

/**
 * Short lists, and lists of atoms such as `(closure "/frx/store/...")`, stay on
 * one line (line-oriented readers like the in-guest helper rely on that); a
 * longer list with nested lists puts each element after its head on its own line.
 */
export function formatSexp(value: Sexp, indent = 0): string {
  const one = flat(value);
  if (!Array.isArray(value) || one.length + indent <= 100 || !value.some(Array.isArray)) return one;
  const [head, ...rest] = value as readonly Sexp[];
  const pad = "\n" + " ".repeat(indent + 1);
  return `(${formatSexp(head!, indent + 1)}${rest.map((item) => pad + formatSexp(item, indent + 1)).join("")})`;
}

export function sexpDocument(value: Sexp): string {
  return formatSexp(value) + "\n";
}
