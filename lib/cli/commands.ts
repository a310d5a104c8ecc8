// One function per `fruix` command; each returns the key=value result it prints.
import { loadDeclaration, selectSystem } from "../declaration/index.js";
import { FruixError } from "../errors.js";
import { createLogger, type Logger } from "../log.js";
import { Store } from "../store/index.js";
import { buildSystem, type SystemBuild } from "../system/build.js";
import { generationTime, INSTALL_METADATA_PATH } from "../system/generation.js";
import { buildImage } from "../deploy/image.js";
import { installSystem } from "../deploy/install.js";
import { parseSize } from "../disk/size.js";
import { materializeRootfs } from "../deploy/rootfs.js";
import type { OperatingSystem } from "../declaration/types.js";
import { buildInstallerSystem } from "../deploy/installer.js";
import { checkInstallTargetDevice, parseForward } from "./args.js";
import { buildInstallerDisk, buildInstallerIso } from "../deploy/installer-media.js";
import { buildInstallerRoot } from "../deploy/installer.js";
import { parseDestination, type SshDestination } from "../copy/destination.js";
import type { SshOptions } from "../copy/ssh.js";
import { planning } from "../plan.js";
import { inspectTarget } from "../disk/target.js";
import { dryRun } from "./dry-run.js";
import { Printout, type Command, type CommandContext, type Result } from "./options.js";

function expectArgs(context: CommandContext, names: string[], command: string): string[] {
  if (context.args.length !== names.length) {
    const usage = `fruix ${command} ${names.join(" ")}`;
    throw new FruixError(`expected ${names.join(" ")}: ${usage}`, { exitCode: 2 });
  }
  return [...context.args];
}

function optionalSize(text: string | undefined, option: string): number | undefined {
  return text === undefined ? undefined : parseSize(text, option);
}

function loggerFor(context: CommandContext): Logger {
  // Under --dry-run the plan is the output: step lines would only say "done" of what was not done.
  return createLogger({ quiet: context.options.quiet || context.options["dry-run"] });
}

/** Where a store file is on this host (under --dry-run, an item not built has no file: its store path stands). */
function hostFile(store: Store, path: string): string {
  return planning() ? path : store.toHostPath(path);
}

/** With --dry-run, runs `fn` as a plan and prints it; otherwise runs it and prints its result. */
async function planned(context: CommandContext, fn: () => Promise<Result>): Promise<Result | Printout> {
  if (!context.options["dry-run"]) return fn();
  return dryRun(async () => void (await fn()));
}

async function buildFromFile(
  context: CommandContext,
  file: string,
  log: Logger,
  transform: (os: OperatingSystem) => OperatingSystem = (os) => os,
): Promise<{ store: Store; build: SystemBuild; os: OperatingSystem }> {
  const declaration = await loadDeclaration(file);
  const os = transform(selectSystem(declaration, context.options.system));
  const store = await Store.open({ store: context.options.store });
  const build = await log.step(`build ${os.binding} (${os.hostName})`, () => buildSystem(store, os, log));
  // Keeps the newest build of each host name safe from `fruix store gc`.
  if (!planning()) await store.addRoot(`system-${os.hostName}`, build.closurePath);
  return { store, build, os };
}

/** What both installer media are made from: the target, the installer system, and its root image. */
async function prepareInstaller(context: CommandContext, command: string) {
  const [file] = expectArgs(context, ["FILE"], command);
  const device = checkInstallTargetDevice(context.options["install-target-device"]);
  const rootSize = optionalSize(context.options["root-size"], "--root-size");
  const log = loggerFor(context);
  const { store, build, os } = await buildFromFile(context, file!, log);
  const installer = await log.step("build the installer system", () => buildInstallerSystem(store, os, build, log));
  const root = await log.step("installer root image", () => buildInstallerRoot(store, build, installer, { device, rootSize }, log));
  return { store, build, os, installer, root, device, log };
}

/** --to and the SSH options of `system copy` and `system reconfigure`, checked before any work. */
function sshTarget(context: CommandContext, command: string, log: Logger): { destination: SshDestination; ssh: SshOptions } {
  const to = context.options.to;
  if (!to) throw new FruixError(`${command} needs --to ssh://[USER@]HOST[:PORT]`, { exitCode: 2 });
  return {
    destination: parseDestination(to),
    ssh: {
      identity: context.options.identity,
      knownHosts: context.options["known-hosts"],
      acceptNewHostKey: context.options["accept-new-host-key"] ?? false,
      log,
    },
  };
}

