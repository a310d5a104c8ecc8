// Every way a declaration can be wrong gives one located, one-line error that
// names the offending thing. Positions below were worked out by hand.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeclarationError, FruixError } from "../lib/errors.js";
import { loadDeclaration, parseDeclaration, selectSystem } from "../lib/declaration/index.js";

const FILE = "bad.scm";

/** A valid system with `extra` on line 2, so an error in it is at 2:<column in extra>. */
const os = (extra: string): string => `(define os (operating-system (host-name "h") (base (linux-busybox-base))\n${extra}))`;

/** `body` as line 2 of a user-account inside a valid system. */
const user = (body: string): string => `(define os (operating-system (host-name "h") (base (linux-busybox-base)) (users (list (user-account\n${body})))))`;

function declarationError(source: string): DeclarationError {
  try {
    parseDeclaration(source, FILE);
  } catch (error) {
    if (error instanceof DeclarationError) return error;
    throw error;
  }
  throw new Error(`no error for:\n${source}`);
}

function expectError(source: string, line: number, column: number, fragment: string): void {
  const error = declarationError(source);
  expect(error.message).not.toContain("\n");
  expect(error.message.startsWith(`${FILE}:${line}:${column}: `), error.message).toBe(true);
  expect(error.detail).toContain(fragment);
  expect([error.file, error.line, error.column]).toEqual([FILE, line, column]);
}

describe("syntax errors", () => {
  const cases: Array<[string, string, number, number, string]> = [
    ["unclosed parenthesis points at the innermost unclosed one", '(define os\n  (operating-system\n    (host-name "x")', 2, 3, "unclosed '('"],
    ["unexpected close parenthesis", "(define x 1))", 1, 13, "unexpected ')'"],
    ["close bracket that does not match", "(define x (list 1]\n", 1, 18, "']' does not match the '(' opened at 1:11"],
    ["unterminated string", '(define x "abc\n\n', 1, 11, "unterminated string"],
    ["unterminated nested block comment", "#| outer\n #| inner |#\n(define x 1)\n", 1, 1, "unterminated block comment"],
    ["unknown string escape", '(define x "a\\qb")', 1, 13, "unknown string escape '\\q'"],
    ["datum comment with no datum", "(define x 1)\n#;", 2, 1, "'#;' is not followed by a datum"],
    ["quote with no datum", "(define x ')", 1, 11, "''' is not followed by a datum"],
    ["dotted pair", "(define x '(a . b))", 1, 15, "dotted pairs"],
    ["#< syntax", "(define x #<procedure list>)", 1, 11, "unsupported syntax '#<procedure'"],
    ["character literal", "(define x #\\a)", 1, 11, "character literals"],
    ["vector literal", "(define x #(1 2))", 1, 11, "vectors"],
    ["NUL byte", "(define x 1)\n  \0(define y 2)", 2, 3, "control character U+0000"],
    ["NUL byte inside a comment", "; header \0 garbage\n", 1, 10, "control character U+0000"],
    ["nesting too deep", "(define x " + "(list ".repeat(100_000), 1, 6005, "nested more than 1000 levels deep"],
    ["quote marks nested too deep", "(define x " + "'".repeat(100_000) + "a)", 1, 1010, "nested more than 1000 levels deep"],
    ["datum comments nested too deep", "#;".repeat(100_000), 1, 2001, "nested more than 1000 levels deep"],
    ["integer too large", "(define x 123456789012345678901234)", 1, 11, "integer 123456789012345678901234 is too large"],
  ];
  for (const [name, source, line, column, fragment] of cases) {
    it(name, () => expectError(source, line, column, fragment));
  }
});

