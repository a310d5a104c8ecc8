// TEST DOUBLE: the HTTP side of one host of Fruix's XCP-ng test host: JSON-RPC
// on POST /jsonrpc, XML-RPC on any other POST, and the raw VDI handlers. import_raw_vdi follows xen-api's
// import_raw_vdi.ml: a VDI whose SR this host cannot see is answered with a
// 302 to the host that can; otherwise 200 comes before the body is read and
// the outcome is reported through the task (the caller's task_id, or one of
// its own named in a task-id header); a Transfer-Encoding is refused.
import { createReadStream, createWriteStream } from "node:fs";
import http from "node:http";
import { pipeline } from "node:stream/promises";
import { decodeCall, encodeResponse, failure, success, XmlRpcFormatError, type XmlRpcValue } from "../../../hypervisors/xcp-ng/xmlrpc.js";
import { ApiFailure, INT_FIELDS, type HostInfo, type XapiModel } from "./xapi-model.js";

const LABEL = "XCP-ng TEST DOUBLE";

function send(res: http.ServerResponse, status: number, body = "", headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Length": Buffer.byteLength(body), Connection: "close", ...headers });
  res.end(body);
}

/** XAPI's answer to a request it cannot parse: HTTP 500 with a short HTML page. */
function internalError(res: http.ServerResponse, detail: string): void {
  send(res, 500, `<html><body><h1>HTTP 500 internal server error</h1>${detail.replace(/</g, "&lt;")} (${LABEL})</body></html>`, { "Content-Type": "text/html" });
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function createHostServer(model: XapiModel, host: HostInfo, port: () => number, log: (line: string) => void): http.Server {
  return http.createServer((req, res) => {
    handle(model, host, port, req, res).catch((error) => {
      log(`${host.address}: ${req.method} ${req.url?.split("?")[0]}: ${(error as Error).message}`);
      if (!res.headersSent) internalError(res, (error as Error).message);
      else res.destroy();
    });
  });
}

async function handle(model: XapiModel, host: HostInfo, port: () => number, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", `http://${host.address}`);
  // xapi's HTTP server picks the handler with the longest matching prefix: /jsonrpc is JSON-RPC, any other POST is XML-RPC ("/").
  if (req.method === "POST" && (url.pathname === "/jsonrpc" || url.pathname.startsWith("/jsonrpc/"))) return jsonRpc(model, host, req, res);
  if (req.method === "POST") {
    let call: Awaited<ReturnType<typeof decodeCall>>;
    try {
      call = await decodeCall(await readBody(req));
    } catch (error) {
      if (error instanceof XmlRpcFormatError) return internalError(res, `Xmlrpc.Parse_error: ${error.message}`);
      throw error;
    }
    let answer;
    try {
      answer = success(await model.dispatch(call.method, call.params, host.master));
    } catch (error) {
      if (!(error instanceof ApiFailure)) throw error;
      answer = failure(error.code, error.params);
    }
    return send(res, 200, encodeResponse(answer), { "Content-Type": "text/xml" });
  }
  if ((req.method === "PUT" && url.pathname === "/import_raw_vdi") || (req.method === "GET" && url.pathname === "/export_raw_vdi")) {
    return rawVdi(model, host, port, url, req, res);
  }
  req.resume();
  send(res, 404, `not found (${LABEL})`);
}

/** Map-typed fields: their keys are the user's, never record fields (an other_config key "MTU" stays a string). */
const MAP_FIELDS = new Set(["other_config", "platform", "HVM_boot_params", "sm_config", "xenstore_data", "networks", "other", "software_version", "qos_algorithm_params", "VCPUs_params", "os_version", "PV_drivers_version"]);

/**
 * JSON values for the model's XML-RPC values, as xapi's JSON-RPC writes them
 * (ocaml/doc's wire protocol): an `int` field, a decimal string on XML-RPC,
 * is a JSON number; datetimes as xapi writes them (20240101T00:00:00Z).
 * `int` says the value itself is an int (a getter of an int field).
 */
function toJson(value: XmlRpcValue, int = false): unknown {
  if (int && typeof value === "string" && /^-?\d+$/.test(value)) return Number(value);
  if (value instanceof Date) return value.toISOString().replace(/[-:]|\.\d{3}/g, "");
  if (Array.isArray(value)) return value.map((v) => toJson(v));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, MAP_FIELDS.has(k) ? v : toJson(v, INT_FIELDS.has(k))]));
  }
  return value;
}

/** The JSON-RPC result of `method`: int getters and the int fields of records (event ids included) as JSON numbers. */
function jsonResult(method: string, value: XmlRpcValue): unknown {
  const getter = /^[A-Za-z_]+\.get_(\w+)$/.exec(method)?.[1];
  if (getter && INT_FIELDS.has(getter)) return toJson(value, true);
  const json = toJson(value);
  if (method === "event.from" && typeof json === "object" && json !== null) {
    for (const event of (json as { events?: Array<{ id: unknown }> }).events ?? []) event.id = Number(event.id);
  }
  return json;
}

