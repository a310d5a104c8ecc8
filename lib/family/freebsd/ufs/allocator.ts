// Where data goes (pure): whole blocks in order through every cylinder
// group's free area, and fragment runs (a small file's last block) fitted
// into partly used blocks. Every fragment it hands out is marked in `used`,
// the map the cylinder groups are later written from.
import { cgBase, cgFrags, type UfsGeometry } from "./geometry.js";

export class OutOfSpace extends Error {}

export class Allocator {
  /** One byte per fragment of the file system: 1 = in use (metadata or data). */
  readonly used: Uint8Array;
  private readonly blocks: number[] = []; // free whole blocks, in allocation order
  private next = 0;
  private readonly partial: Array<Array<{ start: number; count: number }>>; // by free count

  constructor(private readonly g: UfsGeometry) {
    this.used = new Uint8Array(g.size);
    this.partial = Array.from({ length: g.frag }, () => []);
    for (let cg = 0; cg < g.ncg; cg++) {
      const base = cgBase(g, cg);
      const end = base + cgFrags(g, cg);
      // Group 0 keeps its boot area before the superblock, and the summaries after its inodes.
      const metaStart = cg === 0 ? base : base + g.sblkno;
      const metaEnd = base + g.dblkno + (cg === 0 ? Math.ceil(g.cssize / g.fsize) : 0);
      this.used.fill(1, metaStart, metaEnd);
      if (cg > 0) this.addFree(base, metaStart);
      this.addFree(metaEnd, end);
    }
  }

  /** Free fragments left, whole blocks and partial runs together. */
  get freeFragments(): number {
    let frags = (this.blocks.length - this.next) * this.g.frag;
    for (const list of this.partial) for (const run of list) frags += run.count;
    return frags;
  }

  private addFree(start: number, end: number): void {
    const { frag } = this.g;
    const firstBlock = Math.ceil(start / frag) * frag;
    const lastBlock = Math.floor(end / frag) * frag;
    if (firstBlock > lastBlock) {
      if (end > start) this.partial[end - start]!.push({ start, count: end - start });
      return;
    }
    if (firstBlock > start) this.partial[firstBlock - start]!.push({ start, count: firstBlock - start });
    for (let b = firstBlock; b < lastBlock; b += frag) this.blocks.push(b);
    if (end > lastBlock) this.partial[end - lastBlock]!.push({ start: lastBlock, count: end - lastBlock });
  }

  /** A whole block's first fragment. */
  block(): number {
    const b = this.blocks[this.next++];
    if (b === undefined) throw new OutOfSpace("no free block left");
    this.used.fill(1, b, b + this.g.frag);
    return b;
  }

  /** `count` (< frag) contiguous fragments inside one block: the best-fitting partly used block, or a new one. */
  fragments(count: number): number {
    let run: { start: number; count: number } | undefined;
    for (let free = count; free < this.g.frag && !run; free++) run = this.partial[free]!.shift();
    if (!run) run = { start: this.block(), count: this.g.frag };
    else this.used.fill(1, run.start, run.start + count);
    if (run.count > count) this.partial[run.count - count]!.push({ start: run.start + count, count: run.count - count });
    if (run.count === this.g.frag) this.used.fill(0, run.start + count, run.start + this.g.frag);
    return run.start;
  }
}
