#!/bin/sh
# fruix: the in-guest deployment helper (DESIGN §6, docs/generations.md).
# Portable POSIX sh, written for BusyBox sh, dash and FreeBSD's sh (tested under
# BusyBox sh and dash only: it has not yet run under FreeBSD's sh), using only
# tools all three bases have (`date +%s`, readlink and sync are not POSIX, but
# BusyBox, GNU and FreeBSD all provide them). FRUIX_ROOT=DIR acts on the system
# tree at DIR instead of / (offline images, tests).
set -u

root=${FRUIX_ROOT:-}
root=${root%/}
system_dir=$root/var/lib/fruix/system
gcroots=$root/frx/var/fruix/gcroots
esp=$root/boot/efi
lock=$root/run/fruix-generations.lock
pending=$system_dir/pending
deleting=$system_dir/deleting
trial=$system_dir/trial
trial_reason=$system_dir/trial-reason
last_failed=$system_dir/last-failed-trial

die() {
	echo "fruix: $*" >&2
	exit 1
}

usage() {
	cat <<'USAGE'
usage: fruix system status
       fruix system list-generations [PATTERN]
       fruix system switch [--trial] /frx/store/...-fruix-system-...
       fruix system rollback
       fruix system switch-generation N
       fruix system delete-generations PATTERN
PATTERN: N, N,M,..., N..M, N.., ..M, or Nd, Nw, Nm (created more than
N days, weeks, 30-day months ago)
--trial: the candidate boots once on trial and becomes current only if its
health checks pass; otherwise the machine returns to the current generation.
(fruix system assess-boot runs at every boot: it finishes a trial.)
USAGE
}

commands="fruix system status|list-generations|switch|rollback|switch-generation|delete-generations|assess-boot; fruix --help"

usage_error() { # MESSAGE: one line on stderr, exit 2 (the full usage is --help's)
	echo "fruix: $1" >&2
	exit 2
}

arguments() { # MIN MAX USAGE COUNT: refuses COUNT arguments outside MIN..MAX
	if [ "$4" -lt "$1" ] || [ "$4" -gt "$2" ]; then
		usage_error "wrong arguments to ${3%% *} (usage: fruix system $3)"
	fi
}

must() { # COMMAND...: runs it, or stops the helper saying what failed
	"$@" || die "failed: $*"
}

# Test-only fault injection (docs/generations.md): FRUIX_FAULT_AFTER=STEP kills
# the helper right after STEP, as a power cut would. Inert unless set.
step() {
	if [ "${FRUIX_FAULT_AFTER:-}" = "$1" ]; then kill -9 $$; fi
}

# Makes the writes so far reach the disk before the next ones: without it a
# rename could land before the data it publishes. Offline trees (FRUIX_ROOT)
# are flushed when they are unmounted, and tests need no sync.
barrier() {
	[ -n "$root" ] || sync
}

is_number() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
}

# A digit string without leading zeros: $(( 08 )) would be octal, an error.
dec() {
	set -- "${1#"${1%%[!0]*}"}"
	echo "${1:-0}"
}

# --- time --------------------------------------------------------------------
# date -d @N (GNU, BusyBox) and date -r N (FreeBSD) differ, and parsing a date
# differs even more, so conversions are done with shell arithmetic (H. Hinnant's
# days-from-civil algorithms, exact for every date after 1970).

# Seconds since the epoch: SOURCE_DATE_EPOCH when set (reproducible tests).
now() {
	case ${SOURCE_DATE_EPOCH:-} in
	'') date -u +%s ;;
	*[!0-9]*) die "SOURCE_DATE_EPOCH must be a number of seconds, not '$SOURCE_DATE_EPOCH'" ;;
	*) dec "$SOURCE_DATE_EPOCH" ;;
	esac
}

iso_time() { # SECONDS: YYYY-MM-DDTHH:MM:SSZ
	z=$(($1 / 86400 + 719468))
	era=$((z / 146097))
	doe=$((z - era * 146097))
	yoe=$(((doe - doe / 1460 + doe / 36524 - doe / 146096) / 365))
	doy=$((doe - (365 * yoe + yoe / 4 - yoe / 100)))
	mp=$(((5 * doy + 2) / 153))
	if [ "$mp" -lt 10 ]; then month=$((mp + 3)); else month=$((mp - 9)); fi
	year=$((yoe + era * 400))
	if [ "$month" -le 2 ]; then year=$((year + 1)); fi
	secs=$(($1 % 86400))
	printf '%04d-%02d-%02dT%02d:%02d:%02dZ\n' "$year" "$month" $((doy - (153 * mp + 2) / 5 + 1)) \
		$((secs / 3600)) $((secs % 3600 / 60)) $((secs % 60))
}

epoch_of() { # YYYY-MM-DDTHH:MM:SSZ: seconds since the epoch; fails on anything else
	case $1 in
	[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z) ;;
	*) return 1 ;;
	esac
	# The pattern above allows no glob characters, so splitting is safe.
	old_ifs=$IFS
	IFS=-T:Z
	# shellcheck disable=SC2086 # splitting the fields is the point
	set -- $1
	IFS=$old_ifs
	# 1$x - 100 reads a two-digit field in decimal even with a leading zero.
	year=$((1$1 - 10000)) month=$((1$2 - 100))
	if [ "$month" -le 2 ]; then year=$((year - 1)); fi
	if [ "$month" -gt 2 ]; then mp=$((month - 3)); else mp=$((month + 9)); fi
	era=$((year / 400))
	yoe=$((year - era * 400))
	doy=$(((153 * mp + 2) / 5 + 1$3 - 100 - 1))
	doe=$((yoe * 365 + yoe / 4 - yoe / 100 + doy))
	echo $(((era * 146097 + doe - 719468) * 86400 + (1$4 - 100) * 3600 + (1$5 - 100) * 60 + 1$6 - 100))
}

# --- reading the layout -------------------------------------------------------

require_layout() {
	[ -d "$system_dir/generations" ] ||
		die "no generation layout at $system_dir (is this an installed Fruix system?)"
}

require_esp() {
	[ -f "$esp/loader/loader.conf" ] ||
		die "no EFI system partition mounted at $esp (loader/loader.conf is missing); mount it and retry"
}

# The generation a pointer (current, rollback) names, or nothing: from an
# uncompleted move if there is one (see commit_pointers), else from the link,
# which is renamed just before NAME-generation is.
pointer() {
	if [ -f "$pending" ]; then
		read -r p_current p_rollback <"$pending"
		if [ "$1" = current ]; then echo "$p_current"; else echo "$p_rollback"; fi
		return 0
	fi
	if [ -L "$system_dir/$1" ]; then
		p_target=$(readlink "$system_dir/$1")
		p_n=${p_target##*/}
		if is_number "$p_n"; then
			echo "$p_n"
			return 0
		fi
	fi
	[ -f "$system_dir/$1-generation" ] || return 0
	read -r p_n <"$system_dir/$1-generation" && echo "$p_n"
}

closure_of() {
	readlink "$system_dir/generations/$1/closure"
}

# The value of a `(created "...")` field in a generation's metadata.scm.
created_of() {
	sed -n 's/^.*(created "\([^"]*\)").*$/\1/p' "$system_dir/generations/$1/metadata.scm" 2>/dev/null
}

# The generations an uncompleted delete-generations removes (see
# delete_generations), space-separated: no longer listed or selectable.
doomed_generations() {
	[ -f "$deleting" ] || return 0
	read -r d_list <"$deleting" || die "cannot read $deleting"
	echo "$d_list"
}

has_generation() { # N: it exists and is not being deleted
	[ -d "$system_dir/generations/$1" ] || return 1
	case " $(doomed_generations) " in *" $1 "*) return 1 ;; esac
}

