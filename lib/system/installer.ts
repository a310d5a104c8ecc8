// The installer's declaration (pure), the same for every family: the target's
// with the installer service added (lib/family/*/installer.ts build it).
import type { OperatingSystem, ServiceSpec } from "../declaration/types.js";

/**
 * The installer's declaration (pure): the target's, named `<host>-installer`,
 * with its ttys (a getty, or validation's shell) kept for looking at a failed
 * install, its daemons dropped, and the installer service added. The
 * development profile and source trees are the target's alone (its closure
 * carries them); the installer runs without.
 */
export function withInstaller(os: OperatingSystem): OperatingSystem {
  const ttys = os.services.filter((s) => s.type === "getty" || s.type === "validation-shell");
  const installer: ServiceSpec = { type: "fruix-installer", config: {}, location: os.location };
  const { developmentProfile: _profile, sources: _sources, ...rest } = os;
  return { ...rest, hostName: `${os.hostName}-installer`, services: [...ttys, installer] };
}
