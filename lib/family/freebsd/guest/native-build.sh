# The FreeBSD native build (docs/native-builds.md), the seed's sequence:
#   make -jN buildworld; make -jN buildkernel;
#   make DESTDIR=... DB_FROM_SRC=yes installworld, distribution, installkernel
# with objects under WORK/obj (MAKEOBJDIRPREFIX; the source store stays
# read-only) and the install staged in WORK/stage/root, then split into the
# layouts the freebsd base's set items have: world (tree/ without
# boot/kernel, mtree), kernel (tree/boot/kernel, mtree), headers
# (usr/include) and bootloader (efi/loader.efi). The driver has already
# unset the development shell's MAKEFLAGS, CFLAGS, ... (buildworld's
# bootstrap breaks with them). Definitions only: the shared driver
# (lib/guest/native-build.sh) follows it and runs them.
# Tested structurally (a recording make); no FreeBSD build has run here.

# shellcheck disable=SC2034 # the fnb_* settings are read by the shared driver that follows
fnb_family=freebsd
fnb_kinds="world kernel headers bootloader"
fnb_configuration="KERNCONF=${FRUIX_NATIVE_BUILD_KERNCONF:-GENERIC}"
fnb_install_variables="DESTDIR DB_FROM_SRC=yes"
# buildworld sets its own -O levels per part; no quicker variant is offered.
fnb_optimizations="default"

fnb_required() { # KIND
	case $1 in
	world) echo mtree tree/bin/sh tree/sbin/init tree/etc/rc tree/etc/master.passwd tree/etc/group tree/libexec/ld-elf.so.1 tree/usr/sbin/pwd_mkdb ;;
	kernel) echo mtree tree/boot/kernel/kernel ;;
	headers) echo usr/include/stdio.h usr/include/sys/param.h ;;
	bootloader) echo efi/loader.efi ;;
	esac
}

# The owners, modes and flags the store cannot keep, one flat line per path (mtree -C).
fnb_freebsd_mtree() { # TREE
	mtree -c -p "$1" -k type,uid,gid,uname,gname,mode,link,flags | mtree -C -k type,uid,gid,uname,gname,mode,link,flags
}

fnb_build() { # SOURCE WORK JOBS
	f_source=$1
	f_root=$2/stage/root
	f_kernconf=${FRUIX_NATIVE_BUILD_KERNCONF:-GENERIC}
	if [ ! -f "$f_source/Makefile" ] || [ ! -f "$f_source/sys/conf/newvers.sh" ]; then
		fnb_say "$f_source is not a FreeBSD source tree"
		return 1
	fi
	export MAKEOBJDIRPREFIX="$2/obj"
	mkdir -p "$MAKEOBJDIRPREFIX" "$f_root" || return 1
	cd "$f_source" || return 1
	fnb_say "make -j$3 buildworld"
	make -j"$3" buildworld >"$2/buildworld.log" 2>&1 || { tail -n 30 "$2/buildworld.log" >&2; return 1; }
	fnb_say "make -j$3 buildkernel KERNCONF=$f_kernconf"
	make -j"$3" buildkernel KERNCONF="$f_kernconf" >"$2/buildkernel.log" 2>&1 || { tail -n 30 "$2/buildkernel.log" >&2; return 1; }
	# DB_FROM_SRC: accounts come from the declared source tree, not the guest's /etc/master.passwd.
	for f_target in installworld distribution installkernel; do
		fnb_say "make $f_target DESTDIR=$f_root DB_FROM_SRC=yes"
		make "$f_target" DESTDIR="$f_root" DB_FROM_SRC=yes KERNCONF="$f_kernconf" >"$2/$f_target.log" 2>&1 || { tail -n 30 "$2/$f_target.log" >&2; return 1; }
	done
	cd / || return 1

	f_stage=$2/stage
	mkdir -p "$f_stage/kernel/tree/boot" "$f_stage/headers/usr" "$f_stage/bootloader/efi" "$f_stage/world" || return 1
	cp -p "$f_root/boot/loader.efi" "$f_stage/bootloader/efi/loader.efi" || return 1
	cp -Rp "$f_root/usr/include" "$f_stage/headers/usr/include" || return 1
	mv "$f_root/boot/kernel" "$f_stage/kernel/tree/boot/kernel" || return 1
	fnb_freebsd_mtree "$f_stage/kernel/tree" >"$f_stage/kernel/mtree" || return 1
	fnb_freebsd_mtree "$f_root" >"$f_stage/world/mtree" || return 1
	# Recorded in the mtree above; left on, schg would make the staged world immovable and undeletable.
	chflags -R noschg "$f_root" 2>/dev/null || true
	mv "$f_root" "$f_stage/world/tree" || return 1
}
