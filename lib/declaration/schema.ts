// What a declaration may say: the record types with their fields, types and
// defaults, the service types, and the rules that span several records.
// docs/declarations.md is the operator-facing copy of this file.

import { fail } from "./reader.js";
import { DEFAULT_HEALTH_CHECKS } from "./types.js";
import type { ConfigValue, ListValue, RecordObject, RecordValue, ServiceConfig, ServiceType, ServiceValue, SystemSpec, Value } from "./values.js";
import type {
  BaseSpec,
  DevelopmentProfile,
  FreebsdBase,
  HealthCheck,
  HealthChecks,
  LinuxBusyboxBase,
  ServiceSpec,
  SourceLocation,
  SourceTree,
  UserAccount,
  UserGroup,
} from "./types.js";

// ---------------------------------------------------------------------------
// Field types

/** Returns why a value is unacceptable, or undefined when it is fine. */
type Check<T> = (value: T) => string | undefined;

export type FieldType =
  | { readonly kind: "string"; readonly check?: Check<string> }
  | { readonly kind: "integer"; readonly min: number; readonly max: number; readonly check?: Check<number> }
  | { readonly kind: "list"; readonly of: FieldType }
  | { readonly kind: "record"; readonly types: readonly string[] }
  | { readonly kind: "service" };


export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  /** Must be given (or inherited). */
  readonly required?: true;
  /** Used when the field is absent; neither this nor `required` means "may stay unset". */
  readonly default?: ConfigValue | ((fields: Fields) => ConfigValue);
}

export interface RecordType {
  readonly name: string;
  readonly fields: readonly FieldSpec[];
  /** Builds the typed object from type-checked fields; runs the checks that span fields. */
  build(fields: Fields, loc: SourceLocation): RecordObject;
}

// ---------------------------------------------------------------------------
// Value checks. Each names what is wrong so the caller can prefix the field.

const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const POSIX_NAME = /^[a-z_][a-z0-9_-]*$/;

const hostName: Check<string> = (s) =>
  s.length <= 253 && s.split(".").every((label) => HOST_LABEL.test(label))
    ? undefined
    : `${show(s)} is not a valid host name (letters, digits and '-', 1-63 characters per dot-separated label, not starting or ending with '-')`;

const posixName =
  (what: string): Check<string> =>
  (s) =>
    POSIX_NAME.test(s) && s.length <= 32
      ? undefined
      : `${show(s)} is not a valid ${what} name (lower-case letters, digits, '_' and '-', starting with a letter or '_', at most 32 characters)`;

const absolutePath: Check<string> = (s) =>
  s.startsWith("/") && !/[\n:]/.test(s) ? undefined : `${show(s)} is not an absolute path without ':' or newlines`;

const singleLine: Check<string> = (s) => (s !== "" && !s.includes("\n") ? undefined : `${show(s)} must be one non-empty line`);

const passwdText: Check<string> = (s) => (/[\n:]/.test(s) ? `${show(s)} must not contain ':' or newlines` : undefined);

// crypt(3) output: "$id$..." (SHA-512, yescrypt, ...), 13-char DES, or a locked marker.
const cryptHash: Check<string> = (s) =>
  /^\$[0-9a-z]+\$[^\s:]+$/.test(s) || /^[./0-9A-Za-z]{13}$/.test(s) || (/^[!*]/.test(s) && !/[\s:]/.test(s))
    ? undefined
    : `${show(s)} does not look like a crypt(3) hash (e.g. "$6$salt$..."); omit the field for a locked account`;

const timezone: Check<string> = (s) =>
  /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/.test(s) ? undefined : `${show(s)} is not a time zone name like "UTC" or "Europe/Paris"`;

const kernelArgument: Check<string> = (s) =>
  s !== "" && !/\s/.test(s) ? undefined : `${show(s)} must be one non-empty word (no whitespace)`;

const ttyName: Check<string> = (s) =>
  /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(s) ? undefined : `${show(s)} is not a terminal name like "ttyS0" (no "/dev/")`;

const interfaceName: Check<string> = (s) =>
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(s) ? undefined : `${show(s)} is not a network interface name like "eth0"`;

