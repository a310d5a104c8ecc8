// Machines a scenario reaches over SSH (switch-rollback, trial-fallback,
// native-build): dropbear with this run's key, an address from DHCP.
import { GuestCommandFailed } from "../../hypervisors/console/shell.js";
import { keyPairFile } from "../../lib/copy/keygen.js";
import type { OperatingSystem, ServiceSpec } from "../../lib/declaration/types.js";
import type { Guest } from "../../lib/validate/guest.js";

/** Both generations: reachable over SSH with this run's key, their address from QEMU's DHCP. */
export function withSsh(authorizedKey: string) {
  return (os: OperatingSystem): OperatingSystem => {
    const service = (type: string, config: ServiceSpec["config"]): ServiceSpec => ({ type, config, location: os.location });
    const others = os.services.filter((s) => s.type !== "sshd" && s.type !== "dhcp-client");
    return { ...os, services: [...others, service("dhcp-client", { interface: "eth0" }), service("sshd", { port: 22, "authorized-keys": [authorizedKey] })] };
  };
}

/** This run's key: the private half in `workDir` for the host's client, and the transform that lets the public half in. */
export async function runKey(workDir: string): Promise<{ identity: string; ssh: (os: OperatingSystem) => OperatingSystem }> {
  const key = await keyPairFile(workDir, "fruix-validate");
  return { identity: key.identity, ssh: withSsh(key.public.trim()) };
}

/** Waits, on the console, until the guest has its DHCP address and dropbear runs; else says what it saw. */
export async function waitForSshd(vm: Guest): Promise<void> {
  const ready = "ip -4 addr show eth0 2>/dev/null | grep -q 'inet ' && pidof dropbear >/dev/null && [ -s /run/dropbear.pid ]";
  const { exitCode } = await vm.run(`(i=0; until ${ready}; do i=$((i+1)); [ $i -lt 90 ] || exit 1; sleep 1; done)`, { timeoutMs: 120_000 });
  if (exitCode !== 0) {
    const seen = await vm.succeed("ip -4 addr; ps -o pid,comm,args; tail -n 5 /var/log/messages 2>/dev/null; true");
    // The guest did not come up as declared: a failed assertion about the guest, not the host's fault.
    throw new GuestCommandFailed(vm.name, "wait 90 s for a DHCP address on eth0 and dropbear", exitCode, seen);
  }
}