generations() {
	g_doomed=" $(doomed_generations) "
	for g_dir in "$system_dir"/generations/*; do
		g_n=${g_dir##*/}
		case $g_doomed in *" $g_n "*) continue ;; esac
		is_number "$g_n" && [ -d "$g_dir" ] && echo "$g_n"
	done | sort -n
}

highest_generation() {
	generations | tail -n 1
}

# The generation whose closure the running kernel booted, if we are on one.
booted_generation() {
	booted=$(readlink "$root/run/booted-system" 2>/dev/null) || return 0
	match=
	for n in $(generations); do
		[ "$(closure_of "$n")" = "$booted" ] && match=$n
	done
	echo "$match"
}

current_generation() { # the current generation, which must be complete
	c_n=$(pointer current)
	if [ -z "$c_n" ] || [ ! -d "$system_dir/generations/$c_n" ]; then
		die "no current generation recorded in $system_dir"
	fi
	echo "$c_n"
}

# --- candidate closures ---------------------------------------------------------

# The store file a closure's boot/FILE links to (in-guest path).
boot_item() { # CLOSURE FILE
	b_target=$(readlink "$root$1/boot/$2") || die "$1 is not a Fruix system closure (boot/$2 is not a link)"
	case $b_target in
	/frx/store/?*/?*) ;;
	*) die "$1: boot/$2 does not point into /frx/store ($b_target)" ;;
	esac
	[ -f "$root$b_target" ] || die "$1: boot/$2 points at $b_target, which is not in the local store"
	echo "$b_target"
}

# Refuses anything but a Fruix system closure in the local store; sets host,
# family, and what the family's boot backend needs (linux_boot_links).
check_system_closure() { # CLOSURE
	case $1 in
	/frx/store/*/* | /frx/store/) die "$1 is not a store item (expected /frx/store/<hash>-fruix-system-<host>)" ;;
	/frx/store/*) ;;
	*) die "$1 is not in /frx/store (expected /frx/store/<hash>-fruix-system-<host>)" ;;
	esac
	c_dir=$root$1
	[ -d "$c_dir" ] || die "$1 is not in the local store (copy its closure to this machine first)"
	c_first=
	[ -f "$c_dir/metadata/metadata.scm" ] && read -r c_first <"$c_dir/metadata/metadata.scm"
	case $c_first in
	"(fruix-system"*) ;;
	*) die "$1 is not a Fruix system closure (no metadata/metadata.scm starting with (fruix-system)" ;;
	esac
	family=$(family_of "$1") || exit
	for c_file in $(boot closure_files) metadata/provenance.scm; do
		[ -f "$c_dir/$c_file" ] || die "$1 is not a Fruix system closure (no $c_file)"
	done
	# A closure copied in part would become the boot default and fail at its boot:
	# every item its store-layout.scm references must be here.
	if [ -f "$c_dir/metadata/store-layout.scm" ]; then
		c_missing=$(awk '/^ \(references/ { on = 1; next } /^ \(/ { on = 0 } on' "$c_dir/metadata/store-layout.scm" |
			grep -o '/frx/store/[^"/]*' | while IFS= read -r c_item; do
				[ -e "$root$c_item" ] || { echo "$c_item"; break; }
			done)
		[ -z "$c_missing" ] || die "$1 is incomplete: $c_missing, which it references, is not in the local store (copy the whole closure, e.g. with 'fruix system copy')"
	fi
	host=$(sed -n 's/^.*(host-name "\([^"]*\)").*$/\1/p' "$c_dir/metadata/metadata.scm" | head -n 1)
	[ -n "$host" ] || die "$1 is not a Fruix system closure (no host-name in metadata/metadata.scm)"
	boot boot_links "$1"
}

linux_closure_files() {
	echo boot/init boot/kernel-arguments
}

linux_boot_links() { # CLOSURE: sets kernel and initrd (store files) for boot_entry
	kernel=$(boot_item "$1" vmlinuz) || exit
	initrd=$(boot_item "$1" initrd.img) || exit
}

# --- base families ----------------------------------------------------------------
# What differs between the bases is how a generation is booted: linux-busybox
# through systemd-boot entries on the ESP (linux_*), FreeBSD through the root's
# /boot/loader.conf (freebsd_*). The generation layout and the step order are
# shared.

# A closure's base family, from its metadata.scm: (base linux-busybox) or (base freebsd).
family_of() { # CLOSURE
	f_base=$(sed -n 's/^.*(base \([a-z-]*\)).*$/\1/p' "$root$1/metadata/metadata.scm" 2>/dev/null | head -n 1)
	case ${f_base:-linux-busybox} in
	linux-busybox | freebsd) echo "${f_base:-linux-busybox}" ;;
	*) die "$1 is for the base '$f_base', which this helper cannot boot" ;;
	esac
}

# The family of the system this tree runs: its current generation's.
system_family() {
	s_n=$(pointer current)
	if [ -n "$s_n" ] && [ -L "$system_dir/generations/$s_n/closure" ]; then
		family_of "$(closure_of "$s_n")"
	else
		echo linux-busybox
	fi
}

boot() { # ACTION ARGS...: the family's boot backend
	b_action=$1
	shift
	case $family in
	freebsd) "freebsd_$b_action" "$@" ;;
	*) "linux_$b_action" "$@" ;;
	esac
}

# --- the ESP ----------------------------------------------------------------------

# Where a store file goes on the ESP, as espPathFor() in lib/disk/boot-entries.ts:
# named by its store item, so generations using the same item share it.
esp_path() {
	echo "/fruix/${1#/frx/store/}"
}

entry_file() {
	echo "$esp/loader/entries/fruix-generation-$1.conf"
}

default_entry() {
	sed -n 's/^default[[:space:]]\{1,\}\([^[:space:]]*\).*$/\1/p' "$esp/loader/loader.conf" | head -n 1
}

# The root file system's UUID, as generation N's entry (or the default entry)
# passes it: every generation boots the same root.
root_uuid() { # N
	for r_file in "$(entry_file "$1")" "$esp/loader/entries/$(default_entry)"; do
		[ -f "$r_file" ] || continue
		r_uuid=$(sed -n 's/^options.*[[:space:]]root=UUID=\([^[:space:]]*\).*$/\1/p' "$r_file" | head -n 1)
		if [ -n "$r_uuid" ]; then
			echo "$r_uuid"
			return 0
		fi
	done
	die "cannot tell the root file system's UUID: no boot entry of generation $1 with root=UUID= in $esp/loader/entries"
}

kernel_arguments() { # FILE: its words, joined by single spaces
	set -f
	# shellcheck disable=SC2046 # splitting into words is the point
	set -- $(cat "$1")
	set +f
	echo "$*"
}

# Generation N's systemd-boot entry: the text bootEntry() in
# lib/disk/boot-entries.ts renders. Needs check_system_closure first.
boot_entry() { # N CLOSURE CREATED ROOT-UUID
	printf 'title Fruix %s, generation %s (%s)\n' "$host" "$1" "${3%%T*}"
	printf 'version %s\nlinux %s\ninitrd %s\n' "$1" "$(esp_path "$kernel")" "$(esp_path "$initrd")"
	printf 'options root=UUID=%s rootfstype=ext4 fruix.system=%s %s\n' "$4" "$2" \
		"$(kernel_arguments "$root$2/boot/kernel-arguments")"
}

# Refuses, before anything changes, boot files the ESP has no room for.
check_esp_room() { # STORE-FILE...
	need=0
	for e_file in "$@"; do
		[ -f "$esp$(esp_path "$e_file")" ] && continue
		need=$((need + $(wc -c <"$root$e_file") / 1024 + 4)) # + 4 KiB: a FAT cluster at most
	done
	[ "$need" -eq 0 ] && return 0
	free=$(df -P -k "$esp" 2>/dev/null | awk 'NR == 2 { print $4 }')
	if is_number "$free" && [ "$free" -lt "$need" ]; then
		die "the EFI system partition at $esp has $free KiB free; the new boot files need $need KiB"
	fi
	return 0
}

install_boot_file() { # STORE-FILE: copies it onto the ESP unless it is there
	i_dest=$esp$(esp_path "$1")
	[ -f "$i_dest" ] && return 0
	must mkdir -p "${i_dest%/*}"
	must cp "$root$1" "$i_dest.fruix-new"
	must mv -f "$i_dest.fruix-new" "$i_dest"
}

# Boot files every remaining entry loads (ESP paths, one per line).
used_boot_files() {
	for u_file in "$esp"/loader/entries/*.conf; do
		[ -f "$u_file" ] || continue
		awk '$1 == "linux" || $1 == "initrd" || $1 == "efi" || $1 == "devicetree" { print $2 }' "$u_file"
	done
}

# Removes files under /fruix on the ESP that no entry loads: those of deleted
# generations, and any left by an interrupted switch.
remove_unused_boot_files() {
	[ -d "$esp/fruix" ] || return 0
	used=" $(used_boot_files | tr '\n' ' ') "
	find "$esp/fruix" -type f | while read -r f; do
		case $used in *" ${f#"$esp"} "*) continue ;; esac
		rm -f "$f" || exit 1
		d=${f%/*} # then its directories, once empty
		while [ "$d" != "$esp/fruix" ] && rmdir "$d" 2>/dev/null; do d=${d%/*}; done
	done || die "cannot remove unused boot files from $esp/fruix"
}

set_boot_default() { # N: loader.conf's default, its other settings kept
	set_loader_default "fruix-generation-$1.conf"
}

set_loader_default() { # ENTRY-OR-PATTERN
	s_conf=$esp/loader/loader.conf
	s_line="default $1"
	if grep -q '^default[[:space:]]' "$s_conf"; then
		s_text=$(sed "s/^default[[:space:]].*\$/$s_line/" "$s_conf") || die "cannot read $s_conf"
	else
		s_text=$(printf '%s\n' "$s_line" && cat "$s_conf") || die "cannot read $s_conf"
	fi
	replace_file "$s_conf" "$s_text"
}

# The linux-busybox backend's actions (see boot()).
linux_require() { require_esp; }
linux_prepare() { # N CLOSURE CREATED CURRENT: sets entry
	uuid=$(root_uuid "$4") || exit
	check_esp_room "$kernel" "$initrd"
	entry=$(boot_entry "$1" "$2" "$3" "$uuid") || exit
}
linux_install_files() {
	install_boot_file "$kernel"
	install_boot_file "$initrd"
}
linux_entry_file() { entry_file "$1"; }
linux_set_default() { set_boot_default "$1"; }
linux_remove_unused() { remove_unused_boot_files; }

# --- linux-busybox trial boots: systemd-boot's boot counting ----------------------
# A generation N on trial, with M (the current one) as its fallback, has the
# entry fruix-generation-M.trial-N+T.conf: systemd-boot renames it at each
# boot it starts, +T -> +(T-1)-1 -> ... -> +0-T, and sorts entries with no
# tries left after all others. While N is on trial, loader.conf's default is
# the pattern fruix-generation-M.*, which matches exactly two entries: M's
# and N's trial entry. Among entries that have tries left, systemd-boot sorts
# by id, newest version first, and ".trial-..." sorts before ".conf", so the
# trial entry wins while it has a try left and M's entry once it has none.
# (systemd-boot 252, Debian 12's, keeps the counter in the id; later versions
# drop it: either way the pattern matches both, and never generation M0..M9.)
# The default never names the trial entry alone: a pattern naming a bad entry
# would boot it again, tries or not.
TRIAL_TRIES=1

linux_trial_supported() { :; }

linux_trial_entries() { # N|'*': N's trial entries (normally one), file names
	# shellcheck disable=SC2231 # $1 is a number or '*', a glob on purpose
	for t_file in "$esp"/loader/entries/fruix-generation-*.trial-$1+*.conf; do
		[ -f "$t_file" ] && echo "${t_file##*/}"
	done
	return 0
}

