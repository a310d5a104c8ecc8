// A XAPI session over XML-RPC: login (following HOST_IS_SLAVE to the pool
// master), calls with the session as first argument, Async.* calls polled
// through task.* (with a timeout), and the raw VDI HTTP handlers (import with
// a Content-Length and a task of ours whose outcome is the import's, export),
// following XAPI's 302 to the host that sees the SR.
// Session references are secrets: no URL that carries one is ever logged.
import { createReadStream, createWriteStream } from "node:fs";
import { isIP, type Socket } from "node:net";
import tls from "node:tls";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import http from "node:http";
import https from "node:https";
import { pipeline } from "node:stream/promises";
import { FruixError } from "../../lib/errors.js";
import { meter } from "../../lib/progress/index.js";
import {
  asString,
  decodeResponse,
  decodeTaskResult,
  encodeCall,
  unwrapXapi,
  XapiError,
  type XmlRpcValue,
} from "./xmlrpc.js";

export { XapiError };

const ORIGINATOR = "fruix";
const API_VERSION = "1.0";
const MAX_REDIRECTS = 5;
/** How long an upload waits for XAPI's early answer (it comes before the body is read) before sending the body anyway. */
const EARLY_ANSWER_MS = 5_000;

/**
 * How long a XAPI task may run before the adapter gives up on it (cancels it
 * and fails naming the call and the task), before --timeout-scale. Generous:
 * they only turn a hung pool into an error instead of a hung run.
 */
export const TASK_TIMEOUT_MS = {
  /** Async.* calls: VM.clone, VM.start, VDI.destroy, ... */
  async: 10 * 60_000,
  /** PUT /import_raw_vdi, from the end of the upload (the body is sent first). */
  import: 30 * 60_000,
} as const;

export interface XapiOptions {
  /**
   * The server certificate's SHA-256 fingerprint ("AB:CD:...", config.ts's
   * FRUIX_XAPI_TLS_SHA256). Without it HTTPS accepts any certificate
   * (XCP-ng's are self-signed by default), and nothing checks XAPI's
   * identity: the login, which sends the password, happens before any SSH
   * host key is seen.
   */
  readonly tlsSha256?: string;
  /** Multiplies the Async.* and import timeouts (the engine's --timeout-scale). */
  readonly timeoutScale?: number;
  /** Overrides TASK_TIMEOUT_MS (tests). */
  readonly taskTimeoutMs?: { readonly async?: number; readonly import?: number };
  readonly log?: (line: string) => void;
}

function transport(url: URL): typeof http | typeof https {
  return url.protocol === "https:" ? https : http;
}

/** Whether a certificate's fingerprint is the pinned one (both in Node's "AB:CD:..." form). */
export function tlsFingerprintMatches(seen: string | undefined, pinned: string): boolean {
  return typeof seen === "string" && seen.toUpperCase() === pinned.toUpperCase();
}

/**
 * Request options for one URL. Over HTTPS with a pinned fingerprint the
 * connection is made here and handed to the request only once the
 * certificate matched, so no byte of the request (password, session) goes to
 * another server. Without a pin: any certificate.
 */
function connectOptions(url: URL, options: XapiOptions): https.RequestOptions {
  if (url.protocol !== "https:") return {};
  const pinned = options.tlsSha256;
  if (!pinned) return { rejectUnauthorized: false };
  // An agent of one connection whose socket reaches the request only after the check.
  const agent = new https.Agent({ keepAlive: false });
  (agent as unknown as { createConnection: unknown }).createConnection = (_opts: unknown, done: (error: Error | null, socket?: Socket) => void) => {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const socket = tls.connect({ host, port: Number(url.port || 443), servername: isIP(host) ? undefined : host, rejectUnauthorized: false });
    socket.once("secureConnect", () => {
      const seen = socket.getPeerCertificate().fingerprint256;
      if (tlsFingerprintMatches(seen, pinned)) return done(null, socket);
      socket.destroy();
      done(new FruixError(`XAPI ${url.origin}: TLS certificate ${seen ?? "(none)"} is not FRUIX_XAPI_TLS_SHA256`));
    });
    socket.once("error", (error) => done(error));
    return undefined;
  };
  return { agent };
}

/** One HTTP request; resolves with status, headers and the body as text (for XML-RPC and errors). */
function request(
  url: URL,
  init: { method: string; headers?: Record<string, string | number>; body?: string | Buffer },
  options: XapiOptions,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = transport(url).request(
      url,
      { method: init.method, headers: init.headers, ...connectOptions(url, options) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", (error) => reject(error instanceof FruixError ? error : new FruixError(`XAPI ${url.origin}: ${error.message}`)));
    req.end(init.body);
  });
}

