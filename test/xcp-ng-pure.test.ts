// The xcp-ng adapter's pure parts: XML-RPC encoding as XAPI speaks it, XAPI's
// status structs, settings from the environment (secrets never in the
// description), host identity for the report, and the test double's QEMU
// command line and console command parsing.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { linuxDiskDevice } from "../scenarios/checks/installer.js";
import { ACTIVATED } from "../lib/validate/guest.js";
import { describeConfig, normalizeTlsFingerprint, readConfig } from "../hypervisors/xcp-ng/config.js";
import { hostNote, identifyHost } from "../hypervisors/xcp-ng/index.js";
import { vbdRecord, vdiRecord } from "../hypervisors/xcp-ng/machine.js";
import { hostKeyFingerprint, xlConsoleCommand } from "../hypervisors/xcp-ng/ssh-console.js";
import { qemuArgs } from "./doubles/xcp-ng/domain.js";
import { parseXlConsole } from "./doubles/xcp-ng/ssh.js";
import { hostUrl, tlsFingerprintMatches } from "../hypervisors/xcp-ng/xapi.js";
import { ed25519KeyPair } from "../lib/copy/keygen.js";
import {
  decodeCall,
  decodeResponse,
  decodeTaskResult,
  encodeCall,
  encodeResponse,
  encodeValue,
  failure,
  SESSION_WITHHELD,
  success,
  unwrapXapi,
  XapiError,
  XmlRpcFormatError,
  type XmlRpcValue,
} from "../hypervisors/xcp-ng/xmlrpc.js";
import { cleanupTempDirs, tempDir } from "./helpers/fixtures.js";

afterAll(cleanupTempDirs);

