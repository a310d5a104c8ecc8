# Fruix stage 2 (PID 1 on the mounted root): mount the virtual file systems,
# activate this closure, then hand over to BusyBox init for ttys and shutdown.
# The first line (#! busybox) is written by the system builder.
self=${0%/boot/init}
# shellcheck source=/dev/null
. "$self/parameters"
bb=$FRUIX_BUSYBOX

"$bb" mkdir -p /proc /sys /dev /run /tmp
[ -e /proc/self ] || "$bb" mount -t proc proc /proc
mounted() { "$bb" grep -q " $1 " /proc/mounts; }
mounted /sys || "$bb" mount -t sysfs sysfs /sys
mounted /dev || "$bb" mount -t devtmpfs devtmpfs /dev
"$bb" mkdir -p /dev/pts /dev/shm
"$bb" mount -t devpts devpts /dev/pts
"$bb" mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
"$bb" mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp

"$self/activate" || echo "fruix: activation of $self failed; see /var/log/fruix-activation.log"
exec "$bb" init
