// TEST DOUBLE: the SSH side of Fruix's XCP-ng test host. It serves one
// command, `xl console -t serial <domid>`, from the domain's serial socket;
// when the domain ends (a reboot gives a new domid, as on Xen) the session ends.
import { timingSafeEqual } from "node:crypto";
import { connect } from "node:net";
import ssh2 from "ssh2";
import type { XapiModel } from "./xapi-model.js";

export interface SshKeys {
  readonly hostPrivate: string;
  readonly clientPublic: string;
}

/** Parses the one command served; anything else is refused. */
export function parseXlConsole(command: string): number | undefined {
  const m = /^xl console -t serial (\d+)$/.exec(command.trim());
  return m ? Number(m[1]) : undefined;
}

function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createSshServer(model: XapiModel, keys: SshKeys, auth: { user: string; password: string }, log: (line: string) => void): ssh2.Server {
  const allowed = ssh2.utils.parseKey(keys.clientPublic);
  if (allowed instanceof Error) throw allowed;
  return new ssh2.Server({ hostKeys: [keys.hostPrivate] }, (client) => {
    client.on("error", () => undefined);
    client.on("authentication", (ctx) => {
      if (ctx.username !== auth.user) return ctx.reject();
      if (ctx.method === "password" && same(Buffer.from(ctx.password), Buffer.from(auth.password))) return ctx.accept();
      if (ctx.method === "publickey" && ctx.key.algo === allowed.type && same(ctx.key.data, allowed.getPublicSSH())) {
        if (!ctx.signature) return ctx.accept(); // the client asks whether this key would do
        if (allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
      }
      ctx.reject(["publickey", "password"]);
    });
    client.on("session", (accept) => {
      const session = accept();
      session.on("pty", (_accept, reject) => reject?.());
      session.on("shell", (_accept, reject) => reject());
      session.on("exec", (acceptExec, _reject, info) => {
        const channel = acceptExec();
        const domid = parseXlConsole(info.command);
        if (domid === undefined) {
          channel.stderr.write("fruix XCP-ng TEST DOUBLE: only 'xl console -t serial <domid>' is served here\n");
          channel.exit(127);
          return channel.end();
        }
        const domain = model.domain(domid);
        if (!domain) {
          channel.stderr.write(`xl: domain ${domid} does not exist\n`);
          channel.exit(1);
          return channel.end();
        }
        const serial = connect(domain.serialSocket);
        let finished = false;
        const finish = () => {
          if (finished) return;
          finished = true;
          serial.destroy();
          channel.exit(0);
          channel.end();
        };
        serial.on("error", finish).on("close", finish);
        serial.on("data", (chunk) => channel.write(chunk));
        channel.on("data", (chunk: Buffer) => serial.write(chunk));
        channel.on("close", finish);
        void domain.ended.then(finish);
        log(`ssh: xl console -t serial ${domid} attached`);
      });
    });
  });
}