describe("XML-RPC as XAPI speaks it", () => {
  it("encodes a call with positional parameters, the session first", () => {
    const xml = encodeCall("VM.start", ["OpaqueRef:s", "OpaqueRef:vm", true, false]);
    expect(xml).toContain("<methodName>VM.start</methodName>");
    expect(xml).toContain(
      "<params><param><value><string>OpaqueRef:s</string></value></param><param><value><string>OpaqueRef:vm</string></value></param>" +
        "<param><value><boolean>1</boolean></value></param><param><value><boolean>0</boolean></value></param></params>",
    );
  });

  it("escapes markup in strings and struct names", () => {
    expect(encodeValue({ "a<b": "x & <y>" })).toBe("<value><struct><member><name>a&lt;b</name><value><string>x &amp; &lt;y&gt;</string></value></member></struct></value>");
  });

  it("round-trips every type through encode and decode", async () => {
    const params: XmlRpcValue[] = ["s", "", "  spaces  ", 42, -7, 1.5, true, false, new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), [], ["a", ["b"]], {}, { k: { n: "v" }, list: [1, "2"] }];
    const call = await decodeCall(encodeCall("x.y", params));
    expect(call.method).toBe("x.y");
    expect(call.params).toEqual(params);
  });

  it("reads a <value> without a type element as a string, as XAPI sends them", async () => {
    const xml = `<?xml version="1.0"?><methodResponse><params><param><value><struct>
      <member><name>Status</name><value>Success</value></member>
      <member><name>Value</name><value><array><data><value>OpaqueRef:1</value><value></value></data></array></value></member>
    </struct></value></param></params></methodResponse>`;
    expect(unwrapXapi(await decodeResponse(xml))).toEqual(["OpaqueRef:1", ""]);
  });

  it("turns a Failure into a XapiError with code and parameters", async () => {
    const answer = await decodeResponse(encodeResponse(failure("VM_BAD_POWER_STATE", ["OpaqueRef:vm", "halted, suspended", "running"])));
    let error: unknown;
    try {
      unwrapXapi(answer, "VM.destroy");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(XapiError);
    expect((error as XapiError).code).toBe("VM_BAD_POWER_STATE");
    expect((error as XapiError).params).toEqual(["OpaqueRef:vm", "halted, suspended", "running"]);
    expect((error as XapiError).message).toBe('VM.destroy: VM_BAD_POWER_STATE "OpaqueRef:vm" "halted, suspended" "running"');
    expect(unwrapXapi(await decodeResponse(encodeResponse(success(""))))).toBe("");
  });

  it("never shows a session reference in an error message", async () => {
    const invalid = new XapiError("SESSION_INVALID", ["OpaqueRef:secret-session"], "VM.get_all");
    expect(invalid.message).toBe(`VM.get_all: SESSION_INVALID ${SESSION_WITHHELD}`);
    expect(invalid.params).toEqual(["OpaqueRef:secret-session"]);
    // Decoded from the wire, the same.
    const decoded = (() => {
      try {
        unwrapXapi({ Status: "Failure", ErrorDescription: ["SESSION_INVALID", "OpaqueRef:secret-session"] }, "VM.get_all");
      } catch (e) {
        return e as Error;
      }
    })();
    expect(decoded?.message).not.toContain("secret-session");
    // Any other error that echoes the caller's session.
    const echoed = new XapiError("MESSAGE_PARAMETER_COUNT_MISMATCH", ["OpaqueRef:mine", "2"], "x.y", ["OpaqueRef:mine"]);
    expect(echoed.message).toBe(`x.y: MESSAGE_PARAMETER_COUNT_MISMATCH ${SESSION_WITHHELD} "2"`);
    expect(new XapiError("HANDLE_INVALID", ["VM", "OpaqueRef:vm"]).message).toBe('HANDLE_INVALID "VM" "OpaqueRef:vm"');
  });

  it("rejects what is not XML-RPC, or not a XAPI status struct", async () => {
    await expect(decodeResponse("not xml <")).rejects.toBeInstanceOf(XmlRpcFormatError);
    await expect(decodeCall("<methodCall></methodCall>")).rejects.toThrow(/no <methodName>/);
    await expect(decodeResponse("<methodResponse><params><param><value><foo>1</foo></value></param></params></methodResponse>")).rejects.toThrow(/unknown XML-RPC type <foo>/);
    await expect(decodeResponse("<methodResponse><params><param><value><boolean>yes</boolean></value></param></params></methodResponse>")).rejects.toThrow(/<boolean>/);
    expect(() => unwrapXapi("plain")).toThrow(XmlRpcFormatError);
    expect(() => unwrapXapi({ Status: "Failure", ErrorDescription: [] })).toThrow(/malformed Failure/);
  });

  it("decodes task.get_result's text: a <value> element, or nothing for void", async () => {
    expect(await decodeTaskResult("<value>OpaqueRef:abc</value>")).toBe("OpaqueRef:abc");
    expect(await decodeTaskResult(encodeValue(["a", "b"]))).toEqual(["a", "b"]);
    expect(await decodeTaskResult("")).toBe("");
  });
});

