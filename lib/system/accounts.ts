// /etc/passwd, /etc/group and /etc/shadow from a declaration (pure).
import { BUILTIN_GROUPS } from "../declaration/schema.js";
import type { OperatingSystem, UserAccount, UserGroup } from "../declaration/types.js";

const FIRST_ALLOCATED_ID = 1000;

/**
 * /etc/shadow's "no password": no password login, but SSH keys still work.
 * ("!" would lock the account, and dropbear and OpenSSH refuse locked accounts
 * even a key.)
 */
export const NO_PASSWORD = "*";

export interface ResolvedUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly comment: string;
  readonly home: string;
  readonly shell: string;
  readonly password: string;
}

export interface ResolvedGroup {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

export interface Accounts {
  readonly users: readonly ResolvedUser[];
  readonly groups: readonly ResolvedGroup[];
}

/** Lowest id >= 1000 not yet taken. Allocation follows name order, so it does not depend on list order. */
function allocate(taken: Set<number>): number {
  let id = FIRST_ALLOCATED_ID;
  while (taken.has(id)) id++;
  taken.add(id);
  return id;
}

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function resolveAccounts(os: OperatingSystem): Accounts {
  const declared = new Map<string, UserGroup>(os.groups.map((g) => [g.name, g]));
  const gidTaken = new Set<number>([...os.groups.flatMap((g) => (g.gid === undefined ? [] : [g.gid]))]);
  const groups = new Map<string, number>();
  // Built-in groups exist unless the declaration redeclares them (its gid wins).
  for (const [name, gid] of BUILTIN_GROUPS) {
    if (!declared.has(name)) groups.set(name, gid), gidTaken.add(gid);
  }
  for (const group of [...os.groups].sort(byName)) groups.set(group.name, group.gid ?? allocate(gidTaken));

  const declaredUsers = [...os.users].sort(byName);
  const uidTaken = new Set<number>([0, ...declaredUsers.flatMap((u) => (u.uid === undefined ? [] : [u.uid]))]);
  const resolve = (u: UserAccount): ResolvedUser => ({
    name: u.name,
    uid: u.uid ?? allocate(uidTaken),
    gid: groups.get(u.group)!,
    comment: u.comment,
    home: u.homeDirectory,
    shell: u.shell,
    password: u.password ?? NO_PASSWORD,
  });
  const root: ResolvedUser = { name: "root", uid: 0, gid: 0, comment: "root", home: "/root", shell: "/bin/sh", password: NO_PASSWORD };
  const users = [
    ...(declaredUsers.some((u) => u.name === "root") ? [] : [root]),
    ...declaredUsers.map(resolve),
  ].sort((a, b) => a.uid - b.uid);

  const members = (group: string) =>
    declaredUsers.filter((u) => u.supplementaryGroups.includes(group)).map((u) => u.name);
  return {
    users,
    groups: [...groups].map(([name, gid]) => ({ name, gid, members: members(name) })).sort((a, b) => a.gid - b.gid),
  };
}

export function passwdFile(accounts: Accounts): string {
  return accounts.users.map((u) => `${u.name}:x:${u.uid}:${u.gid}:${u.comment}:${u.home}:${u.shell}\n`).join("");
}

export function shadowFile(accounts: Accounts): string {
  // Field 3 (last change, in days) is fixed so the closure stays reproducible.
  return accounts.users.map((u) => `${u.name}:${u.password}:1::::::\n`).join("");
}

export function groupFile(accounts: Accounts): string {
  return accounts.groups.map((g) => `${g.name}:x:${g.gid}:${g.members.join(",")}\n`).join("");
}
