// Small pure pieces of the system builder.
import { describe, expect, it } from "vitest";
import type { OperatingSystem, ServiceSpec } from "../lib/declaration/types.js";
import { parseStanza, kernelImageDependency } from "../lib/debian/apt.js";
import { formatSexp, sexpDocument, field, sym } from "../lib/sexp.js";
import { groupFile, passwdFile, resolveAccounts, shadowFile } from "../lib/system/accounts.js";
import { generationTime } from "../lib/system/generation.js";
import { healthChecksFile } from "../lib/system/health-checks.js";
import { inittabFile, planService } from "../lib/family/linux-busybox/services.js";
import { hostForwards, userNetwork } from "../hypervisors/qemu/usernet.js";

const at = { file: "t.scm", line: 1, column: 1 };

function system(overrides: Partial<OperatingSystem>): OperatingSystem {
  return {
    binding: "os",
    hostName: "h",
    base: { family: "linux-busybox", kernelPackage: "linux-image-amd64", location: at },
    timezone: "UTC",
    kernelArguments: [],
    users: [],
    groups: [],
    services: [],
    healthChecks: { deadline: 120, checks: [] },
    location: at,
    ...overrides,
  };
}

const user = (name: string, extra: object = {}) => ({
  name, group: "users", supplementaryGroups: [], comment: "", homeDirectory: `/home/${name}`, shell: "/bin/sh", location: at, ...extra,
});

describe("accounts", () => {
  it("adds root and the built-in groups, allocates ids from 1000 by name, records members", () => {
    const accounts = resolveAccounts(system({
      users: [user("zoe", { supplementaryGroups: ["ops"] }), user("alice", { uid: 1000 }), user("bob")],
      groups: [{ name: "ops", location: at }],
    }));
    expect(passwdFile(accounts)).toBe(
      "root:x:0:0:root:/root:/bin/sh\n" +
        "alice:x:1000:100::/home/alice:/bin/sh\n" +
        "bob:x:1001:100::/home/bob:/bin/sh\n" +
        "zoe:x:1002:100::/home/zoe:/bin/sh\n",
    );
    expect(groupFile(accounts)).toBe("root:x:0:\ntty:x:5:\nwheel:x:10:\nusers:x:100:\nops:x:1000:zoe\nnogroup:x:65534:\n");
    expect(shadowFile(accounts)).toContain("alice:*:1::::::\n");
  });

  it("does not depend on declaration order", () => {
    const a = resolveAccounts(system({ users: [user("a"), user("b")] }));
    const b = resolveAccounts(system({ users: [user("b"), user("a")] }));
    expect(passwdFile(a)).toBe(passwdFile(b));
  });
});

describe("services", () => {
  const spec = (type: string, config: ServiceSpec["config"]): ServiceSpec => ({ type, config, location: at });

  it("runs httpd in the foreground with the declared port and index", () => {
    const plan = planService(spec("httpd", { port: 8080, "document-root": "/srv/www", index: "it's up\n" }));
    expect(plan.run).toContain("exec httpd -f -p 8080 -h '/srv/www'");
    expect(plan.run).toContain(`printf '%s' 'it'\\''s up\n' >'/srv/www'/index.html`);
  });

  it("gives ttys to init", () => {
    const plans = [planService(spec("getty", { tty: "ttyS0", "baud-rate": 115200 }))];
    expect(inittabFile(plans)).toContain("ttyS0::respawn:/bin/getty -L 115200 ttyS0 vt100\n");
    expect(inittabFile(plans)).toContain("::shutdown:/run/current-system/shutdown\n");
  });

  it("names the declaration position of a service this base lacks", () => {
    expect(() => planService(spec("ntpd", {}))).toThrow("t.scm:1:1: service type 'ntpd-service-type' is not available on the linux-busybox base yet");
  });
});

describe("apt metadata", () => {
  it("parses the first stanza and follows the kernel metapackage", () => {
    const fields = parseStanza("Package: linux-image-amd64\nVersion: 6.1.192-2\nDepends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)\nDescription: x\n more\n\nPackage: other\n");
    expect(fields.get("Version")).toBe("6.1.192-2");
    expect(fields.get("Description")).toBe("x\nmore");
    expect(fields.has("other")).toBe(false);
    expect(kernelImageDependency(fields.get("Depends")!)).toBe("linux-image-6.1.0-56-amd64");
  });
});

describe("metadata writer", () => {
  it("writes fields, strings with escapes, and breaks long lists", () => {
    expect(formatSexp([sym("a"), field("n", 1), field("s", 'x"y'), field("b", true)])).toBe('(a (n 1) (s "x\\"y") (b #t))');
    const long = sexpDocument([sym("store-layout"), field("references", Array.from({ length: 3 }, (_, i) => "/frx/store/" + "x".repeat(40) + i))]);
    expect(formatSexp(field("closure", "/frx/store/" + "x".repeat(120)))).not.toContain("\n");
    expect(long.split("\n").length).toBeGreaterThan(3);
    expect(long.endsWith(")\n")).toBe(true);
  });

  it("dates generation 1 from SOURCE_DATE_EPOCH, else the epoch", () => {
    expect(generationTime({ SOURCE_DATE_EPOCH: "1700000000" })).toBe("2023-11-14T22:13:20Z");
    expect(generationTime({})).toBe("1970-01-01T00:00:00Z");
  });
});

describe("QEMU user networking", () => {
  it("forwards each guest port from a free loopback port, on a sealed network", () => {
    expect(userNetwork([22])).toBe("user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:0-:22");
  });

  it("reads the host port each forward got from info usernet (QEMU 7.2's layout)", () => {
    const info = [
      "Hub -1 (#net087):",
      "  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ",
      "  TCP[HOST_FORWARD]   8       127.0.0.1 35337       10.0.2.15    22     0     0",
      "  TCP[ESTABLISHED]   12       127.0.0.1 35337       10.0.2.15    22     0     0",
      "  TCP[HOST_FORWARD]   9       127.0.0.1 40001       10.0.2.15  8080     0     0",
    ].join("\n");
    expect([...hostForwards(info)]).toEqual([[22, 35337], [8080, 40001]]);
    expect(hostForwards("Hub -1 (#net0):\n").size).toBe(0);
  });
});

describe("healthChecksFile", () => {
  it("writes the deadline, the default check, then the declared checks in order, each service once", () => {
    const text = healthChecksFile(
      {
        deadline: 45,
        checks: [
          { kind: "service-running", service: "crond", location: at },
          { kind: "service-running", service: "httpd", location: at },
          { kind: "tcp-port", port: 22, location: at },
          { kind: "http", port: 8080, path: "/health?x=1", location: at },
          { kind: "command", command: "test -s /etc/hostname && echo 'ok'", location: at },
        ],
      },
      ["syslogd", "httpd"],
      (type) => (type === "crond" ? "cron" : type),
    );
    expect(text.split("\n").slice(1)).toEqual([
      "deadline 45", "activation", "service syslogd", "service httpd", "service cron",
      "tcp 22", "http 8080 /health?x=1", "command test -s /etc/hostname && echo 'ok'", "",
    ]);
  });
});