/** Sends one XML-RPC call and unwraps XAPI's status struct. */
export async function rpc(url: URL, method: string, params: readonly XmlRpcValue[], options: XapiOptions = {}): Promise<XmlRpcValue> {
  const body = Buffer.from(encodeCall(method, params));
  const res = await request(url, { method: "POST", headers: { "Content-Type": "text/xml", "Content-Length": body.length }, body }, options);
  if (res.status !== 200) throw new FruixError(`XAPI ${url.origin}: ${method} answered HTTP ${res.status}`);
  return unwrapXapi(await decodeResponse(res.body), method);
}

/** The URL of another host of the pool, as XAPI names it (an address, maybe with a port). */
export function hostUrl(base: URL, address: string): URL {
  const url = new URL(base.href);
  const withPort = /^\[.*\]:\d+$|^[^:\[\]]+:\d+$/.test(address);
  url.host = withPort ? address : address.includes(":") && !address.startsWith("[") ? `[${address}]` : address;
  if (!withPort) url.port = base.port;
  return url;
}

export class XapiSession {
  private constructor(
    readonly url: URL,
    private readonly session: string,
    private readonly options: XapiOptions,
  ) {}

  /** Logs in; a pool member answers HOST_IS_SLAVE with the master's address, which is tried next. */
  static async login(url: URL, user: string, password: string, options: XapiOptions = {}): Promise<XapiSession> {
    let target = url;
    for (let hop = 0; ; hop++) {
      try {
        const session = asString(await rpc(target, "session.login_with_password", [user, password, API_VERSION, ORIGINATOR], options), "session");
        return new XapiSession(target, session, options);
      } catch (error) {
        if (error instanceof XapiError && error.code === "HOST_IS_SLAVE" && error.params[0] && hop < MAX_REDIRECTS) {
          target = hostUrl(target, error.params[0]);
          options.log?.(`xcp-ng: ${url.host} is a pool member; logging in to the master at ${target.host}`);
          continue;
        }
        if (error instanceof XapiError && error.code === "SESSION_AUTHENTICATION_FAILED") {
          throw new FruixError(`XAPI ${target.origin}: login as ${user} refused (SESSION_AUTHENTICATION_FAILED)`, { exitCode: 2 });
        }
        throw error;
      }
    }
  }

  /** A call with the session as first argument; no error message shows the session. */
  async call(method: string, ...params: XmlRpcValue[]): Promise<XmlRpcValue> {
    try {
      return await rpc(this.url, method, [this.session, ...params], this.options);
    } catch (error) {
      if (error instanceof XapiError) throw new XapiError(error.code, error.params, error.method, [this.session]);
      throw error;
    }
  }

  async callString(method: string, ...params: XmlRpcValue[]): Promise<string> {
    return asString(await this.call(method, ...params), method);
  }

  private taskTimeout(kind: keyof typeof TASK_TIMEOUT_MS): number {
    return (this.options.taskTimeoutMs?.[kind] ?? TASK_TIMEOUT_MS[kind]) * (this.options.timeoutScale ?? 1);
  }