const debianPackage: Check<string> = (s) =>
  /^[a-z0-9][a-z0-9+.-]+$/.test(s) ? undefined : `${show(s)} is not a Debian package name`;

const nonEmpty: Check<string> = (s) => (s !== "" ? undefined : "must not be empty");

const promotedItem: Check<string> = (s) =>
  /^\/frx\/store\/[0-9a-f]{64}-fruix-native-(build-result|world|kernel|headers|bootloader)-[A-Za-z0-9+._?=-]+$/.test(s)
    ? undefined
    : `${show(s)} is not a promoted native-build item (/frx/store/<hash>-fruix-native-build-result-<run-id>, as fruix native-build promote prints)`;

const BAUD_RATES = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600];
const baudRate: Check<number> = (n) =>
  BAUD_RATES.includes(n) ? undefined : `${n} is not a standard baud rate (${BAUD_RATES.join(", ")})`;

function show(s: string): string {
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + "…" : s);
}

const string = (check?: Check<string>): FieldType => ({ kind: "string", check });
const integer = (min: number, max: number, check?: Check<number>): FieldType => ({ kind: "integer", min, max, check });
const listOf = (of: FieldType): FieldType => ({ kind: "list", of });
const recordOf = (...types: string[]): FieldType => ({ kind: "record", types });

const ID_MAX = 65534;

// ---------------------------------------------------------------------------
// Reading checked fields

/** The given (or inherited) field values of one record, with defaults applied on read. */
export class Fields {
  constructor(
    readonly type: RecordType,
    private readonly values: ReadonlyMap<string, Value>,
    readonly loc: SourceLocation,
  ) {}

  /** Where the field's value was written; the record itself for a default. */
  locationOf(name: string): SourceLocation {
    return this.values.get(name)?.loc ?? this.loc;
  }

  /** The field as plain data, default applied; undefined for an unset optional field. */
  plain(name: string): ConfigValue | undefined {
    const value = this.values.get(name);
    if (value !== undefined) return toConfigValue(value);
    const spec = this.type.fields.find((f) => f.name === name);
    if (spec === undefined) throw new Error(`${this.type.name} has no field ${name}`);
    return typeof spec.default === "function" ? spec.default(this) : spec.default;
  }

  string(name: string): string {
    return this.plain(name) as string;
  }
  optionalString(name: string): string | undefined {
    return this.plain(name) as string | undefined;
  }
  optionalInteger(name: string): number | undefined {
    return this.plain(name) as number | undefined;
  }
  strings(name: string): readonly string[] {
    return (this.plain(name) as readonly string[] | undefined) ?? [];
  }
  /** List elements as written (records, services, strings), each with its location. */
  items(name: string): readonly Value[] {
    const value = this.values.get(name);
    return value === undefined ? [] : (value as ListValue).items;
  }
  record(name: string): RecordValue {
    return this.values.get(name) as RecordValue;
  }
  has(name: string): boolean {
    return this.values.has(name);
  }
}

function toConfigValue(value: Value): ConfigValue {
  switch (value.kind) {
    case "string":
    case "integer":
    case "boolean":
      return value.value;
    case "list":
      return value.items.map((item) => toConfigValue(item) as string);
    default:
      throw new Error(`not plain data: ${value.kind}`);
  }
}

// ---------------------------------------------------------------------------
// Record types

/** Groups every system has; a declared group of the same name replaces one. */
export const BUILTIN_GROUPS: ReadonlyMap<string, number> = new Map([
  ["root", 0],
  ["tty", 5],
  ["wheel", 10],
  ["users", 100],
  ["nogroup", 65534],
]);

// The development profile and source trees (docs/native-builds.md).

const developmentProfileConfiguration: RecordType = {
  name: "development-profile-configuration",
  fields: [],
  build: (_f, loc): DevelopmentProfile => ({ location: loc }),
};

/** Source tree records; which a base can use is the family's to say, at the record's location. */
const SOURCE_TYPES: readonly RecordType[] = [
  {
    name: "debian-source-package",
    fields: [{ name: "name", type: string(debianPackage), required: true }],
    build: (f, loc): SourceTree => ({ kind: "debian-source-package", name: f.string("name"), location: loc }),
  },
  {
    name: "freebsd-source",
    fields: [{ name: "dist-directory", type: string(nonEmpty) }],
    build(f, loc): SourceTree {
      const distDirectory = f.optionalString("dist-directory");
      return distDirectory === undefined ? { kind: "freebsd-source", location: loc } : { kind: "freebsd-source", distDirectory, location: loc };
    },
  },
];

