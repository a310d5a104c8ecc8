// `fruix system copy`: the pure parts (destinations, known_hosts, ordering,
// manifests), then whole copies over real SSH (ssh2's server, in this process)
// into a directory standing in for a guest's root: the real receiver script
// runs under /bin/sh with FRUIX_ROOT pointing there. The copy into a booted
// guest (dropbear) is the switch-rollback scenario's.
import { spawn } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { chmod, mkdir, readdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Transform } from "node:stream";
import ssh2, { type ParsedKey } from "ssh2";

const { Server, utils } = ssh2;
import { afterAll, describe, expect, it } from "vitest";
import { copyClosure, keyValues, referencesFirst } from "../lib/copy/copy.js";
import { parseDestination } from "../lib/copy/destination.js";
import { ed25519KeyPair } from "../lib/copy/keygen.js";
import { fingerprint, hostsMatch, knownHostsLine, parseKnownHosts, verifyHostKey } from "../lib/copy/known-hosts.js";
import { itemManifest, manifestDifference } from "../lib/copy/manifest.js";
import { withSession } from "../lib/copy/ssh.js";
import { silentLogger } from "../lib/log.js";
import { hashItemTree } from "../lib/store/hash.js";
import { parseStorePath } from "../lib/store/paths.js";
import type { Store } from "../lib/store/index.js";
import { cleanupTempDirs, exampleFile, freshStore, fruix, tempDir } from "./helpers/fixtures.js";
import { addBootItem, addClosure, helper, installTree } from "./helpers/guest-tree.js";

afterAll(cleanupTempDirs);