  /**
   * Polls a task until it ends: its result (decoded), or its error info as a
   * XapiError. After `timeoutMs` the task is cancelled and one error names
   * the call and the task. The caller destroys the task.
   */
  async waitForTask(task: string, what: string, timeoutMs: number): Promise<XmlRpcValue> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      const status = await this.callString("task.get_status", task);
      if (status === "success") return decodeTaskResult(await this.callString("task.get_result", task));
      if (status === "failure" || status === "cancelled") {
        const info = (await this.call("task.get_error_info", task)) as XmlRpcValue[];
        const [code, ...rest] = info.map(String);
        throw new XapiError(code ?? (status === "cancelled" ? "TASK_CANCELLED" : "INTERNAL_ERROR"), rest, what, [this.session]);
      }
      if (Date.now() >= deadline) {
        await this.call("task.cancel", task).catch(() => undefined);
        throw new FruixError(`XAPI ${this.url.origin}: ${what} did not finish within ${Math.round(timeoutMs / 1000)} s (task ${task}, status ${status}); cancelled it`);
      }
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, deadline - Date.now()))));
    }
  }

  /**
   * `Async.<method>`: returns at once with a task, polled until it ends (at
   * most TASK_TIMEOUT_MS.async); the task's result (decoded) or its error
   * info (as a XapiError) comes back, and the task is destroyed either way.
   */
  async callAsync(method: string, ...params: XmlRpcValue[]): Promise<XmlRpcValue> {
    const task = await this.callString(`Async.${method}`, ...params);
    try {
      return await this.waitForTask(task, `Async.${method}`, this.taskTimeout("async"));
    } finally {
      await this.call("task.destroy", task).catch(() => undefined);
    }
  }

  /** The URL of a raw VDI handler, with the session (never log it). */
  private handlerUrl(base: URL, path: string, vdi: string, task?: string): URL {
    const url = new URL(path, base);
    url.search = new URLSearchParams({ session_id: this.session, vdi, format: "raw", ...(task ? { task_id: task } : {}) }).toString();
    return url;
  }

  /**
   * PUT /import_raw_vdi with a Content-Length (XAPI refuses chunked bodies)
   * and a task of ours (`task_id=`): XAPI answers 200 before it reads the
   * body, so the outcome is the task's, polled after the upload; the task is
   * destroyed after. A 302 names the host that sees the VDI's SR, and the
   * upload goes there (with the same task).
   */
  async importRawVdi(vdi: string, file: string): Promise<void> {
    const size = (await stat(file)).size;
    const task = await this.callString("task.create", "fruix import_raw_vdi", `upload of ${basename(file)} (${size} bytes)`);
    const progress = meter(`upload ${basename(file)}`, size);
    let ok = false;
    try {
      let url = this.handlerUrl(this.url, "/import_raw_vdi", vdi, task);
      for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
        const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
          const req = transport(url).request(url, {
            method: "PUT",
            headers: { "Content-Length": size, "Content-Type": "application/octet-stream" },
            ...connectOptions(url, this.options),
          });
          const source = createReadStream(file);
          source.on("error", reject);
          progress.update(0); // again from the start after a redirect
          // XAPI answers before it reads the body: a 302 to the host that sees
          // the SR, a refusal, or 200. The body goes only after the 200, so a
          // server closing a refused request never cuts it off mid-write (EPIPE).
          let bodySent = false;
          const sendBody = () => {
            if (bodySent) return;
            bodySent = true;
            source.pipe(req);
            // Only once piped: a "data" listener alone would start the flow and lose the bytes.
            source.on("data", (chunk) => progress.advance(chunk.length));
          };
          req.on("response", (res) => {
            if (res.statusCode === 200) sendBody();
            else {
              bodySent = true;
              source.unpipe(req);
              source.destroy();
              req.destroy();
            }
            resolve(res);
          });
          req.on("error", (error) => reject(new FruixError(`import_raw_vdi to ${url.host}: ${error.message}`)));
          req.flushHeaders();
          // A server that answers only after the body gets it anyway, after a pause.
          setTimeout(sendBody, EARLY_ANSWER_MS).unref();
        });
        res.resume();
        if (!res.closed) await new Promise((r) => res.once("close", r));
        if (res.statusCode === 302 && res.headers.location) {
          url = new URL(res.headers.location, url);
          this.options.log?.(`xcp-ng: import_raw_vdi redirected to ${url.host} (the host that sees the SR)`);
          continue;
        }
        if (res.statusCode !== 200) {
          // The task may say why (XAPI fails it too when it refuses the request).
          const why = await this.call("task.get_error_info", task).then((info) => (info as XmlRpcValue[]).map(String).join(" "), () => "");
          throw new FruixError(`import_raw_vdi of ${file} to ${url.host} answered HTTP ${res.statusCode}${why ? ` (task: ${why})` : ""}`);
        }
        await this.waitForTask(task, `import_raw_vdi of ${file}`, this.taskTimeout("import"));
        ok = true;
        return;
      }
      throw new FruixError(`import_raw_vdi: more than ${MAX_REDIRECTS} redirects`);
    } finally {
      progress.end(ok);
      await this.call("task.destroy", task).catch(() => undefined);
    }
  }

  /** GET /export_raw_vdi into `file` (the whole raw VDI), following a 302 like the import. */
  async exportRawVdi(vdi: string, file: string): Promise<void> {
    let url = this.handlerUrl(this.url, "/export_raw_vdi", vdi);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = transport(url).request(url, { method: "GET", ...connectOptions(url, this.options) }, resolve);
        req.on("error", (error) => reject(new FruixError(`export_raw_vdi from ${url.host}: ${error.message}`)));
        req.end();
      });
      if (res.statusCode === 302 && res.headers.location) {
        res.resume();
        url = new URL(res.headers.location, url);
        continue;
      }
      if (res.statusCode !== 200) {
        res.resume();
        throw new FruixError(`export_raw_vdi to ${file} from ${url.host} answered HTTP ${res.statusCode}`);
      }
      await pipeline(res, createWriteStream(file));
      return;
    }
    throw new FruixError(`export_raw_vdi: more than ${MAX_REDIRECTS} redirects`);
  }

  async logout(): Promise<void> {
    await this.call("session.logout").catch(() => undefined);
  }
}