# Tries left of N's trial entry ("" when it has none): the +LEFT of +LEFT-DONE.
linux_trial_left() { # N
	t_name=$(linux_trial_entries "$1" | head -n 1)
	[ -n "$t_name" ] || return 0
	t_counter=${t_name##*+}
	t_counter=${t_counter%.conf}
	t_left=${t_counter%%-*}
	is_number "$t_left" && dec "$t_left"
}

linux_trial_booted() { # N: the running kernel was started from N's trial entry
	case " $(cat "$root/proc/cmdline" 2>/dev/null) " in *" fruix.trial=$1 "*) return 0 ;; esac
	return 1
}

linux_arm() { # N M: writes N's trial entry (check_system_closure and prepare first)
	a_panic=
	case " $entry " in *" panic="*) ;; *) a_panic=" panic=10" ;; esac
	a_text=$(printf '%s\n' "$entry" | sed -e "1s/\$/ (trial)/" -e "s/^options .*\$/& fruix.trial=$1$a_panic/") ||
		die "cannot write the trial entry"
	replace_file "$esp/loader/entries/fruix-generation-$2.trial-$1+$TRIAL_TRIES.conf" "$a_text"
}

linux_trial_default() { # M: the default that tries the trial entry first, M's after it
	set_loader_default "fruix-generation-$1.*"
}

linux_fallback_default() { set_boot_default "$1"; } # M, exactly

