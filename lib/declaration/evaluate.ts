// The evaluator of Fruix's declarative Scheme subset: data from reader.ts in,
// top-level bindings out. No I/O, no procedures of the user's own (no lambda):
// every program terminates, and every value remembers where it was written.

import { fail, type Datum, type ListDatum, type SymbolDatum } from "./reader.js";
import {
  RECORD_TYPES,
  SERVICE_TYPES,
  article,
  checkField,
  constructRecord,
  describeValue,
  didYouMean,
  serviceSpec,
  type RecordType,
} from "./schema.js";
import type { SourceLocation } from "./types.js";
import type { Binding, ListValue, Value } from "./values.js";

// ---------------------------------------------------------------------------
// Names

/** Modules `use-modules` accepts. Every binding is available regardless. */
export const KNOWN_MODULES: readonly string[] = [
  "(fruix system)",
  "(fruix services)",
  "(fruix bases)",
  "(fruix users)",
  "(gnu)",
  "(gnu system)",
  "(gnu services)",
];

const SPECIAL_FORMS = new Set(["define", "use-modules", "let", "let*", "quote", "quasiquote", "unquote", "unquote-splicing"]);

/** Scheme and Guix forms people will try, with what to do instead. */
const UNSUPPORTED: Record<string, string> = {
  lambda: "procedures cannot be defined in a declaration",
  "λ": "procedures cannot be defined in a declaration",
  "define*": "procedures cannot be defined in a declaration",
  "define-public": "use define",
  "define-module": "a declaration is not a module; use use-modules",
  "define-record-type": "only Fruix's own record types are available",
  "define-syntax": "macros are not supported",
  if: "conditionals are not supported; a declaration states one system",
  cond: "conditionals are not supported; a declaration states one system",
  case: "conditionals are not supported; a declaration states one system",
  when: "conditionals are not supported; a declaration states one system",
  unless: "conditionals are not supported; a declaration states one system",
  begin: "write the definitions at top level",
  "set!": "bindings cannot be changed; use let* or a new define",
  letrec: "use let or let*",
  "letrec*": "use let or let*",
  load: "a declaration is one file",
  include: "a declaration is one file",
  "use-service-modules": "use (use-modules (fruix services))",
  "use-package-modules": "packages come from the base; use (use-modules (fruix system))",
  "use-system-modules": "use (use-modules (fruix system))",
  "modify-services": "list the services you want instead",
  "file-system": "file systems are laid out by the base; file-system records are not supported yet",
  "%base-services": "list the services you want explicitly",
  "%base-user-accounts": "root is always present; list your other users explicitly",
  "%base-groups": "the built-in groups are always present",
};

/** The names every declaration starts with: built-in procedures and service types. */
function globalScope(): Scope {
  const scope = new Scope();
  const nowhere: SourceLocation = { file: "<built-in>", line: 0, column: 0 };
  for (const [name, apply] of Object.entries(BUILTINS)) {
    scope.bind(name, { value: { kind: "procedure", name, apply, loc: nowhere }, loc: nowhere });
  }
  for (const type of SERVICE_TYPES.values()) {
    scope.bind(type.identifier, { value: { kind: "service-type", type, loc: nowhere }, loc: nowhere });
  }
  return scope;
}

class Scope {
  private readonly bindings = new Map<string, Binding>();
  constructor(readonly parent?: Scope) {}

  lookup(name: string): Binding | undefined {
    return this.bindings.get(name) ?? this.parent?.lookup(name);
  }
  own(name: string): Binding | undefined {
    return this.bindings.get(name);
  }
  bind(name: string, binding: Binding): void {
    this.bindings.set(name, binding);
  }
  *names(): Iterable<string> {
    yield* this.bindings.keys();
    if (this.parent !== undefined) yield* this.parent.names();
  }
  /** Bindings made in this scope, in the order they were made. */
  entries(): ReadonlyMap<string, Binding> {
    return this.bindings;
  }
}

// ---------------------------------------------------------------------------
// Built-in procedures

type Builtin = (args: readonly Value[], call: SourceLocation) => Value;

