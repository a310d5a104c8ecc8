// The serial console of a Xen domain: SSH to the host the VM is resident on
// and run `xl console -t serial <domid>` there. One SSH connection per host;
// each attach is a new exec channel (a reboot gives a new domid, and the old
// `xl console` ends with the old domain).
import { createHash } from "node:crypto";
import type { ClientChannel } from "ssh2";
import ssh2 from "ssh2";
import { FruixError } from "../../lib/errors.js";
import type { XcpngConfig } from "./config.js";

/** The command that attaches to a domain's emulated serial port. */
export function xlConsoleCommand(domid: number): string {
  if (!Number.isInteger(domid) || domid <= 0) throw new FruixError(`not a guest domain id: ${domid}`);
  return `xl console -t serial ${domid}`;
}

/** OpenSSH's fingerprint form of a host key: "SHA256:" + unpadded base64 of its SHA-256. */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

export class SshConsoleHost {
  private client: ssh2.Client | undefined;
  private ready: Promise<ssh2.Client> | undefined;
  private closed = false;

  constructor(
    readonly host: string,
    private readonly config: XcpngConfig,
    private readonly log: (line: string) => void,
  ) {}

  private connect(): Promise<ssh2.Client> {
    const { ssh, password } = this.config;
    // readConfig refuses this too; checked again where the password would leave.
    if (!ssh.privateKey && !ssh.hostKeySha256) {
      return Promise.reject(new FruixError(`SSH to ${this.host}: password authentication needs a pinned host key (FRUIX_XCPNG_SSH_HOST_KEY); refusing to send the XAPI password to an unverified host`));
    }
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      this.client = client;
      let warned = false;
      client
        .on("ready", () => resolve(client))
        .on("error", (error) => reject(new FruixError(`SSH to ${this.host}:${ssh.port}: ${error.message}`)))
        .on("close", () => {
          this.ready = undefined;
          this.client = undefined;
        })
        .connect({
          host: this.host,
          port: ssh.port,
          username: ssh.user,
          ...(ssh.privateKey ? { privateKey: ssh.privateKey } : { password }),
          readyTimeout: 20_000,
          hostVerifier: (key: Buffer) => {
            const seen = hostKeyFingerprint(key);
            if (!ssh.hostKeySha256) {
              if (!warned) {
                this.log(
                  `WARNING: xcp-ng: SSH HOST KEY OF ${this.host} NOT CHECKED (${seen}): anyone between here and the host can read the console; set FRUIX_XCPNG_SSH_HOST_KEY`,
                );
              }
              warned = true;
              return true;
            }
            if (seen === ssh.hostKeySha256) return true;
            reject(new FruixError(`SSH to ${this.host}: host key ${seen} is not FRUIX_XCPNG_SSH_HOST_KEY`));
            return false;
          },
        });
    });
  }

  /** Opens `xl console -t serial <domid>`; the channel ends when the domain does. */
  async attach(domid: number): Promise<ClientChannel> {
    if (this.closed) throw new FruixError(`SSH to ${this.host}: closed`);
    this.ready ??= this.connect();
    const client = await this.ready;
    return new Promise((resolve, reject) => {
      client.exec(xlConsoleCommand(domid), (error, channel) => (error ? reject(new FruixError(`SSH to ${this.host}: ${error.message}`)) : resolve(channel)));
    });
  }

  close(): void {
    this.closed = true;
    this.client?.end();
  }
}