linux_mark_bad() { # N: no tries left
	for m_name in $(linux_trial_entries "$1"); do
		m_counter=${m_name##*+}
		m_counter=${m_counter%.conf}
		case $m_counter in *-*) m_done=${m_counter#*-} ;; *) m_done=0 ;; esac
		m_new=${m_name%+*}+0-$m_done.conf
		[ "$m_new" = "$m_name" ] || must mv -f "$esp/loader/entries/$m_name" "$esp/loader/entries/$m_new"
	done
}

linux_remove_trial_entries() { # N
	for r_name in $(linux_trial_entries "$1"); do must rm -f "$esp/loader/entries/$r_name"; done
}

# While a trial boot runs its checks, a hang must become a reset: BusyBox's
# watchdog feeds /dev/watchdog (QEMU's i6300esb; i6300esb.ko is loaded by the
# initramfs) and is itself killed, without the magic close, SECONDS from now,
# so the device resets the machine if nothing blessed the boot by then. The
# bless stops it with the magic close. Offline trees have no watchdog.
linux_watchdog_start() { # SECONDS
	[ -z "$root" ] && [ -c /dev/watchdog ] || return 0
	w_file=/run/fruix/watchdog.pid
	mkdir -p /run/fruix
	(
		watchdog -F -T 30 -t 5 /dev/watchdog </dev/null >/dev/null 2>&1 &
		echo $! >"$w_file"
		sleep "$1"
		# Not blessed in time: stop feeding, without the magic close.
		[ -f "$w_file" ] && kill -KILL "$(cat "$w_file")" 2>/dev/null
	) </dev/null >/dev/null 2>&1 & # holding no output: assess-boot's caller reads it to its end
	echo "fruix: watchdog armed: the machine resets unless generation $trial_n is blessed within $1 s" >&2
}

linux_watchdog_stop() { # SIGNAL: TERM disarms (watchdog's magic close), KILL lets the device reset
	[ -z "$root" ] && [ -f /run/fruix/watchdog.pid ] || return 0
	w_pid=$(cat /run/fruix/watchdog.pid)
	rm -f /run/fruix/watchdog.pid
	kill "-$1" "$w_pid" 2>/dev/null
	return 0
}

linux_service_running() { # NAME: its run script's process (activate.sh's pid file) is alive
	s_pid=$(cat "$root/run/fruix/services/$1.run-pid" 2>/dev/null) || return 1
	is_number "$s_pid" && kill -0 "$s_pid" 2>/dev/null
}

# --- FreeBSD: /boot/loader.conf -------------------------------------------------
# loader.efi reads the root's /boot/loader.conf, so a generation is booted by
# what that file says: kernel= names the generation's kernel directory in the
# store (the loader loads kernel from it and adds it to module_path), and
# fruix.system names the closure rc.d/fruix activates. The store is on the
# root file system the loader reads, so no boot file is copied anywhere.
# Each generation's text is kept as /boot/fruix/generation-N.conf (the
# "entry", for the loader prompt: read-conf FILE), and the boot default is
# /boot/loader.conf, replaced by one rename.

freebsd_closure_files() {
	echo boot/loader.conf activate
}

freebsd_boot_links() { # CLOSURE: sets kernel_dir, the store directory boot/kernel links to
	kernel_dir=$(readlink "$root$1/boot/kernel") || die "$1 is not a Fruix system closure (boot/kernel is not a link)"
	case $kernel_dir in
	/frx/store/?*/?*) ;;
	*) die "$1: boot/kernel does not point into /frx/store ($kernel_dir)" ;;
	esac
	[ -f "$root$kernel_dir/kernel" ] || die "$1: boot/kernel points at $kernel_dir, which is not in the local store"
}

freebsd_require() {
	[ -f "$root/boot/loader.conf" ] ||
		die "no boot loader configuration at $root/boot/loader.conf (is this an installed Fruix FreeBSD system?)"
}

# The world item a closure's world link names (in-guest path).
freebsd_world() { # CLOSURE
	readlink "$root$1/world" || die "$1 is not a Fruix FreeBSD system closure (world is not a link)"
}

# The world at / is the one the disk was written with: hard links to that
# world item's files, which nothing relinks at boot or here. A closure built on
# another world would boot its kernel and activation over the old userland, so
# it is refused; the current generation's closure names the world at /.
freebsd_same_world() { # CLOSURE CURRENT
	w_new=$(freebsd_world "$1") || exit
	w_old=$(freebsd_world "$(closure_of "$2")") || exit
	[ "$w_new" = "$w_old" ] ||
		die "$1 has another FreeBSD world ($w_new) than this system ($w_old); changing the world in place is not supported: reinstall"
}

# Generation N's loader configuration: the text loaderConfFor() in
# lib/system/freebsd-boot.ts renders. Needs check_system_closure first.
freebsd_prepare() { # N CLOSURE CREATED CURRENT: sets entry
	freebsd_same_world "$2" "$4"
	entry=$(
		cat "$root$2/boot/loader.conf" || exit
		printf '# Generation %s; rc.d/fruix activates the system the kernel environment names.\n' "$1"
		printf 'kernel="%s"\nfruix.system="%s"\n' "$kernel_dir" "$2"
	) || die "cannot read $2/boot/loader.conf"
}

freebsd_install_files() {
	[ -d "$root/boot/fruix" ] || must mkdir -p "$root/boot/fruix"
}

freebsd_entry_file() { # N
	echo "$root/boot/fruix/generation-$1.conf"
}

freebsd_set_default() { # N: /boot/loader.conf becomes generation N's
	d_text=$(cat "$(freebsd_entry_file "$1")") || die "no loader configuration for generation $1 ($(freebsd_entry_file "$1"))"
	replace_file "$root/boot/loader.conf" "$d_text"
}

# --- FreeBSD trial boots: the loader's one-shot nextboot.conf ---------------------
# /boot/nextboot.conf holds `nextboot_enable="YES"` and the trial
# generation's loader settings (with fruix.trial=N). The loader reads it after
# loader.conf and, before booting, rewrites its first line in place to
# `nextboot_enable="NO"`: one try. It can only overwrite a UFS file without
# growing it, so the file is written at a fixed size (NEXTBOOT_SIZE bytes,
# padded with a comment). loader.conf keeps generation M meanwhile: any boot
# after the one try (a failed check and reboot, a panic, a reset) boots M.
NEXTBOOT_SIZE=4096

freebsd_trial_supported() { :; }

freebsd_nextboot() { echo "$root/boot/nextboot.conf"; }

freebsd_arm() { # N M: nextboot.conf for N (prepare sets entry)
	n_text=$(printf 'nextboot_enable="YES"\n%s\nfruix.trial="%s"\n' "$entry" "$1")
	n_size=$(printf '%s\n' "$n_text" | wc -c)
	[ "$n_size" -lt $((NEXTBOOT_SIZE - 4)) ] || die "generation $1's loader settings do not fit in $NEXTBOOT_SIZE bytes"
	n_pad=$((NEXTBOOT_SIZE - n_size - 3)) # "# " and a newline
	n_fill=$(printf "%${n_pad}s" '' | tr ' ' '#')
	replace_file "$(freebsd_nextboot)" "$n_text
# $n_fill"
}

freebsd_trial_left() { # N: 1 while the loader has not used nextboot.conf
	n_file=$(freebsd_nextboot)
	grep -q "^fruix.trial=\"$1\"\$" "$n_file" 2>/dev/null || return 0
	if head -n 1 "$n_file" | grep -q '^nextboot_enable="YES"'; then echo 1; else echo 0; fi
}

freebsd_trial_booted() { # N
	[ "$(kenv -q fruix.trial 2>/dev/null)" = "$1" ]
}

freebsd_trial_default() { :; } # loader.conf stays M's: nextboot.conf carries the trial
freebsd_fallback_default() { :; }

freebsd_mark_bad() { # N: the loader did it already; again, in case it could not write
	n_file=$(freebsd_nextboot)
	grep -q "^fruix.trial=\"$1\"\$" "$n_file" 2>/dev/null || return 0
	n_text=$(sed '1s/^nextboot_enable="YES"/nextboot_enable="NO" /' "$n_file") || die "cannot read $n_file"
	replace_file "$n_file" "$n_text"
}

freebsd_remove_trial_entries() { # N|'*': the nextboot.conf of a Fruix trial (an operator's own stays)
	n_file=$(freebsd_nextboot)
	# shellcheck disable=SC2254 # $1 is a number or '*', a pattern on purpose
	case $(sed -n 's/^fruix.trial="\([0-9]*\)"$/\1/p' "$n_file" 2>/dev/null) in
	'') ;;
	$1) must rm -f "$n_file" ;;
	esac
}

# No watchdog on FreeBSD yet: a hang during the trial boot lasts until a
# reset from outside (the next boot then falls back).
freebsd_watchdog_start() { :; }
freebsd_watchdog_stop() { :; }

