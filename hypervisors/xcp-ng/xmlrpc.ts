// XML-RPC as XAPI speaks it (xen-api's ocaml/doc/wire-protocol.md): positional
// parameters, 64-bit ints sent as decimal strings, every answer a struct
// {Status: "Success", Value} or {Status: "Failure", ErrorDescription: [code, ...params]}.
// Pure encoding and decoding only: the transport lives in xapi.ts, the test double's
// server in test/doubles/xcp-ng/. Both sides use this module.
import { parseStringPromise } from "xml2js";

export type XmlRpcValue = string | number | boolean | Date | readonly XmlRpcValue[] | { readonly [key: string]: XmlRpcValue };

/** What an error message shows instead of a session reference. */
export const SESSION_WITHHELD = "(session reference withheld)";

/**
 * A XAPI failure: `code` is ErrorDescription[0], `params` the rest. Session
 * references are secrets (whoever holds one is logged in), so the message,
 * which reaches logs and reports, never shows one: SESSION_INVALID's
 * parameter, and any parameter equal to one of `sessions`, is withheld.
 * `params` keeps them for the code that handles the error.
 */
export class XapiError extends Error {
  override readonly name = "XapiError";
  constructor(
    readonly code: string,
    readonly params: readonly string[],
    readonly method?: string,
    sessions: readonly string[] = [],
  ) {
    const shown = params.map((p) => (code === "SESSION_INVALID" || sessions.includes(p) ? SESSION_WITHHELD : JSON.stringify(p)));
    super(`${method ? `${method}: ` : ""}${code}${shown.length ? ` ${shown.join(" ")}` : ""}`);
  }
}

/** Malformed XML-RPC (neither a XAPI success nor a XAPI failure). */
export class XmlRpcFormatError extends Error {
  override readonly name = "XmlRpcFormatError";
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function encodeValue(value: XmlRpcValue): string {
  if (typeof value === "string") return `<value><string>${escape(value)}</string></value>`;
  if (typeof value === "boolean") return `<value><boolean>${value ? 1 : 0}</boolean></value>`;
  if (typeof value === "number") {
    if (Number.isInteger(value) && Math.abs(value) < 2 ** 31) return `<value><int>${value}</int></value>`;
    return `<value><double>${value}</double></value>`;
  }
  if (value instanceof Date) return `<value><dateTime.iso8601>${value.toISOString().replace(/[-:]|\.\d{3}/g, "")}</dateTime.iso8601></value>`;
  if (Array.isArray(value)) return `<value><array><data>${value.map(encodeValue).join("")}</data></array></value>`;
  const members = Object.entries(value as Record<string, XmlRpcValue>).map(
    ([name, v]) => `<member><name>${escape(name)}</name>${encodeValue(v)}</member>`,
  );
  return `<value><struct>${members.join("")}</struct></value>`;
}

const HEADER = '<?xml version="1.0"?>\n';

export function encodeCall(method: string, params: readonly XmlRpcValue[]): string {
  const body = params.map((p) => `<param>${encodeValue(p)}</param>`).join("");
  return `${HEADER}<methodCall><methodName>${escape(method)}</methodName><params>${body}</params></methodCall>\n`;
}

export function encodeResponse(value: XmlRpcValue): string {
  return `${HEADER}<methodResponse><params><param>${encodeValue(value)}</param></params></methodResponse>\n`;
}

/** XAPI's success answer. */
export function success(value: XmlRpcValue): XmlRpcValue {
  return { Status: "Success", Value: value };
}

/** XAPI's failure answer: every parameter is a string on the wire. */
export function failure(code: string, params: readonly string[] = []): XmlRpcValue {
  return { Status: "Failure", ErrorDescription: [code, ...params] };
}

// xml2js with includeWhiteChars keeps whitespace-only strings ("<string> </string>");
// the whitespace between elements then shows up as "_" beside child elements, and is ignored.
type Node = string | { [key: string]: Node[] | string | undefined; _?: string };

const PARSE_OPTIONS = { explicitArray: true, includeWhiteChars: true, trim: false, normalize: false } as const;

function children(node: Node): Array<[string, Node[]]> {
  if (typeof node === "string") return [];
  return Object.entries(node).filter(([k]) => k !== "_" && k !== "$") as Array<[string, Node[]]>;
}

function text(node: Node | undefined): string {
  if (node === undefined) return "";
  if (typeof node === "string") return node;
  return typeof node._ === "string" ? node._ : "";
}

function only(node: Node, what: string): [string, Node] {
  const kids = children(node);
  if (kids.length !== 1 || kids[0]![1].length !== 1) throw new XmlRpcFormatError(`${what}: expected exactly one element, saw ${kids.map(([k]) => k).join(", ") || "none"}`);
  return [kids[0]![0], kids[0]![1][0]!];
}

export function decodeValue(node: Node): XmlRpcValue {
  // <value>text</value> without a type element is a string.
  if (children(node).length === 0) return text(node);
  const [type, inner] = only(node, "value");
  switch (type) {
    case "string":
      return text(inner);
    case "int":
    case "i4":
    case "i8": {
      const n = Number(text(inner).trim());
      if (!Number.isInteger(n)) throw new XmlRpcFormatError(`<${type}> holds ${JSON.stringify(text(inner))}`);
      return n;
    }
    case "double":
      return Number(text(inner).trim());
    case "boolean": {
      const b = text(inner).trim();
      if (b !== "0" && b !== "1") throw new XmlRpcFormatError(`<boolean> holds ${JSON.stringify(b)}`);
      return b === "1";
    }
    case "dateTime.iso8601": {
      const m = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})Z?$/.exec(text(inner).trim());
      if (!m) throw new XmlRpcFormatError(`<dateTime.iso8601> holds ${JSON.stringify(text(inner))}`);
      return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
    }
    case "array": {
      if (typeof inner === "string") return [];
      const data = inner.data as Node[] | undefined;
      const values = data?.[0] && typeof data[0] !== "string" ? ((data[0].value as Node[] | undefined) ?? []) : [];
      return values.map(decodeValue);
    }
    case "struct": {
      const out: Record<string, XmlRpcValue> = {};
      const members = typeof inner === "string" ? [] : ((inner.member as Node[] | undefined) ?? []);
      for (const member of members) {
        if (typeof member === "string") throw new XmlRpcFormatError("<member> without <name> and <value>");
        const name = member.name as Node[] | undefined;
        const value = member.value as Node[] | undefined;
        if (!name || !value) throw new XmlRpcFormatError("<member> without <name> and <value>");
        out[text(name[0])] = decodeValue(value[0]!);
      }
      return out;
    }
    default:
      throw new XmlRpcFormatError(`unknown XML-RPC type <${type}>`);
  }
}

