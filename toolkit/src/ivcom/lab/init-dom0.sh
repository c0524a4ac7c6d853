#!/bin/sh
# dom0 init for the IVCOM Xen lab.
#
# Brings up the Xen toolstack (modules, xenfs, xenstored, xen-init-dom0,
# xenconsoled), mounts the run directory the host shares over 9p at
# /labrun, runs each scenario listed in /labrun/scenarios with its results
# going to /labrun/results/<name>/, then powers the machine off.  Progress
# goes to the console as single "ivcom-lab: ..." lines, which the host-side
# runner turns into stages; everything else it needs comes back as files.

export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu
export HOME=/root LAB=/lab

say() { echo "ivcom-lab: $*"; }

halt_now() {
    sync
    umount /labrun 2>/dev/null
    poweroff -f
    # poweroff must not return; if it does, stop here rather than panic.
    while :; do sleep 1000; done
}

fail() {
    say "dom0 failed: $*"
    halt_now
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mkdir -p /run/lock
exec </dev/console >/dev/console 2>&1

say "dom0 init ($(cat /etc/ivcom-image | tr '\n' ' '))"
for m in $(cat /etc/ivcom-modules); do
    insmod "/lib/modules/$m" || say "warning: insmod $m failed"
done

mount -t xenfs xenfs /proc/xen || fail "stage=xenfs: cannot mount xenfs"
[ -e /dev/xen/evtchn ] || fail "stage=modules: /dev/xen/evtchn missing"

mkdir -p /labrun
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 labrun /labrun \
    || fail "stage=share: cannot mount the 9p run directory"
mkdir -p /labrun/results

mkdir -p /var/run/xen /var/run/xenstored /var/lib/xen /var/log/xen/console /run/xen
xenstored --pid-file /var/run/xen/xenstored.pid || fail "stage=xenstored: did not start"
i=0
while [ ! -S /var/run/xenstored/socket ] && [ $i -lt 100 ]; do
    sleep 0.1; i=$((i + 1))
done
xen-init-dom0 >/var/log/xen/xen-init-dom0.log 2>&1 \
    || fail "stage=xen-init-dom0: $(tail -n 1 /var/log/xen/xen-init-dom0.log)"
xenconsoled --pid-file=/var/run/xen/xenconsoled.pid --log=guest \
    --log-dir=/var/log/xen/console || fail "stage=xenconsoled: did not start"
ip link set lo up

xl info >/labrun/results/xl-info.txt 2>&1 || fail "stage=xl: xl info failed"
say "dom0 ready"

. /lab/lib.sh

if [ -f /labrun/env ]; then
    . /labrun/env
fi
: "${LAB_SCENARIO_TIMEOUT:=300}"

for name in $(cat /labrun/scenarios 2>/dev/null); do
    out=/labrun/results/$name
    mkdir -p "$out"
    say "scenario $name begin"
    (
        cd "$out" && OUT=$out LAB_NAME=$name \
            timeout "$LAB_SCENARIO_TIMEOUT" sh -c '. /lab/lib.sh; . "/labrun/scn/$LAB_NAME.sh"'
    ) >"$out/scenario.log" 2>&1
    rc=$?
    [ $rc -eq 143 ] && echo "timed out after ${LAB_SCENARIO_TIMEOUT}s" >>"$out/reason"
    lab_collect "$out"
    echo "$rc" >"$out/rc"
    say "scenario $name end rc=$rc"
    lab_destroy_all
    lab_forget_consoles
done

xl list >/labrun/results/xl-list-final.txt 2>&1
dmesg >/labrun/results/dom0-dmesg.txt 2>&1
cp /var/log/xen/*.log /labrun/results/ 2>/dev/null
say "all done"
halt_now