freebsd_service_running() { # NAME: the rc.d script's own status
	service "$1" onestatus >/dev/null 2>&1
}

# Kernels are store items: nothing on /boot to remove, the store GC frees them.
freebsd_remove_unused() { :; }

# --- changing the layout ------------------------------------------------------

# One fruix at a time changes generations. The lock is under /run, a memory
# file system mounted afresh at every boot (boot-init.sh, freebsd-activate.sh),
# so a lock from before a power cut or reboot is gone, and the pid it names is
# never mistaken for a process of this boot. A lock left by a killed helper
# (its pid is gone) is taken over.
take_lock() {
	[ -d "$root/run" ] || must mkdir -p "$root/run"
	if ! mkdir "$lock" 2>/dev/null; then
		holder=$(cat "$lock/pid" 2>/dev/null)
		if [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null; then
			die "another fruix (pid $holder) is changing generations; retry when it is done"
		fi
		if ! { rm -rf "$lock" && mkdir "$lock"; }; then die "cannot lock $lock"; fi
	fi
	echo $$ >"$lock/pid"
	trap 'rm -rf "$lock"' EXIT
	trap 'exit 1' HUP INT TERM
}

# What an interrupted run left: temporaries only, never a published name.
clean_leftovers() {
	rm -rf "$system_dir/.fruix-new" "$gcroots/.fruix-new" "$system_dir"/generations/.fruix-* \
		"$system_dir"/*.fruix-new "$system_dir"/generations/*/*.fruix-new "$esp"/loader/*.fruix-new "$esp"/loader/entries/*.fruix-new \
		"$esp"/fruix/*/*.fruix-new "$root"/boot/*.fruix-new "$root"/boot/fruix/*.fruix-new \
		"$system_dir/.lock" # where helpers kept the lock before it moved to /run
	# A trial entry without a recorded trial: an arm cut before its commit.
	[ -f "$trial" ] || boot remove_trial_entries '*'
}

# Replaces the file PATH by one holding TEXT and a newline, in one rename.
replace_file() { # PATH TEXT
	printf '%s\n' "$2" >"$1.fruix-new" || die "cannot write $1.fruix-new"
	must mv -f "$1.fruix-new" "$1"
}

# Replaces the symlink PATH by one to TARGET in one rename(2). `mv -f NEW PATH`
# cannot do it: when PATH is a link to a directory, mv moves NEW into that
# directory (GNU, BusyBox and FreeBSD mv alike), and the flags that prevent it
# differ (-T for GNU and BusyBox, -h for FreeBSD). POSIX mv's other form,
# `mv SOURCE DIRECTORY`, renames SOURCE to DIRECTORY/<its name> with a plain
# rename(2), which replaces a symlink there without following it. So the new link
# is made under its final name in a scratch directory beside PATH, then moved
# into PATH's directory. A relative TARGET is read from PATH's directory.
replace_link() { # TARGET PATH
	l_dir=${2%/*}
	l_scratch=$l_dir/.fruix-new
	[ -d "$l_dir" ] || must mkdir -p "$l_dir"
	[ ! -e "$l_scratch" ] || must rm -rf "$l_scratch"
	must mkdir "$l_scratch"
	must ln -s "$1" "$l_scratch/${2##*/}"
	must mv -f "$l_scratch/${2##*/}" "$l_dir"
	must rmdir "$l_scratch"
}

generation_metadata() { # N CLOSURE CREATED: as generationMetadata() in lib/system/generation.ts
	printf '(generation\n (number %s)\n (closure "%s")\n (created "%s")\n' "$1" "$2" "$3"
	printf ' (install-metadata-path "/var/lib/fruix/install.scm"))\n'
}

switch_record() { # N CLOSURE TIME PREVIOUS
	printf '(switch\n (format 1)\n (generation %s)\n (closure "%s")\n' "$1" "$2"
	printf ' (previous-generation %s)\n (previous-closure "%s")\n (switched "%s"))\n' \
		"$4" "$(closure_of "$4")" "$3"
}

# Generation N appears complete or not at all: it is written under a temporary
# name and renamed.
write_generation() { # N CLOSURE CREATED PREVIOUS
	w_tmp=$system_dir/generations/.fruix-new-$1
	must mkdir "$w_tmp"
	must ln -s "$2" "$w_tmp/closure"
	generation_metadata "$1" "$2" "$3" >"$w_tmp/metadata.scm" || die "cannot write $w_tmp/metadata.scm"
	must cp "$root$2/metadata/provenance.scm" "$w_tmp/provenance.scm"
	switch_record "$1" "$2" "$3" "$4" >"$w_tmp/install.scm" || die "cannot write $w_tmp/install.scm"
	must mv "$w_tmp" "$system_dir/generations/$1"
}

# Moving two pointers and the boot default takes several renames, so the new
# pair is first recorded in one file, `pending`: writing it is the commit
# point. Readers take the pointers from it while it exists, and the next
# command that changes generations completes an interrupted move from it.
commit_pointers() { # NEW-CURRENT NEW-ROLLBACK
	replace_file "$pending" "$1 $2"
	barrier
	step commit
	apply_pointers "$1" "$2"
	must rm -f "$pending"
	step finish
}

# Idempotent, so it can be redone after an interruption. Last the boot
# default: until then the machine boots the old generation.
apply_pointers() { # CURRENT ROLLBACK
	replace_link "generations/$2" "$system_dir/rollback"
	step rollback-link
	replace_file "$system_dir/rollback-generation" "$2"
	step rollback-generation
	replace_link "generations/$1" "$system_dir/current"
	step current-link
	replace_file "$system_dir/current-generation" "$1"
	step current-generation
	replace_link "$(closure_of "$2")" "$gcroots/rollback-system"
	step gcroot-rollback
	replace_link "$(closure_of "$1")" "$gcroots/current-system"
	step gcroot-current
	barrier
	boot set_default "$1"
	step loader-default
	barrier
}

# Completes a move that an interruption left half done (see commit_pointers).
finish_pending() {
	[ -f "$pending" ] || return 0
	read -r f_current f_rollback <"$pending" || die "cannot read $pending"
	for f_n in "$f_current" "$f_rollback"; do
		[ -d "$system_dir/generations/$f_n" ] ||
			die "$pending names generation $f_n, which is gone; repair the pointers by hand and remove it"
	done
	echo "fruix: completing an interrupted switch or rollback (current generation $f_current, rollback $f_rollback)" >&2
	apply_pointers "$f_current" "$f_rollback"
	must rm -f "$pending"
}

# Deleting generations takes several steps, so the numbers are first recorded
# in one file, `deleting`: from then on readers no longer list or select them,
# and the next command that changes generations completes an interrupted
# delete from it (finish_delete) once its checks pass, before it changes
# anything else. The file is removed last.
delete_generations() { # "N M ..."
	replace_file "$deleting" "$1"
	barrier
	step record-intent
	remove_doomed
}

# Idempotent, so it can be redone after an interruption. Entries go first, so
# the boot menu never offers a generation whose files are being removed; boot
# files go last, once no entry loads them.
remove_doomed() {
	r_list=$(doomed_generations) || exit
	for r_n in $r_list; do
		is_number "$r_n" || die "$deleting is malformed ('$r_list'); repair it by hand or remove it"
	done
	for r_n in $r_list; do
		must rm -f "$(boot entry_file "$r_n")"
		boot remove_trial_entries "$r_n"
	done
	step remove-entries
	barrier
	for r_n in $r_list; do must rm -f "$gcroots/system-$r_n"; done
	step remove-gcroots
	for r_n in $r_list; do
		# Renamed first, so no half-removed generation directory is ever seen.
		[ -d "$system_dir/generations/$r_n" ] || continue
		must rm -rf "$system_dir/generations/.fruix-old-$r_n"
		must mv "$system_dir/generations/$r_n" "$system_dir/generations/.fruix-old-$r_n"
		must rm -rf "$system_dir/generations/.fruix-old-$r_n"
	done
	step remove-generations
	boot remove_unused
	step remove-boot-files
	barrier
	must rm -f "$deleting"
}

