// Declarations that are right: what they evaluate to, and their canonical form.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { canonicalSystem, loadDeclaration, parseDeclaration, selectSystem, type OperatingSystem } from "../lib/declaration/index.js";
import { decodeSource, readData } from "../lib/declaration/reader.js";

const MINIMAL = fileURLToPath(new URL("../examples/minimal.scm", import.meta.url));

/** The value without its source locations, for comparing content. */
function content(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(content);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== "location").map(([key, v]) => [key, content(v)]));
}

/** The only system of `source`. */
function system(source: string): OperatingSystem {
  return selectSystem(parseDeclaration(source, "test.scm"));
}

const HEAD = '(host-name "h") (base (linux-busybox-base))';

describe("examples/minimal.scm", () => {
  it("evaluates to the expected system", async () => {
    const decl = await loadDeclaration(MINIMAL);
    expect([...decl.systems.keys()]).toEqual(["my-operating-system"]);
    const os = selectSystem(decl, "my-operating-system");
    expect(content(os)).toEqual({
      binding: "my-operating-system",
      hostName: "fruix-minimal",
      base: { family: "linux-busybox", kernelPackage: "linux-image-amd64" },
      timezone: "UTC",
      kernelArguments: [],
      groups: [{ name: "operators", gid: 1100 }],
      users: [
        {
          name: "alice",
          uid: 1000,
          group: "users",
          supplementaryGroups: ["operators"],
          comment: "Alice the operator",
          homeDirectory: "/home/alice",
          shell: "/bin/sh",
        },
      ],
      services: [
        { type: "syslogd", config: { "log-file": "/var/log/messages" } },
        { type: "klogd", config: {} },
        { type: "getty", config: { tty: "ttyS0", "baud-rate": 115200 } },
        { type: "httpd", config: { port: 8080, "document-root": "/srv/www", index: "Hello from fruix-minimal\n" } },
      ],
      healthChecks: { deadline: 120, checks: [] },
    });
    expect(os.services.map((s) => s.type)).not.toContain("validation-shell");
  });

  it("keeps where each object was written", async () => {
    const os = selectSystem(await loadDeclaration(MINIMAL));
    expect(os.location).toEqual({ file: MINIMAL, line: 14, column: 3 });
    expect(os.users[0]!.location).toEqual({ file: MINIMAL, line: 6, column: 3 });
    expect(os.services[3]!.location).toEqual({ file: MINIMAL, line: 24, column: 13 });
  });
});

describe("reader", () => {
  it("reads atoms, comments and escapes", () => {
    const data = readData('; line\n#| block #| nested |# |#\n#;(ignored) "a\\"b\\\\c\\n\\t\\x41;" 42 -7 1.5 #t #false #:key sym \'q', "r.scm");
    expect(data.map((d) => (d.kind === "list" ? "list" : d.kind === "real" ? d.text : "value" in d ? d.value : d.name))).toEqual([
      'a"b\\c\n\tA',
      42,
      -7,
      "1.5",
      true,
      false,
      "key",
      "sym",
      "list",
    ]);
    expect(data[0]!.loc).toEqual({ file: "r.scm", line: 3, column: 13 });
  });

  it("accepts CRLF line endings, a byte-order mark, brackets and line continuations", () => {
    const os = system(`\uFEFF(define os\r\n  (operating-system ${HEAD}\r\n    (kernel-arguments [list "a\\\r\n   b"])))\r\n`);
    expect(os.kernelArguments).toEqual(["ab"]);
    expect(os.location.line).toBe(2);
  });

  it("decodes UTF-8 files, dropping a byte-order mark", () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('"é"')]);
    expect(decodeSource(bytes, "r.scm")).toBe('"é"');
  });

  it("reads 1000 levels of nesting", () => {
    expect(readData("(".repeat(999) + ")".repeat(999), "r.scm")).toHaveLength(1);
  });

  it("counts columns in characters, not bytes", () => {
    const data = readData('"héllo→" x', "r.scm");
    expect(data[1]!.loc.column).toBe(10);
  });
});

