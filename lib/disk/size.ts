// Sizes as operators write them: bytes, or a number with k, m, g or t
// (binary units: 512m = 512 MiB), as in `--root-size 6g` (pure).
import { FruixError } from "../errors.js";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

const UNITS: Record<string, number> = { "": 1, k: KiB, m: MiB, g: GiB, t: 1024 * GiB };

export function parseSize(text: string, option = "size"): number {
  const match = /^(\d+)([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) {
    throw new FruixError(`${option}: invalid size '${text}' (use bytes, or a number with k, m, g or t, as in 512m or 6g)`, {
      exitCode: 2,
    });
  }
  const bytes = Number(match[1]) * UNITS[match[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new FruixError(`${option}: size '${text}' is out of range`, { exitCode: 2 });
  return bytes;
}

export function roundUp(bytes: number, unit: number): number {
  return Math.ceil(bytes / unit) * unit;
}

/** `67108864` -> `64 MiB`: the largest unit that states the size exactly (for messages). */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [["GiB", GiB], ["MiB", MiB], ["KiB", KiB]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}
