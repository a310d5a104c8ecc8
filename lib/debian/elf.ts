// Dynamic-linking facts of an ELF64 little-endian executable or library, read
// in pure TS (like kmod.ts reads .modinfo): the DT_NEEDED names and the soname.

const SHT_DYNAMIC = 6;
const DT_NEEDED = 1;
const DT_SONAME = 14;

export interface ElfDynamic {
  readonly needed: readonly string[];
  readonly soname?: string;
}

export function isElf64(bytes: Buffer): boolean {
  return bytes.length > 0x40 && bytes.readUInt32BE(0) === 0x7f454c46 && bytes[4] === 2 && bytes[5] === 1;
}

/** Reads the .dynamic section through the section headers; a static binary has none. */
export function readDynamic(elf: Buffer): ElfDynamic {
  if (!isElf64(elf)) throw new Error("not an ELF64 little-endian file");
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return {
      type: elf.readUInt32LE(at + 4),
      offset: Number(elf.readBigUInt64LE(at + 0x18)),
      size: Number(elf.readBigUInt64LE(at + 0x20)),
      link: elf.readUInt32LE(at + 0x28),
    };
  };
  for (let i = 0; i < shnum; i++) {
    const dynamic = section(i);
    if (dynamic.type !== SHT_DYNAMIC) continue;
    const strings = section(dynamic.link);
    const str = (off: number) => elf.toString("latin1", strings.offset + off, elf.indexOf(0, strings.offset + off));
    const needed: string[] = [];
    let soname: string | undefined;
    for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
      const tag = Number(elf.readBigInt64LE(at));
      const value = Number(elf.readBigUInt64LE(at + 8));
      if (tag === 0) break;
      if (tag === DT_NEEDED) needed.push(str(value));
      if (tag === DT_SONAME) soname = str(value);
    }
    return soname === undefined ? { needed } : { needed, soname };
  }
  return { needed: [] };
}
