# Fruix installer for FreeBSD (runs once, from the md root, on the console):
# partition the install target named in /fruix-installer/install.conf with
# gpart, make its file systems with newfs_msdos and newfs, copy the target
# system the build host staged, record the install, power off.
# Run by rc.d/fruix_installer under FreeBSD's sh; the first line (#!/bin/sh)
# is written by the system builder. Everything the host could decide is in
# /fruix-installer; the disk's size and the root partition's GUID (gpart
# chooses it) are found here.
# FRUIX_INSTALLER_ROOT=DIR (tests only): the payload, the device nodes and the
# mount point are read under DIR instead of /.
set -u
top=${FRUIX_INSTALLER_ROOT:-}
top=${top%/}
payload=$top/fruix-installer
# shellcheck source=/dev/null
. "$payload/install.conf"

say() { echo "fruix-installer: $*"; }
# One clear line, then stay: the console login shows why.
die() {
	printf '\nfruix-installer: error: %s\n' "$*"
	exit 1
}

# The disk a GEOM provider is on: vtbd0p1 -> vtbd0, ada0s1a -> ada0; cd0 is a disk.
disk_of() {
	case $1 in
	*[0-9]p[0-9]*) echo "${1%p[0-9]*}" ;;
	*[0-9]s[0-9]*) echo "${1%s[0-9]*}" ;;
	*) echo "$1" ;;
	esac
}

disks_here() {
	d_list=
	for d in $(sysctl -n kern.disks); do d_list="$d_list /dev/$d"; done
	echo "${d_list# }"
}

wait_for() { # DEVICE SECONDS
	w_tries=$(($2 * 10))
	until [ -e "$top$1" ]; do
		w_tries=$((w_tries - 1))
		[ "$w_tries" -gt 0 ] || return 1
		sleep 0.1
	done
}

say "installing $CLOSURE onto $DEVICE"
case $DEVICE in
/dev/?*) ;;
*) die "install target '$DEVICE' is not a device path (/dev/...)" ;;
esac
wait_for "$DEVICE" "$DEVICE_WAIT" || die "install target device $DEVICE does not exist (disks here: $(disks_here))"
name=${DEVICE#/dev/}
disk=$(disk_of "$name")

# The medium this installer booted from, by the GEOM label its loader.conf
# names (gptid/<ESP GUID> on the installer disk, iso9660/FRUIX_INSTALL on the CD).
boot_label=$(kenv -q fruix.installer.boot 2>/dev/null) || boot_label=
if [ -n "$boot_label" ]; then
	boot_provider=$(glabel status -s | awk -v label="$boot_label" '$1 == label { print $3; exit }')
	[ -n "$boot_provider" ] || die "cannot find the installer's boot medium $boot_label (glabel status -s does not list it)"
	[ "$disk" != "$(disk_of "$boot_provider")" ] ||
		die "install target device $DEVICE is the installer's boot medium (/dev/$boot_provider); refusing to overwrite it"
fi
[ "$disk" = "$name" ] || die "install target device $DEVICE is a partition; name the whole disk (/dev/$disk)"

# The layout of lib/disk/layout.ts: ESP, then the root up to the last MiB (or ROOT_SIZE).
mediasize=$(diskinfo "$DEVICE" | awk '{ print $3 }')
case $mediasize in '' | *[!0-9]*) die "diskinfo cannot tell the size of $DEVICE" ;; esac
sectors=$((mediasize / 512))
available=$(((sectors - TAIL_SECTORS - ROOT_START) / ALIGN_SECTORS * ALIGN_SECTORS))
root_sectors=${ROOT_SIZE:+$((ROOT_SIZE / 512))}
root_sectors=${root_sectors:-$available}
[ "$root_sectors" -le "$available" ] ||
	die "install target device $DEVICE ($((sectors / 2048)) MiB) cannot hold a root of $((root_sectors / 2048)) MiB"
[ $((root_sectors * 512)) -ge "$MIN_ROOT_SIZE" ] ||
	die "install target device $DEVICE ($((sectors / 2048)) MiB) is too small: this system needs a root of at least $((MIN_ROOT_SIZE / 1048576)) MiB"

