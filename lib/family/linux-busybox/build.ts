// `fruix system build` on the linux-busybox base: declaration -> system
// closure item `/frx/store/<hash>-fruix-system-<host-name>`: Debian's kernel,
// BusyBox, systemd-boot, the initramfs, and the activation scripts of guest/.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { DebianPackage } from "../../debian/apt.js";
import { importDebianBinaries, type BinarySet } from "../../debian/binaries.js";
import type { LinuxBusyboxBase, OperatingSystem } from "../../declaration/types.js";
import type { Logger } from "../../log.js";
import { field, sexpDocument, sym, type Sexp } from "../../sexp.js";
import type { Store } from "../../store/index.js";
import { groupFile, passwdFile, resolveAccounts, shadowFile } from "../../system/accounts.js";
import { buildHelper, declarationHash, sourceStoreSexp, storeLayoutDocument, systemMetadataHead, withDevelopmentActivation, type SourceStore, type SystemBuild } from "../../system/system-build.js";
import { healthChecksFile } from "../../system/health-checks.js";
import { addTree, type Tree } from "../../system/tree.js";
import { fruixVersion } from "../../version.js";
import { realizeLinuxBusybox, type LinuxBusyboxItems } from "./base.js";
import { realizeDevelopmentProfile, type DevelopmentItems } from "./development.js";
import { nativeBuildScript } from "../native-build-script.js";
import { linuxBusyboxNativeBuild } from "./native-build.js";
import { realizeLinuxSources } from "./sources.js";
import { guestDir } from "./guest.js";
import { buildInitramfs } from "./initramfs.js";
import { inittabFile, planService, UDHCPC_SCRIPT, type ServicePlan } from "./services.js";

/** The Debian packages of a base, each with the items imported from it. */
function packageItems(base: LinuxBusyboxItems) {
  return base.packages;
}

/**
 * Programs a system carries beyond its base and helper (e.g. the installer's
 * Debian disk tools): profile/bin links, store references, and provenance.
 */
export interface SystemExtras {
  /** Program name -> store path of the file profile/bin/<name> links to (wins over a BusyBox applet). */
  readonly programs: Readonly<Record<string, string>>;
  readonly items: readonly string[];
  readonly packages: ReadonlyArray<{ readonly pkg: DebianPackage; readonly items: readonly string[] }>;
}

const NO_EXTRAS: SystemExtras = { programs: {}, items: [], packages: [] };

/** The last console= becomes /dev/console: the serial port, where validation reads. */
export const DEFAULT_KERNEL_ARGUMENTS = ["console=tty0", "console=ttyS0,115200"];

const PROFILE = `export PATH=/run/current-system/profile/bin:/usr/local/bin
export PS1='\\h:\\w\\$ '
`;

/** A script of guest/, run by the closure's own BusyBox. */
export async function guestScript(name: string, busybox: string): Promise<{ text: string; mode: number }> {
  const body = await readFile(join(guestDir, name), "utf8");
  return { text: `#!${busybox}/bin/busybox sh\n${body}`, mode: 0o555 };
}

/** What a system adds for native builds: both absent unless declared (docs/native-builds.md). */
interface Development {
  readonly profile?: DevelopmentItems;
  readonly sources: readonly SourceStore[];
}

