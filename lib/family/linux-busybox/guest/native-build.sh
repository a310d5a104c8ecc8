# The linux-busybox native build (docs/native-builds.md): BusyBox from its
# Debian source package, configured as Debian's static build with every applet
# the Fruix system does not use turned off (FNB_BUSYBOX_APPLETS), built out of
# tree with make -jN, and copied into DESTDIR (as its make install would) as
# the world: bin/busybox and share/busybox/applets, the layout the
# linux-busybox base imports Debian's BusyBox into. Definitions only: the
# shared driver (lib/guest/native-build.sh) follows it and runs them.

# shellcheck disable=SC2034 # the fnb_* settings are read by the shared driver that follows
fnb_family=linux-busybox
fnb_kinds=world
fnb_configuration="debian/config/pkg/static, reduced to the applets Fruix uses"
fnb_install_variables="DESTDIR=stage/world"
# none: -O0 for BusyBox and its host tools (under TCG about a third less time; the scenario's choice).
fnb_optimizations="default none"

# What the linux-busybox system runs: boot and initramfs inits, activation,
# shutdown, services (init, getty, login, syslogd, klogd, udhcpc, httpd,
# crond, watchdog), the helper, receive.sh, the installer and the validation
# shell; test/native-build.test.ts checks that every BusyBox applet those
# scripts name is here. A few more keep an operator's shell usable.
FNB_BUSYBOX_APPLETS="[ [[ arch ash awk basename cat chgrp chmod chown clear cmp cp cpio crond cut date dd depmod df dirname dmesg du echo
egrep env expr false fgrep find findfs free getty grep groups gunzip gzip halt head hostname httpd id init insmod ip
kill killall klogd last link ln logger login ls lsmod md5sum mke2fs mkdir mknod mktemp modprobe more mount mv nc nproc
passwd pidof poweroff printf ps pwd readlink realpath reboot reset rm rmdir rmmod route sed seq setsid sh sha1sum
sha256sum sha512sum sleep sort stat strings stty switch_root sync sysctl syslogd tail tar tee test time timeout touch
tr true truncate ts tty udhcpc umount uname uniq unxz usleep w watchdog wc wget which xargs xz yes zcat"

fnb_required() { # KIND
	case $1 in
	world) echo bin/busybox share/busybox/applets ;;
	esac
}

# Debian's configuration with the applets Fruix does not use turned off: each
# applet's config symbol comes from its `//applet:IF_SYMBOL(APPLET...(name, ...` line.
# OPTIMIZATION none appends -O0 through CONFIG_EXTRA_CFLAGS (it follows BusyBox's -Os).
fnb_busybox_config() { # SOURCE BASE-CONFIG OPTIMIZATION
	# shellcheck disable=SC2086,SC2116 # splitting folds the list's lines into one line of names
	c_keep=" $(echo $FNB_BUSYBOX_APPLETS) "
	find "$1" -name '*.c' -exec grep -h '^//applet:IF_' {} + |
		sed -n 's|^//applet:IF_\([A-Z0-9_]*\)([[:space:]]*APPLET[A-Z_]*([[:space:]]*\([^,]*\),.*|\1 \2|p' |
		awk -v keep="$c_keep" '
			{ gsub(/ /, "", $2); name = $2; sym = $1
			  if (index(keep, " " name " ")) kept[sym] = 1; else seen[sym] = 1 }
			END { for (s in seen) if (!(s in kept)) print s }' >"$2.drop.tmp" || return 1
	awk -v extra="$3" 'NR == FNR { drop["CONFIG_" $1 "=y"] = 1; next }
		($0 in drop) { sub(/=y$/, ""); print "# " $0 " is not set"; next }
		extra == "none" && /^CONFIG_EXTRA_CFLAGS=/ { print "CONFIG_EXTRA_CFLAGS=\"-O0\""; next }
		{ print }' "$2.drop.tmp" "$2"
	c_status=$?
	rm -f "$2.drop.tmp"
	return $c_status
}

# The file NAME on PATH. `command -v` cannot say: a BusyBox shell built with
# FEATURE_SH_STANDALONE (Debian's static one) prefers its own applets, and
# would run its `ar` applet in place of binutils' for every recipe make hands to sh.
fnb_on_path() { # NAME
	p_rest=$PATH:
	while [ -n "$p_rest" ]; do
		p_dir=${p_rest%%:*}
		p_rest=${p_rest#*:}
		[ -n "$p_dir" ] && [ -f "$p_dir/$1" ] && [ -x "$p_dir/$1" ] && { echo "$p_dir/$1"; return 0; }
	done
	return 1
}

fnb_build() { # SOURCE WORK JOBS OPTIMIZATION
	b_source=$1
	b_obj=$2/obj
	b_dest=$2/stage/world
	if [ ! -f "$b_source/Makefile" ] || [ ! -d "$b_source/applets" ]; then
		fnb_say "$b_source is not a BusyBox source tree"
		return 1
	fi
	[ -f "$b_source/debian/config/pkg/static" ] || { fnb_say "$b_source has no debian/config/pkg/static: not BusyBox's Debian source package"; return 1; }
	b_ar=$(fnb_on_path ar) || { fnb_say "no ar on PATH: the development profile lacks binutils"; return 1; }
	mkdir -p "$b_obj" "$b_dest" || return 1
	cp "$b_source/debian/config/pkg/static" "$2/debian-static.config" || return 1
	fnb_busybox_config "$b_source" "$2/debian-static.config" "$4" >"$b_obj/.config" || return 1
	b_host= # none: kconfig's conf and the generators at -O0 too (the Makefile gives them -O2)
	if [ "$4" = none ]; then b_host=HOSTCFLAGS=-O0; fi
	fnb_say "configure: $(grep -c '=y$' "$b_obj/.config") options on (Debian's static build has $(grep -c '=y$' "$2/debian-static.config"))"
	# Out of tree (O=): the source store stays read-only.
	yes '' | make -C "$b_source" O="$b_obj" AR="$b_ar" ${b_host:+"$b_host"} oldconfig >"$2/configure.log" 2>&1 || { tail -n 20 "$2/configure.log" >&2; return 1; }
	fnb_say "build: make -j$3 busybox (AR=$b_ar; log: $2/build.log)"
	# The binary and its links list only: the documentation needs perl's pod2man.
	make -C "$b_source" O="$b_obj" AR="$b_ar" ${b_host:+"$b_host"} -j"$3" busybox busybox.links >"$2/build.log" 2>&1 || { tail -n 30 "$2/build.log" >&2; return 1; }
	fnb_say "install into DESTDIR $b_dest"
	# What `make install` (applets/install.sh) does with Debian's INSTALL_APPLET_DONT, without
	# install(1), which the builder's BusyBox lacks.
	mkdir -p "$b_dest/bin" && cp "$b_obj/busybox" "$b_dest/bin/busybox" && chmod 755 "$b_dest/bin/busybox" || return 1
	mkdir -p "$b_dest/share/busybox" || return 1
	# The applet list decides the system profile's links (as the Debian import asks the binary).
	"$b_dest/bin/busybox" --list >"$b_dest/share/busybox/applets" || return 1
	fnb_say "world: $(wc -l <"$b_dest/share/busybox/applets" | tr -d ' ') applets"
}
