// `fruix system build` on the freebsd base: declaration + distribution sets ->
// `/frx/store/<hash>-fruix-system-<host-name>`, laid out like the
// linux-busybox closure where the two share a meaning (see docs/freebsd.md).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { FreebsdBase, OperatingSystem } from "../../declaration/types.js";
import type { Logger } from "../../log.js";
import { field, sexpDocument, sym, type Sexp } from "../../sexp.js";
import { shellQuote } from "../../shell.js";
import type { Store } from "../../store/index.js";
import { buildHelper, declarationHash, sourceStoreSexp, storeLayoutDocument, systemMetadataHead, withDevelopmentActivation, type SourceStore, type SystemBuild } from "../../system/system-build.js";
import { addTree, type Tree } from "../../system/tree.js";
import { fruixVersion } from "../../version.js";
import { freebsdAccounts, freebsdGroupFile, masterPasswdFile, type FreebsdAccounts } from "./accounts.js";
import { NATIVE_KINDS, realizeFreebsd, type FreebsdItems } from "./base.js";
import { nativeBuildScript } from "../native-build-script.js";
import { buildFreebsdDevelopmentProfile, realizeFreebsdSources } from "./development.js";
import { closureLoaderConf, FREEBSD_ROOT_DEVICE, RC_CONF_STUB } from "./boot.js";
import { guestDir } from "./guest.js";
import { AUTOLOGIN_GETTYTAB, planFreebsdService, rcConfFile, supervisedServices, ttysFile, type FreebsdServicePlan } from "./services.js";
import { healthChecksFile } from "../../system/health-checks.js";

/** What the closure is made from. */
/** Files a closure carries beyond its base's (the installer's rc.d script and program), and the items they need. */
export interface FreebsdExtras {
  readonly files: Tree;
  readonly items: readonly string[];
}

interface Inputs {
  readonly os: OperatingSystem;
  readonly base: FreebsdItems;
  readonly helper: string;
  readonly plans: readonly FreebsdServicePlan[];
  readonly accounts: FreebsdAccounts;
  readonly references: readonly string[];
  /** The development profile item and source stores: absent and empty unless declared (docs/native-builds.md). */
  readonly developmentProfile?: string;
  readonly sources: readonly SourceStore[];
}

function worldFile(store: Store, world: string, path: string): Promise<string> {
  return readFile(join(store.toHostPath(world), "tree", path), "utf8");
}

function setVersion(inputs: Inputs, name: string): string {
  return inputs.base.sets.find((s) => s.set.name === name)?.set.version ?? "unknown";
}

function metadataDocuments(inputs: Inputs): { metadata: string; storeLayout: string; provenance: string } {
  const { os, base } = inputs;
  const metadata = sexpDocument([
    ...systemMetadataHead(os),
    field("world", base.world),
    field("world-version", setVersion(inputs, "base.txz")),
    field("kernel", base.kernel),
    field("kernel-version", setVersion(inputs, "kernel.txz")),
    field("bootloader", base.loader),
    field("helper", inputs.helper),
    field("root-device", FREEBSD_ROOT_DEVICE),
    field("users", inputs.accounts.declared),
    field("groups", os.groups.map((g) => g.name)),
    field("services", os.services.map((s) => s.type)),
    field("timezone", os.timezone),
    field("fruix-version", fruixVersion),
    // Only when declared, so that closures without them keep their bytes.
    ...(inputs.developmentProfile ? [field("development-profile", inputs.developmentProfile)] : []),
  ]);
  const storeLayout = storeLayoutDocument(inputs.references, inputs.sources);
  const provenance = sexpDocument([
    sym("provenance"),
    field("declaration-hash", declarationHash(os)),
    field("fruix-version", fruixVersion),
    [
      sym("freebsd-sets"),
      ...base.sets.map(({ set, items }): Sexp => [
        sym("freebsd-set"),
        field("name", set.name),
        field("version", set.version),
        field("sha256", set.sha256),
        field("store-items", [...items]),
      ]),
    ],
    ...(inputs.sources.length === 0 ? [] : [[sym("source-stores"), ...inputs.sources.map(sourceStoreSexp)] as Sexp]),
  ]);
  return { metadata, storeLayout, provenance };
}

