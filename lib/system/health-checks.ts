// metadata/health-checks: a system's declared health checks as data the
// in-guest helper reads at a trial boot (docs/generations.md, "Trial boots").
// One check per line, its kind first; the helper runs them in this order.
import type { HealthChecks } from "../declaration/types.js";

/**
 * The file's text. `services` are the family's supervised services (the
 * default check: every one of them is running), by the names the family's
 * helper backend knows them; `nameOf` turns a declared service type into such
 * a name. The declared checks follow, a service listed once.
 */
export function healthChecksFile(healthChecks: HealthChecks, services: readonly string[], nameOf: (type: string) => string = (type) => type): string {
  const lines = [
    "# Fruix health checks: the helper runs them at a trial boot (docs/generations.md).",
    `deadline ${healthChecks.deadline}`,
    "activation",
  ];
  const listed = new Set<string>();
  const service = (name: string): void => {
    if (listed.has(name)) return;
    listed.add(name);
    lines.push(`service ${name}`);
  };
  services.forEach(service);
  for (const check of healthChecks.checks) {
    switch (check.kind) {
      case "service-running":
        service(nameOf(check.service));
        break;
      case "tcp-port":
        lines.push(`tcp ${check.port}`);
        break;
      case "http":
        lines.push(`http ${check.port} ${check.path}`);
        break;
      case "command":
        lines.push(`command ${check.command}`);
        break;
    }
  }
  return lines.join("\n") + "\n";
}
