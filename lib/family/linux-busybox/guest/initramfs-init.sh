#!/bin/busybox sh
# Fruix initramfs: load the boot modules, find and mount the root file system,
# then hand over to the system closure named by fruix.system= on the command line.
# With fruix.root=ram the root is already here: the boot loader passed a second
# initrd holding a whole root tree (the installer's), which the kernel unpacked
# over this one; the closure's stage 2 then runs from RAM as PID 1.
/bin/busybox mkdir -p /bin /proc /sys /dev /newroot
/bin/busybox --install -s /bin
PATH=/bin
export PATH

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

fail() {
	echo "fruix-initramfs: $*"
	echo "fruix-initramfs: dropping to emergency shell"
	exec sh
}

root=
ramroot=
rootfstype=ext4
system=
rootwait=30
# The command line is one line of words.
# shellcheck disable=SC2013
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	root=*) root=${arg#root=} ;;
	fruix.root=ram) ramroot=yes ;;
	rootfstype=*) rootfstype=${arg#rootfstype=} ;;
	fruix.system=*) system=${arg#fruix.system=} ;;
	fruix.rootwait=*) rootwait=${arg#fruix.rootwait=} ;;
	esac
done
[ -n "$root" ] || [ -n "$ramroot" ] || fail "no root= on the kernel command line"
[ -n "$system" ] || fail "no fruix.system= on the kernel command line"

# Drivers for hardware that is absent refuse to load; that is expected.
while read -r module; do
	insmod "/lib/modules/$module.ko" 2>/dev/null
done </lib/modules/load-order

if [ -n "$ramroot" ]; then
	[ -f "$system/boot/init" ] || fail "fruix.root=ram, but system $system is not in the root image (was it passed as a second initrd?)"
	exec "$system/boot/init"
fi

find_root() {
	case "$root" in
	UUID=* | LABEL=*) findfs "$root" 2>/dev/null ;;
	/dev/*) [ -b "$root" ] && echo "$root" ;;
	*) fail "unsupported root=$root (use UUID=, LABEL= or /dev/...)" ;;
	esac
}

tries=$((rootwait * 10))
until device=$(find_root) && [ -n "$device" ]; do
	tries=$((tries - 1))
	[ "$tries" -gt 0 ] || fail "root device $root not found after ${rootwait}s"
	sleep 0.1
done

mount -t "$rootfstype" -o rw "$device" /newroot || fail "cannot mount $device ($root) as $rootfstype"
[ -f "/newroot$system/boot/init" ] || fail "system $system is not on $device"

for fs in dev proc sys; do
	mkdir -p "/newroot/$fs"
	mount --move "/$fs" "/newroot/$fs"
done
exec switch_root /newroot "$system/boot/init"
