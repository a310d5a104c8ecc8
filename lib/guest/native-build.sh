# The native-build driver (docs/native-builds.md), shared by both families.
# A family's guest/native-build.sh comes first in the same script and defines
# fnb_family, fnb_kinds, fnb_configuration, fnb_optimizations,
# fnb_install_variables, fnb_build and fnb_required. `fruix native-build run`
# sends the pair over SSH; systems with a development profile also carry it as
# /usr/local/bin/fruix-self-hosted-native-build.
#
# It verifies the development environment, recovers the source store from
# the system's metadata, sanitizes the development shell's build variables,
# runs the family's build with heavy work under
# $FRUIX_NATIVE_BUILD_WORK_DIR/<run-id>, then records the staged artifacts,
# their listings and the manifest (result.scm) under a temporary name and
# renames it to $FRUIX_NATIVE_BUILD_STATE_DIR/<run-id>, and `latest` to it.
# Prints key=value lines; progress goes to stderr.
#
# Environment (each optional):
#   FRUIX_NATIVE_BUILD_JOBS, else FRUIX_SELF_HOSTED_NATIVE_BUILD_JOBS: make -jN (default: the CPUs)
#   FRUIX_NATIVE_BUILD_OPTIMIZATION   default (the configuration's own) or none (-O0, where the
#     family offers it: a quicker build, e.g. under TCG; recorded in the result)
#   FRUIX_NATIVE_BUILD_RUN_ID         (default: UTC time and pid)
#   FRUIX_NATIVE_BUILD_EXECUTOR, FRUIX_NATIVE_BUILD_EXECUTOR_VERSION
#   FRUIX_NATIVE_BUILD_STATE_DIR      (default /var/lib/fruix/native-builds)
#   FRUIX_NATIVE_BUILD_WORK_DIR       (default /var/tmp/fruix-native-builds)
#   FRUIX_ROOT=DIR: act on the system tree at DIR instead of / (tests), as fruix.sh does;
#     printed and recorded paths stay the guest's own (/frx/store/..., /var/lib/...)
# shellcheck disable=SC2154 # the fnb_* settings come from the family's sequence, before this in the script
set -u
root=${FRUIX_ROOT:-}
root=${root%/}

fnb_die() {
	echo "fruix-native-build: $*" >&2
	exit 1
}

fnb_say() {
	echo "fruix-native-build: $*" >&2
}

# `(NAME "VALUE")` on a line of FILE: VALUE (the metadata writers keep fields of strings on one line).
fnb_field() { # FILE NAME
	sed -n "s/^[[:space:]]*(*$2 \"\\([^\"]*\\)\".*/\\1/p" "$1" | head -n 1
}

fnb_sha256() { # FILE
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d ' ' -f 1
	else
		sha256 -q "$1"
	fi
}

# A Scheme string: backslashes and double quotes escaped, newlines as \n.
fnb_string() { # TEXT
	printf '"'
	printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | awk 'BEGIN { ORS = "" } NR > 1 { print "\\n" } { print }'
	printf '"'
}

# The listing promotion re-checks: `f|x TAB sha256 TAB path` for files, `l TAB target TAB path` for symlinks, by path.
fnb_listing() { # DIR
	(
		cd "$1" || exit 1
		find . \( -type f -o -type l \) | LC_ALL=C sort | while IFS= read -r p; do
			p=${p#./}
			case $p in *"	"*) echo "fruix-native-build: $1/$p: a tab in a file name" >&2; exit 1 ;; esac
			if [ -L "$p" ]; then
				printf 'l\t%s\t%s\n' "$(readlink "$p")" "$p"
			elif [ -x "$p" ]; then
				printf 'x\t%s\t%s\n' "$(fnb_sha256 "$p")" "$p"
			else
				printf 'f\t%s\t%s\n' "$(fnb_sha256 "$p")" "$p"
			fi
		done
	)
}