/** One source tree of each name: the item's name (and the metadata) is keyed by it. */
function checkSources(sources: readonly RecordValue[]): void {
  const seen = new Map<string, RecordValue>();
  for (const source of sources) {
    const key = sourceTreeName(source.object as SourceTree);
    const first = seen.get(key);
    if (first !== undefined) fail(source.loc, `source tree '${key}' is declared twice (first at ${at(first.loc)})`);
    seen.set(key, source);
  }
}

/** The name a source tree goes by in store-layout.scm: the Debian source package, or "freebsd-src". */
export function sourceTreeName(tree: SourceTree): string {
  return tree.kind === "debian-source-package" ? tree.name : "freebsd-src";
}

const operatingSystem: RecordType = {
  name: "operating-system",
  fields: [
    { name: "host-name", type: string(hostName), required: true },
    { name: "base", type: recordOf("linux-busybox-base", "freebsd-base"), required: true },
    { name: "timezone", type: string(timezone), default: "UTC" },
    { name: "kernel-arguments", type: listOf(string(kernelArgument)), default: [] },
    { name: "users", type: listOf(recordOf("user-account")), default: [] },
    { name: "groups", type: listOf(recordOf("user-group")), default: [] },
    { name: "services", type: listOf({ kind: "service" }), default: [] },
    { name: "health-checks", type: recordOf("health-check-configuration") },
    { name: "development-profile", type: recordOf("development-profile-configuration") },
    { name: "sources", type: listOf(recordOf(...SOURCE_TYPES.map((t) => t.name))), default: [] },
  ],
  build(f, loc): SystemSpec {
    const groups = f.items("groups") as RecordValue[];
    const users = f.items("users") as RecordValue[];
    const services = f.items("services") as ServiceValue[];
    checkGroups(groups);
    checkUsers(users, groups);
    checkServices(services);
    const healthChecks = f.has("health-checks") ? (f.record("health-checks").object as HealthChecks) : DEFAULT_HEALTH_CHECKS;
    checkHealthChecks(healthChecks, services);
    const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    const sources = f.items("sources") as RecordValue[];
    checkSources(sources);
    return {
      hostName: f.string("host-name"),
      base: f.record("base").object as BaseSpec,
      timezone: f.string("timezone"),
      kernelArguments: f.strings("kernel-arguments"),
      // Sorted so that their order in the file never matters (see docs).
      users: users.map((u) => u.object as UserAccount).sort(byName),
      groups: groups.map((g) => g.object as UserGroup).sort(byName),
      services: services.map((s) => s.spec),
      healthChecks,
      ...(f.has("development-profile") ? { developmentProfile: f.record("development-profile").object as DevelopmentProfile } : {}),
      ...(sources.length === 0 ? {} : { sources: sources.map((s) => s.object as SourceTree) }),
      location: loc,
    };
  },
};

const linuxBusyboxBase: RecordType = {
  name: "linux-busybox-base",
  fields: [
    { name: "kernel-package", type: string(debianPackage), default: "linux-image-amd64" },
    { name: "native-build", type: string(promotedItem) },
  ],
  build(f, loc): LinuxBusyboxBase {
    const nativeBuild = f.optionalString("native-build");
    return { family: "linux-busybox", kernelPackage: f.string("kernel-package"), ...(nativeBuild === undefined ? {} : { nativeBuild }), location: loc };
  },
};

const freebsdBase: RecordType = {
  name: "freebsd-base",
  fields: [
    { name: "dist-directory", type: string(nonEmpty) },
    { name: "native-build", type: string(promotedItem) },
  ],
  build(f, loc): FreebsdBase {
    const distDirectory = f.optionalString("dist-directory");
    const nativeBuild = f.optionalString("native-build");
    return {
      family: "freebsd",
      ...(distDirectory === undefined ? {} : { distDirectory }),
      ...(nativeBuild === undefined ? {} : { nativeBuild }),
      location: loc,
    };
  },
};

