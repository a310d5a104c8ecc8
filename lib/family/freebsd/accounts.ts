// /etc/master.passwd and /etc/group for a FreeBSD system (pure): the world's
// own system accounts (root, daemon, operator, wheel, ...) with the declared
// users and groups added. Activation installs them with pwd_mkdb(8).
import { BUILTIN_GROUPS } from "../../declaration/schema.js";
import type { OperatingSystem, SourceLocation } from "../../declaration/types.js";
import { FruixError } from "../../errors.js";
import { NO_PASSWORD } from "../../system/accounts.js";

export interface FreebsdUser {
  readonly name: string;
  readonly password: string;
  readonly uid: number;
  readonly gid: number;
  /** master.passwd fields 5-7 (login class, change, expire), kept as the world has them. */
  readonly classChangeExpire: string;
  readonly gecos: string;
  readonly home: string;
  readonly shell: string;
}

export interface FreebsdGroup {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

export interface FreebsdAccounts {
  readonly users: readonly FreebsdUser[];
  readonly groups: readonly FreebsdGroup[];
  /** Users the declaration names: activation creates their home directories. */
  readonly declared: readonly string[];
}

const FIRST_ALLOCATED_ID = 1000;

function lines(text: string): string[][] {
  return text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((l) => l.split(":"));
}

export function parseGroupFile(text: string): FreebsdGroup[] {
  return lines(text).map(([name, , gid, members]) => ({
    name: name!, gid: Number(gid), members: (members ?? "").split(",").filter(Boolean),
  }));
}

export function parseMasterPasswd(text: string): FreebsdUser[] {
  return lines(text).map((f) => ({
    name: f[0]!, password: f[1]!, uid: Number(f[2]), gid: Number(f[3]),
    classChangeExpire: f.slice(4, 7).join(":"), gecos: f[7] ?? "", home: f[8] ?? "", shell: f[9] ?? "",
  }));
}

function at(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}:${loc.column}`;
}

function allocate(taken: Set<number>): number {
  let id = FIRST_ALLOCATED_ID;
  while (taken.has(id)) id++;
  taken.add(id);
  return id;
}

/**
 * Merges the declaration into the world's accounts. A declared user or group
 * replaces the world's of the same name; an id another name holds is an
 * error at the declaration. Fruix's built-in group names the world lacks
 * ("users") are added with Fruix's gid when a user needs them and it is free;
 * otherwise the name means the gid ("root" is gid 0, FreeBSD's wheel).
 */
export function freebsdAccounts(os: OperatingSystem, worldMasterPasswd: string, worldGroup: string): FreebsdAccounts {
  const declaredGroups = new Map(os.groups.map((g) => [g.name, g]));
  const groups = parseGroupFile(worldGroup).filter((g) => !declaredGroups.has(g.name));
  const gidOwner = new Map(groups.map((g) => [g.gid, g.name]));
  const gidTaken = new Set([...gidOwner.keys(), ...os.groups.flatMap((g) => (g.gid === undefined ? [] : [g.gid]))]);
  for (const group of os.groups) {
    const owner = group.gid === undefined ? undefined : gidOwner.get(group.gid);
    if (owner) throw new FruixError(`${at(group.location)}: group '${group.name}' gid ${group.gid} is taken by FreeBSD's group '${owner}'`);
  }
  for (const group of os.groups) groups.push({ name: group.name, gid: group.gid ?? allocate(gidTaken), members: [] });

  const gidOf = (name: string): number => {
    const found = groups.find((g) => g.name === name);
    if (found) return found.gid;
    const builtin = BUILTIN_GROUPS.get(name)!; // the declaration reader checked the name
    if (!gidTaken.has(builtin)) {
      gidTaken.add(builtin);
      groups.push({ name, gid: builtin, members: [] });
    }
    return builtin;
  };

  const declaredUsers = [...os.users].sort((a, b) => (a.name < b.name ? -1 : 1));
  const declaredNames = new Set(declaredUsers.map((u) => u.name));
  const world = parseMasterPasswd(worldMasterPasswd);
  // The world's root has no password at all; lock it unless the declaration says otherwise.
  const users = world.filter((u) => !declaredNames.has(u.name)).map((u) => (u.name === "root" && u.password === "" ? { ...u, password: NO_PASSWORD } : u));
  const uidOwner = new Map(users.map((u) => [u.uid, u.name]));
  const uidTaken = new Set([...uidOwner.keys(), ...declaredUsers.flatMap((u) => (u.uid === undefined ? [] : [u.uid]))]);
  for (const user of declaredUsers) {
    const owner = user.uid === undefined ? undefined : uidOwner.get(user.uid);
    if (owner) throw new FruixError(`${at(user.location)}: user '${user.name}' uid ${user.uid} is taken by FreeBSD's user '${owner}'`);
  }
  for (const user of declaredUsers) {
    users.push({
      name: user.name, password: user.password ?? NO_PASSWORD, uid: user.uid ?? allocate(uidTaken), gid: gidOf(user.group),
      classChangeExpire: ":0:0", gecos: user.comment, home: user.homeDirectory, shell: user.shell,
    });
  }
  const members = new Map<number, string[]>();
  for (const user of declaredUsers) {
    for (const name of user.supplementaryGroups) {
      const gid = gidOf(name); // a built-in name the world lacks may alias a world group's gid
      members.set(gid, [...(members.get(gid) ?? []), user.name]);
    }
  }
  const merged = groups.map((g) => ({ ...g, members: [...g.members, ...(members.get(g.gid) ?? []).filter((m) => !g.members.includes(m))] }));
  return { users, groups: merged, declared: declaredUsers.map((u) => u.name) };
}

export function masterPasswdFile(accounts: FreebsdAccounts): string {
  return accounts.users
    .map((u) => `${u.name}:${u.password}:${u.uid}:${u.gid}:${u.classChangeExpire}:${u.gecos}:${u.home}:${u.shell}\n`)
    .join("");
}

export function freebsdGroupFile(accounts: FreebsdAccounts): string {
  return accounts.groups.map((g) => `${g.name}:*:${g.gid}:${g.members.join(",")}\n`).join("");
}
