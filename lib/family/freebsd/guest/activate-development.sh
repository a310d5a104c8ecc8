# Fruix activation on FreeBSD, development part (docs/native-builds.md): the
# system builder puts this into the activation of closures that have a
# development profile, before their "activated" line. The rootfs already
# links /usr/include and /usr/share/mk into the profile; this keeps them so
# and links /run/current-development. The runtime PATH stays as it is.
# shellcheck shell=sh disable=SC2154 # self, say and install_file: activate.sh's
development=$(readlink "$self/development-profile")
ln -sfh "$development" /run/current-development
for dir in include share/mk; do
	if [ -L "/usr/$dir" ] || [ ! -e "/usr/$dir" ]; then
		ln -sfh "/run/current-system/development-profile/usr/$dir" "/usr/$dir"
	else
		say "/usr/$dir is a directory; leaving it"
	fi
done
install_file "$self/development-profile/bin/fruix-development-environment" /usr/local/bin/fruix-development-environment 555
say "development profile $development"
install_file "$self/native-build/fruix-self-hosted-native-build" /usr/local/bin/fruix-self-hosted-native-build 555
