// Phase: trial boots. Three candidates, each staged from the host with
// `reconfigure --trial` (copy over SSH, then `fruix system switch --trial`),
// each booted once by a reboot from inside: one panics, one fails its
// declared HTTP check, one is good. The machine must return to generation 1
// by itself after the first two, and keep the third.
import { join } from "node:path";
import { copyClosure, keyValues, switchRemote } from "../lib/copy/copy.js";
import { parseDestination } from "../lib/copy/destination.js";
import { withSession, type SshOptions } from "../lib/copy/ssh.js";
import type { HealthChecks, OperatingSystem } from "../lib/declaration/types.js";
import { MiB } from "../lib/disk/size.js";
import { ACTIVATED } from "../lib/validate/guest.js";
import { defineScenario, type SystemUnderTest } from "../lib/validate/scenario.js";
import { runKey, waitForSshd } from "./checks/ssh.js";

/** activate.sh's line after the helper's assess-boot, e.g. `fruix: trial: trial=blessed current_generation=4`. */
const TRIAL_LINE = /fruix: trial: (trial=\S+[^\r\n]*)\r?\n/;
const PANIC = /Kernel panic - not syncing[^\r\n]*/;
const BOOT_MS = 240_000;

function withChecks(healthChecks: HealthChecks) {
  return (os: OperatingSystem): OperatingSystem => ({ ...os, healthChecks });
}

/** The candidates, each a visibly different closure of the same base. */
const CANDIDATES = {
  // The kernel runs an init the initramfs does not have: no working init, a panic.
  a: (os: OperatingSystem): OperatingSystem => ({ ...os, kernelArguments: [...os.kernelArguments, "rdinit=/fruix-missing-init"] }),
  // Boots, but its declared HTTP check asks a port nothing listens on.
  b: withChecks({ deadline: 10, checks: [{ kind: "http", port: 9, path: "/", location: { file: "trial-fallback", line: 1, column: 1 } }] }),
  // Good: its HTTP check asks the declared web server.
  c: withChecks({ deadline: 120, checks: [{ kind: "http", port: 8080, path: "/", location: { file: "trial-fallback", line: 1, column: 1 } }] }),
};

