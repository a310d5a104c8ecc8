# Fruix activation, development part (docs/native-builds.md): the system
# builder puts this into the activation of closures that have a development
# profile, before their "activated" line. It links the profile where tools
# look for it; the runtime profile and PATH stay as they are.
# shellcheck shell=sh disable=SC2154 # self, say and install_file: activate.sh's
development=$(readlink "$self/development-profile")
ln -sfn "$development" /run/current-development
if [ -L /usr/include ] || [ ! -e /usr/include ]; then
	ln -sfn /run/current-system/development-profile/usr/include /usr/include
else
	say "/usr/include is a directory; leaving it"
fi
install_file "$self/development-profile/bin/fruix-development-environment" /usr/local/bin/fruix-development-environment 555
say "development profile $development"
install_file "$self/native-build/fruix-self-hosted-native-build" /usr/local/bin/fruix-self-hosted-native-build 555