// ssh2, the hypervisor adapters and the report writers load only for the
// commands that use them: every other command starts faster.
async function sshCommands() {
  const [copy, ssh] = await Promise.all([import("../copy/copy.js"), import("../copy/ssh.js")]);
  return { ...copy, ...ssh };
}

export const commands: Record<string, Command> = {
  async "system build"(context) {
    const [file] = expectArgs(context, ["FILE"], "system build");
    return planned(context, async () => {
      const { build } = await buildFromFile(context, file!, loggerFor(context));
      return { closure_path: build.closurePath };
    });
  },

  async "system rootfs"(context) {
    const [file, dir] = expectArgs(context, ["FILE", "DIR"], "system rootfs");
    const log = loggerFor(context);
    const { store, build } = await buildFromFile(context, file!, log);
    const rootfs = await log.step("materialize rootfs", () => materializeRootfs(store, build, dir!, generationTime()));
    return { rootfs, closure_path: build.closurePath };
  },

  async "system image"(context) {
    const [file] = expectArgs(context, ["FILE"], "system image");
    const rootSize = optionalSize(context.options["root-size"], "--root-size");
    const log = loggerFor(context);
    return planned(context, async () => {
      const { store, build, os } = await buildFromFile(context, file!, log);
      const image = await log.step("disk image", () => buildImage(store, build, rootSize, log));
      // The image just printed must outlive `fruix store gc`, as the build's closure does.
      if (!planning()) await store.addRoot(`image-${os.hostName}`, image.replace(/\/disk\.img$/, ""));
      return { disk_image: image, disk_image_file: hostFile(store, image), closure_path: build.closurePath };
    });
  },

  async "system install"(context) {
    const [file] = expectArgs(context, ["FILE"], "system install");
    const target = context.options.target;
    if (!target) throw new FruixError("system install needs --target PATH|/dev/X", { exitCode: 2 });
    const diskCapacity = optionalSize(context.options["disk-capacity"], "--disk-capacity");
    const rootSize = optionalSize(context.options["root-size"], "--root-size");
    const log = loggerFor(context);
    const force = context.options.force ?? false;
    if (context.options["dry-run"]) {
      return dryRun(async () => {
        const inspected = await inspectTarget(target, force); // refused as a real install would be
        planning()!.write(`${inspected.path} (${inspected.kind}${inspected.exists ? "" : ", made"})`);
        await buildFromFile(context, file!, log);
      });
    }
    const { store, build } = await buildFromFile(context, file!, log);
    const result = await log.step(`install onto ${target}`, () =>
      installSystem(store, build, { target, diskCapacity, rootSize, force }, log),
    );
    return {
      target: result.target,
      target_kind: result.targetKind,
      disk_capacity: result.diskCapacity,
      install_metadata_path: INSTALL_METADATA_PATH,
      closure_path: build.closurePath,
    };
  },

  "system installer": (context) =>
    planned(context, async () => {
      const { store, build, os, installer, root, device, log } = await prepareInstaller(context, "system installer");
      const disk = await log.step("installer disk image", () => buildInstallerDisk(store, installer, root, build.hostName, log));
      if (!planning()) await store.addRoot(`installer-${os.hostName}`, disk.replace(/\/disk\.img$/, ""));
      return {
        installer_disk_image: disk,
        installer_disk_image_file: hostFile(store, disk),
        root_image: root,
        install_target_device: device,
        installer_closure_path: installer.closurePath,
        closure_path: build.closurePath,
      };
    }),

  "system installer-iso": (context) =>
    planned(context, async () => {
      const { store, build, os, installer, root, device, log } = await prepareInstaller(context, "system installer-iso");
      const media = await log.step("installer ISO", () => buildInstallerIso(store, installer, root, build.hostName, log));
      if (!planning()) await store.addRoot(`installer-iso-${os.hostName}`, media.iso.replace(/\/installer\.iso$/, ""));
      return {
        iso_image: media.iso,
        iso_image_file: hostFile(store, media.iso),
        boot_efi_image: media.efiboot,
        root_image: root,
        install_target_device: device,
        installer_closure_path: installer.closurePath,
        closure_path: build.closurePath,
      };
    }),

  async "system vm"(context) {
    const [file] = expectArgs(context, ["FILE"], "system vm");
    const forwards = (context.options.forward ?? []).map((f) => parseForward(f));
    const rootSize = optionalSize(context.options["root-size"], "--root-size");
    const log = loggerFor(context);
    const vm = await import("./vm.js");
    const { store, build } = await buildFromFile(context, file!, log, (os) => vm.vmSystem(os, forwards.length > 0));
    const image = await log.step("disk image", () => buildImage(store, build, rootSize, log));
    await store.addTempRoots([image.replace(/\/disk\.img$/, "")]); // no gc under a running VM
    const accel = (context.options.accel ?? "auto") as "auto" | "kvm" | "tcg";
    await vm.runVm({ disk: store.toHostPath(image), forwards, accel, log });
    return new Printout("", {});
  },

  async "system copy"(context) {
    const [closure] = expectArgs(context, ["CLOSURE"], "system copy");
    const log = loggerFor(context);
    const { destination, ssh } = sshTarget(context, "system copy", log);
    const { authentication, copyClosure, requireInStore, withSession } = await sshCommands();
    await authentication(ssh); // a bad identity is refused before anything else
    const store = await Store.open({ store: context.options.store });
    await requireInStore(store, closure!);
    const copied = await withSession(destination, ssh, (session) => copyClosure(session, store, closure!, log));
    return {
      closure_path: closure!,
      destination: destination.url,
      items: copied.items.length,
      items_sent: copied.sent.length,
      bytes_sent: copied.bytesSent,
    };
  },

  async "system reconfigure"(context) {
    const [file] = expectArgs(context, ["FILE"], "system reconfigure");
    const log = loggerFor(context);
    const { destination, ssh } = sshTarget(context, "system reconfigure", log);
    const { authentication, copyClosure, switchRemote, withSession } = await sshCommands();
    await authentication(ssh); // before the build, not after it
    const { store, build } = await buildFromFile(context, file!, log);
    return withSession(destination, ssh, async (session) => {
      const copied = await log.step(`copy the closure to ${destination.url}`, () => copyClosure(session, store, build.closurePath, log));
      const trial = context.options.trial === true;
      const switched = await log.step(trial ? "switch on trial" : "switch", () => switchRemote(session, build.closurePath, { trial }));
      return { closure_path: build.closurePath, destination: destination.url, items_sent: copied.sent.length, ...switched };
    });
  },

  ...Object.fromEntries(
    ["status", "list-generations", "rollback", "switch-generation", "delete-generations"].map((verb): [string, Command] => [
      `system ${verb}`,
      async (context) => (await import("./generations.js")).remoteGenerationsCommand(`system ${verb}`, context),
    ]),
  ),

  validate: async (context) => (await import("./validate.js")).validateCommand(context),

  "native-build run": async (context) => (await import("./native-build.js")).nativeBuildRunCommand(context),
  "native-build promote": async (context) => (await import("./native-build.js")).nativeBuildPromoteCommand(context),

  "report sign-off": async (context) => (await import("./report.js")).signOffCommand(context),

  async "vm attach"(context) {
    const [name] = expectArgs(context, ["NAME"], "vm attach");
    const { attachHeld } = await import("./vm.js");
    await attachHeld(name!, loggerFor(context));
    return new Printout("", {}); // stdout was the console
  },

  async "store verify"(context) {
    expectArgs(context, [], "store verify");
    const store = await Store.open({ store: context.options.store });
    const report = await store.verify();
    for (const problem of report.corrupt) process.stderr.write(`fruix: ${problem.path}: ${problem.reason}\n`);
    if (report.corrupt.length > 0) {
      throw new FruixError(`store verify: ${report.corrupt.length} of ${report.checked} items are damaged`);
    }
    return { checked: report.checked, corrupt: 0 };
  },

  async "store gc"(context) {
    expectArgs(context, [], "store gc");
    const dryRun = context.options["dry-run"] ?? false;
    // A dry run writes nothing, not even a new store's directories.
    const store = dryRun ? await Store.openIfPresent({ store: context.options.store }) : await Store.open({ store: context.options.store });
    const report = store ? await store.gc({ dryRun }) : { removed: [], freedBytes: 0 };
    const summary = { removed: report.removed.length, freed_bytes: report.freedBytes, dry_run: String(dryRun) };
    if (!dryRun) return summary;
    // What would go, item by item, before the counts.
    const lines = [...report.removed.map((path) => `would_remove=${path}`), ...Object.entries(summary).map(([k, v]) => `${k}=${v}`)];
    return new Printout(lines.join("\n") + "\n", { would_remove: report.removed, ...summary });
  },
};
