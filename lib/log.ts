// Progress goes to stderr as nested, timed lines (stdout is kept for key=value results).
// The nesting depth follows the async call chain, so steps run side by side
// (Promise.all) each indent under their own parent.
import { AsyncLocalStorage } from "node:async_hooks";

export interface Logger {
  info(message: string): void;
  /** Runs `fn` as a named step: prints its start, then its duration when it ends. */
  step<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Runs `fn` with each line it logs, at any depth, after `label`: the lines of cells run side by side stay told apart. */
  labelled<T>(label: string, fn: () => Promise<T>): Promise<T>;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)}s`;
}

export function createLogger(options: { quiet?: boolean; write?: (line: string) => void } = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const context = new AsyncLocalStorage<{ level: number; label?: string }>();
  const emit = (text: string, level = context.getStore()?.level ?? 0) => {
    const label = context.getStore()?.label;
    if (!options.quiet) write(`${label ? `${label} ` : ""}${"  ".repeat(level)}${text}`);
  };
  return {
    info: (message) => emit(message),
    labelled: (label, fn) => context.run({ level: context.getStore()?.level ?? 0, label }, fn),
    async step(name, fn) {
      const level = context.getStore()?.level ?? 0;
      const started = Date.now();
      emit(`${name} ...`, level);
      try {
        const value = await context.run({ ...context.getStore(), level: level + 1 }, fn);
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