describe("evaluation errors", () => {
  const cases: Array<[string, string, number, number, string]> = [
    ["empty file", "", 1, 1, "no operating-system is defined"],
    ["file with only comments", ";; nothing here\n#| still nothing |#\n#;(define x 1)\n", 1, 1, "no operating-system is defined"],
    ["file binding no operating-system", '(define alice (user-account (name "alice")))', 1, 1, "no operating-system is defined"],
    ["top-level expression that is not a define", '(use-modules (fruix system))\n(operating-system (host-name "h"))', 2, 1, "found (operating-system ...); bind it"],
    ["top-level Guix form", "(use-service-modules networking ssh)", 1, 1, "found (use-service-modules ...) (not supported: use (use-modules (fruix services)))"],
    ["top-level literal", "42", 1, 1, "only (define NAME EXPRESSION) and (use-modules ...) may appear at top level"],
    ["unknown module", "(use-modules (fruix system)\n             (gnu packages linux))", 2, 14, "unknown module (gnu packages linux)"],
    ["malformed module name", '(use-modules "fruix")', 1, 14, "malformed module name"],
    ["define with no value", "(define x)", 1, 1, "malformed define"],
    ["define of a number", "(define 1 2)", 1, 1, "malformed define"],
    ["define with two values", "(define x 1 2)", 1, 1, "malformed define"],
    ["procedure define", "(define (f x) x)", 1, 1, "procedure definitions like (define (f ...) ...) are not supported"],
    ["define of the same name twice", "(define x 1)\n(define x 2)", 2, 9, "'x' is already defined at 1:9"],
    ["define of a built-in name", "(define list 1)", 1, 9, "cannot bind 'list'"],
    ["define inside let", "(define x (let ()\n (define y 1) y))", 2, 2, "define is only allowed at top level"],
    ["undefined name", os("(users (list bob))"), 2, 14, "undefined name 'bob'"],
    ["applying a string", '(define x ("a" 1))', 1, 12, "cannot apply the string \"a\": it is not a procedure"],
    ["applying a bound non-procedure", '(define x "a")\n(define y (x 1))', 2, 12, "'x' is the string \"a\", not a procedure"],
    ["empty combination", "(define x ())", 1, 11, "empty combination"],
    ["unquote outside quasiquote", "(define y 1)\n(define x ,y)", 2, 11, "unquote (,) outside of a quasiquote"],
    ["unquote-splicing not inside a list", "(define y '(1))\n(define x `,@y)", 2, 12, "unquote-splicing (,@) must be inside a list"],
    ["splicing a non-list", "(define y 1)\n(define x `(a ,@y))", 2, 17, "unquote-splicing (,@) needs a list, got the integer 1"],
    ["named let", "(define x (let loop ((i 1)) i))", 1, 16, "named let is not supported"],
    ["malformed let binding", "(define x (let ((y)) y))", 1, 17, "malformed let binding"],
    ["let binding the same name twice", "(define x (let ((y 1) (y 2)) y))", 1, 24, "'y' is bound twice"],
    ["lambda", "(define f (lambda (x) x))", 1, 12, "'lambda' is not supported"],
    ["if", "(define x (if #t 1 2))", 1, 12, "'if' is not supported"],
    ["cons onto a non-list", "(define x (cons 1 2))", 1, 19, "cons: the second argument must be a list"],
    ["append of a non-list", "(define x (append '(1) 2))", 1, 24, "append: argument 2 must be a list"],
    ["string-append of a number", '(define x (string-append "a" 1))', 1, 30, "string-append: argument 2 must be a string"],
  ];
  for (const [name, source, line, column, fragment] of cases) {
    it(name, () => expectError(source, line, column, fragment));
  }
  it("undefined name with a suggestion", () => {
    const source = '(define alice (user-account (name "alice")))\n(define os (operating-system (host-name "h") (base (linux-busybox-base))\n(users (list alise))))';
    expectError(source, 3, 14, "undefined name 'alise' (did you mean 'alice'?)");
  });
});

