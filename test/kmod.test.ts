import { describe, expect, it } from "vitest";
import { moduleDependencies, moduleLoadOrder, moduleName, readModinfo } from "../lib/family/linux-busybox/kmod.js";

/** A minimal ELF64 LE object with only .shstrtab and .modinfo, like a .ko's. */
function fakeModule(modinfo: string[]): Buffer {
  const shstrtab = Buffer.from("\0.shstrtab\0.modinfo\0");
  const info = Buffer.from(modinfo.join("\0") + "\0");
  const dataStart = 64;
  const shoff = dataStart + shstrtab.length + info.length;
  const elf = Buffer.alloc(shoff + 3 * 64);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2; // ELFCLASS64
  elf[5] = 1; // little endian
  elf.writeBigUInt64LE(BigInt(shoff), 0x28);
  elf.writeUInt16LE(64, 0x3a);
  elf.writeUInt16LE(3, 0x3c);
  elf.writeUInt16LE(1, 0x3e);
  shstrtab.copy(elf, dataStart);
  info.copy(elf, dataStart + shstrtab.length);
  const section = (i: number, name: number, offset: number, size: number) => {
    const at = shoff + i * 64;
    elf.writeUInt32LE(name, at);
    elf.writeBigUInt64LE(BigInt(offset), at + 0x18);
    elf.writeBigUInt64LE(BigInt(size), at + 0x20);
  };
  section(1, 1, dataStart, shstrtab.length);
  section(2, 11, dataStart + shstrtab.length, info.length);
  return elf;
}

describe("kernel module metadata", () => {
  it("reads depends from .modinfo", () => {
    const elf = fakeModule(["license=GPL", "depends=jbd2,mbcache,crc16", "name=ext4"]);
    expect(readModinfo(elf).get("name")).toEqual(["ext4"]);
    expect(moduleDependencies(elf)).toEqual(["jbd2", "mbcache", "crc16"]);
  });

  it("treats an empty depends as no dependencies", () => {
    expect(moduleDependencies(fakeModule(["depends=", "name=crc16"]))).toEqual([]);
  });

  it("rejects what is not an ELF64 module", () => {
    expect(() => readModinfo(Buffer.from("#!/bin/sh\necho hi\n".padEnd(80)))).toThrow(/not an ELF64/);
  });

  it("normalizes names and file names", () => {
    expect(moduleName("kernel/drivers/block/xen-blkfront.ko")).toBe("xen_blkfront");
    expect(moduleName("crc32c-intel")).toBe("crc32c_intel");
  });
});

describe("module load order", () => {
  const deps: Record<string, string[]> = {
    ext4: ["jbd2", "mbcache", "crc16"],
    jbd2: [],
    mbcache: [],
    crc16: [],
    virtio_blk: ["virtio", "virtio_ring"],
    virtio_ring: ["virtio"],
    virtio: [],
  };
  const lookup = (name: string) => deps[name];

  it("puts every dependency before its user, once", () => {
    const order = moduleLoadOrder(["ext4", "virtio_blk", "jbd2"], lookup);
    expect(new Set(order).size).toBe(order.length);
    for (const [module, needs] of Object.entries(deps)) {
      if (!order.includes(module)) continue;
      for (const dep of needs) expect(order.indexOf(dep)).toBeLessThan(order.indexOf(module));
    }
    expect(order).toHaveLength(7);
  });

  it("names a missing module and who needs it", () => {
    expect(() => moduleLoadOrder(["ext4"], (n) => (n === "ext4" ? ["jbd2"] : undefined))).toThrow(
      "kernel module 'jbd2' is not in the kernel package (needed by ext4)",
    );
  });

  it("reports a cycle", () => {
    expect(() => moduleLoadOrder(["a"], (n) => (n === "a" ? ["b"] : ["a"]))).toThrow(/cycle: a -> b -> a/);
  });
});
