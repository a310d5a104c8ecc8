# Fruix installer (runs once, from RAM, on the console): partition the install
# target named in /fruix-installer/install.conf, format it, copy the target
# system staged by the build host, record the install, power off.
# Everything the host could decide (identifiers, trees, install.scm) is in
# /fruix-installer; only the disk's capacity is measured here.
# The first line (#! busybox) is written by the system builder.
payload=/fruix-installer
# The system's profile only: in RAM, /bin is the initramfs's BusyBox.
PATH=/run/current-system/profile/bin
export PATH
# The Debian tools by path: a static BusyBox sh runs its own applet for a
# bare name (its mke2fs cannot make ext4) before it looks at PATH.
tools=/run/current-system/profile/bin
# shellcheck source=/dev/null
. "$payload/install.conf"

say() { echo "fruix-installer: $*"; }
# One clear line, then stay: the console (and any login there) shows why.
# It starts a line of its own, whatever a shell on the console printed last.
die() {
	printf '\nfruix-installer: error: %s\n' "$*"
	exit 1
}

# The disks this machine has (no loop or RAM devices), for error messages.
disks_here() {
	for disk in /sys/block/*; do
		case "${disk##*/}" in
		loop* | ram*) ;;
		*) printf '%s ' "/dev/${disk##*/}" ;;
		esac
	done
}

# The whole disk a device node belongs to: vda1 -> vda, sr0 -> sr0.
disk_of() {
	name=${1##*/}
	if [ -e "/sys/class/block/$name/partition" ]; then
		name=$(basename "$(readlink -f "/sys/class/block/$name/..")")
	fi
	echo "$name"
}

# Partition N of a disk: vdb -> vdb1, nvme0n1 -> nvme0n1p1.
partition() {
	case "$1" in
	*[0-9]) echo "${1}p$2" ;;
	*) echo "$1$2" ;;
	esac
}

wait_for_block() { # DEVICE SECONDS
	tries=$(($2 * 10))
	until [ -b "$1" ]; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.1
	done
}

# Where this installer booted from: fruix.installer.boot=UUID=... (its ESP) or LABEL=... (the ISO).
boot_spec=
# shellcheck disable=SC2013
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	fruix.installer.boot=*) boot_spec=${arg#fruix.installer.boot=} ;;
	esac
done

say "installing $CLOSURE onto $DEVICE"
case "$DEVICE" in
/dev/?*) ;;
*) die "install target '$DEVICE' is not a device path (/dev/...)" ;;
esac
if ! wait_for_block "$DEVICE" 5; then
	disks=$(disks_here)
	die "install target device $DEVICE does not exist (disks here: ${disks% })"
fi
target=$(disk_of "$(readlink -f "$DEVICE")")
if [ -n "$boot_spec" ]; then
	boot_device=$(findfs "$boot_spec" 2>/dev/null) || die "cannot find the installer's boot medium $boot_spec"
	boot_disk=$(disk_of "$boot_device")
	[ "$target" != "$boot_disk" ] || die "install target device $DEVICE is the installer's boot medium ($boot_device); refusing to overwrite it"
fi

# The layout of lib/disk/layout.ts: ESP, then the root up to the last MiB (or ROOT_SIZE).
sectors=$(cat "/sys/class/block/$target/size")
available=$(((sectors - TAIL_SECTORS - ROOT_START) / ALIGN_SECTORS * ALIGN_SECTORS))
root_sectors=${ROOT_SIZE:+$((ROOT_SIZE / 512))}
root_sectors=${root_sectors:-$available}
[ "$root_sectors" -le "$available" ] ||
	die "install target device $DEVICE ($((sectors / 2048)) MiB) cannot hold a root of $((root_sectors / 2048)) MiB"
[ $((root_sectors * 512)) -ge "$MIN_ROOT_SIZE" ] ||
	die "install target device $DEVICE ($((sectors / 2048)) MiB) is too small: this system needs a root of at least $((MIN_ROOT_SIZE / 1048576)) MiB"

say "partitioning $DEVICE (GPT: EFI system partition, root of $((root_sectors / 2048)) MiB)"
printf '%s\n' "label: gpt" "label-id: $DISK_GUID" "unit: sectors" "first-lba: 34" "" \
	"start=$ESP_START, size=$ESP_SECTORS, type=$ESP_TYPE, uuid=$ESP_GUID, name=\"EFI system\"" \
	"start=$ROOT_START, size=$root_sectors, type=$ROOT_TYPE, uuid=$ROOT_GUID, name=\"fruix-root\"" |
	"$tools/sfdisk" --quiet --wipe always "$DEVICE" || die "sfdisk could not partition $DEVICE"
esp=/dev/$(partition "$target" 1)
root=/dev/$(partition "$target" 2)
if ! wait_for_block "$esp" 10 || ! wait_for_block "$root" 10; then
	die "the kernel did not show the new partitions of $DEVICE"
fi

say "formatting $esp (FAT32) and $root (ext4)"
"$tools/mkfs.fat" -F 32 -S 512 -s 1 -i "$ESP_VOLUME_ID" -n FRUIX-ESP "$esp" >/dev/null || die "mkfs.fat failed on $esp"
"$tools/mke2fs" -q -F -t ext4 -b 4096 -I 256 -i 16384 -m 0 -L fruix-root -U "$ROOT_UUID" -E "hash_seed=$ROOT_HASH_SEED" "$root" ||
	die "mke2fs failed on $root"

mnt=/mnt/fruix-target
mkdir -p "$mnt"
mount -t ext4 "$root" "$mnt" || die "cannot mount $root"
say "copying the system ($(wc -l <"$payload/items") store items)"
cp -a "$payload/root/." "$mnt/" || die "copying the root tree onto $root failed"
while read -r item; do
	cp -a "$item" "$mnt/frx/store/" || die "copying $item onto $root failed"
done <"$payload/items"
for file in /var/lib/fruix/install.scm /var/lib/fruix/system/generations/1/install.scm; do
	sed -e "s/@disk-capacity@/$((sectors * 512))/" -e "s/@root-size@/$((root_sectors * 512))/" \
		"$payload/install.scm" >"$mnt$file" || die "cannot write $file"
done
mount -t vfat "$esp" "$mnt/boot/efi" || die "cannot mount $esp"
cp -r "$payload/esp/." "$mnt/boot/efi/" || die "copying the boot files onto $esp failed"
sync
umount "$mnt/boot/efi" || die "cannot unmount $esp"
umount "$mnt" || die "cannot unmount $root"
sync

say "installed $CLOSURE onto $DEVICE"
poweroff
