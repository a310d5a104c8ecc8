// mtree(5) manifests (pure): every entry with the owner, mode and flags to
// restore. Store items are normalized (0444/0555, no owners, no setuid), so
// each FreeBSD set item keeps one beside its tree (lib/family/freebsd/tar.ts
// reads it from the set), and the FreeBSD family's UFS2 writer applies it.

/** What the image must restore for one path. */
export interface ManifestEntry {
  readonly type: "file" | "dir" | "link";
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly uname?: string;
  readonly gname?: string;
  readonly link?: string; // symlink target
  readonly flags?: string;
}

/** Path (relative, "." for the top) -> entry, in the archive's order. */
export type Manifest = ReadonlyMap<string, ManifestEntry>;

/** Safe characters stay; everything else (space, glob characters, '#', '\', non-ASCII) is \ooo. */
export function mtreeEscape(path: string): string {
  let out = "";
  for (const byte of Buffer.from(path, "utf8")) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9._\/+,:@%^~=-]/.test(c) ? c : `\\${byte.toString(8).padStart(3, "0")}`;
  }
  return out;
}

export function mtreeUnescape(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const octal = /^\\([0-7]{3})/.exec(text.slice(i));
    if (octal) {
      bytes.push(parseInt(octal[1]!, 8));
      i += 3;
    } else bytes.push(...Buffer.from(text[i]!, "utf8"));
  }
  return Buffer.from(bytes).toString("utf8");
}

export function manifestPath(path: string): string {
  return path === "." ? "." : `./${path}`;
}

/** One mtree line. */
export function mtreeLine(path: string, e: ManifestEntry): string {
  const fields = [
    mtreeEscape(manifestPath(path)), `type=${e.type}`, `uid=${e.uid}`, `gid=${e.gid}`,
    ...(e.uname ? [`uname=${mtreeEscape(e.uname)}`] : []),
    ...(e.gname ? [`gname=${mtreeEscape(e.gname)}`] : []),
    `mode=0${e.mode.toString(8)}`,
    ...(e.link !== undefined ? [`link=${mtreeEscape(e.link)}`] : []),
    ...(e.flags ? [`flags=${e.flags}`] : []),
  ];
  return fields.join(" ");
}

export function formatManifest(manifest: Manifest, origin: string): string {
  const lines = [`#mtree`, `# ${origin}: owners, modes and flags as the set gives them (the store keeps none of them).`];
  for (const [path, entry] of manifest) lines.push(mtreeLine(path, entry));
  return lines.join("\n") + "\n";
}

export function parseManifest(text: string): Manifest {
  const manifest = new Map<string, ManifestEntry>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const [name, ...pairs] = line.split(" ");
    const kv = new Map(pairs.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
    const path = mtreeUnescape(name!).replace(/^\.\//, "");
    manifest.set(path, {
      type: kv.get("type") as ManifestEntry["type"],
      mode: parseInt(kv.get("mode")!, 8),
      uid: Number(kv.get("uid")),
      gid: Number(kv.get("gid")),
      ...(kv.has("uname") ? { uname: mtreeUnescape(kv.get("uname")!) } : {}),
      ...(kv.has("gname") ? { gname: mtreeUnescape(kv.get("gname")!) } : {}),
      ...(kv.has("link") ? { link: mtreeUnescape(kv.get("link")!) } : {}),
      ...(kv.has("flags") ? { flags: kv.get("flags")! } : {}),
    });
  }
  return manifest;
}
