// Phase: native builds (docs/native-builds.md). A development-enabled guest
// builds BusyBox from its own source store, driven from the host over SSH;
// the result root comes back, is promoted into store items, and a system
// whose BusyBox is the promoted world boots and runs.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseDestination } from "../lib/copy/destination.js";
import { withSession } from "../lib/copy/ssh.js";
import type { OperatingSystem } from "../lib/declaration/types.js";
import { familyOf } from "../lib/family/index.js";
import { promoteResult } from "../lib/native-build/promote.js";
import { runNativeBuild } from "../lib/native-build/run.js";
import { defineScenario } from "../lib/validate/scenario.js";
import { runKey, waitForSshd } from "./checks/ssh.js";

/** The builder: the declared system with a development profile and BusyBox's Debian source package. */
function developmentEnabled(os: OperatingSystem): OperatingSystem {
  return {
    ...os,
    developmentProfile: { location: os.location },
    sources: [{ kind: "debian-source-package", name: "busybox", location: os.location }],
  };
}

/** The declared system again, its BusyBox the promoted world (the base's native-build field). */
function withNativeBusybox(bundle: string) {
  return (os: OperatingSystem): OperatingSystem => ({ ...os, base: { ...os.base, nativeBuild: bundle } as OperatingSystem["base"] });
}

