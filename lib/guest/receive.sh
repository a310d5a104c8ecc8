# shellcheck shell=sh
# The receiving end of `fruix system copy` (lib/copy/): the host sends this
# script as the SSH command, so it works on any Fruix guest with an SSH
# server, whatever its helper's version. POSIX sh; BusyBox, dash, FreeBSD sh.
#
#   receive.sh missing             stdin: store item names; prints those absent
#   receive.sh stage ID NAME       stdin: a tar of /frx/store/NAME; unpacks it
#                                  beside the store and prints its manifest
#   receive.sh commit ID NAME...   renames staged items into the store, in order
#   receive.sh discard ID          removes what ID staged
#
# An item becomes visible in /frx/store only by rename, after the host has
# compared the manifest of what landed here with the item in its own store.
set -u
PATH=/run/current-system/profile/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
export PATH
LC_ALL=C
export LC_ALL

store=${FRUIX_ROOT:-}/frx/store

die() {
	echo "fruix-receive: $*" >&2
	exit 1
}

valid_name() { # NAME: a store item's base name, nothing that could escape the store
	case $1 in
	'' | .* | */* | *[!A-Za-z0-9+._?=-]*) return 1 ;;
	esac
	return 0
}

valid_id() {
	case $1 in
	'' | *[!A-Za-z0-9]*) return 1 ;;
	esac
	return 0
}

staging() { # ID: the directory that holds ID's items until they are committed
	echo "$store/.receive-$1"
}

# "SHA256 PATH" lines: GNU and BusyBox sha256sum, or FreeBSD's sha256 -r.
if command -v sha256sum >/dev/null 2>&1; then hasher=sha256sum; else hasher="sha256 -r"; fi

# One tab-separated line per entry under ROOT, paths relative to it ("." is
# ROOT): "d PATH", "f PATH x|- SHA256", "l PATH TARGET". The host writes the
# same lines for its copy of the item (lib/copy/manifest.ts).
manifest() { # ROOT
	m_root=$1
	find "$m_root" -type d | while IFS= read -r p; do
		printf 'd\t.%s\n' "${p#"$m_root"}"
	done
	# shellcheck disable=SC2086 # $hasher is a command and its option
	find "$m_root" -type f -exec $hasher {} + | while read -r h p; do
		if [ -x "$p" ]; then x=x; else x=-; fi
		printf 'f\t.%s\t%s\t%s\n' "${p#"$m_root"}" "$x" "$h"
	done
	find "$m_root" -type l | while IFS= read -r p; do
		printf 'l\t.%s\t%s\n' "${p#"$m_root"}" "$(readlink "$p")"
	done
	find "$m_root" ! -type d ! -type f ! -type l | while IFS= read -r p; do
		printf '?\t.%s\n' "${p#"$m_root"}"
	done
}

cmd_missing() {
	[ -d "$store" ] || die "$store does not exist: is this a Fruix system?"
	[ -w "$store" ] || die "$store is not writable (copy as root)"
	# Staging left by an interrupted copy an hour ago or more is abandoned.
	find "$store" -maxdepth 1 -name '.receive-*' -mmin +60 -exec rm -rf {} + 2>/dev/null
	while IFS= read -r name; do
		valid_name "$name" || die "'$name' is not a store item name"
		[ -e "$store/$name" ] || echo "$name"
	done
}

cmd_stage() { # ID NAME
	[ $# -eq 2 ] || die "usage: stage ID NAME"
	valid_id "$1" || die "'$1' is not a transfer id"
	valid_name "$2" || die "'$2' is not a store item name"
	s_dir=$(staging "$1")
	s_item=$s_dir/$2
	mkdir -p "$s_dir" || die "cannot create $s_dir"
	rm -rf "$s_item"
	# Unpack into a directory of its own: the archive must hold exactly NAME.
	s_unpack=$s_dir/.unpack-$2
	rm -rf "$s_unpack"
	mkdir "$s_unpack" || die "cannot create $s_unpack"
	tar -xf - -C "$s_unpack" || {
		rm -rf "$s_unpack"
		die "$2: the archive did not unpack (out of space, or cut short?)"
	}
	s_entries=$(ls -A "$s_unpack")
	[ "$s_entries" = "$2" ] || {
		rm -rf "$s_unpack"
		die "$2: the archive holds '$s_entries', not the item"
	}
	if ! mv "$s_unpack/$2" "$s_item" || ! rmdir "$s_unpack"; then die "$2: cannot stage"; fi
	manifest "$s_item" | sort
}

cmd_commit() { # ID NAME...
	[ $# -ge 1 ] || die "usage: commit ID NAME..."
	valid_id "$1" || die "'$1' is not a transfer id"
	c_dir=$(staging "$1")
	shift
	for name; do
		valid_name "$name" || die "'$name' is not a store item name"
		if [ -e "$store/$name" ]; then
			echo "present $name"
		else
			[ -e "$c_dir/$name" ] || die "$name was not staged"
			# Store items are read-only: directories 555, files 444 or 555.
			find "$c_dir/$name" -type d -exec chmod 555 {} +
			find "$c_dir/$name" -type f -exec chmod a-w {} +
			mv "$c_dir/$name" "$store/$name" || die "cannot move $name into $store"
			echo "committed $name"
		fi
	done
	rm -rf "$c_dir"
	sync
}

cmd_discard() { # ID
	[ $# -eq 1 ] || die "usage: discard ID"
	valid_id "$1" || die "'$1' is not a transfer id"
	rm -rf "$(staging "$1")"
}

command=${1:-}
[ $# -gt 0 ] && shift
case $command in
missing) cmd_missing "$@" ;;
stage) cmd_stage "$@" ;;
commit) cmd_commit "$@" ;;
discard) cmd_discard "$@" ;;
*) die "unknown command '$command' (missing, stage, commit, discard)" ;;
esac