function metadataDocuments(os: OperatingSystem, base: LinuxBusyboxItems, initrd: string, helper: string, references: string[], kernelArguments: string[], extras: SystemExtras, dev: Development) {
  const accounts = resolveAccounts(os);
  const metadata = sexpDocument([
    ...systemMetadataHead(os),
    field("kernel-release", base.kernelRelease),
    field("kernel", base.kernel),
    field("initrd", initrd),
    field("bootloader", base.bootloader),
    field("helper", helper),
    field("kernel-arguments", kernelArguments),
    field("users", accounts.users.map((u) => u.name)),
    field("groups", accounts.groups.map((g) => g.name)),
    field("services", os.services.map((s) => s.type)),
    field("timezone", os.timezone),
    field("fruix-version", fruixVersion),
    // Only when declared, so that closures without them keep their bytes.
    ...(dev.profile ? [field("development-profile", dev.profile.profile)] : []),
  ]);
  const storeLayout = storeLayoutDocument(references, dev.sources);
  const provenance = sexpDocument([
    sym("provenance"),
    field("declaration-hash", declarationHash(os)),
    field("fruix-version", fruixVersion),
    [
      sym("debian-packages"),
      ...[...packageItems(base), ...extras.packages].map(({ pkg, items }): Sexp => [
        sym("debian-package"),
        field("name", pkg.name),
        field("version", pkg.version),
        field("architecture", pkg.architecture),
        field("sha256", pkg.sha256),
        field("store-items", items),
      ]),
    ],
    ...(dev.sources.length === 0 ? [] : [[sym("source-stores"), ...dev.sources.map(sourceStoreSexp)] as Sexp]),
    // BusyBox from a promoted native build instead of Debian's package.
    ...(base.nativeBuild ? [[sym("native-build"), field("declared", base.nativeBuild.declared), field("world", base.nativeBuild.world)] as Sexp] : []),
  ]);
  return { metadata, storeLayout, provenance };
}

/** activate.sh, with the development part for a closure that has a development profile. */
async function activation(busybox: string, dev: Development): Promise<{ text: string; mode: number }> {
  const script = await guestScript("activate.sh", busybox);
  if (!dev.profile) return script;
  const part = await readFile(join(guestDir, "activate-development.sh"), "utf8");
  return { ...script, text: withDevelopmentActivation(script.text, part) };
}

/** The closure's content, described as data (see tree.ts). */
async function closureTree(
  os: OperatingSystem,
  base: LinuxBusyboxItems,
  initrd: string,
  helper: string,
  plans: readonly ServicePlan[],
  kernelArguments: readonly string[],
  references: string[],
  store: Store,
  extras: SystemExtras,
  dev: Development,
): Promise<Tree> {
  const accounts = resolveAccounts(os);
  const applets = (await readFile(join(store.toHostPath(base.busybox), "share", "busybox", "applets"), "utf8"))
    .split("\n")
    .filter(Boolean);
  const docs = metadataDocuments(os, base, initrd, helper, references, [...kernelArguments], extras, dev);
  const files: Tree = {
    activate: await activation(base.busybox, dev),
    shutdown: await guestScript("shutdown.sh", base.busybox),
    "boot/init": await guestScript("boot-init.sh", base.busybox),
    "boot/vmlinuz": { link: `${base.kernel}/vmlinuz` },
    "boot/initrd.img": { link: `${initrd}/initrd.img` },
    "boot/bootloader.efi": { link: `${base.bootloader}/efi/systemd-bootx64.efi` },
    "boot/kernel-arguments": kernelArguments.join(" ") + "\n",
    parameters: [
      `FRUIX_BUSYBOX=${base.busybox}/bin/busybox`,
      `FRUIX_HELPER=${helper}/bin/fruix`,
      `FRUIX_HOST_NAME=${os.hostName}`,
      `FRUIX_SERVICES='${plans.filter((p) => p.run).map((p) => p.name).join(" ")}'`,
      "",
    ].join("\n"),
    "etc/passwd": passwdFile(accounts),
    "etc/group": groupFile(accounts),
    "etc/shadow": shadowFile(accounts),
    "etc/hostname": os.hostName + "\n",
    "etc/inittab": inittabFile(plans),
    "etc/profile": PROFILE,
    "share/udhcpc.script": { text: UDHCPC_SCRIPT, mode: 0o555 },
    "metadata/metadata.scm": docs.metadata,
    "metadata/store-layout.scm": docs.storeLayout,
    "metadata/provenance.scm": docs.provenance,
    "metadata/health-checks": healthChecksFile(
      os.healthChecks,
      plans.filter((p) => p.run).map((p) => p.name),
    ),
    "profile/bin/fruix": { link: `${helper}/bin/fruix` },
  };
  // Beside the runtime profile, never in it: activation links /run/current-development and /usr/include here.
  if (dev.profile) files["development-profile"] = { link: dev.profile.profile };
  // The native build with no host (docs/native-builds.md); activation installs it in /usr/local/bin.
  if (dev.profile) files["native-build/fruix-self-hosted-native-build"] = { text: await nativeBuildScript(linuxBusyboxNativeBuild, `#!${base.busybox}/bin/busybox sh`), mode: 0o555 };
  for (const applet of applets) files[`profile/bin/${applet}`] = { link: `${base.busybox}/bin/busybox` };
  for (const [name, target] of Object.entries(extras.programs)) files[`profile/bin/${name}`] = { link: target };
  for (const plan of plans) {
    if (plan.run) files[`services/${plan.name}/run`] = { text: `#!/bin/sh\n${plan.run}\n`, mode: 0o555 };
  }
  return files;
}