export default defineScenario({
  id: "trial-fallback",
  phase: "Trial boots",
  title: "Stage three candidates on trial from the host: a panic and a failed health check fall back by themselves, a good one is blessed",
  goal:
    "Install generation 1 with an SSH server, then stage three candidates with `reconfigure --trial` (copy over SSH, " +
    "`fruix system switch --trial`) and reboot into each once: (a) a kernel command line whose init is missing panics, and " +
    "the machine comes back to generation 1 with no action but waiting (kernel panic=, systemd-boot's boot counting); " +
    "(b) a candidate failing its declared HTTP check is marked bad by the helper, reboots itself, and generation 1 comes " +
    "back; (c) a good candidate passes its checks, is blessed (its entry loses its counter and it becomes current) and " +
    "survives a further reboot as current.",
  hypervisors: ["qemu"],
  async run(ctx) {
    const { identity, ssh } = await runKey(ctx.workDir);
    ctx.note("every generation adds dhcp-client and sshd (dropbear) with a key made for this run; candidates reach the guest over SSH as `fruix system reconfigure --trial` sends them");
    ctx.note("QEMU-only: the i6300esb watchdog and the panic reset are QEMU's; the XCP-ng test double does not model a watchdog");

    const first = await ctx.step("build generation 1's system", () => ctx.buildSystem({ name: "with-sshd", transform: ssh }));
    const built: Record<keyof typeof CANDIDATES, SystemUnderTest> = {
      a: await ctx.step("build candidate (a): init missing", () => ctx.buildSystem({ name: "candidate-a", transform: (os) => CANDIDATES.a(ssh(os)) })),
      b: await ctx.step("build candidate (b): HTTP check on port 9", () => ctx.buildSystem({ name: "candidate-b", transform: (os) => CANDIDATES.b(ssh(os)) })),
      c: await ctx.step("build candidate (c): HTTP check on port 8080", () => ctx.buildSystem({ name: "candidate-c", transform: (os) => CANDIDATES.c(ssh(os)) })),
    };
    const gen1 = first.build.closurePath;
    ctx.check("the three candidates and generation 1 are four closures", new Set([gen1, ...Object.values(built).map((s) => s.build.closurePath)]).size, 4);
    ctx.result("closure_path", gen1);

    const disk = await ctx.step("install generation 1 onto a 512 MiB raw disk", () => ctx.install(first, 512 * MiB));
    // Candidate (a) panics on purpose: that line must not fail the machine.
    const vm = await ctx.guest("installed", {
      disks: [{ path: disk, mode: "direct" }],
      forwardPorts: [22],
      failurePatterns: (defaults) => defaults.filter((p) => !PANIC.test("Kernel panic - not syncing: x")),
    });
    const booted1 = await ctx.step("boot generation 1", () => vm.boot());
    ctx.check("generation 1 boots the installed closure", booted1.closure, gen1);
    await ctx.step("open the validation shell", () => vm.openShell());
    await ctx.step("wait for the DHCP address and dropbear", () => waitForSshd(vm));

    if (!vm.machine.endpoint) throw new Error(`the ${ctx.hypervisor.name} adapter cannot forward a port to the guest`);
    const endpoint = await vm.machine.endpoint(22);
    const destination = parseDestination(`ssh://root@${endpoint.host}:${endpoint.port}`);
    const options: SshOptions = { identity, knownHosts: join(ctx.workDir, "known_hosts"), log: ctx.log, acceptNewHostKey: true };

    /** `fruix system reconfigure --trial`'s copy and switch, from the host. */
    const reconfigureTrial = async (label: string, candidate: SystemUnderTest, generation: number) => {
      await waitForSshd(vm);
      const staged = await ctx.step(`(${label}) reconfigure --trial: copy the closure and run fruix system switch --trial over SSH`, () =>
        withSession(destination, options, async (session) => {
          await copyClosure(session, ctx.store, candidate.build.closurePath, ctx.log);
          return switchRemote(session, candidate.build.closurePath, { trial: true });
        }),
      );
      ctx.check(`(${label}) switch --trial stages generation ${generation} on trial, generation 1 the fallback`, [staged.trial_generation, staged.fallback_generation, staged.reboot_required], [String(generation), "1", "yes"]);
      const status = await vm.status();
      ctx.check(`(${label}) status before the reboot: current 1, generation ${generation} armed`, [status.current_generation, status.trial_generation, status.trial_state], ["1", String(generation), "armed"]);
      ctx.check(`(${label}) the boot default is the trial pattern`, await vm.succeed("sed -n 's/^default //p' /boot/efi/loader/loader.conf"), "fruix-generation-1.*");
      ctx.check(`(${label}) the trial entry carries one try`, await vm.succeed("ls /boot/efi/loader/entries | grep trial"), `fruix-generation-1.trial-${generation}+1.conf`);
    };

    /** After a fallback: generation 1 runs and is current, the trial is recorded as failed. */
    const expectFellBack = async (label: string, generation: number, reason: RegExp) => {
      const status = await vm.status();
      ctx.check(`(${label}) status: booted 1, current 1, no trial, last failed trial ${generation}`, [status.booted_generation, status.current_generation, status.trial_generation, status.last_failed_trial], ["1", "1", "none", String(generation)]);
      ctx.check(`(${label}) the failed trial's reason`, status.last_failed_trial_reason, reason);
      ctx.check(`(${label}) list-generations marks generation ${generation} failed-trial`, await vm.succeed(`fruix system list-generations ${generation} | cut -f4`), "failed-trial");
      ctx.check(`(${label}) the boot default is generation 1's entry again, and no trial entry is left`, await vm.succeed("sed -n 's/^default //p' /boot/efi/loader/loader.conf; ls /boot/efi/loader/entries | grep -c trial || true"), "fruix-generation-1.conf\n0");
    };

    const waitLine = (pattern: RegExp, ms = BOOT_MS) => vm.machine.console.waitFor(pattern, { timeoutMs: ms });

    // (a) The kernel panics; panic=10 resets; systemd-boot finds no try left and boots generation 1.
    await reconfigureTrial("a", built.a, 2);
    vm.machine.console.send("reboot\n");
    const panic = await ctx.step("(a) reboot into the trial: wait for the kernel panic", () => waitLine(PANIC));
    ctx.check("(a) the candidate's boot panics", panic[0], /^Kernel panic - not syncing/);
    const backA = await ctx.step("(a) wait, doing nothing, for the machine to come back by itself", () => waitLine(ACTIVATED));
    ctx.check("(a) generation 1 is back after the panic", backA[1], gen1);
    const lineA = await ctx.step("(a) wait for the helper's verdict", () => waitLine(TRIAL_LINE));
    ctx.check("(a) the helper records the fallback", keyValues(lineA[1]!.replace(/ /g, "\n")).trial, "fell-back");
    await ctx.step("(a) open the validation shell", () => vm.openShell());
    await expectFellBack("a", 2, /^generation 2 did not finish its trial boot/);
    ctx.result("trial_a", "fell-back");

    // (b) Boots, fails its HTTP check at the deadline, is marked bad and reboots itself.
    await reconfigureTrial("b", built.b, 3);
    vm.machine.console.send("reboot\n");
    const trialB = await ctx.step("(b) reboot into the trial", () => waitLine(ACTIVATED));
    ctx.check("(b) the candidate boots", trialB[1], built.b.build.closurePath);
    const verdictB = await ctx.step("(b) wait for its health checks to fail at the deadline (10 s, the least a declaration may ask)", () => waitLine(TRIAL_LINE));
    ctx.check("(b) the helper marks it bad and reboots", verdictB[1], /^trial=failed trial_generation=3 reason=HTTP GET http:\/\/127\.0\.0\.1:9\/ got no answer \(deadline 10 s\) reboot_required=yes/);
    const backB = await ctx.step("(b) wait, doing nothing, for generation 1", () => waitLine(ACTIVATED));
    ctx.check("(b) generation 1 is back", backB[1], gen1);
    const lineB = await ctx.step("(b) wait for the helper's verdict", () => waitLine(TRIAL_LINE));
    ctx.check("(b) the helper records the fallback", keyValues(lineB[1]!.replace(/ /g, "\n")).trial, "fell-back");
    await ctx.step("(b) open the validation shell", () => vm.openShell());
    await expectFellBack("b", 3, /^HTTP GET http:\/\/127\.0\.0\.1:9\/ got no answer \(deadline 10 s\)$/);
    ctx.result("trial_b", "fell-back");

    // (c) Good: blessed, its entry without counter, current across a further reboot.
    await reconfigureTrial("c", built.c, 4);
    vm.machine.console.send("reboot\n");
    const trialC = await ctx.step("(c) reboot into the trial", () => waitLine(ACTIVATED));
    ctx.check("(c) the candidate boots", trialC[1], built.c.build.closurePath);
    // Up to the line's end: the console may deliver a line in pieces.
    const armedC = await ctx.step("(c) wait for the helper to arm the watchdog", () => waitLine(/(fruix: watchdog armed[^\r\n]*)\r?\n/));
    ctx.check("(c) the watchdog guards the trial boot", armedC[1], /^fruix: watchdog armed: the machine resets unless generation 4 is blessed within 180 s$/);
    const verdictC = await ctx.step("(c) wait for its health checks to pass", () => waitLine(TRIAL_LINE));
    ctx.check("(c) the helper blesses it", verdictC[1], /^trial=blessed current_generation=4 rollback_generation=1/);
    await ctx.step("(c) open the validation shell", () => vm.openShell());
    const blessed = await vm.status();
    ctx.check("(c) status: booted 4, current 4, rollback 1, no trial", [blessed.booted_generation, blessed.current_generation, blessed.rollback_generation, blessed.trial_generation], ["4", "4", "1", "none"]);
    ctx.check("(c) the watchdog was armed during the trial boot, and is stopped", await vm.succeed("ls /dev/watchdog >/dev/null && echo present; [ -f /run/fruix/watchdog.pid ] && echo running || echo stopped"), "present\nstopped");
    const entries = "ls /boot/efi/loader/entries | tr '\\n' ' '; echo; sed -n 's/^default //p' /boot/efi/loader/loader.conf";
    ctx.check("(c) its entry has no counter and is the default", await vm.succeed(entries), /^fruix-generation-1\.conf fruix-generation-4\.conf \nfruix-generation-4\.conf$/);
    const again = await ctx.step("(c) reboot once more", () => vm.reboot());
    ctx.check("(c) it survives the reboot", again, built.c.build.closurePath);
    const after = await vm.status();
    ctx.check("(c) status after the reboot: booted 4, current 4, no trial", [after.booted_generation, after.current_generation, after.trial_generation], ["4", "4", "none"]);
    ctx.check("(c) no entry has a counter", await vm.succeed("ls /boot/efi/loader/entries | grep -c '+' || true"), "0");
    ctx.result("trial_c", "blessed");
  },
});
