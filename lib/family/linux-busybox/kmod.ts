// Kernel module dependency logic, pure: read a module's `.modinfo` section and
// order a module set so every module comes after what it depends on.
// (The Debian kernel package ships no modules.dep; depmod runs at install time.)

/** Module names treat '-' and '_' alike (the kernel does too). */
export function moduleName(fileOrName: string): string {
  const base = fileOrName.slice(fileOrName.lastIndexOf("/") + 1).replace(/\.ko(\.(xz|zst|gz))?$/, "");
  return base.replace(/-/g, "_");
}

/** Key/value strings of an ELF64 little-endian module's `.modinfo` section. */
export function readModinfo(elf: Buffer): Map<string, string[]> {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) {
    throw new Error("not an ELF64 little-endian kernel module");
  }
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return {
      name: elf.readUInt32LE(at),
      offset: Number(elf.readBigUInt64LE(at + 0x18)),
      size: Number(elf.readBigUInt64LE(at + 0x20)),
    };
  };
  const names = section(shstrndx);
  const nameOf = (off: number) => {
    const start = names.offset + off;
    return elf.toString("latin1", start, elf.indexOf(0, start));
  };
  const info = new Map<string, string[]>();
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (nameOf(s.name) !== ".modinfo") continue;
    for (const entry of elf.toString("latin1", s.offset, s.offset + s.size).split("\0")) {
      const eq = entry.indexOf("=");
      if (eq <= 0) continue;
      const key = entry.slice(0, eq);
      info.set(key, [...(info.get(key) ?? []), entry.slice(eq + 1)]);
    }
  }
  return info;
}

export function moduleDependencies(elf: Buffer): string[] {
  const depends = readModinfo(elf).get("depends")?.[0] ?? "";
  return depends.split(",").filter(Boolean).map(moduleName);
}

/**
 * The wanted modules plus everything they depend on, dependencies first.
 * `dependsOf` returns undefined for a module the kernel package lacks.
 */
export function moduleLoadOrder(
  wanted: readonly string[],
  dependsOf: (name: string) => readonly string[] | undefined,
): string[] {
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, via: string[]) => {
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") throw new Error(`module dependency cycle: ${[...via, name].join(" -> ")}`);
    const deps = dependsOf(name);
    if (deps === undefined) {
      throw new Error(`kernel module '${name}' is not in the kernel package${via.length ? ` (needed by ${via.at(-1)})` : ""}`);
    }
    state.set(name, "visiting");
    for (const dep of [...deps].sort()) visit(dep, [...via, name]);
    state.set(name, "done");
    order.push(name);
  };
  for (const name of wanted.map(moduleName)) visit(name, []);
  return order;
}