describe("settings from the environment", () => {
  const hostKey = `SHA256:${"b".repeat(43)}`;
  const base = { FRUIX_XAPI_URL: "https://pool.example:443/", FRUIX_XAPI_USER: "root", FRUIX_XAPI_PASSWORD: "s3cret-pw", FRUIX_XCPNG_SSH_HOST_KEY: hostKey };

  it("reads a full configuration with defaults", () => {
    const config = readConfig(base);
    expect(config.url.origin).toBe("https://pool.example");
    expect(config.sr).toBe("Local storage");
    expect(config.isoSr).toBe("ISO library");
    expect(config.ssh).toEqual({ user: "root", port: 22, privateKey: undefined, hostKeySha256: hostKey });
    expect(config.tlsSha256).toBeUndefined();
  });

  it("refuses SSH password authentication (the XAPI password) unless the host key is pinned", async () => {
    const { FRUIX_XCPNG_SSH_HOST_KEY: _k, ...unpinned } = base;
    expect(() => readConfig(unpinned)).toThrow(/sends? the XAPI password over SSH to an unverified host: set FRUIX_XCPNG_SSH_HOST_KEY/);
    // An empty value (an unset CI secret) is no pin either.
    expect(() => readConfig({ ...unpinned, FRUIX_XCPNG_SSH_HOST_KEY: "" })).toThrow(/set FRUIX_XCPNG_SSH_HOST_KEY/);
    // Key authentication without a pin is allowed (the console warns loudly).
    const keyFile = join(await tempDir(), "key");
    writeFileSync(keyFile, "not really a key\n");
    const keyed = readConfig({ ...unpinned, FRUIX_XCPNG_SSH_KEY_FILE: keyFile });
    expect(keyed.ssh.hostKeySha256).toBeUndefined();
    expect(describeConfig(keyed)).toContain("key authentication, host key NOT checked");
  });

  it("reads a pinned TLS fingerprint in openssl's or Node's form, and refuses a malformed one", () => {
    const hex = "ab".repeat(32);
    const node = Array(32).fill("AB").join(":");
    expect(readConfig({ ...base, FRUIX_XAPI_TLS_SHA256: hex }).tlsSha256).toBe(node);
    expect(readConfig({ ...base, FRUIX_XAPI_TLS_SHA256: `sha256 Fingerprint=${node.toLowerCase()}` }).tlsSha256).toBe(node);
    expect(readConfig({ ...base, FRUIX_XAPI_TLS_SHA256: "" }).tlsSha256).toBeUndefined();
    expect(() => readConfig({ ...base, FRUIX_XAPI_TLS_SHA256: "ab".repeat(31) })).toThrow("FRUIX_XAPI_TLS_SHA256 must be a SHA-256 certificate fingerprint");
    expect(() => readConfig({ ...base, FRUIX_XAPI_URL: "http://pool.example/", FRUIX_XAPI_TLS_SHA256: hex })).toThrow("FRUIX_XAPI_TLS_SHA256 is set but FRUIX_XAPI_URL is not https://");
    expect(normalizeTlsFingerprint("zz".repeat(32))).toBeUndefined();
    expect(describeConfig(readConfig({ ...base, FRUIX_XAPI_TLS_SHA256: hex }))).toContain("(TLS certificate pinned)");
    expect(describeConfig(readConfig(base))).toContain("(TLS certificate NOT checked)");
  });

  it("compares certificate fingerprints exactly (case aside)", () => {
    const pin = Array(32).fill("AB").join(":");
    expect(tlsFingerprintMatches(pin.toLowerCase(), pin)).toBe(true);
    expect(tlsFingerprintMatches(pin.replace(/B$/, "C"), pin)).toBe(false);
    expect(tlsFingerprintMatches(undefined, pin)).toBe(false);
    expect(tlsFingerprintMatches("", pin)).toBe(false);
  });

  it("reads the password from a file, without its trailing newline", async () => {
    const file = join(await tempDir(), "pw");
    writeFileSync(file, "from-file\n");
    const { FRUIX_XAPI_PASSWORD: _, ...rest } = base;
    expect(readConfig({ ...rest, FRUIX_XAPI_PASSWORD_FILE: file }).password).toBe("from-file");
  });

  it("says which variable is wrong, in one line", () => {
    const { FRUIX_XAPI_URL: _u, ...noUrl } = base;
    expect(() => readConfig(noUrl)).toThrow("the xcp-ng adapter needs FRUIX_XAPI_URL (see docs/xcp-ng.md)");
    const { FRUIX_XAPI_PASSWORD: _p, ...noPassword } = base;
    expect(() => readConfig(noPassword)).toThrow("needs FRUIX_XAPI_PASSWORD or FRUIX_XAPI_PASSWORD_FILE");
    expect(() => readConfig({ ...base, FRUIX_XAPI_PASSWORD_FILE: "/x" })).toThrow("set one of FRUIX_XAPI_PASSWORD and FRUIX_XAPI_PASSWORD_FILE, not both");
    expect(() => readConfig({ ...base, FRUIX_XAPI_URL: "ftp://h/" })).toThrow("must be http:// or https://");
    expect(() => readConfig({ ...base, FRUIX_XAPI_URL: "nope" })).toThrow("FRUIX_XAPI_URL is not a URL");
    expect(() => readConfig({ ...base, FRUIX_XAPI_URL: "https://root:pw@h/" })).toThrow("must not carry credentials");
    expect(() => readConfig({ ...base, FRUIX_XCPNG_SSH_PORT: "0" })).toThrow('FRUIX_XCPNG_SSH_PORT must be a port number, not "0"');
    expect(() => readConfig({ ...base, FRUIX_XCPNG_SSH_HOST_KEY: "abc" })).toThrow("FRUIX_XCPNG_SSH_HOST_KEY must be a host key fingerprint");
    const { FRUIX_XAPI_PASSWORD: _q, ...rest } = base;
    expect(() => readConfig({ ...rest, FRUIX_XAPI_PASSWORD_FILE: "/nonexistent/pw" })).toThrow("FRUIX_XAPI_PASSWORD_FILE: cannot read /nonexistent/pw: ENOENT");
  });

  it("describes the configuration without the password", () => {
    const text = describeConfig(readConfig(base));
    expect(text).toBe('XAPI https://pool.example (TLS certificate NOT checked) as root; SR "Local storage", ISO SR "ISO library", network "Pool-wide network associated with eth0"; console over SSH as root (port 22, password authentication, host key pinned)');
    expect(text).not.toContain("s3cret-pw");
  });
});

