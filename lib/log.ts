// Progress goes to stderr as nested, timed lines (stdout is kept for key=value results).
// The nesting depth follows the async call chain, so steps run side by side
// (Promise.all) each indent under their own parent.
import { AsyncLocalStorage } from "node:async_hooks";

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
  const depth = new AsyncLocalStorage<number>();
  const emit = (text: string, level = depth.getStore() ?? 0) => {
    if (!options.quiet) write(`${"  ".repeat(level)}${text}`);
  };
  return {
    info: (message) => emit(message),
    async step(name, fn) {
      const level = depth.getStore() ?? 0;
      const started = Date.now();
      emit(`${name} ...`, level);
      try {
        const value = await depth.run(level + 1, fn);
        emit(`${name}: done in ${seconds(Date.now() - started)}`, level);
        return value;
      } catch (error) {
        emit(`${name}: failed after ${seconds(Date.now() - started)}`, level);
        throw error;
      }
    },
  };
}

export const silentLogger: Logger = createLogger({ quiet: true });