const userAccount: RecordType = {
  name: "user-account",
  fields: [
    { name: "name", type: string(posixName("user")), required: true },
    { name: "uid", type: integer(0, ID_MAX) },
    { name: "group", type: string(posixName("group")), default: "users" },
    { name: "supplementary-groups", type: listOf(string(posixName("group"))), default: [] },
    { name: "comment", type: string(passwdText), default: "" },
    { name: "home-directory", type: string(absolutePath), default: (f) => `/home/${f.string("name")}` },
    { name: "shell", type: string(absolutePath), default: "/bin/sh" },
    { name: "password", type: string(cryptHash) },
  ],
  build(f, loc): UserAccount {
    const name = f.string("name");
    const uid = f.optionalInteger("uid");
    if (name === "root" && uid !== 0) fail(f.locationOf(uid === undefined ? "name" : "uid"), "user 'root' must have uid 0");
    const password = f.optionalString("password");
    return {
      name,
      ...(uid === undefined ? {} : { uid }),
      group: f.string("group"),
      supplementaryGroups: f.strings("supplementary-groups"),
      comment: f.string("comment"),
      homeDirectory: f.string("home-directory"),
      shell: f.string("shell"),
      ...(password === undefined ? {} : { password }),
      location: loc,
    };
  },
};

const userGroup: RecordType = {
  name: "user-group",
  fields: [
    { name: "name", type: string(posixName("group")), required: true },
    { name: "gid", type: integer(0, ID_MAX) },
  ],
  build(f, loc): UserGroup {
    const gid = f.optionalInteger("gid");
    return { name: f.string("name"), ...(gid === undefined ? {} : { gid }), location: loc };
  },
};

/** A service configuration: every field, defaults filled in, kebab-case keys. */
function configuration(name: string, fields: FieldSpec[]): RecordType {
  return {
    name,
    fields,
    build: (f): ServiceConfig => Object.fromEntries(fields.map((spec) => [spec.name, f.plain(spec.name)!])),
  };
}

const CONFIGURATIONS: RecordType[] = [
  configuration("syslogd-configuration", [{ name: "log-file", type: string(absolutePath), default: "/var/log/messages" }]),
  configuration("getty-configuration", [
    { name: "tty", type: string(ttyName), default: "ttyS0" },
    { name: "baud-rate", type: integer(1, 4_000_000, baudRate), default: 115200 },
  ]),
  configuration("httpd-configuration", [
    { name: "port", type: integer(1, 65535), default: 80 },
    { name: "document-root", type: string(absolutePath), default: "/srv/www" },
    { name: "index", type: string(), default: "Welcome to Fruix\n" },
  ]),
  configuration("dhcp-client-configuration", [{ name: "interface", type: string(interfaceName), default: "eth0" }]),
  configuration("validation-shell-configuration", [{ name: "tty", type: string(ttyName), default: "ttyS0" }]),
  configuration("sshd-configuration", [
    { name: "port", type: integer(1, 65535), default: 22 },
    { name: "authorized-keys", type: listOf(string(singleLine)), default: [] },
  ]),
];

// Health checks: what a trial boot must show (docs/declarations.md, docs/generations.md).

const httpPath: Check<string> = (s) =>
  /^\/[\x21-\x7e]*$/.test(s) ? undefined : `${show(s)} is not an HTTP path: it must start with '/' and hold no spaces or control characters`;

const commandLine: Check<string> = (s) =>
  s.trim() !== "" && !/[\n\r\x00]/.test(s) ? undefined : `${show(s)} must be one non-empty line of shell`;

const serviceName: Check<string> = (s) =>
  /^[a-z][a-z0-9-]*$/.test(s) ? undefined : `${show(s)} is not a service name like "httpd" (the service type without -service-type)`;

