// The freebsd guest as validation would see it: ttyu0 (the first serial
// port), the kernel's and the loader's failure lines, Fruix's installer's,
// and a probe in FreeBSD sh terms (no /proc: mount(8) for the ESP). No FreeBSD
// guest has been booted on this project's test host yet (docs/freebsd.md):
// the family refuses validation until one has checked this profile.
import { type GuestProfile, probeScript } from "../guest-profile.js";

/** The process each daemon service runs, as ps -o comm shows it (the rc.d scripts of the world start them). */
const PROCESSES: Readonly<Record<string, string>> = { syslogd: "syslogd", crond: "cron", sshd: "sshd", "dhcp-client": "dhclient" };

export const freebsdGuest: GuestProfile = {
  consoleTty: "ttyu0",
  failurePatterns: [
    /panic: .*/,
    // The kernel could not mount its root and asks on the console.
    /^mountroot>.*$/m,
    // Fruix's in-guest installer gives up with one line saying why.
    /fruix-installer: error: .*/,
  ],
  quietShell: "stty -echo; PS1=; PS2=; export PS1 PS2; sysctl kern.consmute=0 >/dev/null 2>&1 || true",
  probeScript: probeScript({
    users: "cut -d: -f1 /etc/passwd | grep -v '^#' | tr '\\n' ' '",
    processes: "ps -ax -o comm= | sort -u | tr '\\n' ' '",
    espMounted: "mount -p | grep -c '[[:space:]]/boot/efi[[:space:]]'",
  }),
  expectedProcesses: (os) => os.services.flatMap((s) => (PROCESSES[s.type] ? [PROCESSES[s.type]!] : [])),
};
