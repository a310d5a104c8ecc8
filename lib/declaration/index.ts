// Public API of the declaration reader (DESIGN §3): file -> evaluated systems.

import { readFile } from "node:fs/promises";
import { DeclarationError, FruixError } from "../errors.js";
import { evaluateProgram } from "./evaluate.js";
import { decodeSource, readData } from "./reader.js";
import type { Declaration, OperatingSystem } from "./types.js";
import type { SystemSpec } from "./values.js";

export { canonicalSystem } from "./canonical.js";
export * from "./types.js";

/** Reads and evaluates a declaration file. The only function here that does I/O. */
export async function loadDeclaration(file: string): Promise<Declaration> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new DeclarationError(file, 1, 1, `cannot read declaration: ${readProblem(error)}`);
  }
  return parseDeclaration(decodeSource(bytes, file), file);
}

function readProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "it is a directory";
  return error instanceof Error ? error.message : String(error);
}

/** Evaluates declaration text; `file` is only used in locations and messages. */
export function parseDeclaration(source: string, file: string): Declaration {
  const bindings = evaluateProgram(readData(source, file));
  const systems = new Map<string, OperatingSystem>();
  for (const [name, { value }] of bindings) {
    if (value.kind === "record" && value.type === "operating-system") {
      systems.set(name, { binding: name, ...(value.object as SystemSpec) });
    }
  }
  if (systems.size === 0) {
    throw new DeclarationError(file, 1, 1, "no operating-system is defined: bind one with (define NAME (operating-system ...))");
  }
  return { file, systems };
}

/** The system `--system NAME` names; without a name, the only one. */
export function selectSystem(decl: Declaration, name?: string): OperatingSystem {
  const names = [...decl.systems.keys()];
  if (name !== undefined) {
    const os = decl.systems.get(name);
    if (os === undefined) {
      throw new FruixError(`no operating-system bound to '${name}' in ${decl.file} (bindings: ${names.join(", ") || "none"})`, { exitCode: 2 });
    }
    return os;
  }
  if (names.length === 1) return decl.systems.get(names[0]!)!;
  if (names.length === 0) throw new FruixError(`no operating-system is defined in ${decl.file}`, { exitCode: 2 });
  throw new FruixError(`${decl.file} defines several operating-systems (${names.join(", ")}): choose one with --system NAME`, { exitCode: 2 });
}