describe("evaluation", () => {
  it("fills in defaults", () => {
    const os = system(`(define os (operating-system ${HEAD} (users (list (user-account (name "bob")))) (services (list (service httpd-service-type) (service getty-service-type)))))`);
    expect(content(os.users)).toEqual([
      { name: "bob", group: "users", supplementaryGroups: [], comment: "", homeDirectory: "/home/bob", shell: "/bin/sh" },
    ]);
    expect(os.users[0]!.uid).toBeUndefined();
    expect(os.users[0]!.password).toBeUndefined();
    expect(os.services.map((s) => s.config)).toEqual([
      { port: 80, "document-root": "/srv/www", index: "Welcome to Fruix\n" },
      { tty: "ttyS0", "baud-rate": 115200 },
    ]);
    expect(os.timezone).toBe("UTC");
  });

  it("resolves define, let and let* references", () => {
    const os = system(`
      (define ops (user-group (name "ops") (gid 1100)))
      (define make-home "/srv/home")
      (define os
        (let* ((name "carol")
               (home (string-append make-home "/" name))
               (carol (user-account (name name) (home-directory home) (supplementary-groups (list "ops")))))
          (let ((name "ignored") (users (list carol)))
            (operating-system ${HEAD} (groups (list ops)) (users users)))))`);
    expect(os.users.map((u) => [u.name, u.homeDirectory])).toEqual([["carol", "/srv/home/carol"]]);
    expect(os.groups.map((g) => g.name)).toEqual(["ops"]);
  });

  it("let evaluates its expressions outside the new bindings", () => {
    const os = system(`(define h "outer") (define os (let ((h "inner") (x h)) (operating-system (host-name x) (base (linux-busybox-base)))))`);
    expect(os.hostName).toBe("outer");
  });

  it("builds lists with quasiquote, unquote and unquote-splicing", () => {
    const os = system(`
      (define a (user-account (name "a")))
      (define more (list (user-account (name "b")) (user-account (name "c"))))
      (define extra '("console=ttyS0" "quiet"))
      (define os (operating-system ${HEAD}
        (users \`(,a ,@more))
        (kernel-arguments \`("init=/sbin/init" ,@extra ,(string-append "log" "level=3")))))`);
    expect(os.users.map((u) => u.name)).toEqual(["a", "b", "c"]);
    expect(os.kernelArguments).toEqual(["init=/sbin/init", "console=ttyS0", "quiet", "loglevel=3"]);
  });

  it("supports quote, cons and append", () => {
    const os = system(`(define os (operating-system ${HEAD}
      (kernel-arguments (append (cons "a" '("b")) (quote ("c")) '()))))`);
    expect(os.kernelArguments).toEqual(["a", "b", "c"]);
  });

  it("supports inherit, recomputing defaults that depend on other fields", () => {
    const decl = parseDeclaration(`
      (define template (user-account (name "t") (shell "/bin/ash") (uid 1000)))
      (define base-os (operating-system ${HEAD} (users (list template))))
      (define os (operating-system (inherit base-os) (host-name "other")
        (users (list (user-account (inherit template) (name "dave") (uid 1001))))))`, "test.scm");
    expect(selectSystem(decl, "base-os").hostName).toBe("h");
    const os = selectSystem(decl, "os");
    expect(os.hostName).toBe("other");
    expect(os.users.map((u) => [u.name, u.uid, u.shell, u.homeDirectory])).toEqual([["dave", 1001, "/bin/ash", "/home/dave"]]);
  });

  it("accepts every known module, getty on two ttys and explicit built-in groups", () => {
    const os = system(`(use-modules (fruix system) (fruix services) (fruix bases) (fruix users) (gnu) (gnu system) (gnu services))
      (define os (operating-system ${HEAD}
        (groups (list (user-group (name "wheel") (gid 20)) (user-group (name "staff") (gid 10))))
        (users (list (user-account (name "root") (uid 0) (group "root") (supplementary-groups '("wheel" "staff")))))
        (services (list (service getty-service-type (getty-configuration (tty "ttyS0")))
                        (service getty-service-type (getty-configuration (tty "tty1") (baud-rate 9600)))
                        (service validation-shell-service-type (validation-shell-configuration (tty "ttyS1")))))))`);
    expect(os.groups.map((g) => [g.name, g.gid])).toEqual([
      ["staff", 10],
      ["wheel", 20],
    ]);
    expect(os.services.map((s) => s.config["tty"])).toEqual(["ttyS0", "tty1", "ttyS1"]);
  });

  it("reads every service type and base", () => {
    const os = system(`(define os (operating-system (host-name "bsd.example.org") (base (freebsd-base (dist-directory "/srv/dist")))
      (timezone "Europe/Paris")
      (users (list (user-account (name "e") (password "$6$salt$hash") (comment "E. Xample"))))
      (services (list (service syslogd-service-type (syslogd-configuration (log-file "/var/log/all")))
                      (service klogd-service-type) (service crond-service-type)
                      (service dhcp-client-service-type (dhcp-client-configuration (interface "vtnet0")))
                      (service sshd-service-type (sshd-configuration (authorized-keys '("ssh-ed25519 AAAA e@x"))))
                      (service validation-shell-service-type)))))`);
    expect(content(os.base)).toEqual({ family: "freebsd", distDirectory: "/srv/dist" });
    expect(os.users[0]!.password).toBe("$6$salt$hash");
    expect(os.services.map((s) => [s.type, s.config])).toEqual([
      ["syslogd", { "log-file": "/var/log/all" }],
      ["klogd", {}],
      ["crond", {}],
      ["dhcp-client", { interface: "vtnet0" }],
      ["sshd", { port: 22, "authorized-keys": ["ssh-ed25519 AAAA e@x"] }],
      ["validation-shell", { tty: "ttyS0" }],
    ]);
    expect(system(`(define os (operating-system (host-name "b") (base (freebsd-base))))`).base).not.toHaveProperty("distDirectory");
  });

  it("lists systems in file order and selects them by name", () => {
    const decl = parseDeclaration(
      `(define b (operating-system (host-name "b") (base (linux-busybox-base))))
       (define user (user-account (name "u")))
       (define a (operating-system (inherit b) (host-name "a")))`,
      "two.scm",
    );
    expect([...decl.systems.keys()]).toEqual(["b", "a"]);
    expect(selectSystem(decl, "a").hostName).toBe("a");
    expect(selectSystem(decl, "a").binding).toBe("a");
  });
});

