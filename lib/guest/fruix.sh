#!/bin/sh
# fruix: the in-guest deployment helper (DESIGN §6). Portable POSIX sh: it runs
# under BusyBox sh, dash and FreeBSD sh. FRUIX_ROOT=DIR acts on the system tree
# at DIR instead of / (offline images, tests).
set -u

root=${FRUIX_ROOT:-}
root=${root%/}
system_dir=$root/var/lib/fruix/system

die() {
	echo "fruix: $*" >&2
	exit 1
}

usage() {
	cat <<'USAGE'
usage: fruix system status
       fruix system list-generations
USAGE
}

require_layout() {
	[ -d "$system_dir/generations" ] ||
		die "no generation layout at $system_dir (is this an installed Fruix system?)"
}

# Prints the generation number a pointer (current, rollback) names, or nothing.
pointer() {
	[ -f "$system_dir/$1-generation" ] || return 0
	read -r number <"$system_dir/$1-generation" && echo "$number"
}

closure_of() {
	readlink "$system_dir/generations/$1/closure"
}

# The value of a `(created "...")` field in a generation's metadata.scm.
created_of() {
	sed -n 's/^.*(created "\([^"]*\)").*$/\1/p' "$system_dir/generations/$1/metadata.scm" 2>/dev/null
}

generations() {
	for dir in "$system_dir"/generations/*; do
		[ -d "$dir" ] && echo "${dir##*/}"
	done | sort -n
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
	require_layout
	show booted "$(booted_generation)"
	show current "$(pointer current)"
	show rollback "$(pointer rollback)"
}

cmd_list_generations() {
	require_layout
	current=$(pointer current)
	rollback=$(pointer rollback)
	booted=$(booted_generation)
	for n in $(generations); do
		tags=
		[ "$n" = "$current" ] && tags="$tags current"
		[ "$n" = "$rollback" ] && tags="$tags rollback"
		[ "$n" = "$booted" ] && tags="$tags booted"
		printf '%s\t%s\t%s\t%s\n' "$n" "$(created_of "$n")" "$(closure_of "$n")" "${tags# }"
	done
}

[ "${1:-}" = system ] || {
	usage >&2
	exit 2
}
command=${2:-}
[ $# -ge 2 ] && shift 2
case "$command" in
status) cmd_status "$@" ;;
list-generations) cmd_list_generations "$@" ;;
-h | --help | help) usage ;;
switch | rollback | delete-generations)
	die "'fruix system $command' is not available in this version of the helper"
	;;
*)
	usage >&2
	exit 2
	;;
esac