# Completes a delete that an interruption left half done (see delete_generations).
# Roles are checked again: a reboot in between may have booted one of them
# (from the loader's menu, before its entry went), and that one stays.
finish_delete() {
	[ -f "$deleting" ] || return 0
	f_booted=$(readlink "$root/run/booted-system" 2>/dev/null) || f_booted=
	f_list=
	f_kept=
	for f_n in $(doomed_generations); do
		if [ "$f_n" = "$(pointer current)" ] || [ "$f_n" = "$(pointer rollback)" ] ||
			{ [ -n "$f_booted" ] && [ -L "$system_dir/generations/$f_n/closure" ] && [ "$(closure_of "$f_n")" = "$f_booted" ]; }; then
			f_kept="$f_kept $f_n"
		else
			f_list="$f_list $f_n"
		fi
	done
	if [ -n "$f_kept" ]; then
		echo "fruix: keeping generation${f_kept} of an interrupted delete-generations: it is in use now" >&2
		replace_file "$deleting" "${f_list# }"
	fi
	echo "fruix: completing an interrupted delete-generations (generations ${f_list# })" >&2
	remove_doomed
}

report() { # CURRENT ROLLBACK
	echo "current_generation=$1"
	echo "rollback_generation=$2"
	echo "closure=$(closure_of "$1")"
	if [ "$(readlink "$root/run/booted-system" 2>/dev/null)" = "$(closure_of "$1")" ]; then
		echo "reboot_required=no"
	else
		echo "reboot_required=yes"
	fi
}

# --- trial boots ------------------------------------------------------------------
# `switch --trial` records generation N like a switch, but leaves M current and
# writes the file `trial` ("N M") as its commit point; the family's boot
# backend makes N's entry boot next, once, with M as the fallback. At every
# boot, `assess-boot` (run by activation) finishes the trial: on N's trial
# boot it runs N's health checks before their deadline and blesses N (makes it
# current) or marks it bad (the caller reboots); on any other boot it finds
# the trial over (no tries left) and returns to M, recording the failure. See
# docs/generations.md, "Trial boots".

trial_pair() { # sets trial_n, trial_m from `trial`; fails when no trial is recorded
	[ -f "$trial" ] || return 1
	read -r trial_n trial_m <"$trial" || die "cannot read $trial"
	if ! is_number "$trial_n" || ! is_number "$trial_m"; then
		die "$trial is malformed ('$trial_n $trial_m'); repair it by hand or remove it"
	fi
}

refuse_during_trial() {
	trial_pair || return 0
	die "generation $trial_n is on trial (fallback $trial_m): reboot to finish its trial first, or run 'fruix system assess-boot' if its boot is over (see 'fruix system status')"
}

# The trial's state: armed (its entry has a try left), booted (this is its
# trial boot), failed (no tries left: the next boot falls back), blessed
# (made current; cleanup pending).
trial_state() {
	if [ "$(pointer current)" = "$trial_n" ]; then
		echo blessed
	elif boot trial_booted "$trial_n"; then
		echo booted
	else
		t_left=$(boot trial_left "$trial_n")
		if [ -n "$t_left" ] && [ "$t_left" -gt 0 ]; then echo armed; else echo failed; fi
	fi
}

# A failed trial's record, (trial-failed (generation N) ... (reason "...")):
# in generations/N/trial-failed and, for status, as last-failed-trial.
failure_record() { # N M TIME REASON
	printf '(trial-failed\n (generation %s)\n (fallback-generation %s)\n (failed "%s")\n (reason "%s"))\n' \
		"$1" "$2" "$3" "$(printf '%s' "$4" | tr "\"\\\\" "\047\047")"
}

record_field() { # FILE FIELD: a field of a record, one per line ("string" or number)
	sed -n -e "s/^ *($2 \"\(.*\)\")*\$/\1/p" -e "s/^ *($2 \([^ \")]*\))*\$/\1/p" "$1" 2>/dev/null | head -n 1
}

health_file() { # CLOSURE
	echo "$root$1/metadata/health-checks"
}

health_deadline() { # CLOSURE: seconds; 120 when the closure declares none
	h_deadline=$(sed -n 's/^deadline \([0-9][0-9]*\)$/\1/p' "$(health_file "$1")" 2>/dev/null | head -n 1)
	dec "${h_deadline:-120}"
}

# One health check; on failure, check_why says what was seen.
run_check() { # KIND ARGS...
	case $1 in
	activation)
		[ -f "$root/run/fruix/activated" ] && return 0
		check_why="activation has not finished"
		;;
	service)
		boot service_running "$2" && return 0
		check_why="service $2 is not running"
		;;
	tcp)
		nc -w 3 127.0.0.1 "$2" </dev/null >/dev/null 2>&1 && return 0
		check_why="nothing accepts TCP connections on port $2"
		;;
	http)
		h_status=$(printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$3" |
			nc -w 5 127.0.0.1 "$2" 2>/dev/null | head -n 1 | tr -d '\r')
		case $h_status in
		"HTTP/"*" 2"[0-9][0-9]*) return 0 ;;
		'') check_why="HTTP GET http://127.0.0.1:$2$3 got no answer" ;;
		*) check_why="HTTP GET http://127.0.0.1:$2$3 answered '$h_status'" ;;
		esac
		;;
	command)
		sh -c "$2" </dev/null >/dev/null 2>&1 && return 0
		check_why="command '$2' failed"
		;;
	*) check_why="unknown health check '$1' in metadata/health-checks" ;;
	esac
	return 1
}

# Every check of the file, in order, stopping at the first that fails. A
# closure without the file (built before health checks) has the default's
# first part only.
checks_round() { # FILE
	[ -f "$1" ] || {
		run_check activation
		return
	}
	while IFS= read -r c_line; do
		c_kind=${c_line%% *}
		c_rest=${c_line#"$c_kind"}
		c_rest=${c_rest# }
		case $c_kind in
		'' | '#'* | deadline) ;;
		http) run_check http "${c_rest%% *}" "${c_rest#* }" || return 1 ;;
		*) run_check "$c_kind" "$c_rest" || return 1 ;;
		esac
	done <"$1"
	return 0
}

# Passes when one round of checks passes before the deadline; rounds are 2 s
# apart. The deadline is measured on the clock (not SOURCE_DATE_EPOCH).
run_checks() { # CLOSURE: sets check_why on failure
	c_deadline=$(health_deadline "$1")
	c_end=$(($(date -u +%s) + c_deadline))
	while :; do
		checks_round "$(health_file "$1")" && return 0
		[ "$(date -u +%s)" -lt "$c_end" ] || break
		sleep 2
	done
	check_why="$check_why (deadline $c_deadline s)"
	return 1
}