/**
 * JSON-RPC as xapi's api_server.ml answers it: v2.0 when the request says
 * so (a failure is error {code: 1, message: CODE, data: [params]}), else
 * v1.0 (result and error side by side, the error as [CODE, params...]).
 */
async function jsonRpc(model: XapiModel, host: HostInfo, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  let request: { jsonrpc?: string; method?: unknown; params?: unknown; id?: unknown };
  try {
    request = JSON.parse(await readBody(req)) as typeof request;
  } catch (error) {
    return internalError(res, `Jsonrpc.Malformed_method_request: ${(error as Error).message}`);
  }
  if (typeof request.method !== "string" || !Array.isArray(request.params)) return internalError(res, "Jsonrpc.Malformed_method_request: method and params are required");
  const v2 = request.jsonrpc === "2.0";
  const id = request.id ?? null;
  let body: unknown;
  try {
    const result = jsonResult(request.method, await model.dispatch(request.method, request.params as XmlRpcValue[], host.master));
    body = v2 ? { jsonrpc: "2.0", result, id } : { result, error: null, id };
  } catch (error) {
    if (!(error instanceof ApiFailure)) throw error;
    body = v2 ? { jsonrpc: "2.0", error: { code: 1, message: error.code, data: error.params }, id } : { result: null, error: [error.code, ...error.params], id };
  }
  send(res, 200, JSON.stringify(body), { "Content-Type": "application/json" });
}

async function rawVdi(model: XapiModel, host: HostInfo, port: () => number, url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const importing = req.method === "PUT";
  const q = url.searchParams;
  try {
    model.checkSession(q.get("session_id") ?? "");
  } catch {
    req.resume();
    return send(res, 401, `unauthorized (${LABEL})`);
  }
  const format = q.get("format") ?? "raw";
  if (format !== "raw") {
    req.resume();
    return send(res, 404, `unknown or unsupported format ${format} (${LABEL}: raw only)`);
  }
  const vdi = model.vdiForHttp(q.get("vdi") ?? "");
  if (!vdi) {
    req.resume();
    return send(res, 404, `no such VDI (${LABEL})`);
  }
  const seer = model.hostOfSr(vdi.sr);
  if (seer && seer.ref !== host.ref) {
    // Forwarding leaves the caller's task alone: the host that sees the SR completes it.
    req.resume();
    const location = `http://${seer.address}:${port()}${url.pathname}${url.search}`;
    return send(res, 302, "", { Location: location });
  }
  if (!importing) {
    res.writeHead(200, { "Content-Length": vdi.size, "Content-Type": "application/octet-stream", Connection: "close" });
    await pipeline(createReadStream(vdi.file), res);
    return;
  }
  // The caller's task (task_id=), or one of the handler's own, as XAPI makes when none is given.
  const given = q.get("task_id");
  if (given !== null && !model.hasTask(given)) {
    req.resume();
    return send(res, 500, `HANDLE_INVALID task ${given.replace(/</g, "")} (${LABEL})`);
  }
  const task = given ?? model.createTask("VDI.import", "import_raw_vdi");
  const refuse = (status: number, text: string) => {
    model.finishTask(task, { error: new ApiFailure("INTERNAL_ERROR", [text]) });
    req.resume();
    send(res, status, `${text} (${LABEL})`);
  };
  // XAPI's import code cannot take a chunked (or any encoded) body: current
  // import_raw_vdi.ml answers 404 and fails the task (older releases: 403).
  if (req.headers["transfer-encoding"]) return refuse(404, `Cannot handle encoding: ${req.headers["transfer-encoding"]}`);
  const length = req.headers["content-length"];
  if (length === undefined) return refuse(411, "Content-Length required");

  // As XAPI: 200 (with the task's id) before the body is read; the outcome is the task's.
  res.writeHead(200, { "task-id": task, "Content-Type": "application/octet-stream", Connection: "close" });
  res.flushHeaders();
  try {
    if (Number(length) > vdi.size) throw new ApiFailure("INTERNAL_ERROR", [`body of ${length} bytes is larger than the VDI (${vdi.size} bytes) (${LABEL})`]);
    if (model.vdiAttached(vdi.ref)) throw new ApiFailure("VDI_IN_USE", [vdi.ref, "import"]);
    await pipeline(req, createWriteStream(vdi.file, { flags: "r+" }));
    model.finishTask(task, { value: vdi.ref });
  } catch (error) {
    model.finishTask(task, { error });
    req.resume();
    await new Promise((r) => (req.readableEnded ? r(undefined) : req.once("end", r).once("close", r)));
  }
  res.end();
}
