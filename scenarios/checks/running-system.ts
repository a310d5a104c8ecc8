// What every booted Fruix system must show, checked through the validation
// shell on its serial console: shared by the boot and install scenarios.
import type { Guest } from "../../lib/validate/guest.js";
import type { ScenarioContext, SystemUnderTest } from "../../lib/validate/scenario.js";

/**
 * The checks of a running system: the closure is active, activation logged it,
 * host name, users, services, the generation-1 layout and the helper agree.
 */
export async function checkRunningSystem(ctx: ScenarioContext, vm: Guest, system: SystemUnderTest): Promise<Map<string, string>> {
  const { os, build } = system;
  const facts = await ctx.step("read the running system", () => vm.probe());
  ctx.check("/run/current-system points at the built closure", facts.get("current_system"), build.closurePath);
  ctx.check("the activation log records the closure", facts.get("activation_logged"), "1");
  ctx.check("host name", facts.get("host_name"), os.hostName);
  const users = facts.get("users")!.trim().split(" ");
  ctx.check("declared users exist", os.users.map((u) => u.name).filter((u) => !users.includes(u)), []);
  const processes = facts.get("processes")!.trim().split(" ");
  const expected = vm.profile.expectedProcesses(os);
  ctx.check("declared services are running", expected.filter((p) => !processes.includes(p)), []);
  ctx.check("current -> generations/1", facts.get("current_link"), "generations/1");
  ctx.check("current-generation is 1", facts.get("current_generation"), "1");
  ctx.check("generation 1 names the closure", facts.get("generation_closure"), build.closurePath);
  ctx.check("GC roots current-system and system-1 name the closure", [facts.get("gcroot_current"), facts.get("gcroot_generation")], [build.closurePath, build.closurePath]);
  ctx.check("the ESP is mounted at /boot/efi", facts.get("esp_mounted"), "1");
  ctx.check("fruix system status names the closure as current", facts.get("helper_current"), build.closurePath);
  for (const service of os.services.filter((s) => s.type === "httpd")) {
    const page = await vm.succeed(`wget -q -O - http://127.0.0.1:${service.config.port}/`);
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
