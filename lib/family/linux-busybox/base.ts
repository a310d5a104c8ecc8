// The linux-busybox base: the Debian kernel (with just the modules needed to
// find a root disk), BusyBox and systemd-boot, each imported as a store item.
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { fetchPackage, packagesToDownload, resolveKernelPackage, resolvePackage, unpackPackage, type DebianPackage } from "../../debian/apt.js";
import { unpackedMembers } from "../../debian/unpacked.js";
import type { LinuxBusyboxBase } from "../../declaration/types.js";
import { FruixError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { field, sexpDocument, sym } from "../../sexp.js";
import type { Store } from "../../store/index.js";
import { memoized } from "../../store/memo.js";
import { promotedArtifacts } from "../promoted.js";
import { linuxBusyboxNativeBuild } from "./native-build.js";
import { moduleDependencies, moduleLoadOrder, moduleName } from "./kmod.js";

/** Bump when what an import recipe puts into its item changes. */
const RECIPE_VERSION = 1;

/** Root disks on virtio, AHCI/IDE, SCSI and Xen; ext4 roots; ISO 9660 and FAT media; NICs. */
export const BOOT_MODULES = [
  "virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net",
  "ahci", "ata_piix", "ata_generic", "sd_mod", "sr_mod",
  "xen_blkfront", "xen_netfront", "e1000",
  "ext4", "crc32c_generic", "crc32c_intel",
  "isofs", "vfat", "nls_cp437", "nls_iso8859_1", "nls_ascii", "nls_utf8",
  "loop", "efivarfs",
  // QEMU's watchdog: a trial boot's hang becomes a reset (docs/generations.md).
  "i6300esb",
] as const;

/** Kernel tree parts that hold BOOT_MODULES and all they depend on. */
const MODULE_DIRS = [
  "drivers/virtio", "drivers/block", "drivers/ata", "drivers/scsi", "drivers/cdrom", "drivers/xen",
  "drivers/net/virtio_net.ko", "drivers/net/net_failover.ko", "drivers/net/xen-netfront.ko",
  "drivers/net/ethernet/intel/e1000", "net/core", "block", "fs", "lib", "crypto", "arch/x86/crypto",
  "drivers/watchdog",
];

export interface LinuxBusyboxItems {
  readonly kernelRelease: string;
  /** Store paths (in-guest form). */
  readonly kernel: string; // vmlinuz, config
  readonly modules: string; // lib/modules/<release>/*.ko + load-order
  readonly busybox: string; // bin/busybox, share/busybox/applets
  readonly bootloader: string; // efi/systemd-bootx64.efi
  /** The Debian packages, each with the items imported from it. */
  readonly packages: ReadonlyArray<{ readonly pkg: DebianPackage; readonly items: readonly string[] }>;
  /** The base's (native-build ...), when BusyBox is a promoted world instead of Debian's. */
  readonly nativeBuild?: { readonly declared: string; readonly world: string };
}

function packageRecord(pkg: DebianPackage): string {
  return sexpDocument([
    sym("debian-package"),
    field("name", pkg.name),
    field("version", pkg.version),
    field("architecture", pkg.architecture),
    field("sha256", pkg.sha256),
  ]);
}

function itemVersion(pkg: DebianPackage): string {
  return pkg.version.replace(/^\d+:/, "").replace(/[^A-Za-z0-9+.=?-]/g, "-");
}

/** Imports one Debian package as a store item, unless an earlier build did already. */
async function importPackage(
  store: Store,
  log: Logger,
  pkg: DebianPackage,
  recipe: string,
  name: string,
  fill: (deb: string, out: string) => Promise<void>,
): Promise<string> {
  return memoized(store, { recipe, RECIPE_VERSION, sha256: pkg.sha256 }, () =>
    log.step(`import ${name} from ${pkg.name} ${pkg.version}`, async () => {
      const deb = await fetchPackage(pkg, (p) => log.info(`downloading ${p.name} ${p.version}`));
      return store.add(name, async (out) => {
        await fill(deb, out);
        await writeFile(join(out, "debian-package.scm"), packageRecord(pkg));
      });
    }),
    { name, downloads: () => packagesToDownload([pkg]) },
  );
}

/** What both kernel items need of the kernel package, unpacked once per machine (lib/debian/unpacked.ts). */
function kernelTree(pkg: DebianPackage, deb: string, release: string): Promise<string> {
  return unpackedMembers(deb, pkg.sha256, [
    `./boot/vmlinuz-${release}`,
    `./boot/config-${release}`,
    ...MODULE_DIRS.map((d) => `./lib/modules/${release}/kernel/${d}`),
  ]);
}

async function importKernel(store: Store, log: Logger, pkg: DebianPackage, release: string): Promise<string> {
  return importPackage(store, log, pkg, "linux-busybox/kernel", `linux-${release}`, async (deb, out) => {
    const tree = await kernelTree(pkg, deb, release);
    await copyFile(join(tree, "boot", `vmlinuz-${release}`), join(out, "vmlinuz"));
    await copyFile(join(tree, "boot", `config-${release}`), join(out, "config"));
  });
}

async function importModules(store: Store, log: Logger, pkg: DebianPackage, release: string): Promise<string> {
  // The module list is part of the recipe: changing it imports the modules again.
  return importPackage(store, log, pkg, `linux-busybox/modules ${BOOT_MODULES.join(",")}`, `linux-modules-${release}`, async (deb, out) => {
    const kernelDir = join(await kernelTree(pkg, deb, release), "lib", "modules", release, "kernel");

    const files = new Map<string, string>();
    for (const entry of await readdir(kernelDir, { recursive: true })) {
      if (entry.endsWith(".ko")) files.set(moduleName(entry), join(kernelDir, entry));
    }
    const deps = new Map<string, string[]>();
    for (const [name, file] of files) deps.set(name, moduleDependencies(await readFile(file)));
    let order: string[];
    try {
      order = moduleLoadOrder(BOOT_MODULES, (name) => deps.get(name));
    } catch (error) {
      throw new FruixError(`${pkg.name} ${pkg.version}: ${(error as Error).message}`);
    }

    const dest = join(out, "lib", "modules", release);
    await mkdir(dest, { recursive: true });
    for (const name of order) await copyFile(files.get(name)!, join(dest, `${name}.ko`));
    await writeFile(join(dest, "load-order"), order.join("\n") + "\n");
  });
}

async function importBusybox(store: Store, log: Logger, pkg: DebianPackage): Promise<string> {
  return importPackage(store, log, pkg, "linux-busybox/busybox", `busybox-${itemVersion(pkg)}`, async (deb, out) => {
    const tmp = join(out, ".unpack");
    await unpackPackage(deb, tmp, ["./bin/busybox"]);
    await mkdir(join(out, "bin"));
    await copyFile(join(tmp, "bin", "busybox"), join(out, "bin", "busybox"));
    await rm(tmp, { recursive: true, force: true });
    // The applet list decides the profile's links; ask the (static) binary itself.
    const { stdout } = await execa(join(out, "bin", "busybox"), ["--list"]);
    await mkdir(join(out, "share", "busybox"), { recursive: true });
    await writeFile(join(out, "share", "busybox", "applets"), stdout.trim() + "\n");
  });
}

async function importBootloader(store: Store, log: Logger, pkg: DebianPackage): Promise<string> {
  return importPackage(store, log, pkg, "linux-busybox/systemd-boot", `systemd-boot-${itemVersion(pkg)}`, async (deb, out) => {
    const tmp = join(out, ".unpack");
    await unpackPackage(deb, tmp, ["./usr/lib/systemd/boot/efi/systemd-bootx64.efi"]);
    await mkdir(join(out, "efi"));
    await copyFile(join(tmp, "usr/lib/systemd/boot/efi/systemd-bootx64.efi"), join(out, "efi", "systemd-bootx64.efi"));
    await rm(tmp, { recursive: true, force: true });
  });
}

/** Resolves the base's Debian packages (apt-cache, offline) and imports each as a store item. */
export async function realizeLinuxBusybox(store: Store, base: LinuxBusyboxBase, log: Logger): Promise<LinuxBusyboxItems> {
  const kernelPkg = await resolveKernelPackage(base.kernelPackage);
  const release = kernelPkg.name.replace(/^linux-image-/, "").replace(/-unsigned$/, "");
  const bootPkg = await resolvePackage("systemd-boot-efi");
  // A promoted world (bin/busybox, share/busybox/applets: the layout importBusybox makes) replaces Debian's BusyBox.
  const native = base.nativeBuild === undefined
    ? undefined
    : { declared: base.nativeBuild, world: (await promotedArtifacts(store, base.nativeBuild, "linux-busybox", linuxBusyboxNativeBuild.nativeBuild.kinds, base.location)).world! };
  const busyboxPkg = native ? undefined : await resolvePackage("busybox-static");
  const kernel = await importKernel(store, log, kernelPkg, release);
  const modules = await importModules(store, log, kernelPkg, release);
  const busybox = native?.world ?? (await importBusybox(store, log, busyboxPkg!));
  const bootloader = await importBootloader(store, log, bootPkg);
  return {
    kernelRelease: release,
    kernel,
    modules,
    busybox,
    bootloader,
    packages: [
      { pkg: kernelPkg, items: [kernel, modules] },
      ...(busyboxPkg ? [{ pkg: busyboxPkg, items: [busybox] }] : []),
      { pkg: bootPkg, items: [bootloader] },
    ],
    ...(native ? { nativeBuild: native } : {}),
  };
}