describe("record errors", () => {
  const cases: Array<[string, string, number, number, string]> = [
    ["unknown field with a suggestion", os('(hostname "x")'), 2, 2, "unknown field 'hostname' in operating-system (did you mean 'host-name'?)"],
    ["unknown field without a close match", os('(colour "red")'), 2, 2, "unknown field 'colour' in operating-system (fields: host-name, base,"],
    ["missing required field host-name", "(define os\n  (operating-system (base (linux-busybox-base))))", 2, 3, "operating-system is missing required field 'host-name'"],
    ["missing required field base", '(define os (operating-system (host-name "h")))', 1, 12, "missing required field 'base'"],
    ["missing user name", user('(uid 1000)'), 1, 87, "user-account is missing required field 'name'"],
    ["field given twice", os('(timezone "UTC") (timezone "CET")'), 2, 19, "field 'timezone' is given twice in operating-system (first at 2:2)"],
    ["field clause that is not a list", os('"x"'), 2, 1, "operating-system expects field clauses like (host-name VALUE)"],
    ["field with two values", os('(timezone "UTC" "CET")'), 2, 1, "field 'timezone' in operating-system needs exactly one value, got 2"],
    ["number where a string is expected", "(define os (operating-system (base (linux-busybox-base))\n(host-name 42)))", 2, 12, "operating-system field 'host-name': expected a string, got the integer 42"],
    ["symbol where a string is expected", "(define os (operating-system (base (linux-busybox-base))\n(host-name 'h)))", 2, 12, "expected a string, got the symbol 'h'"],
    ["string where a list is expected", os('(users "alice")'), 2, 8, "operating-system field 'users': expected a list of user-account records, got the string \"alice\""],
    ["wrong element in a list", os('(users (list "alice"))'), 2, 14, "expected a list of user-account records, but element 1 is the string \"alice\""],
    ["field of another record", os('(kernel-arguments (list "quiet")) (groups (list (user-group (name "x") (base 1))))'), 2, 73, "unknown field 'base' in user-group"],
    ["wrong record type for base", '(define os (operating-system (host-name "h")\n(base (user-group (name "x")))))', 2, 7, "expected a linux-busybox-base or freebsd-base record, got a user-group record"],
    ["inherit of the wrong record", '(define g (user-group (name "g")))\n(define u (user-account (inherit g)))', 2, 34, "inherit in user-account expects a user-account record, got a user-group record"],
    ["inherit of a non-record", os("(inherit 1)"), 2, 10, "inherit in operating-system expects an operating-system record, got the integer 1"],
    ["bad host name", "(define os (operating-system (base (linux-busybox-base))\n(host-name \"bad_host\")))", 2, 12, "\"bad_host\" is not a valid host name"],
    ["host name label longer than 63", `(define os (operating-system (base (linux-busybox-base))\n(host-name "${"a".repeat(64)}")))`, 2, 12, "is not a valid host name"],
    ["host name ending in a hyphen", "(define os (operating-system (base (linux-busybox-base))\n(host-name \"web-\")))", 2, 12, "\"web-\" is not a valid host name"],
    ["kernel argument with a space", os('(kernel-arguments (list "quiet" "console=ttyS0 loglevel=3"))'), 2, 33, "kernel-arguments': \"console=ttyS0 loglevel=3\" must be one non-empty word"],
    ["bad user name", user('(name "Alice")'), 2, 7, "user-account field 'name': \"Alice\" is not a valid user name"],
    ["user name longer than 32", user(`(name "${"a".repeat(33)}")`), 2, 7, "is not a valid user name"],
    ["negative uid", user('(name "a") (uid -1)'), 2, 17, "user-account field 'uid': -1 is out of range (0..65534)"],
    ["uid too big", user('(name "a") (uid 65535)'), 2, 17, "65535 is out of range (0..65534)"],
    ["non-integer uid", user('(name "a") (uid 1000.5)'), 2, 17, "field 'uid': expected an integer, got the number 1000.5"],
    ["uid written as a string", user('(name "a") (uid "1000")'), 2, 17, "field 'uid': expected an integer, got the string \"1000\""],
    ["relative home directory", user('(name "a") (home-directory "home/a")'), 2, 28, "\"home/a\" is not an absolute path"],
    ["plain-text password", user('(name "a") (password "hunter2")'), 2, 22, "does not look like a crypt(3) hash"],
    ["negative gid", os('(groups (list (user-group (name "ops") (gid -5))))'), 2, 45, "user-group field 'gid': -5 is out of range"],
  ];
  for (const [name, source, line, column, fragment] of cases) {
    it(name, () => expectError(source, line, column, fragment));
  }
});

