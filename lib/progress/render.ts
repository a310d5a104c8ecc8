// Progress lines, as text (pure): bytes so far, of how many, rate and ETA.

export interface ProgressState {
  readonly label: string;
  readonly done: number;
  /** Bytes in all, when known. */
  readonly total?: number;
  /** Milliseconds since the work began. */
  readonly elapsedMs: number;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** 7s, 2m05s, 1h02m. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Bytes per second; undefined until there is anything to measure. */
function rate(state: ProgressState): number | undefined {
  return state.elapsedMs > 0 && state.done > 0 ? (state.done * 1000) / state.elapsedMs : undefined;
}

/** `download busybox-static  1.2 MiB / 4.0 MiB  30%  600.0 KiB/s  ETA 5s`. */
export function progressLine(state: ProgressState): string {
  const parts = [state.label];
  const speed = rate(state);
  if (state.total !== undefined && state.total > 0) {
    const done = Math.min(state.done, state.total);
    parts.push(`${formatBytes(done)} / ${formatBytes(state.total)}`, `${Math.floor((done * 100) / state.total)}%`);
    if (speed !== undefined) parts.push(`${formatBytes(Math.round(speed))}/s`, `ETA ${formatDuration(((state.total - done) / speed) * 1000)}`);
  } else {
    parts.push(formatBytes(state.done));
    if (speed !== undefined) parts.push(`${formatBytes(Math.round(speed))}/s`);
  }
  return parts.join("  ");
}

/** `download busybox-static: 4.0 MiB in 6s (682.7 KiB/s)`. */
export function doneLine(state: ProgressState): string {
  const speed = rate(state);
  return `${state.label}: ${formatBytes(state.done)} in ${formatDuration(state.elapsedMs)}${speed === undefined ? "" : ` (${formatBytes(Math.round(speed))}/s)`}`;
}

/** Cuts a line to the terminal's width, so rewriting it with \r never wraps. */
export function fitLine(line: string, columns: number | undefined): string {
  if (columns === undefined || columns <= 1 || line.length < columns) return line;
  return `${line.slice(0, columns - 2)}…`;
}
