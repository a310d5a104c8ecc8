// Where a file's data lies, from filefrag(8)'s FIEMAP listing. The rest of the
// file is holes, which read as zeros: hashing a sparse disk image can skip
// them instead of making the kernel fill the page cache with zero pages (most
// of the time `fruix system image` spent hashing its own image).
import { execFileSync } from "node:child_process";

/** Bytes [start, end) of a file that may hold data. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * The extents `filefrag -e` lists, as byte ranges sorted by offset (pure);
 * undefined if the listing is not one it can read in full.
 */
export function parseFilefrag(output: string): ByteRange[] | undefined {
  const unit = /\(\d+ blocks? of (\d+) bytes\)/.exec(output);
  const found = /: (\d+) extents? found\s*$/.exec(output);
  if (!unit || !found) return undefined;
  const block = Number(unit[1]);
  const ranges: ByteRange[] = [];
  for (const m of output.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*(\d+):/gm)) {
    ranges.push({ start: Number(m[1]) * block, end: (Number(m[2]) + 1) * block });
  }
  // "N extents found" counts physically contiguous runs, not the lines listed:
  // only a listing that lost its lines is refused.
  if (Number(found[1]) > 0 && ranges.length === 0) return undefined;
  return ranges.sort((a, b) => a.start - b.start);
}

/** The data extents of a regular file, or undefined where the file system cannot tell (tmpfs, no filefrag). */
export function dataExtents(path: string): ByteRange[] | undefined {
  try {
    return parseFilefrag(execFileSync("filefrag", ["-e", path], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
  } catch {
    return undefined;
  }
}