# On the trial boot: blessed, or marked bad (the caller reboots).
trial_boot() {
	t_closure=$(closure_of "$trial_n")
	if [ ! -f "$trial_reason" ]; then
		boot watchdog_start $(($(health_deadline "$t_closure") + 60))
		echo "fruix: trial boot of generation $trial_n: running its health checks (deadline $(health_deadline "$t_closure") s)" >&2
		if run_checks "$t_closure"; then
			bless_trial
			boot watchdog_stop TERM
			echo "fruix: generation $trial_n passed its health checks: blessed, it is current now" >&2
			echo "trial=blessed"
			echo "current_generation=$trial_n"
			echo "rollback_generation=$trial_m"
			return 0
		fi
		mark_bad "$check_why"
		boot watchdog_stop KILL
	fi
	read -r t_why <"$trial_reason"
	echo "fruix: generation $trial_n failed its trial: $t_why; rebooting into generation $trial_m" >&2
	echo "trial=failed"
	echo "trial_generation=$trial_n"
	echo "reason=$t_why"
	echo "reboot_required=yes"
}

# The trial generation becomes current: its entry is written as a switch
# writes it (no counter, no trial options), then the pointers move as in a
# switch (commit ... finish: the boot default last), then the trial's own
# files go.
bless_trial() {
	b_closure=$(closure_of "$trial_n")
	check_system_closure "$b_closure"
	boot prepare "$trial_n" "$b_closure" "$(created_of "$trial_n")" "$trial_m"
	replace_file "$(boot entry_file "$trial_n")" "$entry"
	step bless-entry
	barrier
	commit_pointers "$trial_n" "$trial_m"
	finish_bless
}

finish_bless() { # idempotent: also completes a bless cut after its commit
	boot remove_trial_entries "$trial_n"
	step bless-cleanup
	barrier
	must rm -f "$trial_reason" "$trial"
	step trial-finish
}

mark_bad() { # REASON: recorded first, then no tries left
	replace_file "$trial_reason" "$1"
	step trial-reason
	barrier
	boot mark_bad "$trial_n"
	step mark-bad
	barrier
}

# After a trial boot that failed, hung, panicked or was cut: M stays current
# and becomes the exact default again; the failure is recorded with N.
# Idempotent, so the next assess-boot finishes an interrupted revert.
revert_trial() {
	r_why="generation $trial_n did not finish its trial boot (a panic, a hang, a reset or a power cut before its health checks passed)"
	[ -f "$trial_reason" ] && read -r r_why <"$trial_reason"
	r_record=$system_dir/generations/$trial_n/trial-failed
	if [ ! -f "$r_record" ]; then
		r_now=$(now) || exit
		replace_file "$r_record" "$(failure_record "$trial_n" "$trial_m" "$(iso_time "$r_now")" "$r_why")"
	fi
	step record-failure
	must cp "$r_record" "$last_failed.fruix-new"
	must mv -f "$last_failed.fruix-new" "$last_failed"
	step last-failed
	barrier
	boot remove_trial_entries "$trial_n"
	# A bless cut before its commit may have written N's plain entry.
	must rm -f "$(boot entry_file "$trial_n")"
	step remove-trial-entry
	barrier
	boot fallback_default "$trial_m"
	step fallback-default
	barrier
	must rm -f "$trial_reason" "$trial"
	step trial-finish
	echo "fruix: generation $trial_n failed its trial ($r_why); generation $trial_m is current" >&2
	echo "trial=fell-back"
	echo "trial_generation=$trial_n"
	echo "current_generation=$trial_m"
	echo "reason=$r_why"
}

trial_status() {
	if trial_pair; then
		echo "trial_generation=$trial_n"
		echo "trial_fallback_generation=$trial_m"
		echo "trial_state=$(trial_state)"
	else
		echo "trial_generation=none"
	fi
	if [ -f "$last_failed" ]; then
		echo "last_failed_trial=$(record_field "$last_failed" generation)"
		echo "last_failed_trial_time=$(record_field "$last_failed" failed)"
		echo "last_failed_trial_reason=$(record_field "$last_failed" reason)"
	else
		echo "last_failed_trial=none"
	fi
}

# --- patterns ---------------------------------------------------------------------

bad_pattern() {
	echo "fruix: malformed generation pattern '$pattern' (use N, N,M, N..M, N.., ..M, or a duration: 10d, 2w, 1m)" >&2
	exit 2
}

select_numbers() { # N,M,...: each must name a generation
	case $1 in ,* | *, | *,,*) bad_pattern ;; esac
	old_ifs=$IFS
	IFS=,
	set -f
	# shellcheck disable=SC2086 # splitting at commas is the point
	set -- $1
	set +f
	IFS=$old_ifs
	for n in "$@"; do is_number "$n" || bad_pattern; done
	for n in "$@"; do
		n=$(dec "$n")
		has_generation "$n" || die "no generation $n (see 'fruix system list-generations')"
		echo "$n"
	done
}

select_range() { # LOW HIGH: the existing generations between them; either may be empty
	[ -n "$1$2" ] || bad_pattern
	is_number "${1:-0}" || bad_pattern
	is_number "${2:-0}" || bad_pattern
	low=$(dec "${1:-0}")
	high=$(dec "${2:-0}")
	[ -z "$2" ] || [ "$low" -le "$high" ] || bad_pattern
	for n in $(generations); do
		[ "$n" -ge "$low" ] && { [ -z "$2" ] || [ "$n" -le "$high" ]; } && echo "$n"
	done
	return 0
}

select_older() { # COUNT UNIT: generations created more than COUNT UNITs ago
	is_number "$1" || bad_pattern
	case $2 in
	d) unit=86400 ;;
	w) unit=604800 ;;
	*) unit=2592000 ;; # m: a month is 30 days
	esac
	now_s=$(now) || exit
	cutoff=$((now_s - $(dec "$1") * unit))
	for n in $(generations); do
		born=$(epoch_of "$(created_of "$n")") || continue # no date, no age
		[ "$born" -lt "$cutoff" ] && echo "$n"
	done
	return 0
}

# The generations PATTERN selects, once each, in order. A malformed pattern
# exits 2, a number naming no generation exits 1.
select_generations() { # PATTERN
	pattern=$1
	case $pattern in
	'') bad_pattern ;;
	*..*) selection=$(select_range "${pattern%%..*}" "${pattern#*..}") || exit ;;
	*,*) selection=$(select_numbers "$pattern") || exit ;;
	*[dwm]) selection=$(select_older "${pattern%?}" "${pattern#"${pattern%?}"}") || exit ;;
	*) selection=$(select_numbers "$pattern") || exit ;;
	esac
	[ -z "$selection" ] || echo "$selection" | sort -n -u
}

# --- commands ---------------------------------------------------------------------

show() { # LABEL GENERATION
	if [ -z "$2" ]; then
		echo "$1_generation=none"
		return
	fi
	echo "$1_generation=$2"
	echo "$1_closure=$(closure_of "$2")"
	echo "$1_created=$(created_of "$2")"
}

cmd_status() {
	arguments 0 0 status $#
	require_layout
	show booted "$(booted_generation)"
	show current "$(pointer current)"
	show rollback "$(pointer rollback)"
	[ ! -f "$trial" ] || family=$(system_family) || exit
	trial_status
}

