// Quoting values for POSIX sh, the one place that does it: generated scripts
// and config files (service runs, install.conf, closure parameters, rc.conf)
// and the commands sent over SSH.

/** Single quotes: the value reads back byte for byte, nothing inside is expanded. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Double quotes with ", \, $ and ` escaped: rc.conf's own style (FreeBSD's sysrc writes it so). */
export function shellDoubleQuote(value: string): string {
  return `"${value.replace(/(["\\$`])/g, "\\$1")}"`;
}
