// The linux-busybox guest as validation sees it: ttyS0, Linux's and the
// initramfs's failure lines, and a BusyBox probe.
import type { GuestProfile } from "../guest-profile.js";
import { planService } from "./services.js";

const PROBE = `
cs=$(readlink /run/current-system)
echo "current_system=$cs"
echo "host_name=$(hostname)"
echo "activation_logged=$(grep -c "activated $cs" /var/log/fruix-activation.log)"
echo "users=$(cut -d: -f1 /etc/passwd | tr '\\n' ' ')"
echo "processes=$(ps -o comm | sort -u | tr '\\n' ' ')"
echo "current_link=$(readlink /var/lib/fruix/system/current)"
echo "current_generation=$(cat /var/lib/fruix/system/current-generation)"
echo "generation_closure=$(readlink /var/lib/fruix/system/generations/1/closure)"
echo "generation_files=$(ls /var/lib/fruix/system/generations/1 | tr '\\n' ' ')"
echo "gcroot_current=$(readlink /frx/var/fruix/gcroots/current-system)"
echo "gcroot_generation=$(readlink /frx/var/fruix/gcroots/system-1)"
echo "esp_mounted=$(grep -c ' /boot/efi ' /proc/mounts)"
echo "helper_current=$(/usr/local/bin/fruix system status | sed -n 's/^current_closure=//p')"
`;

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
  probeScript: PROBE.trim().split("\n").join("; "),
  expectedProcesses: (os) => os.services.map(planService).flatMap((p) => (p.process ? [p.process] : [])),
};
