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
  readonly location: SourceLocation;
}

/** FreeBSD from distribution sets (DESIGN §5); see docs/freebsd.md. */
export interface FreebsdBase {
  readonly family: "freebsd";
  /** Directory holding base.txz and kernel.txz; undefined means FRUIX_FREEBSD_DIST or /usr/freebsd-dist. */
  readonly distDirectory?: string;
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
  readonly location: SourceLocation;
}

export interface Declaration {
  /** Path as given by the operator (used in error messages). */
  readonly file: string;
  /** Every top-level binding whose value is an operating-system, in file order. */
  readonly systems: ReadonlyMap<string, OperatingSystem>;
}
