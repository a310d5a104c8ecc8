#!/bin/sh
#
# Runs the Fruix installer of the booted installer system (kenv fruix.system)
# once it is activated, before the console login starts. On failure the
# login stays available, to look around.

# PROVIDE: fruix_installer
# REQUIRE: fruix
# BEFORE: LOGIN
# KEYWORD: nojail

# shellcheck source=/dev/null
. /etc/rc.subr

# rc.subr reads these variables.
# shellcheck disable=SC2034
name="fruix_installer"
# shellcheck disable=SC2034
rcvar="fruix_installer_enable"
# shellcheck disable=SC2034
desc="Install the Fruix system this installer carries"
# shellcheck disable=SC2034
start_cmd="fruix_installer_start"
# shellcheck disable=SC2034
stop_cmd=":"

fruix_installer_start()
{
	"$(kenv -q fruix.system)/profile/bin/fruix-installer" || true
}

load_rc_config $name
run_rc_command "$1"