say "partitioning $DEVICE (GPT: EFI system partition, root of $((root_sectors / 2048)) MiB)"
gpart destroy -F "$disk" >/dev/null 2>&1 || true # a blank disk has no table to destroy
gpart create -s gpt "$disk" >/dev/null || die "gpart could not create a GPT on $DEVICE"
gpart add -t efi -l "$ESP_LABEL" -b "$ESP_START" -s "$ESP_SECTORS" "$disk" >/dev/null ||
	die "gpart could not add the EFI system partition to $DEVICE"
gpart add -t freebsd-ufs -l "$ROOT_LABEL" -b "$ROOT_START" -s "$root_sectors" "$disk" >/dev/null ||
	die "gpart could not add the root partition to $DEVICE"
esp=/dev/${disk}p1
root=/dev/${disk}p2
if ! wait_for "$esp" 10 || ! wait_for "$root" 10; then
	die "the kernel did not show the new partitions of $DEVICE"
fi
# gpart chooses the partition's GUID; install.scm records it.
root_guid=$(gpart list "$disk" | awk -v p="${disk}p2" '$2 == "Name:" { name = $3 } $1 == "rawuuid:" && name == p { print $2 }')
[ -n "$root_guid" ] || die "gpart list $disk shows no GUID for ${disk}p2"

say "formatting $esp (FAT32) and $root (UFS2)"
newfs_msdos -F 32 -c 1 -L "$ESP_VOLUME_LABEL" "$esp" >/dev/null || die "newfs_msdos failed on $esp"
newfs -O 2 -b "$UFS_BLOCK_SIZE" -f "$UFS_FRAGMENT_SIZE" -i "$UFS_DENSITY" -m "$UFS_MINFREE" "$root" >/dev/null ||
	die "newfs failed on $root"

mnt=$top/mnt/fruix-target
mkdir -p "$mnt" || die "cannot make $mnt"
mount -t ufs "$root" "$mnt" || die "cannot mount $root"
say "copying the system ($(wc -l <"$payload/items") store items)"
# The store items, with the owners, modes and hard links the md root has.
set -f
# shellcheck disable=SC2046 # store paths have no blanks; splitting is the point
set -- $(sed 's,^/,,' "$payload/items")
set +f
tar -cf - -C "$top/" "$@" | tar -xpf - -C "$mnt" || die "copying the store items onto $root failed"
# Then the root tree the host staged (/etc, generation 1, loader.conf, the
# directories), which holds no file of the world or the kernel: those are
# hard links to their store copies, as on a Fruix image, made here for every
# path the staged tree does not have (the directories the system changes,
# /etc and the like, are copies in it).
tar -cf - -C "$payload/root" . | tar -xpf - -C "$mnt" || die "copying the root tree onto $root failed"
link_from_store() { # ITEM-TREE FIND-ARGUMENTS...
	(
		cd "$mnt$1" || exit 1
		shift
		find "$@" ! -type d -print | while IFS= read -r path; do
			[ -e "$mnt/$path" ] || [ -h "$mnt/$path" ] || printf '%s\n' "$path"
		done | cpio -pdlm --quiet "$mnt"
	)
}
prune=
for dir in $MUTABLE; do prune="$prune -path ./$dir -prune -o"; done
# shellcheck disable=SC2086 # $prune is find(1) arguments
link_from_store "$WORLD/tree" . $prune || die "linking the world at / on $root failed"
link_from_store "$KERNEL/tree" ./boot/kernel || die "linking the kernel at /boot/kernel on $root failed"
for file in /var/lib/fruix/install.scm /var/lib/fruix/system/generations/1/install.scm; do
	sed -e "s/@disk-capacity@/$mediasize/" -e "s/@root-size@/$((root_sectors * 512))/" \
		-e "s/@root-partition-guid@/\"$root_guid\"/" "$payload/install.scm" >"$mnt$file" || die "cannot write $file"
done
mkdir -p "$mnt/boot/efi"
mount -t msdosfs "$esp" "$mnt/boot/efi" || die "cannot mount $esp"
cp -R "$payload/esp/." "$mnt/boot/efi/" || die "copying the boot files onto $esp failed"
sync
umount "$mnt/boot/efi" || die "cannot unmount $esp"
umount "$mnt" || die "cannot unmount $root"
sync

say "installed $CLOSURE onto $DEVICE"
poweroff
