// The canonical text of an evaluated operating-system: the input to hashing.
// It is itself a valid declaration expression with every default written out,
// so it reads back to the same system. Locations and the binding name are left
// out; users and groups are sorted by name; service order is kept.

import { BASE_TYPES, SERVICE_TYPES } from "./schema.js";
import type { BaseSpec, HealthCheck, HealthChecks, OperatingSystem, ServiceSpec, SourceTree, UserAccount, UserGroup } from "./types.js";

/** Bump when the text for an unchanged system would change. */
const FORMAT = ";; fruix canonical operating-system, format 2";

type Plain = string | number | boolean | readonly string[];

export function canonicalSystem(os: OperatingSystem): string {
  const lines = [
    FORMAT,
    "(operating-system",
    ` ${field("host-name", os.hostName)}`,
    ` (base ${base(os.base)})`,
    ` ${field("timezone", os.timezone)}`,
    ` ${field("kernel-arguments", os.kernelArguments)}`,
    ...list("groups", sortByName(os.groups).map(group)),
    ...list("users", sortByName(os.users).map(user)),
    ...list("services", os.services.map(service)),
    ` (health-checks ${healthChecks(os.healthChecks)})`,
    // Written only when declared, so systems without them keep the text (and closure path) they had.
    ...(os.developmentProfile === undefined ? [] : [" (development-profile (development-profile-configuration))"]),
    ...((os.sources ?? []).length === 0 ? [] : list("sources", os.sources!.map(sourceTree))),
  ];
  return `${lines.join("\n")})\n`;
}

function list(name: string, items: readonly string[]): string[] {
  if (items.length === 0) return [` (${name} '())`];
  return [` (${name}`, "  (list", ...items.map((item) => `   ${item}`)].map((line, i, all) => (i === all.length - 1 ? `${line}))` : line));
}

function sortByName<T extends { readonly name: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The base's record with each declared field (kebab-case) read from the spec (camelCase): no family is named here. */
function base(spec: BaseSpec): string {
  const type = BASE_TYPES.get(spec.family);
  if (type === undefined) throw new Error(`no record type for base family ${spec.family}`);
  const values = spec as unknown as Readonly<Record<string, Plain | undefined>>;
  const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return record(type.name, type.fields.map((f) => [f.name, values[camel(f.name)]]));
}

function group(g: UserGroup): string {
  return record("user-group", [
    ["name", g.name],
    ["gid", g.gid],
  ]);
}

function user(u: UserAccount): string {
  return record("user-account", [
    ["name", u.name],
    ["uid", u.uid],
    ["group", u.group],
    ["supplementary-groups", u.supplementaryGroups],
    ["comment", u.comment],
    ["home-directory", u.homeDirectory],
    ["shell", u.shell],
    ["password", u.password],
  ]);
}

/** Checks keep their declared order: it is the order the helper runs them in. */
function healthChecks(h: HealthChecks): string {
  const checks = h.checks.map(healthCheck);
  const list = checks.length === 0 ? "'()" : `(list ${checks.join(" ")})`;
  return `(health-check-configuration (deadline ${h.deadline}) (checks ${list}))`;
}

function healthCheck(c: HealthCheck): string {
  switch (c.kind) {
    case "service-running":
      return record("service-running-check", [["service", c.service]]);
    case "tcp-port":
      return record("tcp-port-check", [["port", c.port]]);
    case "http":
      return record("http-check", [
        ["port", c.port],
        ["path", c.path],
      ]);
    case "command":
      return record("command-check", [["command", c.command]]);
  }
}

function sourceTree(t: SourceTree): string {
  switch (t.kind) {
    case "debian-source-package":
      return record("debian-source-package", [["name", t.name]]);
    case "freebsd-source":
      return record("freebsd-source", [["dist-directory", t.distDirectory]]);
  }
}

function service(s: ServiceSpec): string {
  const type = [...SERVICE_TYPES.values()].find((t) => t.name === s.type);
  const identifier = type?.identifier ?? `${s.type}-service-type`;
  const keys = Object.keys(s.config).sort();
  if (type?.configuration === undefined && keys.length === 0) return `(service ${identifier})`;
  const config = record(
    type?.configuration ?? `${s.type}-configuration`,
    keys.map((key) => [key, s.config[key]]),
  );
  return `(service ${identifier} ${config})`;
}

/** `(name (field value) ...)`, leaving out unset optional fields. */
function record(name: string, fields: ReadonlyArray<readonly [string, Plain | undefined]>): string {
  const present = fields.filter((f): f is readonly [string, Plain] => f[1] !== undefined);
  return `(${[name, ...present.map(([key, value]) => field(key, value))].join(" ")})`;
}

function field(name: string, value: Plain): string {
  return `(${name} ${datum(value)})`;
}

function datum(value: Plain): string {
  if (typeof value === "string") return quoteString(value);
  if (typeof value === "number") return String(value);
  if (typeof value === "boolean") return value ? "#t" : "#f";
  return value.length === 0 ? "'()" : `(list ${value.map(quoteString).join(" ")})`;
}

const ESCAPES: Record<string, string> = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r" };

function quoteString(s: string): string {
  const body = s.replace(/["\\\n\t\r]|[\x00-\x1f\x7f]/g, (c) => ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16)};`);
  return `"${body}"`;
}