describe("destinations", () => {
  it("reads ssh://[USER@]HOST[:PORT] with root and port 22 by default", () => {
    expect(parseDestination("ssh://10.0.0.5")).toEqual({ user: "root", host: "10.0.0.5", port: 22, url: "ssh://root@10.0.0.5" });
    expect(parseDestination("ssh://alice@example.org:2222/")).toMatchObject({ user: "alice", host: "example.org", port: 2222 });
    expect(parseDestination("ssh://[::1]:2200")).toMatchObject({ host: "::1", port: 2200, url: "ssh://root@[::1]:2200" });
  });

  it.each([
    ["root@host", /only ssh:\/\//],
    ["ssh://root:secret@host", /passwords are not accepted/],
    ["ssh://host/frx/store", /unexpected path/],
    ["ssh://host:99999", /not a valid URL/],
  ])("refuses %s in one line", (text, why) => {
    expect(() => parseDestination(text)).toThrow(why);
  });
});

describe("ed25519KeyPair", () => {
  it("gives pairs ssh2 reads back (plain generateKeyPairSync fails about 1 in 256)", () => {
    for (let i = 0; i < 1500; i++) {
      const pair = ed25519KeyPair();
      expect(utils.parseKey(pair.private)).not.toBeInstanceOf(Error);
      expect(utils.parseKey(pair.public)).not.toBeInstanceOf(Error);
      expect(pair.parsed.getPublicSSH().equals(Buffer.from(pair.public.split(" ")[1]!, "base64"))).toBe(true);
    }
  });
});

describe("known_hosts", () => {
  const a = ed25519KeyPair();
  const b = ed25519KeyPair();
  const blob = (pub: string) => Buffer.from(pub.split(" ")[1]!, "base64");
  const keyA = blob(a.public);
  const keyB = blob(b.public);

  it("knows a listed key, on port 22 and as [host]:port", () => {
    const entries = parseKnownHosts(`# comment\nexample.org,10.0.0.5 ${a.public}\n[127.0.0.1]:2222 ${b.public}\n`);
    expect(verifyHostKey(entries, "10.0.0.5", 22, keyA)).toEqual({ kind: "known", line: 2 });
    expect(verifyHostKey(entries, "127.0.0.1", 2222, keyB)).toEqual({ kind: "known", line: 3 });
    expect(verifyHostKey(entries, "127.0.0.1", 22, keyB)).toEqual({ kind: "unknown" });
  });

  it("calls another key for a known host a change", () => {
    const entries = parseKnownHosts(`[127.0.0.1]:2222 ${a.public}\n`);
    expect(verifyHostKey(entries, "127.0.0.1", 2222, keyB)).toEqual({ kind: "changed", lines: [1] });
  });

  it("honours @revoked, negation and hashed host names", () => {
    const salt = Buffer.from("0123456789abcdef0123");
    const hashed = `|1|${salt.toString("base64")}|${createHash("sha1").update("x").digest("base64")}`;
    expect(hostsMatch(hashed, "[127.0.0.1]:2222")).toBe(false);
    const real = `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update("[127.0.0.1]:2222").digest("base64")}`;
    expect(hostsMatch(real, "[127.0.0.1]:2222")).toBe(true);
    expect(hostsMatch("*.example.org,!bad.example.org", "bad.example.org")).toBe(false);
    expect(hostsMatch("*.example.org,!bad.example.org", "good.example.org")).toBe(true);
    const entries = parseKnownHosts(`@revoked * ${a.public}\n`);
    expect(verifyHostKey(entries, "anything", 22, keyA)).toEqual({ kind: "revoked", line: 1 });
  });

  it("writes lines ssh reads and OpenSSH's fingerprint", () => {
    expect(knownHostsLine("127.0.0.1", 2222, keyA)).toBe(`[127.0.0.1]:2222 ${a.public.split(" ").slice(0, 2).join(" ")}`);
    expect(fingerprint(keyA)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe("ordering and manifests", () => {
  it("puts every item after what it references", () => {
    const refs = new Map([
      ["/frx/store/c-sys", ["/frx/store/a-lib", "/frx/store/b-app", "/frx/store/c-sys"]],
      ["/frx/store/b-app", ["/frx/store/a-lib"]],
      ["/frx/store/a-lib", []],
    ]);
    expect(referencesFirst(["/frx/store/c-sys", "/frx/store/b-app", "/frx/store/a-lib"], refs)).toEqual([
      "/frx/store/a-lib",
      "/frx/store/b-app",
      "/frx/store/c-sys",
    ]);
    expect(() => referencesFirst(["/frx/store/x", "/frx/store/y"], new Map([["/frx/store/x", ["/frx/store/y"]], ["/frx/store/y", ["/frx/store/x"]]]))).toThrow(/cycle/);
  });

  it("says what differs between what was sent and what arrived", () => {
    const sent = ["d\t.", "f\t./a\t-\t00"];
    expect(manifestDifference(sent, [...sent])).toBeUndefined();
    expect(manifestDifference(sent, ["d\t.", "f\t./a\t-\t11"])).toBe("arrived 'f ./a - 11' where the store has 'f ./a - 00'");
    expect(manifestDifference(sent, ["d\t."])).toBe("'f ./a - 00' did not arrive");
    expect(manifestDifference(sent, [...sent, "l\t./b\tx"])).toBe("'l ./b x' arrived but is not part of the item");
  });
});

/** A little closure: a library, a program referring to it, a system referring to both. */
async function sampleClosure(store: Store): Promise<{ system: string; items: string[] }> {
  const lib = await store.add("libsample-1.0", async (dir) => {
    await mkdir(join(dir, "lib"));
    await writeFile(join(dir, "lib", "libsample.so"), Buffer.alloc(6000, 7));
    await writeFile(join(dir, "lib", "empty"), "");
  });
  const app = await store.add(
    "sample-app-1.0",
    async (dir) => {
      await mkdir(join(dir, "bin"));
      await writeFile(join(dir, "bin", "sample"), `#!/bin/sh\necho ${lib}\n`);
      await chmod(join(dir, "bin", "sample"), 0o755);
      await mkdir(join(dir, "share", "a name with spaces"), { recursive: true });
      await writeFile(join(dir, "share", "a name with spaces", "data"), "x".repeat(70_000));
    },
    { references: [lib] },
  );
  const noteFile = join(await tempDir(), "note");
  await writeFile(noteFile, "a single-file item\n");
  const note = await store.addFile("sample-note", noteFile);
  const system = await store.add(
    "fruix-system-sample",
    async (dir) => {
      await mkdir(join(dir, "profile", "bin"), { recursive: true });
      await symlink(`${app}/bin/sample`, join(dir, "profile", "bin", "sample"));
      await symlink(note, join(dir, "note"));
    },
    { references: [app, note] },
  );
  return { system, items: [lib, app, note, system] };
}

interface GuestDouble {
  readonly port: number;
  readonly root: string;
  readonly hostKey: Buffer;
  close(): Promise<void>;
}

/**
 * A stand-in for a Fruix guest's SSH server: ssh2's server, key auth for one
 * client key, commands run by /bin/sh with FRUIX_ROOT=root (the helper too). `damage` flips
 * byte 4000 of the input of commands that mention it: inside libsample.so's data.
 */
async function guestDouble(root: string, clientKey: ParsedKey, options: { damage?: string; port?: number; hostKey?: string } = {}): Promise<GuestDouble> {
  // The installed helper is this repository's, run by the host's sh on the tree at FRUIX_ROOT.
  const inGuest = (command: string) => command.replaceAll("/usr/local/bin/fruix ", `/bin/sh ${helper} `);
  const hostKeyPem = options.hostKey ?? ed25519KeyPair().private;
  const hostKey = utils.parseKey(hostKeyPem) as ParsedKey;
  const server = new Server({ hostKeys: [hostKeyPem] }, (client) => {
    client
      .on("authentication", (ctx) => {
        if (ctx.method === "publickey" && ctx.key.algo === clientKey.type && ctx.key.data.equals(clientKey.getPublicSSH())) {
          if (!ctx.signature || clientKey.verify(ctx.blob!, ctx.signature, ctx.hashAlgo)) return ctx.accept();
        }
        ctx.reject(["publickey"]);
      })
      .on("ready", () => {
        client.on("session", (accept) => {
          accept().on("exec", (acceptExec, _reject, info) => {
            const channel = acceptExec();
            const child = spawn("/bin/sh", ["-c", inGuest(info.command)], { env: { ...process.env, FRUIX_ROOT: root } });
            let seen = 0;
            const damaged = options.damage !== undefined && info.command.includes(options.damage);
            const damage = new Transform({
              transform(chunk: Buffer, _enc, done) {
                if (damaged && seen <= 4000 && seen + chunk.length > 4000) chunk[4000 - seen] ^= 0xff;
                seen += chunk.length;
                done(null, chunk);
              },
            });
            channel.pipe(damage).pipe(child.stdin);
            child.stdout.pipe(channel, { end: false });
            child.stderr.pipe(channel.stderr, { end: false });
            child.on("close", (code) => {
              channel.exit(code ?? 255);
              channel.end();
            });
          });
        });
      })
      .on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    root,
    hostKey: hostKey.getPublicSSH(),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function remoteStore(root: string): Promise<string[]> {
  return (await readdir(join(root, "frx", "store"))).sort();
}

describe("fruix system copy over SSH", () => {
  const client = ed25519KeyPair();
  const clientKey = client.parsed;

  async function setup() {
    const store = await freshStore();
    const { system, items } = await sampleClosure(store);
    const dir = await tempDir("fruix-copy-");
    const root = join(dir, "guest");
    await mkdir(join(root, "frx", "store"), { recursive: true });
    const identity = join(dir, "id_ed25519");
    await writeFile(identity, client.private, { mode: 0o600 });
    return { store, system, items, root, identity, knownHosts: join(dir, "known_hosts") };
  }

  it("sends the missing items, which re-hash to their names on arrival, and nothing the second time", async () => {
    const { store, system, items, root, identity, knownHosts } = await setup();
    const guest = await guestDouble(root, clientKey);
    try {
      const destination = parseDestination(`ssh://root@127.0.0.1:${guest.port}`);
      const options = { identity, knownHosts, acceptNewHostKey: true, log: silentLogger };
      const first = await withSession(destination, options, (s) => copyClosure(s, store, system, silentLogger));
      expect(first.sent).toHaveLength(4);
      expect(first.sent.at(-1)).toBe(system); // dependencies first, the system last
      expect(await remoteStore(root)).toEqual(items.map((i) => i.slice("/frx/store/".length)).sort());
      for (const item of items) {
        const parts = parseStorePath(item);
        const digest = await hashItemTree(join(root, item), { name: parts.name, references: await store.references(item) });
        expect(digest.hash).toBe(parts.hash);
        expect(await itemManifest(join(root, item))).toEqual(await itemManifest(store.toHostPath(item)));
      }
      expect(await readFile(knownHosts, "utf8")).toBe(`${knownHostsLine("127.0.0.1", guest.port, guest.hostKey)}\n`);

      const again = await withSession(destination, { ...options, acceptNewHostKey: false }, (s) => copyClosure(s, store, system, silentLogger));
      expect([again.items.length, again.sent.length, again.bytesSent]).toEqual([4, 0, 0]);
    } finally {
      await guest.close();
    }
  });

  it("commits nothing when an item arrives damaged, and leaves no staging behind", async () => {
    const { store, system, root, identity, knownHosts } = await setup();
    const guest = await guestDouble(root, clientKey, { damage: "libsample-1.0" });
    try {
      const destination = parseDestination(`ssh://root@127.0.0.1:${guest.port}`);
      const copy = withSession(destination, { identity, knownHosts, acceptNewHostKey: true, log: silentLogger }, (s) =>
        copyClosure(s, store, system, silentLogger),
      );
      await expect(copy).rejects.toThrow(/-libsample-1\.0 arrived damaged at ssh:\/\/root@127\.0\.0\.1:\d+: arrived 'f \.\/lib\/libsample\.so - [0-9a-f]{64}' where the store has/);
      expect(await remoteStore(root)).toEqual([]);
    } finally {
      await guest.close();
    }
  });

  it("refuses an unknown host key unless told to record it, and a changed one always", async () => {
    const { store, system, root, identity, knownHosts } = await setup();
    const guest = await guestDouble(root, clientKey);
    const destination = parseDestination(`ssh://root@127.0.0.1:${guest.port}`);
    try {
      const copy = (accept: boolean) =>
        withSession(destination, { identity, knownHosts, acceptNewHostKey: accept, log: silentLogger }, (s) => copyClosure(s, store, system, silentLogger));
      await expect(copy(false)).rejects.toThrow(new RegExp(`host key SHA256:\\S+ is not in ${knownHosts}; check it and pass --accept-new-host-key`));
      expect(await remoteStore(root)).toEqual([]);

      const other = ed25519KeyPair().parsed;
      await writeFile(knownHosts, knownHostsLine("127.0.0.1", guest.port, other.getPublicSSH()) + "\n");
      for (const accept of [false, true]) {
        await expect(copy(accept)).rejects.toThrow(/the host key changed: the server offers SHA256:\S+, which does not match .*known_hosts line 1; refusing to send anything/);
      }
      expect(await remoteStore(root)).toEqual([]);
      expect((await readFile(knownHosts, "utf8")).split("\n").filter(Boolean)).toHaveLength(1);
    } finally {
      await guest.close();
    }
  });

  it("says so when the server refuses the key or nothing listens", async () => {
    const { store, system, root, knownHosts } = await setup();
    const guest = await guestDouble(root, clientKey);
    const dir = await tempDir();
    const stranger = join(dir, "id");
    await writeFile(stranger, ed25519KeyPair().private, { mode: 0o600 });
    try {
      const destination = parseDestination(`ssh://root@127.0.0.1:${guest.port}`);
      await expect(
        withSession(destination, { identity: stranger, knownHosts, acceptNewHostKey: true, log: silentLogger }, (s) => copyClosure(s, store, system, silentLogger)),
      ).rejects.toThrow(/the server refused our key/);
    } finally {
      await guest.close();
    }
    const closed = parseDestination(`ssh://root@127.0.0.1:${guest.port}`);
    await expect(withSession(closed, { identity: stranger, knownHosts, log: silentLogger }, async () => undefined)).rejects.toThrow(
      /cannot connect to ssh:\/\/root@127\.0\.0\.1:\d+: connection refused/,
    );
  });
});

describe("fruix system reconfigure", () => {
  it("builds the declaration, copies its closure and switches the machine to it as generation 2", async () => {
    const store = await freshStore();
    const dir = await tempDir("fruix-reconfigure-");
    const root = join(dir, "guest");
    const identity = join(dir, "id_ed25519");
    const client = ed25519KeyPair();
    await writeFile(identity, client.private, { mode: 0o600 });
    // Generation 1: an installed tree running a stand-in closure.
    const first = await addClosure(root, "a", await addBootItem(root, "linux-old", "vmlinuz"), await addBootItem(root, "initramfs-old", "initrd.img"));
    await installTree(root, first, "2026-01-01T00:00:00Z");
    const guest = await guestDouble(root, client.parsed);
    try {
      const r = await fruix(
        ["system", "reconfigure", exampleFile, "--to", `ssh://127.0.0.1:${guest.port}`, "--identity", identity, "--known-hosts", join(dir, "known_hosts"), "--accept-new-host-key", "--quiet"],
        { FRUIX_STORE: store.storeDir },
      );
      expect(r.exitCode, r.stderr).toBe(0);
      const out = keyValues(r.stdout);
      const closure = out.closure_path!;
      expect(closure).toMatch(/^\/frx\/store\/[0-9a-f]{64}-fruix-system-/);
      expect([out.current_generation, out.rollback_generation, Number(out.items_sent) > 0]).toEqual(["2", "1", true]);
      const system = join(root, "var/lib/fruix/system");
      expect(await readlink(join(system, "current"))).toBe("generations/2");
      expect(await readlink(join(system, "generations/2/closure"))).toBe(closure);
      expect(await readlink(join(system, "rollback"))).toBe("generations/1");
      // Every item of the closure arrived, and the boot default is generation 2's entry.
      for (const item of await store.closure([closure])) expect(await remoteStore(root)).toContain(item.slice("/frx/store/".length));
      expect(await readFile(join(root, "boot/efi/loader/loader.conf"), "utf8")).toMatch(/^default fruix-generation-2\.conf$/m);
    } finally {
      await guest.close();
    }
  }, 180_000);

  it("with --trial, stages the closure as generation 2 on trial: generation 1 stays current, its entry the fallback", async () => {
    const store = await freshStore();
    const dir = await tempDir("fruix-reconfigure-");
    const root = join(dir, "guest");
    const identity = join(dir, "id_ed25519");
    const client = ed25519KeyPair();
    await writeFile(identity, client.private, { mode: 0o600 });
    const first = await addClosure(root, "a", await addBootItem(root, "linux-old", "vmlinuz"), await addBootItem(root, "initramfs-old", "initrd.img"));
    await installTree(root, first, "2026-01-01T00:00:00Z");
    const guest = await guestDouble(root, client.parsed);
    try {
      const r = await fruix(
        ["system", "reconfigure", exampleFile, "--to", `ssh://127.0.0.1:${guest.port}`, "--identity", identity, "--known-hosts", join(dir, "known_hosts"), "--accept-new-host-key", "--quiet", "--trial"],
        { FRUIX_STORE: store.storeDir },
      );
      expect(r.exitCode, r.stderr).toBe(0);
      const out = keyValues(r.stdout);
      expect([out.trial_generation, out.fallback_generation, out.reboot_required]).toEqual(["2", "1", "yes"]);
      const system = join(root, "var/lib/fruix/system");
      expect(await readlink(join(system, "current"))).toBe("generations/1");
      expect(await readFile(join(system, "trial"), "utf8")).toBe("2 1\n");
      expect(await readlink(join(system, "generations/2/closure"))).toBe(out.closure_path);
      expect(await readFile(join(root, "boot/efi/loader/loader.conf"), "utf8")).toMatch(/^default fruix-generation-1\.\*$/m);
      const entry = await readFile(join(root, "boot/efi/loader/entries/fruix-generation-1.trial-2+1.conf"), "utf8");
      expect(entry).toMatch(/^options .* fruix\.system=\S+ .* fruix\.trial=2 panic=10$/m);
      // The closure carries its health checks for the helper (examples/minimal.scm declares none: the default).
      expect(await readFile(join(root, out.closure_path!, "metadata/health-checks"), "utf8")).toContain("deadline 120\nactivation\n");
    } finally {
      await guest.close();
    }
  }, 180_000);
});

describe("the fruix system copy command", () => {
  it("refuses bad input in one line before connecting", async () => {
    const store = await freshStore();
    const env = { FRUIX_STORE: store.storeDir };
    const cases: Array<[string[], RegExp]> = [
      [["system", "copy", "/frx/store/x"], /^fruix: system copy needs --to ssh:\/\/\[USER@\]HOST\[:PORT\]$/],
      [["system", "copy", "/frx/store/x", "--to", "ftp://h"], /^fruix: --to ftp:\/\/h: only ssh:\/\/ destinations are supported/],
      [["system", "copy", "--to", "ssh://h"], /^fruix: expected CLOSURE: fruix system copy CLOSURE$/],
      [["system", "reconfigure", "examples/minimal.scm"], /^fruix: system reconfigure needs --to/],
    ];
    for (const [args, message] of cases) {
      const r = await fruix(args, env);
      expect(r.exitCode, args.join(" ")).toBe(2);
      expect(r.stderr.trim()).toMatch(message);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  it("refuses a closure that is not in the store, naming it, before connecting", async () => {
    const store = await freshStore();
    const dir = await tempDir();
    const missing = `/frx/store/${"0".repeat(64)}-fruix-system-nowhere`;
    const identity = join(dir, "id");
    await writeFile(identity, ed25519KeyPair().private, { mode: 0o600 });
    // Port 1 has no listener: reaching the connection would fail with another message.
    const r = await fruix(["system", "copy", missing, "--to", "ssh://127.0.0.1:1", "--identity", identity, "--known-hosts", join(dir, "kh")], {
      FRUIX_STORE: store.storeDir,
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toBe(`fruix: ${missing} is not in the store ${store.storeDir} (build it first)`);
  });

  it("refuses an unusable identity before building or opening a store", async () => {
    const dir = await tempDir();
    const unopened = join(dir, "store");
    await writeFile(join(dir, "not-a-key"), "hello\n", { mode: 0o600 });
    for (const [identity, message] of [
      [join(dir, "absent"), `fruix: cannot read the SSH identity ${join(dir, "absent")}`],
      [join(dir, "not-a-key"), `fruix: cannot use the SSH identity ${join(dir, "not-a-key")}: Unsupported key format`],
    ]) {
      const r = await fruix(["system", "reconfigure", exampleFile, "--to", "ssh://127.0.0.1:1", "--identity", identity!], { FRUIX_STORE: unopened });
      expect(r.exitCode).toBe(2);
      expect(r.stderr.trim()).toBe(message);
    }
    await expect(readdir(unopened)).rejects.toThrow(/ENOENT/);
  });

});
