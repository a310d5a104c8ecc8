// What every booted Fruix system must show, checked through the validation
// shell on its serial console: shared by the boot and install scenarios.
import type { Machine } from "../../hypervisors/types.js";
import { planService } from "../../lib/family/linux-busybox/services.js";
import type { ScenarioContext, SystemUnderTest } from "../../lib/validate/scenario.js";

/** Boots `vm` and waits for the activation line; returns the closure it names and the seconds it took. */
export async function bootToActivation(ctx: ScenarioContext, vm: Machine): Promise<{ closure: string; seconds: number }> {
  const started = Date.now();
  await vm.start();
  const line = await vm.console.waitFor(/fruix: activated (\S+)\r?\n/, { timeoutMs: 240_000 });
  return { closure: line[1]!, seconds: (Date.now() - started) / 1000 };
}

/** Makes the validation shell quiet and machine-readable (no echo, no prompt, no kernel chatter). */
export async function openShell(vm: Machine): Promise<void> {
  // The shell starts just after activation; input typed earlier may be lost, so try again:
  // 12 attempts of 5 s each (scaled by the console), about a minute in all.
  for (let attempt = 1; ; attempt++) {
    try {
      await vm.console.run("stty -echo; PS1=; PS2=; export PS1 PS2; dmesg -n 1", { timeoutMs: 5_000 });
      return;
    } catch (error) {
      if (attempt >= 12) throw error;
    }
  }
}

/** Runs a command that must succeed and returns its output. */
export async function sh(vm: Machine, command: string): Promise<string> {
  const { exitCode, output } = await vm.console.run(command);
  if (exitCode !== 0) throw new Error(`'${command}' exited ${exitCode}: ${output}`);
  return output;
}

/** One round trip: the facts the standard checks need, as key=value lines. */
const PROBE = `
cs=$(readlink /run/current-system)
echo "current_system=$cs"
echo "host_name=$(hostname)"
echo "activation_logged=$(grep -c "activated $cs" /var/log/fruix-activation.log)"
echo "users=$(cut -d: -f1 /etc/passwd | tr '\\n' ' ')"
echo "processes=$(ps -o comm | sort -u | tr '\\n' ' ')"
echo "current_link=$(readlink /var/lib/fruix/system/current)"
echo "current_generation=$(cat /var/lib/fruix/system/current-generation)"
echo "generation_closure=$(readlink /var/lib/fruix/system/generations/1/closure)"
echo "generation_files=$(ls /var/lib/fruix/system/generations/1 | tr '\\n' ' ')"
echo "gcroot_current=$(readlink /frx/var/fruix/gcroots/current-system)"
echo "gcroot_generation=$(readlink /frx/var/fruix/gcroots/system-1)"
echo "esp_mounted=$(grep -c ' /boot/efi ' /proc/mounts)"
echo "helper_current=$(/usr/local/bin/fruix system status | sed -n 's/^current_closure=//p')"
`;

export async function probe(vm: Machine): Promise<Map<string, string>> {
  const output = await sh(vm, PROBE.trim().split("\n").join("; "));
  return new Map(output.split("\n").map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
}

/**
 * The checks of a running system: the closure is active, activation logged it,
 * host name, users, services, the generation-1 layout and the helper agree.
 */
export async function checkRunningSystem(ctx: ScenarioContext, vm: Machine, system: SystemUnderTest): Promise<Map<string, string>> {
  const { os, build } = system;
  const facts = await ctx.step("read the running system", () => probe(vm));
  ctx.check("/run/current-system points at the built closure", facts.get("current_system"), build.closurePath);
  ctx.check("the activation log records the closure", facts.get("activation_logged"), "1");
  ctx.check("host name", facts.get("host_name"), os.hostName);
  const users = facts.get("users")!.trim().split(" ");
  ctx.check("declared users exist", os.users.map((u) => u.name).filter((u) => !users.includes(u)), []);
  const processes = facts.get("processes")!.trim().split(" ");
  const expected = os.services.map(planService).flatMap((p) => (p.process ? [p.process] : []));
  ctx.check("declared services are running", expected.filter((p) => !processes.includes(p)), []);
  ctx.check("current -> generations/1", facts.get("current_link"), "generations/1");
  ctx.check("current-generation is 1", facts.get("current_generation"), "1");
  ctx.check("generation 1 names the closure", facts.get("generation_closure"), build.closurePath);
  ctx.check("GC roots current-system and system-1 name the closure", [facts.get("gcroot_current"), facts.get("gcroot_generation")], [build.closurePath, build.closurePath]);
  ctx.check("the ESP is mounted at /boot/efi", facts.get("esp_mounted"), "1");
  ctx.check("fruix system status names the closure as current", facts.get("helper_current"), build.closurePath);
  for (const service of os.services.filter((s) => s.type === "httpd")) {
    const page = await sh(vm, `wget -q -O - http://127.0.0.1:${service.config.port}/`);
    ctx.check(`httpd serves its index on port ${service.config.port}`, page, String(service.config.index).replace(/\n$/, ""));
  }
  // In the order of the workflow's phase 19.2 report.
  ctx.result("current_generation", facts.get("current_generation")!);
  ctx.result("current_link", facts.get("current_link")!);
  ctx.result("generation_closure", facts.get("generation_closure")!);
  ctx.result("gcroot_current", facts.get("gcroot_current")!);
  ctx.result("gcroot_generation", facts.get("gcroot_generation")!);
  ctx.result("run_current_system_target", facts.get("current_system")!);
  ctx.result("host_name", facts.get("host_name")!);
  ctx.result("services_running", expected.join(","));
  return facts;
}
