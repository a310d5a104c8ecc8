# Fruix shutdown, run by BusyBox init before it powers off or reboots: stop
# everything, then leave the root file system clean.
# The first line (#! busybox) is written by the system builder.
self=${0%/shutdown}
PATH=$self/profile/bin
export PATH
kill -TERM -1
sleep 1
kill -KILL -1
sync
umount -a -r 2>/dev/null
mount -o remount,ro / 2>/dev/null
sync