/** The kinds of check, as the helper's health-checks file names them. */
export const HEALTH_CHECK_TYPES: readonly RecordType[] = [
  {
    name: "service-running-check",
    fields: [{ name: "service", type: string(serviceName), required: true }],
    build: (f, loc): HealthCheck => ({ kind: "service-running", service: f.string("service"), location: loc }),
  },
  {
    name: "tcp-port-check",
    fields: [{ name: "port", type: integer(1, 65535), required: true }],
    build: (f, loc): HealthCheck => ({ kind: "tcp-port", port: f.optionalInteger("port")!, location: loc }),
  },
  {
    name: "http-check",
    fields: [
      { name: "port", type: integer(1, 65535), required: true },
      { name: "path", type: string(httpPath), default: "/" },
    ],
    build: (f, loc): HealthCheck => ({ kind: "http", port: f.optionalInteger("port")!, path: f.string("path"), location: loc }),
  },
  {
    name: "command-check",
    fields: [{ name: "command", type: string(commandLine), required: true }],
    build: (f, loc): HealthCheck => ({ kind: "command", command: f.string("command"), location: loc }),
  },
];

const healthCheckConfiguration: RecordType = {
  name: "health-check-configuration",
  fields: [
    { name: "deadline", type: integer(10, 3600), default: DEFAULT_HEALTH_CHECKS.deadline },
    { name: "checks", type: listOf(recordOf(...HEALTH_CHECK_TYPES.map((t) => t.name))), default: [] },
  ],
  build: (f): HealthChecks => ({
    deadline: f.optionalInteger("deadline")!,
    checks: (f.items("checks") as RecordValue[]).map((r) => r.object as HealthCheck),
  }),
};

/** Services a service-running-check may name: supervised daemons, not terminals (init owns those). */
const TERMINAL_SERVICES = new Set(["getty", "validation-shell"]);

function checkHealthChecks(healthChecks: HealthChecks, services: readonly ServiceValue[]): void {
  const declared = services.map((s) => s.spec.type).filter((t) => !TERMINAL_SERVICES.has(t));
  for (const check of healthChecks.checks) {
    if (check.kind !== "service-running" || declared.includes(check.service)) continue;
    const why = TERMINAL_SERVICES.has(check.service)
      ? `service '${check.service}' runs on a terminal under init, not as a supervised service`
      : `service '${check.service}' is not declared in this operating-system${didYouMean(check.service, declared)} (declared: ${declared.join(", ") || "none"})`;
    fail(check.location, `service-running-check: ${why}`);
  }
}

/** Each base family's record type: canonical.ts writes a base back through its fields. */
export const BASE_TYPES: ReadonlyMap<BaseSpec["family"], RecordType> = new Map<BaseSpec["family"], RecordType>([
  ["linux-busybox", linuxBusyboxBase],
  ["freebsd", freebsdBase],
]);

export const RECORD_TYPES: ReadonlyMap<string, RecordType> = new Map(
  [operatingSystem, linuxBusyboxBase, freebsdBase, userAccount, userGroup, ...CONFIGURATIONS, healthCheckConfiguration, ...HEALTH_CHECK_TYPES, developmentProfileConfiguration, ...SOURCE_TYPES].map((t) => [
    t.name,
    t,
  ]),
);

/** Builds a record value from its given (or inherited), already checked fields. */
export function constructRecord(type: RecordType, fields: ReadonlyMap<string, Value>, loc: SourceLocation): RecordValue {
  for (const spec of type.fields) {
    if (spec.required && !fields.has(spec.name)) fail(loc, `${type.name} is missing required field '${spec.name}'`);
  }
  return { kind: "record", type: type.name, fields, object: type.build(new Fields(type, fields, loc), loc), loc };
}

// ---------------------------------------------------------------------------
// Service types


const serviceType = (name: string, configuration?: string): ServiceType => ({
  name,
  identifier: `${name}-service-type`,
  ...(configuration === undefined ? {} : { configuration }),
});

export const SERVICE_TYPES: ReadonlyMap<string, ServiceType> = new Map(
  [
    serviceType("syslogd", "syslogd-configuration"),
    serviceType("klogd"),
    serviceType("crond"),
    serviceType("getty", "getty-configuration"),
    serviceType("httpd", "httpd-configuration"),
    serviceType("dhcp-client", "dhcp-client-configuration"),
    serviceType("validation-shell", "validation-shell-configuration"),
    serviceType("sshd", "sshd-configuration"),
  ].map((t) => [t.identifier, t]),
);