describe("pool addresses and host identity", () => {
  it("builds the master's URL from HOST_IS_SLAVE's address, keeping scheme and port", () => {
    expect(hostUrl(new URL("https://10.0.0.5/"), "10.0.0.1").href).toBe("https://10.0.0.1/");
    expect(hostUrl(new URL("http://127.0.0.2:8080/"), "127.0.0.1").href).toBe("http://127.0.0.1:8080/");
    expect(hostUrl(new URL("http://h:8080/"), "m:9090").href).toBe("http://m:9090/");
    expect(hostUrl(new URL("https://h/"), "fd00::1").href).toBe("https://[fd00::1]/");
  });

  it("names a real host by brand and version, and a test double plainly as one", () => {
    const real = identifyHost("xcp1", { product_brand: "XCP-ng", product_version: "8.2.1" }, {});
    expect(hostNote(real, "https://xcp1")).toBe("host: XCP-ng 8.2.1 (xcp1) at https://xcp1");
    const double = identifyHost("t", { product_brand: "XCP-ng", product_version: "8.2.1" }, { "fruix-test-double": "true" });
    expect(double.testDouble).toBe(true);
    expect(hostNote(double, "http://127.0.0.1:1")).toMatch(/^host: XCP-ng TEST DOUBLE .*not passing against XCP-ng$/);
  });

  it("guests see Xen PV disks on a pool, the bus the test double says it gives otherwise", () => {
    expect(identifyHost("xcp1", {}, {}).diskBus).toBe("xen");
    expect(identifyHost("t", {}, { "fruix-test-double": "true", "fruix-test-double-disk-bus": "virtio" }).diskBus).toBe("virtio");
    expect(identifyHost("t", {}, { "fruix-test-double": "true", "fruix-test-double-disk-bus": "ide" }).diskBus).toBe("ide");
    expect(identifyHost("t", {}, { "fruix-test-double-disk-bus": "scsi" }).diskBus).toBe("xen");
    expect(linuxDiskDevice("xen", 1)).toBe("/dev/xvdb");
    expect(linuxDiskDevice("ide", 0)).toBe("/dev/sda");
    expect(linuxDiskDevice("virtio", 1)).toBe("/dev/vdb");
  });
});

describe("the activation line on a console", () => {
  it("is found when a kernel message follows the path on the same line, and never in a cut path", () => {
    const path = `/frx/store/${"1d".repeat(32)}-fruix-system-fruix-minimal-next`;
    // As the double's e1000 printed it during switch-rollback's reboot:
    expect(ACTIVATED.exec(`fruix: activated ${path}[    5.937794] e1000: eth0 NIC Link is Up\r\n`)?.[1]).toBe(path);
    expect(ACTIVATED.exec(`fruix: activated ${path}\r\n`)?.[1]).toBe(path);
    expect(ACTIVATED.exec(`fruix: activated ${path}`)).toBeNull();
    expect(ACTIVATED.exec(`fruix: activated ${path.slice(0, 40)}`)).toBeNull();
  });
});