# Replaces the symlink PATH by one to TARGET in one rename(2) (as replace_link in fruix.sh).
fnb_replace_link() { # TARGET PATH
	l_dir=${2%/*}
	l_scratch=$l_dir/.fruix-new-link
	rm -rf "$l_scratch" && mkdir "$l_scratch" && ln -s "$1" "$l_scratch/${2##*/}" && mv -f "$l_scratch/${2##*/}" "$l_dir" && rmdir "$l_scratch"
}

fnb_main() {
	jobs=${FRUIX_NATIVE_BUILD_JOBS:-${FRUIX_SELF_HOSTED_NATIVE_BUILD_JOBS:-}}
	if [ -z "$jobs" ]; then
		jobs=$(nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 1)
	fi
	case $jobs in '' | *[!0-9]* | 0) fnb_die "the job count must be a positive integer, not '$jobs'" ;; esac
	optimization=${FRUIX_NATIVE_BUILD_OPTIMIZATION:-default}
	case " $fnb_optimizations " in
	*" $optimization "*) ;;
	*) fnb_die "the $fnb_family build offers optimization $(echo "$fnb_optimizations" | sed 's/ / or /g'), not '$optimization'" ;;
	esac
	run_id=${FRUIX_NATIVE_BUILD_RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)-$$}
	case $run_id in [A-Za-z0-9]*) ;; *) fnb_die "bad run id '$run_id'" ;; esac
	case $run_id in *[!A-Za-z0-9._-]*) fnb_die "bad run id '$run_id' (letters, digits, . _ - only)" ;; esac
	executor=${FRUIX_NATIVE_BUILD_EXECUTOR:-fruix-self-hosted-native-build}
	executor_version=${FRUIX_NATIVE_BUILD_EXECUTOR_VERSION:-unknown}
	state_dir=${FRUIX_NATIVE_BUILD_STATE_DIR:-/var/lib/fruix/native-builds}
	work_dir=${FRUIX_NATIVE_BUILD_WORK_DIR:-/var/tmp/fruix-native-builds}/$run_id
	state=$root$state_dir
	work=$root$work_dir
	devenv=$root/usr/local/bin/fruix-development-environment

	# The running system (its link is absolute: read under FRUIX_ROOT).
	closure=$(readlink "$root/run/current-system") || fnb_die "/run/current-system is not a link to a system closure"
	system=$root$closure

	# 1. The development overlay and its canonical links, then the toolchain's environment.
	[ -x "$devenv" ] || fnb_die "/usr/local/bin/fruix-development-environment is missing: this system has no development profile (declare one)"
	[ -e "$system/development-profile" ] || fnb_die "/run/current-system/development-profile is missing: this system has no development profile"
	[ -e "$root/usr/include" ] || [ -L "$root/usr/include" ] || fnb_die "/usr/include is missing: the development profile's canonical link is not in place"
	env_text=$("$devenv") || fnb_die "/usr/local/bin/fruix-development-environment failed"
	eval "$env_text"

	# 2. The source store, from the system's metadata: the first (source-store ...)
	#    of store-layout.scm, one field a line: (path "item") and (root "directory to build in").
	layout=$system/metadata/store-layout.scm
	[ -r "$layout" ] || fnb_die "/run/current-system/metadata/store-layout.scm is missing: cannot find the source store"
	block=$(awk '/\(source-store( |$)/ { n++ } n == 1' "$layout")
	[ -n "$block" ] || fnb_die "/run/current-system/metadata/store-layout.scm records no (source-store ...): declare the base's sources"
	source=$(printf '%s\n' "$block" | sed -n 's/^[[:space:]]*(path "\([^"]*\)").*/\1/p' | head -n 1)
	source_root=$(printf '%s\n' "$block" | sed -n 's/^[[:space:]]*(root "\([^"]*\)").*/\1/p' | head -n 1)
	if [ -z "$source" ] || [ -z "$source_root" ]; then
		fnb_die "the (source-store ...) of /run/current-system/metadata/store-layout.scm lacks its (path ...) or (root ...)"
	fi
	[ -d "$root$source_root" ] || fnb_die "the source store $source is not in this machine's store"
	# Its record as the metadata gives it: name, kind, version and where it came from.
	provenance=$(printf '%s\n' "$block" | awk '
		{ sub(/^[ \t]+/, ""); line = ""; quoted = 0
		  for (i = 1; i <= length($0) && !done; i++) {
			c = substr($0, i, 1); line = line c
			if (c == "\"" && substr($0, i - 1, 1) != "\\") quoted = !quoted
			else if (!quoted && c == "(") depth++
			else if (!quoted && c == ")" && --depth == 0) done = 1
		  }
		  out = out (out == "" ? "" : " ") line }
		done { print out; exit }')
	host_name=$(hostname 2>/dev/null || cat /etc/hostname)

	# 3. The development shell's build variables poison bootstrap builds (the seed's Phase 20.3 finding).
	sanitized=
	for v in MAKEFLAGS MFLAGS MAKELEVEL GNUMAKEFLAGS CPPFLAGS CFLAGS CXXFLAGS LDFLAGS; do
		sanitized="$sanitized \"$v\""
		unset "$v"
	done

	[ ! -e "$state/$run_id" ] || fnb_die "$state_dir/$run_id exists already: run ids name one run"
	mkdir -p "$state" "$work" || fnb_die "cannot make $state_dir and $work_dir"
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	fnb_say "run $run_id: building $fnb_family from $source_root with -j$jobs, optimization $optimization, in $work_dir"
	mkdir -p "$work/stage" || fnb_die "cannot make $work_dir/stage"
	fnb_build "$root$source_root" "$work" "$jobs" "$optimization" || fnb_die "the $fnb_family build failed (its work stays in $work_dir)"

	# 4. The record: artifacts, listings and the manifest under a temporary name, then renamed.
	tmp=$state/.$run_id.partial
	rm -rf "$tmp"
	mkdir -p "$tmp/artifacts" || fnb_die "cannot make $tmp"
	artifacts=
	for kind in $fnb_kinds; do
		[ -d "$work/stage/$kind" ] || fnb_die "the build staged no $kind (no $work/stage/$kind)"
		mv "$work/stage/$kind" "$tmp/artifacts/$kind" || fnb_die "cannot move the staged $kind"
		fnb_listing "$tmp/artifacts/$kind" >"$tmp/artifacts/$kind.files" || fnb_die "cannot list the $kind artifact"
		required=
		for f in $(fnb_required "$kind"); do
			[ -f "$tmp/artifacts/$kind/$f" ] || fnb_die "the $kind artifact lacks the required file $f"
			required="$required
  (required-file $(fnb_string "$f") \"$(fnb_sha256 "$tmp/artifacts/$kind/$f")\")"
		done
		artifacts="$artifacts
 (artifact
  (kind \"$kind\")
  (directory \"artifacts/$kind\")
  (listing \"artifacts/$kind.files\")
  (listing-sha256 \"$(fnb_sha256 "$tmp/artifacts/$kind.files")\")
  (file-count $(wc -l <"$tmp/artifacts/$kind.files" | tr -d ' '))$required)"
	done
	install_variables=
	for v in $fnb_install_variables; do install_variables="$install_variables \"$v\""; done
	cat >"$tmp/result.scm" <<EOF || fnb_die "cannot write $tmp/result.scm"
(native-build-result
 (format 1)
 (executor $(fnb_string "$executor"))
 (executor-version $(fnb_string "$executor_version"))
 (run-id "$run_id")
 (family "$fnb_family")
 (guest-host-name $(fnb_string "$host_name"))
 (closure-path $(fnb_string "$closure"))
 (source-store $(fnb_string "$source"))
 (source-provenance $(fnb_string "$provenance"))
 (build-policy
  (jobs $jobs)
  (configuration $(fnb_string "$fnb_configuration"))
  (optimization "$optimization")
  (sanitized-environment$sanitized)
  (install-variables$install_variables))
 (started "$started")
 (finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)")$artifacts)
EOF
	mv "$tmp" "$state/$run_id" || fnb_die "cannot rename $tmp to $state_dir/$run_id"
	fnb_replace_link "$run_id" "$state/latest" || fnb_die "cannot point $state_dir/latest at $run_id"
	sync
	echo "run_id=$run_id"
	echo "result_root=$state_dir/$run_id"
	echo "work_dir=$work_dir"
	echo "source_store=$source"
	echo "closure_path=$closure"
	for kind in $fnb_kinds; do echo "artifact_$kind=$state_dir/$run_id/artifacts/$kind"; done
}

fnb_main "$@"
