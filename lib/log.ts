// Progress goes to stderr as nested, timed lines (stdout is kept for key=value results).

export interface Logger {
  info(message: string): void;
  /** Runs `fn` as a named step: prints its start, then its duration when it ends. */
  step<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)}s`;
}

export function createLogger(options: { quiet?: boolean; write?: (line: string) => void } = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line + "\n"));
  let depth = 0;
  const emit = (text: string) => {
    if (!options.quiet) write(`${"  ".repeat(depth)}${text}`);
  };
  return {
    info: emit,
    async step(name, fn) {
      const started = Date.now();
      emit(`${name} ...`);
      depth++;
      try {
        const value = await fn();
        depth--;
        emit(`${name}: done in ${seconds(Date.now() - started)}`);
        return value;
      } catch (error) {
        depth--;
        emit(`${name}: failed after ${seconds(Date.now() - started)}`);
        throw error;
      }
    },
  };
}

export const silentLogger: Logger = createLogger({ quiet: true });
