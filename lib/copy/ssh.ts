// One SSH connection (ssh2) to a copy destination: the host key checked against
// known_hosts before anything is sent, key authentication only, and commands
// run with their stdin fed from a stream.
import { constants } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import ssh2, { type ConnectConfig } from "ssh2";
import { FruixError } from "../errors.js";
import type { Logger } from "../log.js";
import type { SshDestination } from "./destination.js";
import { fingerprint, readKnownHosts, rememberHostKey, verifyHostKey } from "./known-hosts.js";

export interface SshOptions {
  /** Private key file; default ~/.ssh/id_ed25519, id_ecdsa, id_rsa, else ssh-agent. */
  readonly identity?: string;
  /** Default ~/.ssh/known_hosts. */
  readonly knownHosts?: string;
  /** Record the key of a host not in known_hosts instead of refusing it. A changed key is refused regardless. */
  readonly acceptNewHostKey?: boolean;
  readonly log: Logger;
}

/** Streams instead of buffers, for long or large commands (`fruix native-build run`). */
export interface ExecStreams {
  /** Each piece of the command's stderr as it arrives (progress); it is still collected for the result. */
  readonly onStderr?: (text: string) => void;
  /** Where the command's stdout goes, in place of the result's `stdout` (then ""); ended when the command ends. */
  readonly stdout?: Writable;
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const DEFAULT_IDENTITIES = ["id_ed25519", "id_ecdsa", "id_rsa"];

/** How the session will log in: the identity's key (checked readable and unencrypted) or the agent. */
export async function authentication(options: SshOptions): Promise<Pick<ConnectConfig, "privateKey" | "agent">> {
  const candidates = options.identity ? [options.identity] : DEFAULT_IDENTITIES.map((n) => join(homedir(), ".ssh", n));
  for (const file of candidates) {
    try {
      await access(file, constants.R_OK);
    } catch {
      if (options.identity) throw new FruixError(`cannot read the SSH identity ${file}`, { exitCode: 2 });
      continue;
    }
    const key = await readFile(file, "utf8");
    const parsed = ssh2.utils.parseKey(key);
    if (parsed instanceof Error) {
      const hint = /passphrase/i.test(parsed.message) ? "; load it into ssh-agent instead" : "";
      throw new FruixError(`cannot use the SSH identity ${file}: ${parsed.message}${hint}`, { exitCode: 2 });
    }
    return { privateKey: key };
  }
  if (process.env.SSH_AUTH_SOCK) return { agent: process.env.SSH_AUTH_SOCK };
  throw new FruixError(`no SSH identity: give --identity FILE, create ~/.ssh/id_ed25519, or run an ssh-agent`, { exitCode: 2 });
}

export class SshSession {
  private constructor(
    private readonly client: ssh2.Client,
    readonly destination: SshDestination,
  ) {}

  static async connect(destination: SshDestination, options: SshOptions): Promise<SshSession> {
    const knownHostsFile = options.knownHosts ?? join(homedir(), ".ssh", "known_hosts");
    const known = await readKnownHosts(knownHostsFile);
    const auth = await authentication(options);
    const where = destination.url;
    const client = new ssh2.Client();
    let refusal: FruixError | undefined;
    let newKey: Buffer | undefined;

    const hostVerifier = (key: Buffer): boolean => {
      const verdict = verifyHostKey(known, destination.host, destination.port, key);
      const print = fingerprint(key);
      switch (verdict.kind) {
        case "known":
          return true;
        case "unknown":
          if (options.acceptNewHostKey) {
            newKey = key;
            return true;
          }
          refusal = new FruixError(
            `${where}: host key ${print} is not in ${knownHostsFile}; check it and pass --accept-new-host-key to record it`,
          );
          return false;
        case "changed":
          refusal = new FruixError(
            `${where}: the host key changed: the server offers ${print}, which does not match ${knownHostsFile} line ${verdict.lines.join(", ")}; refusing to send anything (remove the old entry only if you know why it changed)`,
          );
          return false;
        case "revoked":
          refusal = new FruixError(`${where}: host key ${print} is marked @revoked in ${knownHostsFile} line ${verdict.line}; refusing`);
          return false;
      }
    };

    await new Promise<void>((resolve, reject) => {
      client
        .once("ready", () => resolve())
        .once("error", (error: Error & { level?: string; code?: string }) => {
          if (refusal) reject(refusal);
          else if (error.level === "client-authentication") {
            reject(new FruixError(`${where}: the server refused our key (${error.message}); is it in the declaration's sshd authorized-keys?`));
          } else reject(new FruixError(`cannot connect to ${where}: ${error.code === "ECONNREFUSED" ? "connection refused" : error.message}`));
        })
        .connect({
          host: destination.host,
          port: destination.port,
          username: destination.user,
          readyTimeout: 30_000,
          hostVerifier,
          ...auth,
        });
    });
    if (newKey) {
      await rememberHostKey(knownHostsFile, destination.host, destination.port, newKey);
      options.log.info(`recorded ${where}'s host key ${fingerprint(newKey)} in ${knownHostsFile}`);
    }
    return new SshSession(client, destination);
  }

  /** Runs `command` with the remote user's shell; `stdin` is piped in and closed. */
  exec(command: string, stdin?: Readable | string, streams: ExecStreams = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (error, channel) => {
        if (error) return reject(new FruixError(`${this.destination.url}: cannot run a command: ${error.message}`));
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        if (streams.stdout) channel.pipe(streams.stdout);
        else channel.on("data", (c: Buffer) => out.push(c));
        channel.stderr.on("data", (c: Buffer) => {
          err.push(c);
          streams.onStderr?.(c.toString());
        });
        channel.on("close", (code: number | null, signal?: string) => {
          const stderr = Buffer.concat(err).toString().trim();
          if (code === null || code === undefined) {
            return reject(new FruixError(`${this.destination.url}: the command ended without a status${signal ? ` (signal ${signal})` : ""}${stderr ? `: ${stderr}` : ""}`));
          }
          resolve({ code, stdout: Buffer.concat(out).toString(), stderr });
        });
        if (typeof stdin === "string") channel.end(stdin);
        else if (stdin) {
          stdin.on("error", () => channel.close());
          stdin.pipe(channel);
        } else channel.end();
      });
    });
  }

  close(): void {
    this.client.end();
  }
}

/** Opens a session for `fn` and always closes it. */
export async function withSession<T>(destination: SshDestination, options: SshOptions, fn: (session: SshSession) => Promise<T>): Promise<T> {
  const session = await SshSession.connect(destination, options);
  try {
    return await fn(session);
  } finally {
    session.close();
  }
}