function arity(name: string, args: readonly Value[], call: SourceLocation, min: number, max: number): void {
  if (args.length >= min && args.length <= max) return;
  const wanted = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} or ${max}`;
  fail(call, `${name} expects ${wanted} argument${wanted === "1" ? "" : "s"}, got ${args.length}`);
}

function requireList(name: string, value: Value, position: number): ListValue {
  if (value.kind !== "list") fail(value.loc, `${name}: argument ${position} must be a list, got ${describeValue(value)}`);
  return value;
}

const BUILTINS: Record<string, Builtin> = {
  list: (args, loc) => ({ kind: "list", items: args, loc }),
  cons(args, loc) {
    arity("cons", args, loc, 2, 2);
    if (args[1]!.kind !== "list") {
      fail(args[1]!.loc, `cons: the second argument must be a list (dotted pairs are not supported), got ${describeValue(args[1]!)}`);
    }
    return { kind: "list", items: [args[0]!, ...args[1]!.items], loc };
  },
  append: (args, loc) => ({ kind: "list", items: args.flatMap((arg, i) => requireList("append", arg, i + 1).items), loc }),
  "string-append"(args, loc) {
    const parts = args.map((arg, i) => {
      if (arg.kind !== "string") fail(arg.loc, `string-append: argument ${i + 1} must be a string, got ${describeValue(arg)}`);
      return arg.value;
    });
    return { kind: "string", value: parts.join(""), loc };
  },
  service(args, loc) {
    if (args.length === 0 || args.length > 2) {
      fail(loc, `service expects a service type and an optional configuration, (service TYPE [CONFIG]), got ${args.length} arguments`);
    }
    const type = args[0]!;
    if (type.kind !== "service-type") {
      fail(type.loc, `service: expected a service type such as httpd-service-type, got ${describeValue(type)}`);
    }
    return { kind: "service", spec: serviceSpec(type.type, args[1], loc), loc };
  },
};

// ---------------------------------------------------------------------------
// Evaluation

/** Runs a declaration's top-level forms; returns its `define`d names in file order. */
export function evaluateProgram(data: readonly Datum[]): ReadonlyMap<string, Binding> {
  const builtins = globalScope();
  const top = new Scope(builtins);
  for (const form of data) {
    const head = form.kind === "list" ? form.items[0] : undefined;
    if (form.kind === "list" && head?.kind === "symbol" && head.name === "define") {
      evalDefine(form, top);
    } else if (form.kind === "list" && head?.kind === "symbol" && head.name === "use-modules") {
      checkModules(form);
    } else {
      const what = form.kind === "list" && head?.kind === "symbol" ? `(${head.name} ...)` : describeDatum(form);
      const name = head?.kind === "symbol" ? head.name : "";
      const hint = RECORD_TYPES.has(name)
        ? `; bind it: (define NAME (${name} ...))`
        : UNSUPPORTED[name] !== undefined
          ? ` (not supported: ${UNSUPPORTED[name]})`
          : "";
      fail(form.loc, `only (define NAME EXPRESSION) and (use-modules ...) may appear at top level, found ${what}${hint}`);
    }
  }
  return top.entries();
}

function describeDatum(datum: Datum): string {
  switch (datum.kind) {
    case "list":
      return "a list";
    case "symbol":
      return `the name '${datum.name}'`;
    case "string":
      return "a string";
    case "integer":
    case "real":
      return "a number";
    case "boolean":
      return "a boolean";
    case "keyword":
      return `the keyword #:${datum.name}`;
  }
}

function isReserved(name: string, scope: Scope): boolean {
  return SPECIAL_FORMS.has(name) || RECORD_TYPES.has(name) || rootOf(scope).own(name) !== undefined;
}

function rootOf(scope: Scope): Scope {
  return scope.parent === undefined ? scope : rootOf(scope.parent);
}

function checkBindable(name: SymbolDatum, scope: Scope): void {
  if (isReserved(name.name, scope)) fail(name.loc, `cannot bind '${name.name}': it is a built-in name`);
}

function evalDefine(form: ListDatum, top: Scope): void {
  const [, target, expression] = form.items;
  if (target?.kind === "list") {
    const name = target.items[0]?.kind === "symbol" ? target.items[0].name : "...";
    fail(form.loc, `procedure definitions like (define (${name} ...) ...) are not supported; define a value: (define NAME EXPRESSION)`);
  }
  if (target?.kind !== "symbol" || expression === undefined || form.items.length !== 3) {
    fail(form.loc, "malformed define: expected (define NAME EXPRESSION)");
  }
  checkBindable(target, top);
  const previous = top.own(target.name);
  if (previous !== undefined) {
    fail(target.loc, `'${target.name}' is already defined at ${previous.loc.line}:${previous.loc.column}`);
  }
  top.bind(target.name, { value: evaluate(expression, top), loc: target.loc });
}

