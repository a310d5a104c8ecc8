// A machine's serial console on this process's terminal: what `fruix system vm`
// and `fruix vm attach` share. On a terminal, stdin goes raw (every key reaches
// the guest) until the escape key; without one, stdin is passed on as it comes.
import { onInterrupt } from "./cleanup.js";

/** Ctrl-]: what telnet and `virsh console` leave with; never a byte a shell needs. */
export const ESCAPE_BYTE = 0x1d;
export const ESCAPE_NAME = "Ctrl-]";

/** Splits terminal input at the escape byte: what goes to the guest, and whether to leave (pure). */
export function terminalInput(chunk: Buffer): { forward: Buffer; leave: boolean } {
  const at = chunk.indexOf(ESCAPE_BYTE);
  return at < 0 ? { forward: chunk, leave: false } : { forward: chunk.subarray(0, at), leave: true };
}

export interface TerminalSession {
  /** Resolves when the operator presses the escape key. */
  readonly left: Promise<"escape">;
  /** Gives the terminal back as it was; idempotent. */
  release(): void;
}

/** Whether stdin and stdout are a terminal: raw mode then, plain streams otherwise. */
export function isInteractive(): boolean {
  return process.stdin.isTTY === true && process.stdout.isTTY === true;
}

/** Sends this process's stdin to `send` until the escape key. */
export function attachTerminal(send: (bytes: Buffer) => void): TerminalSession {
  const { stdin } = process;
  const interactive = isInteractive();
  let released = false;
  let onInput: (chunk: Buffer) => void = () => undefined;
  const restore = () => {
    if (interactive && stdin.isRaw) stdin.setRawMode(false);
  };
  const forgetInterrupt = onInterrupt(restore);
  const left = new Promise<"escape">((resolve) => {
    onInput = (chunk: Buffer) => {
      const { forward, leave } = terminalInput(chunk);
      if (forward.length > 0) send(forward);
      if (leave) resolve("escape");
    };
  });
  if (interactive) stdin.setRawMode(true);
  stdin.on("data", onInput);
  stdin.resume();
  return {
    left,
    release() {
      if (released) return;
      released = true;
      stdin.off("data", onInput);
      stdin.pause();
      restore();
      forgetInterrupt();
    },
  };
}