cmd_list_generations() {
	arguments 0 1 "list-generations [PATTERN]" $#
	require_layout
	if [ $# -eq 1 ]; then
		selected=$(select_generations "$1") || exit
	else
		selected=$(generations)
	fi
	current=$(pointer current)
	rollback=$(pointer rollback)
	booted=$(booted_generation)
	trial_n=
	trial_pair || :
	for n in $selected; do
		tags=
		[ "$n" = "$current" ] && tags="$tags current"
		[ "$n" = "$rollback" ] && tags="$tags rollback"
		[ "$n" = "$booted" ] && tags="$tags booted"
		[ "$n" = "$trial_n" ] && tags="$tags trial"
		[ -f "$system_dir/generations/$n/trial-failed" ] && tags="$tags failed-trial"
		printf '%s\t%s\t%s\t%s\n' "$n" "$(created_of "$n")" "$(closure_of "$n")" "${tags# }"
	done
}

cmd_switch() {
	on_trial=
	if [ "${1:-}" = --trial ]; then
		on_trial=yes
		shift
	fi
	arguments 1 1 "switch [--trial] /frx/store/...-fruix-system-..." $#
	closure=${1%/}
	require_layout
	take_lock
	check_system_closure "$closure"
	running=$(system_family) || exit
	[ "$running" = "$family" ] || die "$closure is built on the $family base; this system runs the $running base"
	boot require
	[ -z "$on_trial" ] || boot trial_supported
	refuse_during_trial
	current=$(current_generation) || exit
	now_s=$(now) || exit
	created=$(iso_time "$now_s")
	# Not counting what an interrupted delete still has: finish_delete removes
	# it before generation N+1 is written.
	new=$(($(highest_generation) + 1))
	boot prepare "$new" "$closure" "$created" "$current"

	finish_pending
	finish_delete
	clean_leftovers
	boot install_files
	step boot-files
	replace_link "$closure" "$gcroots/system-$new"
	step gcroot-generation
	write_generation "$new" "$closure" "$created" "$current"
	step generation
	if [ -n "$on_trial" ]; then
		arm_trial "$new" "$current"
		return
	fi
	replace_file "$(boot entry_file "$new")" "$entry"
	step boot-entry
	barrier
	commit_pointers "$new" "$current"
	report "$new" "$current"
}

# The trial's entry first (not the default yet), then `trial` (the commit
# point), then the default that tries it. assess-boot completes an arm cut
# after its commit: the entry still has its tries.
arm_trial() { # N M
	boot arm "$1" "$2"
	step trial-entry
	barrier
	replace_file "$trial" "$1 $2"
	step trial-record
	barrier
	boot trial_default "$2"
	step trial-default
	barrier
	echo "trial_generation=$1"
	echo "fallback_generation=$2"
	echo "closure=$(closure_of "$1")"
	echo "reboot_required=yes"
}

cmd_rollback() {
	arguments 0 0 rollback $#
	require_layout
	take_lock
	family=$(system_family) || exit
	boot require
	refuse_during_trial
	current=$(current_generation) || exit
	target=$(pointer rollback)
	[ -n "$target" ] || die "no rollback generation recorded (there is one after a switch)"
	[ -d "$system_dir/generations/$target" ] ||
		die "rollback generation $target is gone ($system_dir/generations/$target is missing)"
	move_to "$target" "$current"
}

# Makes an existing generation the boot default, the current one becoming
# the rollback: a rollback to any generation, as `guix system switch-generation`.
cmd_switch_generation() {
	arguments 1 1 "switch-generation N" $#
	is_number "$1" || usage_error "switch-generation needs a generation number, not '$1'"
	require_layout
	take_lock
	family=$(system_family) || exit
	boot require
	current=$(current_generation) || exit
	target=$(dec "$1")
	refuse_during_trial
	has_generation "$target" || die "no generation $target (see 'fruix system list-generations')"
	[ "$target" != "$current" ] || die "generation $target is the current generation already"
	move_to "$target" "$current"
}

move_to() { # TARGET CURRENT: the shared end of rollback and switch-generation
	target=$1
	current=$2
	closure=$(closure_of "$target")
	check_system_closure "$closure"
	boot prepare "$target" "$closure" "$(created_of "$target")" "$current"

	# Its boot files and entry are normally there; an ESP restored from a
	# backup may lack them.
	finish_pending
	finish_delete
	clean_leftovers
	boot install_files
	step boot-files
	replace_link "$closure" "$gcroots/system-$target"
	step gcroot-generation
	[ -f "$(boot entry_file "$target")" ] || replace_file "$(boot entry_file "$target")" "$entry"
	step boot-entry
	barrier
	commit_pointers "$target" "$current"
	report "$target" "$current"
}

cmd_delete_generations() {
	arguments 1 1 "delete-generations PATTERN" $#
	require_layout
	take_lock
	family=$(system_family) || exit
	boot require
	selected=$(select_generations "$1") || exit
	current=$(pointer current)
	rollback=$(pointer rollback)
	booted=$(booted_generation)
	trial_n=
	trial_pair || :
	doomed=
	kept=
	keeping= # the lines saying why, printed if something is deleted
	roles=   # "3 is booted, 5 is current", for the refusal if nothing is
	for n in $selected; do
		why=
		role=
		[ "$n" = "$current" ] && why="$why, current: the boot default" role="$role and current"
		[ "$n" = "$rollback" ] && why="$why, rollback: what 'fruix system rollback' returns to" role="$role and rollback"
		[ "$n" = "$booted" ] && why="$why, booted: the running system" role="$role and booted"
		[ "$n" = "$trial_n" ] && why="$why, trial: its trial boot is not over" role="$role and trial"
		if [ -n "$why" ]; then
			keeping="$keeping
fruix: keeping generation $n (${why#, })"
			roles="$roles, $n is ${role# and }"
			kept="$kept $n"
		else
			doomed="$doomed $n"
		fi
	done
	[ -z "$selected" ] || [ -n "$doomed" ] || die "nothing deleted: generation ${roles#, }"
	[ -z "$keeping" ] || echo "${keeping#?}" >&2

	finish_pending
	finish_delete
	clean_leftovers
	if [ -z "$selected" ]; then
		echo "fruix: no generation matches '$1'; nothing to delete" >&2
		printf 'deleted_generations=\nkept_generations=\n'
		return 0
	fi

	delete_generations "${doomed# }"
	echo "deleted_generations=${doomed# }"
	echo "kept_generations=${kept# }"
}

cmd_assess_boot() {
	arguments 0 0 assess-boot $#
	require_layout
	take_lock
	family=$(system_family) || exit
	boot require
	finish_pending
	finish_delete
	clean_leftovers
	if ! trial_pair; then
		echo "trial=none"
		return 0
	fi
	case $(trial_state) in
	blessed)
		finish_bless
		echo "trial=blessed"
		echo "current_generation=$trial_n"
		;;
	booted) trial_boot ;;
	armed)
		# Completes an arm cut after its commit (idempotent otherwise).
		boot trial_default "$trial_m"
		echo "trial=armed"
		echo "trial_generation=$trial_n"
		echo "reboot_required=yes"
		;;
	failed) revert_trial ;;
	esac
}

# Help is the full usage: on stdout when asked for, on stderr (exit 2) when
# the command is missing. Every other usage error is one line.
case ${1:-} in
-h | --help | help) usage && exit 0 ;;
system) ;;
'') usage >&2 && exit 2 ;;
*) usage_error "unknown command '$1' ($commands)" ;;
esac
[ $# -ge 2 ] || { usage >&2 && exit 2; }
command=$2
shift 2
case $command in
status) cmd_status "$@" ;;
list-generations) cmd_list_generations "$@" ;;
switch) cmd_switch "$@" ;;
rollback) cmd_rollback "$@" ;;
switch-generation) cmd_switch_generation "$@" ;;
delete-generations) cmd_delete_generations "$@" ;;
assess-boot) cmd_assess_boot "$@" ;;
-h | --help | help) usage ;;
*) usage_error "unknown command '$command' ($commands)" ;;
esac
