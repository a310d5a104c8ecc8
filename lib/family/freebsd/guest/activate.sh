# Fruix activation on FreeBSD: make this closure the running system and say
# so on the console in exactly one line. Run by rc.d/fruix with FreeBSD's sh;
# the first line (#!/bin/sh) is written by the system builder.
self=${0%/activate}
# shellcheck source=/dev/null
. "$self/parameters"
PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PATH

mkdir -p /var/log /var/lib/fruix
log=/var/log/fruix-activation.log
exec 3>>"$log"
say() {
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*" >&3
}
say "activating $self"

# /run is a fresh memory file system at every boot, as on the linux-busybox base.
mkdir -p /run
if ! mount -p | awk '$2 == "/run" { found = 1 } END { exit !found }'; then
	if ! mount -t tmpfs -o mode=0755 tmpfs /run 2>&3; then
		say "no tmpfs for /run; using the root file system"
		rm -rf /run/fruix-generations.lock # what a tmpfs would not have kept: see fruix.sh
	fi
fi
ln -sfh "$self" /run/current-system
ln -sfh "$self" /run/booted-system

install_file() { # SOURCE DEST MODE: replace DEST by rename, never half-written
	cp "$1" "$2.fruix-new" && chmod "$3" "$2.fruix-new" && mv -f "$2.fruix-new" "$2"
}

hostname "$FRUIX_HOST_NAME"
say "host name $FRUIX_HOST_NAME"

if [ -f "/usr/share/zoneinfo/$FRUIX_TIMEZONE" ]; then
	install_file "/usr/share/zoneinfo/$FRUIX_TIMEZONE" /etc/localtime 444
	echo "$FRUIX_TIMEZONE" >/var/db/zoneinfo
fi

# Accounts: pwd_mkdb checks master.passwd, builds the databases and /etc/passwd,
# and renames its input over /etc/master.passwd.
install_file "$self/etc/group" /etc/group 644
cp "$self/etc/master.passwd" /etc/master.passwd.fruix-new && chmod 600 /etc/master.passwd.fruix-new
if pwd_mkdb -p /etc/master.passwd.fruix-new 2>&3; then
	say "accounts: $(cut -d: -f1 /etc/master.passwd | tr '\n' ' ')"
else
	rm -f /etc/master.passwd.fruix-new
	say "pwd_mkdb refused the new accounts; keeping the old ones"
fi
while IFS=: read -r name _ uid gid _ _ _ _ home _; do
	case " $FRUIX_USERS " in *" $name "*) ;; *) continue ;; esac
	[ -d "$home" ] && continue
	mkdir -p "$home" && chown "$uid:$gid" "$home" && chmod 700 "$home"
	say "created home $home for $name"
done </etc/master.passwd

# Files the next boot reads before activation runs: rc.conf (sourcing the
# booted closure's settings), this rc.d script, ttys and gettytab for init.
install_file "$self/etc/rc.conf" /etc/rc.conf 644
install_file "$self/etc/rc.d/fruix" /etc/rc.d/fruix 555
for file in ttys gettytab; do
	[ -f "$self/etc/$file" ] && install_file "$self/etc/$file" "/etc/$file" 644
done
if [ -f "$self/etc/root-authorized-keys" ]; then
	mkdir -p /root/.ssh && chmod 700 /root/.ssh
	install_file "$self/etc/root-authorized-keys" /root/.ssh/authorized_keys 600
fi

mkdir -p /usr/local/bin
install_file "$FRUIX_HELPER" /usr/local/bin/fruix 555

say "activated $self"
mkdir -p /run/fruix
: >/run/fruix/activated
echo "fruix: activated $self"

# Trial boots (docs/generations.md): at every boot the helper finishes a
# trial, in the background while rc goes on: on the trial boot (kenv
# fruix.trial) it runs the health checks, then promotes the generation into
# /boot/loader.conf or marks it bad, and then this reboots into the old one.
(
	out=$(/usr/local/bin/fruix system assess-boot 2>/dev/console)
	say "assess-boot: $(echo "$out" | tr '\n' ' ')"
	case $out in
	trial=none*) ;;
	*) echo "fruix: trial: $(echo "$out" | tr '\n' ' ')" >/dev/console ;;
	esac
	case $out in
	trial=failed*reboot_required=yes*) shutdown -r now ;;
	esac
) </dev/null >/dev/null 2>&1 &
