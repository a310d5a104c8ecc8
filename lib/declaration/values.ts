// The values a declaration evaluates to (evaluate.ts makes them, schema.ts
// checks and builds records from them), apart from both so neither imports
// the other for its types.
import type { BaseSpec, DevelopmentProfile, HealthCheck, HealthChecks, OperatingSystem, ServiceSpec, SourceLocation, SourceTree, UserAccount, UserGroup } from "./types.js";

/** A configuration value as ServiceSpec.config holds it. */
export type ConfigValue = string | number | boolean | readonly string[];
export type ServiceConfig = Readonly<Record<string, ConfigValue>>;

/** The typed object a record constructor produces. */
export type SystemSpec = Omit<OperatingSystem, "binding">;
export type RecordObject = SystemSpec | BaseSpec | UserAccount | UserGroup | ServiceConfig | HealthChecks | HealthCheck | DevelopmentProfile | SourceTree;

export interface ServiceType {
  /** As in ServiceSpec.type, e.g. "httpd". */
  readonly name: string;
  /** The identifier a declaration uses, e.g. "httpd-service-type". */
  readonly identifier: string;
  /** Configuration record type; undefined when the service takes none. */
  readonly configuration?: string;
}

// ---------------------------------------------------------------------------
// Values

interface Located {
  /** Where the value was written at its point of use (a variable reference counts). */
  readonly loc: SourceLocation;
}
export interface StringValue extends Located {
  readonly kind: "string";
  readonly value: string;
}
export interface IntegerValue extends Located {
  readonly kind: "integer";
  readonly value: number;
}
export interface RealValue extends Located {
  readonly kind: "real";
  readonly text: string;
}
export interface BooleanValue extends Located {
  readonly kind: "boolean";
  readonly value: boolean;
}
export interface KeywordValue extends Located {
  readonly kind: "keyword";
  readonly name: string;
}
export interface SymbolValue extends Located {
  readonly kind: "symbol";
  readonly name: string;
}
export interface ListValue extends Located {
  readonly kind: "list";
  readonly items: readonly Value[];
}
export interface RecordValue extends Located {
  readonly kind: "record";
  readonly type: string;
  /** Given and inherited fields as written (what `inherit` copies); defaults are not in here. */
  readonly fields: ReadonlyMap<string, Value>;
  /** The typed object, defaults filled in. */
  readonly object: RecordObject;
}
export interface ServiceValue extends Located {
  readonly kind: "service";
  readonly spec: ServiceSpec;
}
export interface ServiceTypeValue extends Located {
  readonly kind: "service-type";
  readonly type: ServiceType;
}
export interface ProcedureValue extends Located {
  readonly kind: "procedure";
  readonly name: string;
  apply(args: readonly Value[], call: SourceLocation): Value;
}

export type Value =
  | StringValue
  | IntegerValue
  | RealValue
  | BooleanValue
  | KeywordValue
  | SymbolValue
  | ListValue
  | RecordValue
  | ServiceValue
  | ServiceTypeValue
  | ProcedureValue;

export interface Binding {
  readonly value: Value;
  /** The name as written in the binding form. */
  readonly loc: SourceLocation;
}