/** `(service TYPE [CONFIG])`: checks CONFIG against TYPE and fills in defaults. */
export function serviceSpec(type: ServiceType, config: Value | undefined, loc: SourceLocation): ServiceSpec {
  if (type.configuration === undefined) {
    if (config !== undefined) fail(config.loc, `${type.identifier} takes no configuration, got ${describeValue(config)}`);
    return { type: type.name, config: {}, location: loc };
  }
  if (config === undefined) {
    const defaults = RECORD_TYPES.get(type.configuration)!;
    return { type: type.name, config: defaults.build(new Fields(defaults, new Map(), loc), loc) as ServiceConfig, location: loc };
  }
  if (config.kind !== "record" || config.type !== type.configuration) {
    fail(config.loc, `${type.identifier} expects ${article(type.configuration)} record, got ${describeValue(config)}`);
  }
  return { type: type.name, config: config.object as ServiceConfig, location: loc };
}

// ---------------------------------------------------------------------------
// Checking one field value

/** "a user-group", "an operating-system". */
export function article(noun: string): string {
  return `${/^[aeio]/.test(noun) ? "an" : "a"} ${noun}`; // "u" as in "user"
}

export function describeType(type: FieldType): string {
  switch (type.kind) {
    case "string":
      return "a string";
    case "integer":
      return "an integer";
    case "service":
      return "a service";
    case "record":
      return `${article(type.types.join(" or "))} record`;
    case "list": {
      const of = type.of;
      const element =
        of.kind === "string" ? "strings" : of.kind === "integer" ? "integers" : of.kind === "service" ? "services" : of.kind === "record" ? `${of.types.join(" or ")} records` : "lists";
      return `a list of ${element}`;
    }
  }
}

export function describeValue(value: Value): string {
  switch (value.kind) {
    case "string":
      return `the string ${show(value.value)}`;
    case "integer":
      return `the integer ${value.value}`;
    case "real":
      return `the number ${value.text}`;
    case "boolean":
      return `the boolean ${value.value ? "#t" : "#f"}`;
    case "keyword":
      return `the keyword #:${value.name}`;
    case "symbol":
      return `the symbol '${value.name}'`;
    case "list":
      return value.items.length === 0 ? "the empty list" : "a list";
    case "record":
      return `${article(value.type)} record`;
    case "service":
      return `a service of type ${value.spec.type}`;
    case "service-type":
      return `the service type ${value.type.identifier}`;
    case "procedure":
      return `the procedure '${value.name}'`;
  }
}

/** Throws at the value (or the offending list element) when it does not fit the field. */
export function checkField(record: RecordType, field: FieldSpec, value: Value): void {
  const report = (loc: SourceLocation, problem: string): never => fail(loc, `${record.name} field '${field.name}': ${problem}`);
  checkValue(field.type, value, report, (v) => `expected ${describeType(field.type)}, got ${describeValue(v)}`);
}

type Report = (loc: SourceLocation, problem: string) => never;

function checkValue(type: FieldType, value: Value, report: Report, mismatch: (value: Value) => string): void {
  const wrong = (): never => report(value.loc, mismatch(value));
  switch (type.kind) {
    case "string": {
      if (value.kind !== "string") return wrong();
      const problem = type.check?.(value.value);
      if (problem !== undefined) report(value.loc, problem);
      return;
    }
    case "integer": {
      if (value.kind !== "integer") return wrong();
      if (value.value < type.min || value.value > type.max) report(value.loc, `${value.value} is out of range (${type.min}..${type.max})`);
      const problem = type.check?.(value.value);
      if (problem !== undefined) report(value.loc, problem);
      return;
    }
    case "record":
      if (value.kind !== "record" || !type.types.includes(value.type)) wrong();
      return;
    case "service":
      if (value.kind !== "service") wrong();
      return;
    case "list":
      if (value.kind !== "list") return wrong();
      value.items.forEach((item, i) =>
        checkValue(type.of, item, report, (v) => `expected ${describeType(type)}, but element ${i + 1} is ${describeValue(v)}`),
      );
      return;
  }
}

// ---------------------------------------------------------------------------
// Rules spanning records

function at(loc: SourceLocation): string {
  return `${loc.line}:${loc.column}`;
}

/** Where a record's field value was written; the record itself when defaulted. */
function fieldLoc(record: RecordValue, field: string): SourceLocation {
  return record.fields.get(field)?.loc ?? record.loc;
}