describe("service errors", () => {
  const cases: Array<[string, string, number, number, string]> = [
    ["unknown service type", os("(services (list (service nginx-service-type)))"), 2, 26, "unknown service type 'nginx-service-type' (known: syslogd-service-type,"],
    ["misspelt service type", os("(services (list (service htpd-service-type)))"), 2, 26, "(did you mean 'httpd-service-type'?)"],
    ["wrong configuration record", os("(services (list (service httpd-service-type (getty-configuration))))"), 2, 45, "httpd-service-type expects a httpd-configuration record, got a getty-configuration record"],
    ["configuration for a service that takes none", os("(services (list (service klogd-service-type (syslogd-configuration))))"), 2, 45, "klogd-service-type takes no configuration"],
    ["service with no arguments", os("(services (list (service)))"), 2, 17, "service expects a service type and an optional configuration"],
    ["service with three arguments", os("(services (list (service klogd-service-type 1 2)))"), 2, 17, "got 3 arguments"],
    ["service of a string", os('(services (list (service "httpd")))'), 2, 26, "service: expected a service type such as httpd-service-type, got the string \"httpd\""],
    ["a service where a list of services is expected", os("(services (service klogd-service-type))"), 2, 11, "expected a list of services, got a service of type klogd"],
    ["a service type where a service is expected", os("(services (list httpd-service-type))"), 2, 17, "but element 1 is the service type httpd-service-type"],
    ["same service type twice", os("(services (list (service httpd-service-type)\n(service crond-service-type) (service httpd-service-type)))"), 3, 30, "service 'httpd' is declared twice (first at 2:17)"],
    ["getty twice on the same tty", os("(services (list (service getty-service-type) (service getty-service-type (getty-configuration (tty \"ttyS0\")))))"), 2, 46, "getty on tty 'ttyS0' is declared twice (first at 2:17)"],
    ["validation-shell and getty on the same tty", os("(services (list (service getty-service-type) (service validation-shell-service-type)))"), 2, 46, "validation-shell and getty both use tty 'ttyS0'"],
    ["bad baud rate", os("(services (list (service getty-service-type (getty-configuration (baud-rate 1234)))))"), 2, 77, "getty-configuration field 'baud-rate': 1234 is not a standard baud rate"],
    ["port out of range", os("(services (list (service httpd-service-type (httpd-configuration (port 70000)))))"), 2, 72, "httpd-configuration field 'port': 70000 is out of range (1..65535)"],
    ["port written as a real", os("(services (list (service sshd-service-type (sshd-configuration (port 22.0)))))"), 2, 70, "expected an integer, got the number 22.0"],
    ["unknown configuration field", os("(services (list (service httpd-service-type (httpd-configuration (root \"/srv\")))))"), 2, 67, "unknown field 'root' in httpd-configuration"],
  ];
  for (const [name, source, line, column, fragment] of cases) {
    it(name, () => expectError(source, line, column, fragment));
  }
});

describe("health-check errors", () => {
  const hc = (inner: string): string => os(`(services (list (service httpd-service-type) (service getty-service-type))) (health-checks (health-check-configuration ${inner}))`);
  const cases: Array<[string, string, number, number, string]> = [
    ["deadline too short", hc("(deadline 5)"), 2, 130, "health-check-configuration field 'deadline': 5 is out of range (10..3600)"],
    ["checks not a list", hc('(checks (http-check (port 80)))'), 2, 128, "expected a list of service-running-check or tcp-port-check or http-check or command-check records, got a http-check record"],
    ["a service where a check is expected", hc("(checks (list (service klogd-service-type)))"), 2, 134, "but element 1 is a service of type klogd"],
    ["http check without a port", hc('(checks (list (http-check (path "/"))))'), 2, 134, "http-check is missing required field 'port'"],
    ["http path without a slash", hc('(checks (list (http-check (port 80) (path "index.html"))))'), 2, 162, "\"index.html\" is not an HTTP path: it must start with '/'"],
    ["tcp port out of range", hc("(checks (list (tcp-port-check (port 0))))"), 2, 156, "tcp-port-check field 'port': 0 is out of range (1..65535)"],
    ["empty command", hc('(checks (list (command-check (command "  "))))'), 2, 158, "must be one non-empty line of shell"],
    ["multi-line command", hc('(checks (list (command-check (command "a\\nb"))))'), 2, 158, "must be one non-empty line of shell"],
    ["unknown field in a check", hc("(checks (list (tcp-port-check (prot 22))))"), 2, 151, "unknown field 'prot' in tcp-port-check (did you mean 'port'?)"],
    ["a service that is not declared", hc('(checks (list (service-running-check (service "htpd"))))'), 2, 134, "service-running-check: service 'htpd' is not declared in this operating-system (did you mean 'httpd'?) (declared: httpd)"],
    ["a terminal service", hc('(checks (list (service-running-check (service "getty"))))'), 2, 134, "service 'getty' runs on a terminal under init, not as a supervised service"],
    ["health-checks given a check", os("(health-checks (tcp-port-check (port 22)))"), 2, 16, "expected a health-check-configuration record, got a tcp-port-check record"],
  ];
  for (const [name, source, line, column, fragment] of cases) {
    it(name, () => expectError(source, line, column, fragment));
  }
});