describe("records the adapter sends", () => {
  it("VDI.create gets every field XAPI needs, the size as an int64 string", () => {
    const r = vdiRecord("n", "OpaqueRef:sr", 136314880, "d");
    expect(r.virtual_size).toBe("136314880");
    expect(Object.keys(r).sort()).toEqual(["SR", "name_description", "name_label", "other_config", "read_only", "sharable", "sm_config", "tags", "type", "virtual_size", "xenstore_data"]);
  });

  it("a CD VBD is read-only and removable, empty when there is no ISO; disk 0 is bootable", () => {
    expect(vbdRecord("OpaqueRef:vm", null, "3", "CD")).toMatchObject({ mode: "RO", type: "CD", empty: true, VDI: "OpaqueRef:NULL", unpluggable: true, bootable: false });
    expect(vbdRecord("OpaqueRef:vm", "OpaqueRef:vdi", "0", "Disk")).toMatchObject({ mode: "RW", type: "Disk", empty: false, bootable: true });
    expect(vbdRecord("OpaqueRef:vm", "OpaqueRef:vdi", "1", "Disk").bootable).toBe(false);
  });
});

describe("the serial console command", () => {
  it("is xl console -t serial <domid>, for guest domains only", () => {
    expect(xlConsoleCommand(7)).toBe("xl console -t serial 7");
    expect(() => xlConsoleCommand(0)).toThrow(/not a guest domain id/);
    expect(() => xlConsoleCommand(-1)).toThrow(/not a guest domain id/);
    expect(parseXlConsole("xl console -t serial 12")).toBe(12);
    expect(parseXlConsole("xl console 12")).toBeUndefined();
    expect(parseXlConsole("xl console -t serial 1; rm -rf /")).toBeUndefined();
  });

  it("fingerprints host keys the way ssh-keygen -l does", async () => {
    const pair = ed25519KeyPair();
    const parsed = pair.parsed;
    const file = join(await tempDir(), "key.pub");
    writeFileSync(file, pair.public + "\n");
    const { stdout } = await execa("ssh-keygen", ["-l", "-E", "sha256", "-f", file], { reject: false });
    if (!stdout) return void expect.soft(stdout, "ssh-keygen is not installed; fingerprint compared to nothing").not.toBe("");
    expect(stdout.split(" ")[1]).toBe(hostKeyFingerprint(parsed.getPublicSSH()));
  });
});

describe("the test double's domains", () => {
  const spec = {
    domid: 4, name: "vm", dir: "/t/d", memoryMiB: 512, vcpus: 2, uefi: true, nvram: "/t/nv.fd", paused: true, accel: "tcg" as const,
    disks: [
      { slot: 0, kind: "Disk" as const, file: "/t/a.raw", readOnly: false },
      { slot: 3, kind: "CD" as const, file: null, readOnly: true },
    ],
  };

  it("runs QEMU like a Xen HVM guest: CDs in the IDE slot of their userdevice, disks at a PCI slot from it, OVMF for uefi, paused on request, no reboot", () => {
    const args = qemuArgs(spec).join(" ");
    expect(args).toContain("-machine pc");
    expect(args).toContain("virtio-blk-pci,drive=drive0,addr=0x10");
    expect(qemuArgs({ ...spec, disks: [{ slot: 1, kind: "Disk", file: "/t/b.raw", readOnly: false }] }).join(" ")).toContain("virtio-blk-pci,drive=drive1,addr=0x11");
    expect(args).toContain("ide-cd,drive=drive3,bus=ide.1,unit=1,id=cd3");
    expect(args).toContain("if=none,id=drive3,media=cdrom,readonly=on -device");
    expect(args).toMatch(/if=pflash,format=raw,file=\/t\/nv\.fd/);
    expect(args).toContain("-no-reboot");
    expect(args).toMatch(/ -S$/);
  });

  it("uses SeaBIOS (no pflash) when the VM's firmware is not uefi", () => {
    expect(qemuArgs({ ...spec, uefi: false, paused: false }).join(" ")).not.toContain("pflash");
  });
});
