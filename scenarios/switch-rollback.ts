// Phase: roll an installed system forward to a candidate generation and back,
// across real reboots: the candidate travels over SSH (`fruix system copy`'s
// code, into the guest's dropbear), the helper switches and rolls back.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { copyClosure, keyValues, switchRemote } from "../lib/copy/copy.js";
import { parseDestination } from "../lib/copy/destination.js";
import { ed25519KeyPair } from "../lib/copy/keygen.js";
import { knownHostsLine } from "../lib/copy/known-hosts.js";
import { withSession, type SshOptions } from "../lib/copy/ssh.js";
import type { OperatingSystem } from "../lib/declaration/types.js";
import { MiB } from "../lib/disk/size.js";
import { defineScenario } from "../lib/validate/scenario.js";
import { runKey, waitForSshd } from "./checks/ssh.js";

/** The candidate: visibly different (another host name and web page), same base. */
function candidate(os: OperatingSystem): OperatingSystem {
  return {
    ...os,
    hostName: `${os.hostName}-next`,
    services: os.services.map((s) => (s.type === "httpd" ? { ...s, config: { ...s.config, index: "Hello from the candidate\n" } } : s)),
  };
}

export default defineScenario({
  id: "switch-rollback",
  phase: "Switch and rollback",
  title: "Switch an installed system to a candidate generation and roll it back, across reboots",
  goal:
    "Install generation 1 with an SSH server, send a visibly different candidate closure into the machine's store " +
    "over SSH (`fruix system copy`), stage it with `fruix system switch`, reboot into generation 2, then " +
    "`fruix system rollback` and reboot into generation 1 again, checking the booted, current and rollback " +
    "generations and the running closure at every step, and that a changed host key is refused.",
  hypervisors: ["qemu", "xcp-ng"],
  async run(ctx) {
    const { identity, ssh } = await runKey(ctx.workDir);
    ctx.note("both generations add dhcp-client and sshd (dropbear) with a key made for this run; the adapter says where the host reaches the guest's port 22 (Machine.endpoint)");

    const first = await ctx.step("build generation 1's system", () => ctx.buildSystem({ name: "with-sshd", transform: ssh }));
    const next = await ctx.step("build the candidate system", () => ctx.buildSystem({ name: "candidate", transform: (os) => candidate(ssh(os)) }));
    const [a, b] = [first.build.closurePath, next.build.closurePath];
    ctx.check("the candidate is a different closure", a !== b, true);
    ctx.result("closure_path", a);
    ctx.result("candidate_closure_path", b);

    const disk = await ctx.step("install generation 1 onto a 512 MiB raw disk", () => ctx.install(first, 512 * MiB));
    const vm = await ctx.guest("installed", { disks: [{ path: disk, mode: "direct" }], forwardPorts: [22] });
    const booted1 = await ctx.step("boot generation 1", () => vm.boot());
    ctx.check("generation 1 boots the installed closure", booted1.closure, a);
    ctx.result("booted_initial", `1 ${booted1.closure}`);
    await ctx.step("open the validation shell", () => vm.openShell());
    await ctx.step("wait for the DHCP address and dropbear", () => waitForSshd(vm));

    if (!vm.machine.endpoint) throw new Error(`the ${ctx.hypervisor.name} adapter cannot forward a port to the guest`);
    const endpoint = await ctx.step("find where the host reaches the guest's port 22", () => vm.machine.endpoint!(22));
    ctx.note(`the guest's port 22 was reached at ${endpoint.host}:${endpoint.port}`);
    const destination = parseDestination(`ssh://root@${endpoint.host}:${endpoint.port}`);
    const knownHosts = join(ctx.workDir, "known_hosts");
    const options: SshOptions = { identity, knownHosts, log: ctx.log };
    const missing = next.build.items.filter((item) => !first.build.items.includes(item));
    const copied = await ctx.step(`fruix system copy: the candidate's ${missing.length} new store items over SSH`, () =>
      withSession(destination, { ...options, acceptNewHostKey: true }, (session) => copyClosure(session, ctx.store, b, ctx.log)),
    );
    ctx.check("exactly the candidate's new store items were sent", copied.sent.slice().sort(), missing.slice().sort());
    ctx.check("they are in the guest's store", await vm.succeed(`for i in ${missing.join(" ")}; do [ -e "$i" ] || echo "absent: $i"; done; echo ok`), "ok");
    ctx.result("items_sent", copied.sent.length);
    ctx.result("bytes_sent", copied.bytesSent);

    const imposter = join(ctx.workDir, "known_hosts.changed");
    await writeFile(imposter, knownHostsLine(endpoint.host, endpoint.port, ed25519KeyPair().parsed.getPublicSSH()) + "\n");
    const refusal = await withSession(destination, { ...options, knownHosts: imposter }, () => Promise.resolve("connected")).catch((e: Error) => e.message);
    ctx.check("a host key that does not match known_hosts is refused", refusal, /the host key changed: the server offers SHA256:\S+, which does not match/);

    const switched = await ctx.step("fruix system switch, over SSH", () =>
      withSession(destination, options, (session) => switchRemote(session, b)),
    );
    ctx.check("switch reports generation 2 current, 1 rollback, reboot required", [switched.current_generation, switched.rollback_generation, switched.reboot_required], ["2", "1", "yes"]);
    const staged = await vm.status();
    ctx.check("status before reboot: booted 1, current (staged) 2, rollback 1", [staged.booted_generation, staged.current_generation, staged.current_closure, staged.rollback_generation], ["1", "2", b, "1"]);
    ctx.check("the boot default is generation 2", await vm.succeed("sed -n 's/^default //p' /boot/efi/loader/loader.conf"), "fruix-generation-2.conf");
    ctx.result("switch_staged_generation", staged.current_generation!);

    const booted2 = await ctx.step("reboot into generation 2", () => vm.reboot());
    ctx.check("generation 2 activates the candidate", booted2, b);
    const after2 = await vm.status();
    ctx.check("status after reboot: booted 2, current 2, rollback 1", [after2.booted_generation, after2.current_generation, after2.rollback_generation], ["2", "2", "1"]);
    ctx.check("/run/current-system is the candidate", await vm.succeed("readlink /run/current-system"), b);
    ctx.check("the candidate's host name and web page are live", [await vm.succeed("hostname"), await vm.succeed("wget -q -O - http://127.0.0.1:8080/")], [next.os.hostName, "Hello from the candidate"]);
    await ctx.step("wait for dropbear again", () => waitForSshd(vm));
    const again = await ctx.step("fruix system copy again, after the reboot", () =>
      withSession(destination, options, (session) => copyClosure(session, ctx.store, b, ctx.log)),
    );
    ctx.check("the host key survived the reboot and nothing is sent twice", again.sent.length, 0);
    ctx.result("booted_after_switch", `${after2.booted_generation} ${booted2}`);

    const rolled = keyValues(await ctx.step("fruix system rollback", () => vm.succeed("fruix system rollback")));
    ctx.check("rollback makes generation 1 current again", rolled.current_generation, "1");
    ctx.result("rollback_staged_generation", rolled.current_generation!);
    const booted1again = await ctx.step("reboot into generation 1", () => vm.reboot());
    ctx.check("generation 1 activates the original closure again", booted1again, a);
    const after1 = await vm.status();
    ctx.check("status after rollback reboot: booted 1, current 1, rollback 2", [after1.booted_generation, after1.current_generation, after1.rollback_generation], ["1", "1", "2"]);
    ctx.check("/run/current-system is generation 1's closure", await vm.succeed("readlink /run/current-system"), a);
    ctx.check("generation 1's host name is back", await vm.succeed("hostname"), first.os.hostName);
    ctx.result("booted_after_rollback", `${after1.booted_generation} ${booted1again}`);
  },
});
