#!/bin/sh
# Init of the standard lab guest (a PV Linux domU with a busybox
# initramfs).  Settings come from the kernel command line:
#   ivcom.name=NAME  ivcom.ip=A.B.C.D/NN  ivcom.run=/path  ivcom.args=a,b,c
# Prints "ivcom-guest: NAME up", runs the payload, and ends with exactly one
# machine-readable line: "ivcom-guest: result: SUCCESS|FAILURE rc=N".
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu
export HOME=/root

# Early mounts call busybox directly (no PATH lookup) and are checked: a
# guest that cannot read its command line must say so, not run as "guest".
bb=/bin/busybox
early() {
    "$bb" mount -t proc proc /proc && [ -r /proc/cmdline ] && \
        "$bb" mount -t sysfs sysfs /sys && "$bb" mount -t devtmpfs devtmpfs /dev
}
early || { "$bb" sleep 1; "$bb" umount /dev /sys /proc 2>/dev/null; early; } || {
    echo "ivcom-guest: result: FAILURE init: early mounts failed"
    "$bb" poweroff -f
}
"$bb" mkdir -p /dev/pts /dev/shm
"$bb" mount -t devpts devpts /dev/pts
"$bb" mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1

for m in $(cat /etc/ivcom-modules); do
    insmod "/lib/modules/$m" 2>/dev/null || echo "ivcom-guest: warning: insmod $m failed"
done
mount -t xenfs xenfs /proc/xen 2>/dev/null

name=guest ip= run= args=
for w in $(cat /proc/cmdline); do
    case $w in
        ivcom.name=*) name=${w#*=} ;;
        ivcom.ip=*) ip=${w#*=} ;;
        ivcom.run=*) run=${w#*=} ;;
        ivcom.args=*) args=$(echo "${w#*=}" | tr ',' ' ') ;;
    esac
done
export IVCOM_GUEST_NAME=$name

ip link set lo up
if [ -n "$ip" ]; then
    i=0
    while [ ! -d /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    ip addr add "$ip" dev eth0 && ip link set eth0 up \
        || echo "ivcom-guest: warning: cannot configure eth0"
fi

echo "ivcom-guest: $name up"
rc=0
if [ -n "$run" ]; then
    # shellcheck disable=SC2086  # args are split on purpose
    "$run" $args
    rc=$?
fi
if [ $rc -eq 0 ]; then
    echo "ivcom-guest: result: SUCCESS rc=0"
else
    echo "ivcom-guest: result: FAILURE rc=$rc"
fi
sync
poweroff -f
while :; do sleep 1000; done