export default defineScenario({
  id: "native-build",
  phase: "Native builds",
  title: "Build BusyBox inside a development-enabled guest over SSH, promote it, and boot a system made from it",
  goal:
    "Boot a development-enabled linux-busybox system (Debian's gcc, binutils, make and libc headers in its development " +
    "profile; BusyBox's Debian source package as its source store), run `fruix native-build run`'s host-initiated build " +
    "in it over SSH (the reduced BusyBox configuration at -O0, make -jN, installed into DESTDIR), copy the result root back, " +
    "promote it into store items with `fruix native-build promote`, then build and boot a system whose BusyBox is the " +
    "promoted world and check that the running /bin/busybox is that binary.",
  hypervisors: ["qemu"],
  async run(ctx) {
    const { identity, ssh } = await runKey(ctx.workDir);
    ctx.note("the builder adds a development profile, BusyBox's Debian source package, dhcp-client and sshd (dropbear) with a key made for this run; QEMU forwards a loopback port to its port 22");

    const builder = await ctx.step("build the development-enabled system", () => ctx.buildSystem({ name: "builder", transform: (os) => developmentEnabled(ssh(os)) }));
    ctx.result("builder_closure_path", builder.build.closurePath);
    const image = await ctx.step("disk image of the builder", () => ctx.image(builder));
    const vm = await ctx.guest("builder", { disks: [{ path: image, mode: "overlay" }], forwardPorts: [22], memoryMiB: 1024, cpus: 2 });
    const booted = await ctx.step("boot the builder", () => vm.boot());
    ctx.check("the builder boots its closure", booted.closure, builder.build.closurePath);
    await ctx.step("open the validation shell", () => vm.openShell());
    ctx.check(
      "it has the development environment and the self-hosted helper",
      await vm.succeed("ls /usr/local/bin/fruix-development-environment /usr/local/bin/fruix-self-hosted-native-build"),
      "/usr/local/bin/fruix-development-environment\n/usr/local/bin/fruix-self-hosted-native-build",
    );
    await ctx.step("wait for the DHCP address and dropbear", () => waitForSshd(vm));

    if (!vm.machine.endpoint) throw new Error(`the ${ctx.hypervisor.name} adapter cannot forward a port to the guest`);
    const endpoint = await vm.machine.endpoint(22);
    const destination = parseDestination(`ssh://root@${endpoint.host}:${endpoint.port}`);
    const options = { identity, knownHosts: join(ctx.workDir, "known_hosts"), acceptNewHostKey: true, log: ctx.log };
    const started = Date.now();
    const run = await ctx.step("fruix native-build run: build BusyBox in the guest over SSH and copy the result root back", () =>
      withSession(destination, options, (session) =>
        runNativeBuild(session, familyOf(builder.os.base), { jobs: 2, optimization: "none", resultDir: join(ctx.workDir, "native-builds"), timeoutMs: ctx.timeout(50 * 60_000), log: ctx.log }),
      ),
    );
    const buildSeconds = Math.round((Date.now() - started) / 1000);
    ctx.result("run_id", run.runId);
    ctx.result("guest_result_root", run.guestResultRoot);
    ctx.result("build_and_copy_seconds", buildSeconds);
    ctx.check("the build used the source store the system's metadata records", run.result.sourceStore, /^\/frx\/store\/[0-9a-f]{64}-busybox-source-/);
    ctx.check("the result records the builder's closure and host name", [run.result.closurePath, run.result.guestHostName], [builder.build.closurePath, builder.os.hostName]);
    // -O0: under TCG the optimizer is most of a file's compile time, and the checks do not depend on it.
    ctx.check(
      "the build policy: make -j2, optimization none (-O0), the development shell's variables sanitized",
      [run.result.buildPolicy.jobs, run.result.buildPolicy.optimization, run.result.buildPolicy.sanitizedEnvironment.includes("MAKEFLAGS")],
      [2, "none", true],
    );
    ctx.check(
      "the guest keeps the record under /var/lib/fruix/native-builds, latest pointing at it, the heavy work under /var/tmp",
      await vm.succeed(`readlink /var/lib/fruix/native-builds/latest; test -f ${run.guestResultRoot}/result.scm && test -d /var/tmp/fruix-native-builds/${run.runId}/obj && echo recorded`),
      `${run.runId}\nrecorded`,
    );
    ctx.result("source_store", run.result.sourceStore);

    const promoted = await ctx.step("fruix native-build promote", () => promoteResult(ctx.store, run.resultRoot, ctx.log));
    const world = promoted.artifacts.find((a) => a.kind === "world")?.path;
    ctx.check("promotion made a world item and a result bundle referencing it", [world, await ctx.store.references(promoted.bundle)], [
      `/frx/store/${world?.slice(11, 75)}-fruix-native-world-${run.runId}`,
      [world],
    ]);
    for (const a of promoted.artifacts) ctx.result(`promoted_${a.kind}`, a.path);
    ctx.result("promoted_result_bundle", promoted.bundle);
    const built = await readFile(join(ctx.store.toHostPath(world!), "bin", "busybox"));
    const sha256 = createHash("sha256").update(built).digest("hex");
    ctx.result("busybox_sha256", sha256);
    await vm.machine.destroy(); // its work is done: the next machine gets the CPU

    const target = await ctx.step("build a system whose BusyBox is the promoted world", () =>
      ctx.buildSystem({ name: "native-busybox", transform: withNativeBusybox(promoted.bundle) }),
    );
    ctx.check("its closure references the promoted world", target.build.items.includes(world!), true);
    ctx.result("native_closure_path", target.build.closurePath);
    const nativeImage = await ctx.step("disk image of it", () => ctx.image(target));
    const native = await ctx.guest("native", { disks: [{ path: nativeImage, mode: "overlay" }] });
    const nativeBoot = await ctx.step("boot it", () => native.boot());
    ctx.check("it boots its closure", nativeBoot.closure, target.build.closurePath);
    await ctx.step("open the validation shell", () => native.openShell());
    ctx.check("/bin/busybox is the natively built binary (its sha256 is the promoted item's)", await native.succeed("sha256sum /bin/busybox | cut -d ' ' -f 1"), sha256);
    ctx.check("/bin/busybox resolves into the promoted world", await native.succeed("readlink -f /bin/busybox"), `${world}/bin/busybox`);
    const web = target.os.services.find((s) => s.type === "httpd");
    if (web) ctx.check("the web server it runs answers", await native.succeed(`wget -q -O - http://127.0.0.1:${web.config.port ?? 80}/`), /^Hello from /);
    ctx.result("native_applets", await native.succeed("busybox --list | wc -l"));
  },
});
