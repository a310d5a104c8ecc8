// A minimal QMP client: one JSON command at a time over QEMU's control socket.
import { connect, type Socket } from "node:net";
import { FruixError } from "../../lib/errors.js";

export class Qmp {
  private buffer = "";
  private pending: { resolve: (v: unknown) => void; reject: (e: Error) => void } | undefined;
  private greeted: Promise<void>;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    this.greeted = new Promise((resolve, reject) => {
      this.pending = { resolve: () => resolve(), reject };
    });
    socket.on("data", (chunk) => this.receive(chunk.toString("utf8")));
    socket.on("close", () => {
      this.closed = true;
      this.pending?.reject(new FruixError("QMP connection closed"));
      this.pending = undefined;
    });
    socket.on("error", () => undefined); // 'close' follows and says it
  }

  static async open(path: string): Promise<Qmp> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path, () => resolve(s));
      s.once("error", reject);
    });
    const qmp = new Qmp(socket);
    await qmp.greeted;
    await qmp.execute("qmp_capabilities");
    return qmp;
  }

  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.closed) return Promise.reject(new FruixError(`QMP ${command}: the connection is closed`));
    if (this.pending) return Promise.reject(new Error(`QMP ${command}: another command is in flight`));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + "\n");
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(text: string): void {
    this.buffer += text;
    let newline: number;
    while ((newline = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (!line) continue;
      const message = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc: string }; event?: string };
      if (message.event) continue; // events are not waited for here
      const pending = this.pending;
      this.pending = undefined;
      if (!pending) continue;
      if (message.error) pending.reject(new FruixError(`QMP: ${message.error.desc}`));
      else pending.resolve(message.return ?? message.QMP);
    }
  }
}