async function closureTree(store: Store, inputs: Inputs, extras: FreebsdExtras): Promise<Tree> {
  const { os, base, plans } = inputs;
  const docs = metadataDocuments(inputs);
  const runtimeActivation = await readFile(join(guestDir, "activate.sh"), "utf8");
  // Only closures with a development profile get its part: every other activation is unchanged.
  const activation = inputs.developmentProfile
    ? withDevelopmentActivation(runtimeActivation, await readFile(join(guestDir, "activate-development.sh"), "utf8"))
    : runtimeActivation;
  const rcd = await readFile(join(guestDir, "rc.d-fruix.sh"), "utf8");
  const tree: Tree = {
    activate: { text: `#!/bin/sh\n${activation}`, mode: 0o555 },
    parameters: [
      `FRUIX_HOST_NAME=${shellQuote(os.hostName)}`,
      `FRUIX_HELPER=${inputs.helper}/bin/fruix`,
      `FRUIX_USERS=${shellQuote(inputs.accounts.declared.join(" "))}`,
      `FRUIX_TIMEZONE=${shellQuote(os.timezone)}`,
      "",
    ].join("\n"),
    "rc.conf": rcConfFile(os.hostName, plans),
    "boot/loader.conf": closureLoaderConf(),
    "boot/kernel": { link: `${base.kernel}/tree/boot/kernel` },
    "boot/loader.efi": { link: `${base.loader}/efi/loader.efi` },
    world: { link: base.world },
    "etc/rc.conf": RC_CONF_STUB,
    "etc/rc.d/fruix": { text: rcd, mode: 0o555 },
    "etc/master.passwd": masterPasswdFile(inputs.accounts),
    "etc/group": freebsdGroupFile(inputs.accounts),
    "metadata/metadata.scm": docs.metadata,
    "metadata/store-layout.scm": docs.storeLayout,
    "metadata/provenance.scm": docs.provenance,
    "metadata/health-checks": healthChecksFile(os.healthChecks, supervisedServices(plans), (type) => plans[os.services.findIndex((s) => s.type === type)]?.name ?? type),
    "profile/bin/fruix": { link: `${inputs.helper}/bin/fruix` },
  };
  if (inputs.developmentProfile) tree["development-profile"] = { link: inputs.developmentProfile };
  // The native build with no host (docs/native-builds.md); activation installs it in /usr/local/bin.
  if (inputs.developmentProfile) {
    tree["native-build/fruix-self-hosted-native-build"] = { text: await nativeBuildScript({ guestDir, nativeBuild: { script: "native-build.sh", kinds: NATIVE_KINDS } }), mode: 0o555 };
  }
  if (plans.some((p) => p.tty)) tree["etc/ttys"] = ttysFile(await worldFile(store, base.world, "etc/ttys").catch(() => ""), plans);
  if (os.services.some((s) => s.type === "validation-shell")) {
    tree["etc/gettytab"] = (await worldFile(store, base.world, "etc/gettytab").catch(() => "")) + AUTOLOGIN_GETTYTAB;
  }
  const keys = plans.flatMap((p) => p.rootAuthorizedKeys ?? []);
  if (keys.length > 0) tree["etc/root-authorized-keys"] = keys.join("\n") + "\n";
  return { ...tree, ...extras.files };
}

export async function buildFreebsdSystem(store: Store, os: OperatingSystem, log: Logger, extras: FreebsdExtras = { files: {}, items: [] }): Promise<SystemBuild> {
  const plans = os.services.map(planFreebsdService); // fails early, at the declaration, on what FreeBSD cannot run
  const sources = await realizeFreebsdSources(store, os, log); // refuses, at the record, a source this base cannot use
  const base = await realizeFreebsd(store, os.base as FreebsdBase, log);
  const developmentProfile = os.developmentProfile ? await buildFreebsdDevelopmentProfile(store, base.world) : undefined;
  const accounts = freebsdAccounts(
    os,
    await worldFile(store, base.world, "etc/master.passwd"),
    await worldFile(store, base.world, "etc/group"),
  );
  const helper = await buildHelper(store);
  const devItems = [...(developmentProfile ? [developmentProfile] : []), ...sources.map((s) => s.path)];
  const references = [...new Set([base.world, base.kernel, base.loader, helper, ...extras.items, ...devItems])].sort();
  const inputs: Inputs = { os, base, helper, plans, accounts, references, ...(developmentProfile ? { developmentProfile } : {}), sources };
  const tree = await closureTree(store, inputs, extras);
  const closurePath = await log.step("build system closure", () => addTree(store, `fruix-system-${os.hostName}`, tree, references));
  return {
    family: "freebsd",
    closurePath,
    hostName: os.hostName,
    items: await store.closure([closurePath]),
    declarationHash: declarationHash(os),
    packages: [],
    sets: base.sets,
  };
}