function checkModules(form: ListDatum): void {
  for (const spec of form.items.slice(1)) {
    if (spec.kind !== "list" || spec.items.length === 0 || spec.items.some((part) => part.kind !== "symbol")) {
      fail(spec.loc, "malformed module name in use-modules: expected a list of names like (fruix system)");
    }
    const name = `(${spec.items.map((part) => (part as SymbolDatum).name).join(" ")})`;
    if (!KNOWN_MODULES.includes(name)) fail(spec.loc, `unknown module ${name} (known: ${KNOWN_MODULES.join(", ")})`);
  }
}

function evaluate(datum: Datum, scope: Scope): Value {
  switch (datum.kind) {
    case "string":
    case "integer":
    case "boolean":
      return { kind: datum.kind, value: datum.value, loc: datum.loc } as Value;
    case "real":
      return { kind: "real", text: datum.text, loc: datum.loc };
    case "keyword":
      return { kind: "keyword", name: datum.name, loc: datum.loc };
    case "symbol":
      return reference(datum, scope);
    case "list":
      return combination(datum, scope);
  }
}

function reference(name: SymbolDatum, scope: Scope): Value {
  const binding = scope.lookup(name.name);
  if (binding !== undefined) return { ...binding.value, loc: name.loc };
  if (SPECIAL_FORMS.has(name.name) || RECORD_TYPES.has(name.name)) {
    fail(name.loc, `'${name.name}' is syntax, not a value: use it as (${name.name} ...)`);
  }
  const unsupported = UNSUPPORTED[name.name];
  if (unsupported !== undefined) fail(name.loc, `'${name.name}' is not supported in Fruix declarations: ${unsupported}`);
  if (name.name.endsWith("-service-type")) {
    const known = [...SERVICE_TYPES.keys()];
    fail(name.loc, `unknown service type '${name.name}'${didYouMean(name.name, known)} (known: ${known.join(", ")})`);
  }
  const candidates = [...scope.names(), ...SPECIAL_FORMS, ...RECORD_TYPES.keys()];
  return fail(name.loc, `undefined name '${name.name}'${didYouMean(name.name, candidates)}`);
}

function combination(form: ListDatum, scope: Scope): Value {
  const [head, ...args] = form.items;
  if (head === undefined) fail(form.loc, "empty combination (); write '() for an empty list");
  // Syntax names cannot be rebound (checkBindable), so no lookup is needed first.
  if (head.kind === "symbol") {
    const record = RECORD_TYPES.get(head.name);
    if (record !== undefined) return constructFromClauses(record, form, scope);
    switch (head.name) {
      case "define":
      case "use-modules":
        return fail(form.loc, `${head.name} is only allowed at top level`);
      case "let":
      case "let*":
        return evalLet(form, scope, head.name === "let*");
      // The result is located at the quote mark: that is what the operator wrote.
      case "quote":
        return { ...datumValue(single(form, "quote")), loc: form.loc };
      case "quasiquote":
        return { ...quasiquote(single(form, "quasiquote"), scope), loc: form.loc };
      case "unquote":
        return fail(form.loc, "unquote (,) outside of a quasiquote (`)");
      case "unquote-splicing":
        return fail(form.loc, "unquote-splicing (,@) outside of a quasiquote (`)");
    }
  }
  const operator = evaluate(head, scope);
  if (operator.kind !== "procedure") {
    fail(
      head.loc,
      head.kind === "symbol"
        ? `'${head.name}' is ${describeValue(operator)}, not a procedure`
        : `cannot apply ${describeValue(operator)}: it is not a procedure`,
    );
  }
  return operator.apply(
    args.map((arg) => evaluate(arg, scope)),
    form.loc,
  );
}

/** The one operand of `(quote X)` and the like. */
function single(form: ListDatum, name: string): Datum {
  if (form.items.length !== 2) fail(form.loc, `${name} expects exactly one datum, got ${form.items.length - 1}`);
  return form.items[1]!;
}

function evalLet(form: ListDatum, scope: Scope, sequential: boolean): Value {
  const name = sequential ? "let*" : "let";
  const [, bindings, ...body] = form.items;
  if (bindings?.kind === "symbol") fail(bindings.loc, `named ${name} is not supported`);
  if (bindings?.kind !== "list" || body.length === 0) {
    fail(form.loc, `malformed ${name}: expected (${name} ((NAME EXPRESSION) ...) BODY ...)`);
  }
  let inner = new Scope(scope);
  for (const binding of bindings.items) {
    const [target, expression] = binding.kind === "list" ? binding.items : [];
    if (binding.kind !== "list" || binding.items.length !== 2 || target?.kind !== "symbol") {
      fail(binding.loc, `malformed ${name} binding: expected (NAME EXPRESSION)`);
    }
    checkBindable(target, scope);
    if (!sequential && inner.own(target.name) !== undefined) fail(target.loc, `'${target.name}' is bound twice in this let`);
    // let evaluates every expression outside the new bindings; let* sees the earlier ones.
    const value = evaluate(expression!, sequential ? inner : scope);
    if (sequential) inner = new Scope(inner);
    inner.bind(target.name, { value, loc: target.loc });
  }
  let result: Value | undefined;
  for (const expression of body) result = evaluate(expression, inner);
  return result!;
}