const HEALTH = `(health-checks (health-check-configuration (deadline 90)
  (checks (list (service-running-check (service "httpd")) (tcp-port-check (port 8080))
                (http-check (port 8080) (path "/index.html")) (http-check (port 8081))
                (command-check (command "test -s /etc/hostname && grep -q web /etc/hostname"))))))`;

describe("health checks", () => {
  const withChecks = (checks: string): OperatingSystem =>
    system(`(define os (operating-system ${HEAD} (services (list (service httpd-service-type))) ${checks}))`);

  it("default to a 120 s deadline and no declared checks", () => {
    expect(withChecks("").healthChecks).toEqual({ deadline: 120, checks: [] });
  });

  it("evaluate in declared order, defaults filled in", () => {
    expect(content(withChecks(HEALTH).healthChecks)).toEqual({
      deadline: 90,
      checks: [
        { kind: "service-running", service: "httpd" },
        { kind: "tcp-port", port: 8080 },
        { kind: "http", port: 8080, path: "/index.html" },
        { kind: "http", port: 8081, path: "/" },
        { kind: "command", command: "test -s /etc/hostname && grep -q web /etc/hostname" },
      ],
    });
  });
});

describe("canonicalSystem", () => {
  const source = `
    (use-modules (fruix system))
    (define os
      (operating-system
        (host-name "web")
        (base (linux-busybox-base))
        (groups (list (user-group (name "ops") (gid 1100)) (user-group (name "dev"))))
        (users (list (user-account (name "zed") (uid 1001)) (user-account (name "amy") (uid 1000) (comment "say \\"hi\\""))))
        (services (list (service syslogd-service-type)
                        (service httpd-service-type (httpd-configuration (port 8080)))))))`;
  const canonical = (text: string): string => canonicalSystem(system(text));

  it("ignores whitespace, comments and the binding name", () => {
    const reformatted = `;; the same system, written differently
      (define   other-name #| renamed |# (operating-system (host-name "web") (base (linux-busybox-base (kernel-package "linux-image-amd64")))
      (groups (list (user-group (name "ops") (gid 1100)) (user-group (name "dev")))) #;(timezone "CET")
      (users (list (user-account (name "zed") (uid 1001)) (user-account (name "amy") (uid 1000) (comment "say \\"hi\\"") (shell "/bin/sh"))))
      (services (list (service syslogd-service-type (syslogd-configuration))
        (service httpd-service-type (httpd-configuration (port 8080) (index "Welcome to Fruix\\n")))))))`;
    expect(canonical(reformatted)).toBe(canonical(source));
  });

  it("ignores the order of users and groups", () => {
    const swapped = source
      .replace('(user-group (name "ops") (gid 1100)) (user-group (name "dev"))', '(user-group (name "dev")) (user-group (name "ops") (gid 1100))')
      .replace(/\(user-account \(name "zed"\) \(uid 1001\)\) (\(user-account .*\\"\)\))/, '$1 (user-account (name "zed") (uid 1001))');
    expect(swapped).not.toBe(source);
    expect(canonical(swapped)).toBe(canonical(source));
  });

  it("changes when any field changes, including the order of services", () => {
    const variants = [
      source.replace('"web"', '"web2"'),
      source.replace("(uid 1001)", "(uid 1002)"),
      source.replace("(port 8080)", "(port 8081)"),
      source.replace("(gid 1100)", ""),
      source.replace('(name "dev")', '(name "dev") (gid 1200)'),
      source.replace("(linux-busybox-base)", '(linux-busybox-base (kernel-package "linux-image-cloud-amd64"))'),
      source.replace('(host-name "web")', '(host-name "web") (timezone "CET")'),
      source.replace('(host-name "web")', '(host-name "web") (kernel-arguments (list "quiet"))'),
      source.replace('(comment "say \\"hi\\"")', '(comment "say hi")'),
      source.replace("(service syslogd-service-type)", "(service klogd-service-type)"),
      source.replace('(host-name "web")', '(host-name "web") (health-checks (health-check-configuration (deadline 60)))'),
      source.replace('(host-name "web")', '(host-name "web") (health-checks (health-check-configuration (checks (list (http-check (port 8080))))))'),
      source.replace('(host-name "web")', '(host-name "web") (health-checks (health-check-configuration (checks (list (tcp-port-check (port 8080))))))'),
      source.replace(
        /\(service syslogd-service-type\)\s*\(service httpd-service-type \(httpd-configuration \(port 8080\)\)\)/,
        "(service httpd-service-type (httpd-configuration (port 8080))) (service syslogd-service-type)",
      ),
    ];
    const all = new Set([canonical(source), ...variants.map(canonical)]);
    expect(all.size).toBe(variants.length + 1);
  });

  it("reads back to the same system", () => {
    const once = canonical(source);
    expect(canonical(`(define os ${once})`)).toBe(once);
    const checked = canonical(source.replace('(host-name "web")', `(host-name "web") ${HEALTH}`));
    expect(checked).toContain('(health-checks (health-check-configuration (deadline 90) (checks (list (service-running-check (service "httpd"))');
    expect(canonical(`(define os ${checked})`)).toBe(checked);
    const minimal = canonicalSystem(system(`(define os (operating-system ${HEAD} (users (list (user-account (name "x") (comment "tab\\there\\x1;"))))))`));
    expect(minimal).toContain('(comment "tab\\there\\x1;")');
    expect(canonical(`(define os ${minimal})`)).toBe(minimal);
  });
});