/** dropbear with every library it loads: the sshd service's server (Debian 12 package names). */
export const SSH_SERVER: BinarySet = {
  name: "fruix-dropbear",
  packages: ["dropbear-bin", "libc6", "libcrypt1", "libtomcrypt1", "libtommath1", "libgmp10", "zlib1g"],
  binaries: ["usr/sbin/dropbear"],
};

/** The programs the declared services run that BusyBox lacks. */
async function serviceExtras(store: Store, os: OperatingSystem, log: Logger): Promise<SystemExtras> {
  if (!os.services.some((s) => s.type === "sshd")) return NO_EXTRAS;
  const server = await importDebianBinaries(store, SSH_SERVER, log);
  return { programs: server.programs, items: [server.item], packages: server.packages.map((pkg) => ({ pkg, items: [server.item] })) };
}

function mergeExtras(a: SystemExtras, b: SystemExtras): SystemExtras {
  return { programs: { ...a.programs, ...b.programs }, items: [...a.items, ...b.items], packages: [...a.packages, ...b.packages] };
}

export async function buildLinuxBusyboxSystem(store: Store, os: OperatingSystem, log: Logger, given: SystemExtras = NO_EXTRAS): Promise<SystemBuild> {
  const plans: ServicePlan[] = os.services.map(planService); // fails early on unsupported services
  const sources = await realizeLinuxSources(store, os, log); // refuses, at the record, a source this base cannot use
  const profile = os.developmentProfile ? await realizeDevelopmentProfile(store, log) : undefined;
  const dev: Development = { ...(profile ? { profile } : {}), sources };
  const devExtras: SystemExtras = {
    programs: {},
    items: [...(profile ? [profile.profile, profile.toolchain, profile.runtime] : []), ...sources.map((s) => s.path)],
    packages: profile?.packages ?? [],
  };
  const extras = mergeExtras(mergeExtras(given, await serviceExtras(store, os, log)), devExtras);
  const base = await realizeLinuxBusybox(store, os.base as LinuxBusyboxBase, log);
  const initrd = await buildInitramfs(store, base, log);
  const helper = await buildHelper(store);
  const references = [...new Set([base.kernel, base.modules, base.busybox, base.bootloader, initrd, helper, ...extras.items])].sort();
  const kernelArguments = [...DEFAULT_KERNEL_ARGUMENTS, ...os.kernelArguments];
  const tree = await closureTree(os, base, initrd, helper, plans, kernelArguments, references, store, extras, dev);
  const closurePath = await log.step("build system closure", () =>
    addTree(store, `fruix-system-${os.hostName}`, tree, references),
  );
  return {
    family: "linux-busybox",
    closurePath,
    hostName: os.hostName,
    items: await store.closure([closurePath]),
    declarationHash: declarationHash(os),
    packages: [...packageItems(base), ...extras.packages],
  };
}
