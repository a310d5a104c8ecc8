# Fruix activation: make this closure the running system, start its services,
# and say so on the console in exactly one line.
# The first line (#! busybox) is written by the system builder.
self=${0%/activate}
# shellcheck source=/dev/null
. "$self/parameters"
PATH=$self/profile/bin
FRUIX_SYSTEM=$self
export PATH FRUIX_SYSTEM

mkdir -p /var/log /etc /run/fruix/services
log=/var/log/fruix-activation.log
exec 3>>"$log"
say() {
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*" >&3
}
say "activating $self"

# /run is a fresh tmpfs at every boot, so plain links are enough here.
ln -sfn "$self" /run/current-system
ln -sfn "$self" /run/booted-system

install_file() { # SOURCE DEST MODE: replace DEST by rename, never half-written
	cp "$1" "$2.fruix-new" && chmod "$3" "$2.fruix-new" && mv -f "$2.fruix-new" "$2"
}

echo "$FRUIX_HOST_NAME" >/etc/hostname
hostname "$FRUIX_HOST_NAME"
say "host name $FRUIX_HOST_NAME"

# Disks written by Fruix list their ESP in /etc/fstab; generations need it mounted.
if [ -f /etc/fstab ]; then
	mount -a 2>&3 && say "mounted the file systems of /etc/fstab"
fi

install_file "$self/etc/passwd" /etc/passwd 644
install_file "$self/etc/group" /etc/group 644
install_file "$self/etc/shadow" /etc/shadow 600
install_file "$self/etc/inittab" /etc/inittab 644
install_file "$self/etc/profile" /etc/profile 644
while IFS=: read -r name _ uid gid _ home _; do
	[ -d "$home" ] && continue
	mkdir -p "$home" && chown "$uid:$gid" "$home" && chmod 700 "$home"
	say "created home $home for $name"
done </etc/passwd
say "accounts: $(cut -d: -f1 /etc/passwd | tr '\n' ' ')"

mkdir -p /usr/local/bin
install_file "$FRUIX_HELPER" /usr/local/bin/fruix 555

ip link set lo up 2>/dev/null

start_service() { # NAME: run it under a loop that restarts it when it exits
	name=$1
	(
		while :; do
			# NAME.run-pid is the service's own process while it runs (health checks read it).
			"$self/services/$name/run" &
			echo "$!" >"/run/fruix/services/$name.run-pid"
			wait "$!"
			status=$?
			rm -f "/run/fruix/services/$name.run-pid"
			say "service $name exited with status $status; restarting in 1 s"
			sleep 1
		done
	) </dev/null >>"/var/log/service-$name.log" 2>&1 &
	echo "$!" >"/run/fruix/services/$name.pid"
	say "started service $name (supervisor pid $!)"
}
for service in $FRUIX_SERVICES; do
	start_service "$service"
done

say "activated $self"
: >/run/fruix/activated
echo "fruix: activated $self"

# Trial boots (docs/generations.md): at every boot the helper finishes a
# trial, in the background: on the trial boot it runs the health checks, then
# blesses the generation or marks it bad, and then this reboots.
(
	out=$(/usr/local/bin/fruix system assess-boot 2>/dev/console)
	say "assess-boot: $(echo "$out" | tr '\n' ' ')"
	case $out in
	trial=none*) ;;
	*) echo "fruix: trial: $(echo "$out" | tr '\n' ' ')" >/dev/console ;;
	esac
	case $out in
	trial=failed*reboot_required=yes*)
		sync
		reboot
		;;
	esac
) </dev/null >/dev/null 2>&1 &
