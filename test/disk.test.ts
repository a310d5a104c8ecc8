// Pure disk logic: sizes, layout, identifiers, partition script, boot entries, target signatures.
import { describe, expect, it } from "vitest";
import { bootEntry, entryFileName, espPathFor, loaderConf } from "../lib/family/linux-busybox/boot-entries.js";
import { sfdiskScript } from "../lib/disk/gpt.js";
import { diskIds, diskLayout, ESP_SIZE, minimumDiskSize, minimumRootSize } from "../lib/disk/layout.js";
import { formatSize, GiB, MiB, parseSize } from "../lib/disk/size.js";
import { contentSignature } from "../lib/disk/target.js";

describe("sizes", () => {
  it("accepts bytes and k/m/g/t suffixes in either case", () => {
    expect(parseSize("512m")).toBe(512 * MiB);
    expect(parseSize("6g")).toBe(6 * GiB);
    expect(parseSize("10G")).toBe(10 * GiB);
    expect(parseSize("1048576")).toBe(MiB);
    expect(parseSize("64MiB")).toBe(64 * MiB);
  });

  it.each(["", "12x", "-5m", "1.5g", "0", "g"])("rejects %j in one line naming the option", (text) => {
    expect(() => parseSize(text, "--root-size")).toThrow(/^--root-size: (invalid size|size .* is out of range)/);
  });

  it("formats sizes for messages", () => {
    expect(formatSize(64 * MiB)).toBe("64 MiB");
    expect(formatSize(1536 * MiB)).toBe("1536 MiB");
    expect(formatSize(2 * GiB)).toBe("2 GiB");
    expect(formatSize(1000)).toBe("1000 bytes");
  });
});

describe("disk layout", () => {
  it("puts a 64 MiB ESP at 1 MiB and the root after it, leaving the last MiB for the backup GPT", () => {
    const layout = diskLayout(100 * MiB);
    expect(layout.esp).toEqual({ offset: MiB, size: ESP_SIZE });
    expect(layout.root).toEqual({ offset: MiB + ESP_SIZE, size: 100 * MiB });
    expect(layout.diskSize).toBe(MiB + ESP_SIZE + 100 * MiB + MiB);
    expect(minimumDiskSize(100 * MiB)).toBe(layout.diskSize);
  });

  it("gives the root the rest of a disk of known size, whole MiB", () => {
    const layout = diskLayout(undefined, GiB + 12345);
    expect(layout.root.offset + layout.root.size).toBeLessThanOrEqual(GiB - MiB);
    expect(layout.root.size % MiB).toBe(0);
    expect(layout.diskSize).toBe(GiB + 12345);
  });

  it("needs more room for more content, and never less than the content", () => {
    const small = minimumRootSize({ blocks: 5000, inodes: 500 });
    const large = minimumRootSize({ blocks: 50000, inodes: 500 });
    expect(small).toBeGreaterThan(5000 * 4096);
    expect(large).toBeGreaterThan(small);
    expect(minimumRootSize({ blocks: 10, inodes: 100000 })).toBeGreaterThanOrEqual(100016 * 16384);
  });

  it("derives stable, distinct identifiers from the seed", () => {
    const a = diskIds("/frx/store/x");
    expect(diskIds("/frx/store/x")).toEqual(a);
    expect(diskIds("/frx/store/y").rootUuid).not.toBe(a.rootUuid);
    expect(new Set([a.diskGuid, a.espGuid, a.rootGuid, a.rootUuid, a.rootHashSeed]).size).toBe(5);
    expect(a.rootUuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.espVolumeId).toMatch(/^[0-9a-f]{8}$/);
  });

  it("writes an sfdisk script with sector ranges, types and GUIDs", () => {
    const ids = diskIds("s");
    const script = sfdiskScript(diskLayout(64 * MiB), ids);
    expect(script).toContain(`label-id: ${ids.diskGuid}`);
    expect(script).toContain(`start=2048, size=131072, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=${ids.espGuid}, name="EFI system"`);
    expect(script).toContain(`start=133120, size=131072, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=${ids.rootGuid}, name="fruix-root"`);
  });
});

describe("boot entries", () => {
  const closure = "/frx/store/aaaa-fruix-system-h";
  it("names the generation, its date and closure, and boots the root by UUID", () => {
    const text = bootEntry({
      generation: 2, created: "2026-11-22T10:00:00Z", hostName: "h", closure,
      kernel: "/fruix/k/vmlinuz", initrd: "/fruix/i/initrd.img", rootUuid: "u-u", kernelArguments: ["console=ttyS0,115200"],
    });
    expect(text).toContain("title Fruix h, generation 2 (2026-11-22)\n");
    expect(text).toContain(`options root=UUID=u-u rootfstype=ext4 fruix.system=${closure} console=ttyS0,115200\n`);
    expect(entryFileName(2)).toBe("fruix-generation-2.conf");
    expect(loaderConf(2)).toContain("default fruix-generation-2.conf\n");
  });

  it("places boot files on the ESP by store item", () => {
    expect(espPathFor("/frx/store/abc-linux-6/vmlinuz")).toBe("/fruix/abc-linux-6/vmlinuz");
    expect(() => espPathFor("/boot/vmlinuz")).toThrow();
  });
});

describe("target signatures", () => {
  const blank = () => Buffer.alloc(4096);
  it("finds nothing on a blank disk", () => expect(contentSignature(blank())).toBeUndefined());
  it("sees a GPT", () => {
    const b = blank();
    b.write("EFI PART", 512, "latin1");
    expect(contentSignature(b)).toBe("a GPT partition table");
  });
  it("sees ext4 and an MBR with a partition", () => {
    const e = blank();
    e.writeUInt16LE(0xef53, 1080);
    expect(contentSignature(e)).toBe("an ext2/3/4 file system");
    const m = blank();
    m[510] = 0x55;
    m[511] = 0xaa;
    m[446 + 4] = 0x83;
    expect(contentSignature(m)).toBe("an MBR partition table");
  });
});
