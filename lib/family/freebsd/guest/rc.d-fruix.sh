#!/bin/sh
#
# Activates the Fruix system this boot's loader.conf names (kenv fruix.system),
# once the local file systems are mounted and before the network and daemons.

# PROVIDE: fruix
# REQUIRE: FILESYSTEMS
# BEFORE: NETWORKING SERVERS DAEMON LOGIN
# KEYWORD: nojail

# shellcheck source=/dev/null
. /etc/rc.subr

# rc.subr reads these variables.
# shellcheck disable=SC2034
name="fruix"
# shellcheck disable=SC2034
desc="Activate the booted Fruix system"
# shellcheck disable=SC2034
start_cmd="fruix_start"
# shellcheck disable=SC2034
stop_cmd=":"

fruix_start()
{
	system=$(kenv -q fruix.system)
	[ -n "$system" ] || system=$(readlink /var/lib/fruix/system/current/closure)
	if [ -z "$system" ] || [ ! -x "$system/activate" ]; then
		echo "fruix: no system to activate (kenv fruix.system is '${system}')"
		return 1
	fi
	"$system/activate" || echo "fruix: activation of $system failed; see /var/log/fruix-activation.log"
}

load_rc_config $name
run_rc_command "$1"