describe("cross-record errors", () => {
  const users = (list: string, groups = ""): string =>
    `(define os (operating-system (host-name "h") (base (linux-busybox-base)) ${groups}\n(users (list\n${list}))))`;
  const cases: Array<[string, string, number, number, string]> = [
    ["duplicate user", users('(user-account (name "a"))\n(user-account (name "a"))'), 4, 1, "user 'a' is declared twice (first at 3:1)"],
    ["duplicate user through a variable", `(define a (user-account (name "a")))\n${users("a a")}`, 4, 3, "user 'a' is declared twice (first at 4:1)"],
    ["duplicate uid", users('(user-account (name "a") (uid 1000))\n(user-account (name "b") (uid 1000))'), 4, 31, "uid 1000 of user 'b' is already used by user 'a'"],
    ["duplicate group", os('(groups (list (user-group (name "ops")) (user-group (name "ops"))))'), 2, 41, "group 'ops' is declared twice (first at 2:15)"],
    ["duplicate gid", os('(groups (list (user-group (name "a") (gid 1100)) (user-group (name "b") (gid 1100))))'), 2, 78, "gid 1100 of group 'b' is already used by group 'a'"],
    ["gid of a built-in group", os('(groups (list (user-group (name "staff") (gid 100))))'), 2, 47, "gid 100 of group 'staff' is already used by built-in group 'users'"],
    ["unknown primary group", users('(user-account (name "a") (group "admins"))'), 3, 33, "user 'a' refers to unknown group 'admins'"],
    ["unknown supplementary group", users('(user-account (name "a") (supplementary-groups (list "users" "wheeel")))'), 3, 62, "unknown group 'wheeel' (did you mean 'wheel'?)"],
    ["root with another uid", users('(user-account (name "root") (uid 1))'), 3, 34, "user 'root' must have uid 0"],
    ["root without a uid", users('(user-account (name "root"))'), 3, 21, "user 'root' must have uid 0"],
  ];
  for (const [name, source, line, column, fragment] of cases) {
    it(name, () => expectError(source, line, column, fragment));
  }
});

describe("file and selection errors", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fruix-declaration-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("missing file", async () => {
    const file = join(dir, "absent.scm");
    await expect(loadDeclaration(file)).rejects.toThrow(new DeclarationError(file, 1, 1, "cannot read declaration: no such file"));
  });

  it("a directory", async () => {
    await expect(loadDeclaration(dir)).rejects.toThrow(`${dir}:1:1: cannot read declaration: it is a directory`);
  });

  it("invalid UTF-8 is reported at the first bad byte", async () => {
    const file = join(dir, "garbage.scm");
    const bytes = Buffer.concat([Buffer.from('(define x "h\u00e9llo")\n(define y "ab'), Buffer.from([0xff, 0xfe, 0x00]), Buffer.from('")\n')]);
    await writeFile(file, bytes);
    const error = await loadDeclaration(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeclarationError);
    expect((error as DeclarationError).message).toBe(`${file}:2:14: invalid UTF-8 byte 0xFF: a declaration must be UTF-8 text`);
  });

  it("a truncated multi-byte sequence is invalid", async () => {
    const file = join(dir, "truncated.scm");
    await writeFile(file, Buffer.from([0x28, 0xe2, 0x82]));
    await expect(loadDeclaration(file)).rejects.toThrow(`${file}:1:2: invalid UTF-8 byte 0xE2`);
  });

  const two = '(define a (operating-system (host-name "a") (base (linux-busybox-base))))\n(define b (operating-system (host-name "b") (base (linux-busybox-base))))';

  it("selecting a name that is not bound lists the bindings", () => {
    const decl = parseDeclaration(two, FILE);
    expect(() => selectSystem(decl, "x")).toThrow(`no operating-system bound to 'x' in ${FILE} (bindings: a, b)`);
  });

  it("selecting without a name among two systems lists them", () => {
    const decl = parseDeclaration(two, FILE);
    const error = (() => {
      try {
        selectSystem(decl);
      } catch (e) {
        return e as FruixError;
      }
      throw new Error("no error");
    })();
    expect(error).toBeInstanceOf(FruixError);
    expect(error.message).toBe(`${FILE} defines several operating-systems (a, b): choose one with --system NAME`);
    expect(error.exitCode).toBe(2);
  });

  it("selecting a binding that holds something else than a system", () => {
    const decl = parseDeclaration(`(define u (user-account (name "u")))\n${two}`, FILE);
    expect(() => selectSystem(decl, "u")).toThrow("no operating-system bound to 'u' in bad.scm (bindings: a, b)");
  });
});