/** A record constructor with Guix field syntax: `(user-account (name "alice") ...)`. */
function constructFromClauses(type: RecordType, form: ListDatum, scope: Scope): Value {
  const given = new Map<string, Value>();
  const clauseAt = new Map<string, SourceLocation>();
  let inherited: ReadonlyMap<string, Value> = new Map();
  let inheritAt: SourceLocation | undefined;
  for (const clause of form.items.slice(1)) {
    const head = clause.kind === "list" ? clause.items[0] : undefined;
    if (clause.kind !== "list" || head?.kind !== "symbol") {
      fail(clause.loc, `${type.name} expects field clauses like (${type.fields[0]!.name} VALUE), got ${describeDatum(clause)}`);
    }
    const field = head.name;
    if (clause.items.length !== 2) fail(clause.loc, `field '${field}' in ${type.name} needs exactly one value, got ${clause.items.length - 1}`);
    if (field === "inherit") {
      if (inheritAt !== undefined) fail(head.loc, `inherit is given twice in ${type.name}`);
      inheritAt = head.loc;
      const parent = evaluate(clause.items[1]!, scope);
      if (parent.kind !== "record" || parent.type !== type.name) {
        fail(parent.loc, `inherit in ${type.name} expects ${article(type.name)} record, got ${describeValue(parent)}`);
      }
      inherited = parent.fields;
      continue;
    }
    const spec = type.fields.find((f) => f.name === field);
    if (spec === undefined) {
      const names = type.fields.map((f) => f.name);
      const hint = didYouMean(field, names) || ` (fields: ${names.join(", ")})`;
      fail(head.loc, `unknown field '${field}' in ${type.name}${hint}`);
    }
    const first = clauseAt.get(field);
    if (first !== undefined) fail(head.loc, `field '${field}' is given twice in ${type.name} (first at ${first.line}:${first.column})`);
    clauseAt.set(field, head.loc);
    const value = evaluate(clause.items[1]!, scope);
    checkField(type, spec, value);
    given.set(field, value);
  }
  return constructRecord(type, new Map([...inherited, ...given]), form.loc);
}

// ---------------------------------------------------------------------------
// Quotation

/** The value a quoted datum stands for. */
function datumValue(datum: Datum): Value {
  switch (datum.kind) {
    case "list":
      return { kind: "list", items: datum.items.map(datumValue), loc: datum.loc };
    case "symbol":
      return { kind: "symbol", name: datum.name, loc: datum.loc };
    case "real":
      return { kind: "real", text: datum.text, loc: datum.loc };
    case "keyword":
      return { kind: "keyword", name: datum.name, loc: datum.loc };
    default:
      return { kind: datum.kind, value: datum.value, loc: datum.loc } as Value;
  }
}

/** The datum as a list when it is `(name ...)`; not a type guard, since false says nothing about its kind. */
function headIs(datum: Datum, name: string): ListDatum | undefined {
  return datum.kind === "list" && datum.items[0]?.kind === "symbol" && datum.items[0].name === name ? datum : undefined;
}

function quasiquote(template: Datum, scope: Scope): Value {
  const unquote = headIs(template, "unquote");
  if (unquote) return evaluate(single(unquote, "unquote"), scope);
  if (headIs(template, "unquote-splicing")) fail(template.loc, "unquote-splicing (,@) must be inside a list");
  if (headIs(template, "quasiquote")) fail(template.loc, "nested quasiquote is not supported");
  if (template.kind !== "list") return datumValue(template);
  const items: Value[] = [];
  for (const item of template.items) {
    const splice = headIs(item, "unquote-splicing");
    if (splice) {
      const spliced = evaluate(single(splice, "unquote-splicing"), scope);
      if (spliced.kind !== "list") fail(spliced.loc, `unquote-splicing (,@) needs a list, got ${describeValue(spliced)}`);
      items.push(...spliced.items);
    } else {
      items.push(quasiquote(item, scope));
    }
  }
  return { kind: "list", items, loc: template.loc };
}