function checkGroups(groups: readonly RecordValue[]): void {
  const byName = new Map<string, RecordValue>();
  for (const group of groups) {
    const { name } = group.object as UserGroup;
    const first = byName.get(name);
    if (first !== undefined) fail(group.loc, `group '${name}' is declared twice (first at ${at(first.loc)})`);
    byName.set(name, group);
  }
  // Declared groups replace built-ins of the same name; gids must stay unique across both.
  const gidOwner = new Map<number, string>();
  for (const [name, gid] of BUILTIN_GROUPS) if (!byName.has(name)) gidOwner.set(gid, `built-in group '${name}'`);
  for (const group of groups) {
    const { name, gid } = group.object as UserGroup;
    if (gid === undefined) continue;
    const owner = gidOwner.get(gid);
    if (owner !== undefined) fail(fieldLoc(group, "gid"), `gid ${gid} of group '${name}' is already used by ${owner}`);
    gidOwner.set(gid, `group '${name}'`);
  }
}

function checkUsers(users: readonly RecordValue[], groups: readonly RecordValue[]): void {
  const known = new Set([...BUILTIN_GROUPS.keys(), ...groups.map((g) => (g.object as UserGroup).name)]);
  const byName = new Map<string, RecordValue>();
  const uidOwner = new Map<number, string>();
  for (const user of users) {
    const account = user.object as UserAccount;
    const first = byName.get(account.name);
    if (first !== undefined) fail(user.loc, `user '${account.name}' is declared twice (first at ${at(first.loc)})`);
    byName.set(account.name, user);
    if (account.uid !== undefined) {
      const owner = uidOwner.get(account.uid);
      if (owner !== undefined) fail(fieldLoc(user, "uid"), `uid ${account.uid} of user '${account.name}' is already used by user '${owner}'`);
      uidOwner.set(account.uid, account.name);
    }
    const unknownGroup = (group: string, loc: SourceLocation): never =>
      fail(loc, `user '${account.name}' refers to unknown group '${group}'${didYouMean(group, known)}; declare it in the groups field (built-in groups: ${[...BUILTIN_GROUPS.keys()].join(", ")})`);
    if (!known.has(account.group)) unknownGroup(account.group, fieldLoc(user, "group"));
    const supplementary = user.fields.get("supplementary-groups");
    account.supplementaryGroups.forEach((group, i) => {
      if (!known.has(group)) unknownGroup(group, (supplementary as ListValue).items[i]!.loc);
    });
  }
}

function checkServices(services: readonly ServiceValue[]): void {
  const seen = new Map<string, ServiceValue>(); // key: type, or type+tty for terminal services
  const ttys = new Map<string, ServiceValue>(); // tty -> the service using it
  for (const service of services) {
    const { type, config } = service.spec;
    const tty = type === "getty" || type === "validation-shell" ? (config["tty"] as string) : undefined;
    const key = type === "getty" ? `getty ${tty}` : type;
    const first = seen.get(key);
    if (first !== undefined) {
      const what = type === "getty" ? `getty on tty '${tty}'` : `service '${type}'`;
      fail(service.loc, `${what} is declared twice (first at ${at(first.loc)})`);
    }
    seen.set(key, service);
    if (tty !== undefined) {
      const other = ttys.get(tty);
      if (other !== undefined) {
        fail(service.loc, `${type} and ${other.spec.type} both use tty '${tty}' (the other at ${at(other.loc)})`);
      }
      ttys.set(tty, service);
    }
  }
}

// ---------------------------------------------------------------------------
// Suggestions

/** " (did you mean 'x'?)" for a close candidate, else "". */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const best = closestName(name, candidates);
  return best === undefined ? "" : ` (did you mean '${best}'?)`;
}

/** The candidate a slip of the keyboard away from `name` (the CLI suggests commands and options with it), or undefined. */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // Small on purpose: names sharing a long suffix (-service-type) are not "close".
  const limit = name.length <= 4 ? 1 : 2;
  return bestDistance <= limit ? best : undefined;
}

/** Edits (insert, delete, substitute, swap two neighbours: `jsno` -> `json` is one) from a to b. */
function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) current[j] = Math.min(current[j]!, before[j - 2]! + 1);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}
