// The evaluated form of a declaration: what the system builder consumes.
// Every object keeps the source location it came from, so later stages can
// still point an operator at file:line:column.

export interface SourceLocation {
  readonly file: string;
  readonly line: number; // 1-based
  readonly column: number; // 1-based
}

export type BaseSpec = LinuxBusyboxBase | FreebsdBase;

/** Debian kernel + BusyBox, booted through systemd-boot (DESIGN §5). */
export interface LinuxBusyboxBase {
  readonly family: "linux-busybox";
  /** Debian package providing the kernel; a metapackage is resolved to its image package. */
  readonly kernelPackage: string; // default "linux-image-amd64"
  /** A promoted native build (result bundle or world item) whose world is the BusyBox, in place of Debian's (docs/native-builds.md). */
  readonly nativeBuild?: string;
  readonly location: SourceLocation;
}

/** FreeBSD from distribution sets (DESIGN §5); see docs/freebsd.md. */
export interface FreebsdBase {
  readonly family: "freebsd";
  /** Directory holding base.txz and kernel.txz; undefined means FRUIX_FREEBSD_DIST or /usr/freebsd-dist. */
  readonly distDirectory?: string;
  /** A promoted native-build result bundle whose world, kernel and boot loader replace the sets' (docs/native-builds.md). */
  readonly nativeBuild?: string;
  readonly location: SourceLocation;
}

export interface UserAccount {
  readonly name: string;
  readonly uid?: number; // allocated from 1000 up when absent
  readonly group: string; // primary group name
  readonly supplementaryGroups: readonly string[];
  readonly comment: string;
  readonly homeDirectory: string; // default /home/<name>
  readonly shell: string; // default /bin/sh
  /** crypt(3) hash for /etc/shadow; undefined means no password ("*": no password login; SSH keys still work). */
  readonly password?: string;
  readonly location: SourceLocation;
}

export interface UserGroup {
  readonly name: string;
  readonly gid?: number; // allocated from 1000 up when absent
  readonly location: SourceLocation;
}

/** One declared service: `(service TYPE [CONFIG])`. */
export interface ServiceSpec {
  /** Service type without the `-service-type` suffix, e.g. "syslogd". */
  readonly type: string;
  /** The configuration record's fields, defaults filled in, keys in kebab-case. */
  readonly config: Readonly<Record<string, string | number | boolean | readonly string[]>>;
  readonly location: SourceLocation;
}

/** One declared health check (docs/declarations.md, "Health checks"): what a trial boot must show. */
export type HealthCheck =
  | { readonly kind: "service-running"; readonly service: string; readonly location: SourceLocation }
  | { readonly kind: "tcp-port"; readonly port: number; readonly location: SourceLocation }
  | { readonly kind: "http"; readonly port: number; readonly path: string; readonly location: SourceLocation }
  | { readonly kind: "command"; readonly command: string; readonly location: SourceLocation };

/**
 * What a trial boot must show before its deadline (seconds from the end of
 * activation). The default check, activation finished and every declared
 * service running, always applies; `checks` adds to it.
 */
export interface HealthChecks {
  readonly deadline: number; // default 120
  readonly checks: readonly HealthCheck[];
}

export const DEFAULT_HEALTH_CHECKS: HealthChecks = { deadline: 120, checks: [] };

/**
 * The opt-in development profile (docs/native-builds.md): a toolchain and
 * headers kept apart from the runtime profile, from the base's own sources
 * (Debian's packages on linux-busybox, base.txz on FreeBSD).
 */
export interface DevelopmentProfile {
  readonly location: SourceLocation;
}

/** A declared source tree, made into a store item the system's metadata records (docs/native-builds.md). */
export type SourceTree =
  /** A Debian source package, fetched with `apt-get source` (linux-busybox). */
  | { readonly kind: "debian-source-package"; readonly name: string; readonly location: SourceLocation }
  /** FreeBSD's src.txz; undefined distDirectory means the base's set directory (freebsd). */
  | { readonly kind: "freebsd-source"; readonly distDirectory?: string; readonly location: SourceLocation };

export interface OperatingSystem {
  /** The Scheme binding this object was found under, e.g. "my-operating-system". */
  readonly binding: string;
  readonly hostName: string;
  readonly base: BaseSpec;
  readonly timezone: string; // default "UTC"
  readonly kernelArguments: readonly string[];
  readonly users: readonly UserAccount[];
  readonly groups: readonly UserGroup[];
  readonly services: readonly ServiceSpec[];
  readonly healthChecks: HealthChecks;
  /** Absent unless declared: systems without it keep their canonical text (and closure path). */
  readonly developmentProfile?: DevelopmentProfile;
  /** Declared source trees; absent (like an empty list) unless declared. */
  readonly sources?: readonly SourceTree[];
  readonly location: SourceLocation;
}

export interface Declaration {
  /** Path as given by the operator (used in error messages). */
  readonly file: string;
  /** Every top-level binding whose value is an operating-system, in file order. */
  readonly systems: ReadonlyMap<string, OperatingSystem>;
}