async function parse(xml: string): Promise<Record<string, Node>> {
  try {
    return (await parseStringPromise(xml, PARSE_OPTIONS)) as Record<string, Node>;
  } catch (error) {
    throw new XmlRpcFormatError(`not XML: ${(error as Error).message.split("\n")[0]}`);
  }
}

function paramValues(params: Node[] | string | undefined): XmlRpcValue[] {
  const list = Array.isArray(params) ? params[0] : undefined;
  if (!list || typeof list === "string") return [];
  return ((list.param as Node[] | undefined) ?? []).map((param) => {
    const value = typeof param === "string" ? undefined : (param.value as Node[] | undefined)?.[0];
    if (value === undefined) throw new XmlRpcFormatError("<param> without <value>");
    return decodeValue(value);
  });
}

export async function decodeCall(xml: string): Promise<{ method: string; params: XmlRpcValue[] }> {
  const root = (await parse(xml)).methodCall;
  if (root === undefined) throw new XmlRpcFormatError("no <methodCall>");
  if (typeof root === "string") throw new XmlRpcFormatError("no <methodName>");
  const method = text((root.methodName as Node[] | undefined)?.[0]).trim();
  if (!method) throw new XmlRpcFormatError("no <methodName>");
  return { method, params: paramValues(root.params) };
}

/** The single value of a <methodResponse>; a <fault> becomes an XmlRpcFormatError (XAPI never sends one). */
export async function decodeResponse(xml: string): Promise<XmlRpcValue> {
  const root = (await parse(xml)).methodResponse;
  if (!root || typeof root === "string") throw new XmlRpcFormatError("no <methodResponse>");
  if (root.fault) throw new XmlRpcFormatError(`XML-RPC fault: ${JSON.stringify(decodeValue((root.fault as Node[])[0] as Node))}`);
  const values = paramValues(root.params);
  if (values.length !== 1) throw new XmlRpcFormatError(`<methodResponse> with ${values.length} values`);
  return values[0]!;
}

function isStruct(value: XmlRpcValue): value is { readonly [key: string]: XmlRpcValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Unwraps XAPI's status struct: the Value on success, a XapiError on failure. */
export function unwrapXapi(answer: XmlRpcValue, method?: string): XmlRpcValue {
  if (!isStruct(answer) || typeof answer.Status !== "string") throw new XmlRpcFormatError(`${method ?? "answer"}: not a XAPI status struct`);
  if (answer.Status === "Success") {
    if (!("Value" in answer)) throw new XmlRpcFormatError(`${method ?? "answer"}: Success without Value`);
    return answer.Value!;
  }
  const description = answer.ErrorDescription;
  if (answer.Status !== "Failure" || !Array.isArray(description) || description.length === 0) {
    throw new XmlRpcFormatError(`${method ?? "answer"}: malformed Failure`);
  }
  const [code, ...params] = description.map(String);
  throw new XapiError(code!, params, method);
}

/**
 * task.get_result's text: XAPI puts the result's XML-RPC <value> in a string
 * (empty for void). Returns the decoded value ("" for void).
 */
export async function decodeTaskResult(result: string): Promise<XmlRpcValue> {
  const trimmed = result.trim();
  if (!trimmed) return "";
  const parsed = await parse(trimmed);
  const value = parsed.value;
  if (value === undefined) throw new XmlRpcFormatError(`task result is not a <value>: ${trimmed.slice(0, 80)}`);
  return decodeValue(value as Node);
}

export function asString(value: XmlRpcValue, what: string): string {
  if (typeof value !== "string") throw new XmlRpcFormatError(`${what}: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

export function asStruct(value: XmlRpcValue, what: string): { readonly [key: string]: XmlRpcValue } {
  if (!isStruct(value)) throw new XmlRpcFormatError(`${what}: expected a struct`);
  return value;
}

export function asArray(value: XmlRpcValue, what: string): readonly XmlRpcValue[] {
  if (!Array.isArray(value)) throw new XmlRpcFormatError(`${what}: expected an array`);
  return value;
}

export function isStructValue(value: XmlRpcValue): value is { readonly [key: string]: XmlRpcValue } {
  return isStruct(value);
}
