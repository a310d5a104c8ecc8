// The linux-busybox guest as validation sees it: ttyS0, Linux's and the
// initramfs's failure lines, and a BusyBox probe.
import { type GuestProfile, probeScript } from "../guest-profile.js";
import { planService } from "./services.js";

export const linuxBusyboxGuest: GuestProfile = {
  consoleTty: "ttyS0",
  failurePatterns: [
    /Kernel panic - not syncing.*/,
    /^.*\bOops: \d{4}.*$/m,
    // Fruix's initramfs and in-guest installer give up with one line saying why.
    /fruix-initramfs: .*/,
    /fruix-installer: error: .*/,
  ],
  quietShell: "stty -echo; PS1=; PS2=; export PS1 PS2; dmesg -n 1",
  probeScript: probeScript({
    users: "cut -d: -f1 /etc/passwd | tr '\\n' ' '",
    processes: "ps -o comm | sort -u | tr '\\n' ' '",
    espMounted: "grep -c ' /boot/efi ' /proc/mounts",
  }),
  expectedProcesses: (os) => os.services.map(planService).flatMap((p) => (p.process ? [p.process] : [])),
};
