// Errors an operator can act on. The CLI prints `fruix: <message>` for these and
// exits non-zero without a stack trace; anything else is a bug and keeps its trace.

export class FruixError extends Error {
  override readonly name: string = "FruixError";
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;
  constructor(message: string, options?: { exitCode?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options?.exitCode ?? 1;
  }
}

/** A problem in a declaration; the message is already `file:line:column: ...`. */
export class DeclarationError extends FruixError {
  override readonly name = "DeclarationError";
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${column}: ${detail}`, { exitCode: 2 });
  }
}
