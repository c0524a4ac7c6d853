# Shell helpers for lab scenarios (sourced in dom0; busybox sh).
#
# A scenario runs in its results directory $OUT (on the host's 9p share):
# whatever it writes there comes back to the host.  It fails by exiting
# non-zero; lab_fail also records a one-line reason in $OUT/reason.

LAB=${LAB:-/lab}
LAB_GUEST_KERNEL=$LAB/guest/vmlinux
LAB_GUEST_INITRD=$LAB/guest/initrd.cpio
LAB_CFG_DIR=/var/lib/xen/cfg
CONSOLE_DIR=/var/log/xen/console

lab_log() { echo "ivcom-lab: [$LAB_NAME] $*" >/dev/console; echo "$*"; }

lab_fail() {
    echo "$*" >>"${OUT:-/tmp}/reason"
    lab_log "FAIL: $*"
    exit 1
}

# lab_ktap STATUS DESC [WHY]: one verdict, KTAP style, in ktap.txt and on
# the console as the check is made: "ok N DESC" when STATUS is 0, else
# "not ok N DESC # WHY".  The host reads verdicts from ktap.txt alone.
lab_ktap() {
    local line
    LAB_KTAP_N=$((${LAB_KTAP_N:-0} + 1))
    if [ "$1" -eq 0 ]; then
        line="ok $LAB_KTAP_N $2"
    else
        line="not ok $LAB_KTAP_N $2${3:+ # $3}"
    fi
    echo "$line" >>"${OUT:-/tmp}/ktap.txt"
    lab_log "$line"
}

# Record a retry: the runner reports these.
lab_retry_note() {
    echo "$*" >>"${OUT:-/tmp}/retries"
    lab_log "retry: $*"
}

# lab_died_silently STATUS OUT ERR: true if a process that exited with
# STATUS was killed by a fault signal (SIGILL/ABRT/BUS/FPE/SEGV), or its
# exec failed ("not found", 127), before it printed anything: under TCG a
# process occasionally dies so (at start-up, and seen once in a Python
# process waiting in a sleep loop).  "Anything" is OUT and ERR beyond the
# shell's one line for the signal, and for SIGABRT glibc's one line on a
# corrupt heap ("malloc(): corrupted top size"); our tools report their
# own errors and exit 1, they never abort.
lab_died_silently() {
    local lines
    case $1 in
        127|132|134|135|136|139) ;;
        *) return 1 ;;
    esac
    [ -s "$2" ] && return 1
    lines=$(wc -l <"$3")
    if [ "$1" -eq 134 ] && [ "$lines" -eq 2 ] &&
        head -n 1 "$3" | grep -Eq '^(malloc|free|realloc|double free|corrupted)'
    then
        lines=1
    fi
    [ "$lines" -le 1 ]
}

# lab_fault_rerun OUT ERR COMMAND...: run COMMAND (stdout to OUT, stderr to
# ERR); if it died silently (lab_died_silently), note it and run it once
# more.  Returns its status.
lab_fault_rerun() {
    local out=$1 err=$2 rc
    shift 2
    "$@" >"$out" 2>"$err"
    rc=$?
    if lab_died_silently "$rc" "$out" "$err"; then
        lab_retry_note "$1 died (status $rc: $(head -n 1 "$err")) before any output; re-ran it"
        "$@" >"$out" 2>"$err"
        rc=$?
    fi
    return $rc
}

# lab_offer_wait SERVER_DOMID NAME [LIMIT_S]: wait (default 90 s) until
# the IVCOM offer NAME of SERVER_DOMID says "offered"; sets offer (its
# XenStore directory), ref (its ctrl-ref) and port (its event-channel).
lab_offer_wait() {
    local t=0 limit=$((${3:-90} * 5))
    offer=/local/domain/$1/data/ivcom/$2
    until [ "$(xenstore-read "$offer/state" 2>/dev/null)" = offered ]; do
        [ $t -ge $limit ] && lab_fail "no offer $2 from dom$1 within ${3:-90} s"
        sleep 0.2
        t=$((t + 1))
    done
    ref=$(xenstore-read "$offer/ctrl-ref") || lab_fail "no ctrl-ref in offer $2"
    port=$(xenstore-read "$offer/event-channel") || lab_fail "no event-channel in offer $2"
}

# lab_guest_cfg NAME [key=value ...] -> path of a generated xl config.
#   memory=MiB (256)  vcpus=N (1)  ip=A.B.C.D/NN  run=/path/in/guest
#   args=a,b,c (commas become spaces)  net=1 (a vif on xenbr0)  type=pv|pvh|hvm
#   type=hvm: qemu-xen in dom0 (trace image), net=1 gives an emulated e1000
#   mac=xx:xx:..  kernel= ramdisk= (override the standard guest)
lab_guest_cfg() {
    name=$1; shift
    memory=256 vcpus=1 ip= run= args= net= type=pv mac= extra_cfg=
    kernel=$LAB_GUEST_KERNEL ramdisk=$LAB_GUEST_INITRD
    for kv in "$@"; do
        case $kv in
            memory=*|vcpus=*|ip=*|run=*|args=*|net=*|type=*|mac=*|kernel=*|ramdisk=*)
                eval "${kv%%=*}=\${kv#*=}" ;;
            *) lab_fail "lab_guest_cfg: unknown setting $kv" ;;
        esac
    done
    vif=
    if [ -n "$net" ]; then
        lab_bridge_up
        if [ -z "$mac" ]; then
            # Locally unique per boot: a counter in /tmp.
            n=$(( $(cat /tmp/lab-mac-seq 2>/dev/null || echo 0) + 1 ))
            echo "$n" >/tmp/lab-mac-seq
            mac=$(printf '00:16:3e:1c:%02x:%02x' $((n / 256 % 256)) $((n % 256)))
        fi
        vif="vif = [ 'bridge=xenbr0,mac=$mac,script=$LAB/vif-lab.sh' ]"
    fi
    tsc= hvm=
    # Native TSC for HAP guests: an emulated TSC intercepts RDTSCP, whose
    # length TCG's SVM does not report (nRIP), and Xen then kills the guest.
    [ "$type" != pv ] && tsc='tsc_mode = "native"'
    cmdline="console=hvc0 ivcom.name=$name"
    if [ "$type" = hvm ]; then
        # Direct kernel boot through hvmloader + SeaBIOS, qemu-xen in dom0;
        # no display.  The NIC is an emulated e1000 (type=ioemu: libxl adds
        # a PV vif beside it, which the guest does not use), and the guest
        # keeps it (Linux unplugs emulated NICs by default).
        hvm='vga = "none"; nographic = 1; serial = "none"; xen_platform_pci = 1'
        [ "$kernel" = "$LAB_GUEST_KERNEL" ] && kernel=$LAB/guest/vmlinuz
        [ -n "$vif" ] && vif=$(echo "$vif" | sed "s/\[ '/[ 'type=ioemu,model=e1000,/")
        cmdline="$cmdline xen_emul_unplug=never"
    fi
    [ -n "$ip" ] && cmdline="$cmdline ivcom.ip=$ip"
    [ -n "$run" ] && cmdline="$cmdline ivcom.run=$run"
    [ -n "$args" ] && cmdline="$cmdline ivcom.args=$args"
    mkdir -p "$LAB_CFG_DIR"
    cfg=$LAB_CFG_DIR/$name.cfg
    sed -e "s|@NAME@|$name|g" -e "s|@TYPE@|$type|g" -e "s|@MEMORY@|$memory|g" \
        -e "s|@VCPUS@|$vcpus|g" -e "s|@KERNEL@|$kernel|g" -e "s|@RAMDISK@|$ramdisk|g" \
        -e "s|@CMDLINE@|$cmdline|g" -e "s|@VIF@|$vif|g" -e "s|@TSC@|$tsc|g" -e "s|@HVM@|$hvm|g" \
        "$LAB/domu-pv.cfg.in" >"$cfg"
    cp "$cfg" "${OUT:-/tmp}/$name.cfg" 2>/dev/null
    echo "$cfg"
}

# lab_guest NAME [settings...]: xl create, confirmed with `xl list`; on
# failure (xl's helper occasionally crashes under TCG) or an xl create that
# has not returned within LAB_XL_CREATE_S seconds (default 300), retry once
# and say so.
lab_guest() {
    local name=$1 cfg attempt why rc limit=${LAB_XL_CREATE_S:-300}
    cfg=$(lab_guest_cfg "$@") || exit 1
    attempt=1
    while :; do
        timeout "$limit" xl create "$cfg" >"${OUT:-/tmp}/xl-create-$name.log" 2>&1
        rc=$?
        if [ $rc -eq 0 ] && xl list "$name" >/dev/null 2>&1; then
            lab_log "created $name (domid $(xl domid "$name"))"
            return 0
        fi
        why=$(tail -n 1 "${OUT:-/tmp}/xl-create-$name.log")
        case $rc in 124|143) why="did not return within ${limit}s (last: $why)" ;; esac
        xl destroy "$name" >/dev/null 2>&1
        [ $attempt -ge 2 ] && lab_fail "xl create $name failed twice: $why"
        lab_retry_note "xl create $name failed ($why); retrying once"
        attempt=2
        sleep 1
    done
}

lab_domid() { xl domid "$1" 2>/dev/null; }

# lab_wait_console NAME PATTERN [TIMEOUT_S]: wait for an extended regex in
# the guest's console log.  Fails the scenario on timeout or if the guest
# disappears (crash) before printing it.
lab_wait_console() {
    lab_poll_console "$@"
    case $? in
        0) return 0 ;;
        1) lab_fail "$1 died before printing '$2'" ;;
        *) lab_fail "$1: no '$2' on its console within ${3:-60}s" ;;
    esac
}

# lab_poll_console NAME PATTERN [TIMEOUT_S]: 0 seen, 1 guest gone, 2 timeout.
lab_poll_console() {
    local name=$1 pattern=$2 limit=${3:-60} log t=0
    log=$CONSOLE_DIR/guest-$name.log
    while [ $t -lt $((limit * 5)) ]; do
        grep -Eq "$pattern" "$log" 2>/dev/null && return 0
        if [ $((t % 10)) -eq 9 ] && ! xl list "$name" >/dev/null 2>&1; then
            grep -Eq "$pattern" "$log" 2>/dev/null && return 0
            return 1
        fi
        sleep 0.2
        t=$((t + 1))
    done
    return 2
}

# lab_guest_up NAME [TIMEOUT_S]: wait for the standard guest's
# "ivcom-guest: NAME up" marker.  A guest that dies or stalls before it
# (a rare start-up fault under TCG) is re-created once, and that is noted.
lab_guest_up() {
    local name=$1 limit=${2:-120} rc
    lab_poll_console "$name" "^ivcom-guest: $name up" "$limit"
    rc=$?
    [ $rc -eq 0 ] && return 0
    local log=$CONSOLE_DIR/guest-$name.log
    local why="died"
    [ $rc -eq 2 ] && why="stalled ${limit}s"
    lab_retry_note "$name $why before its marker ($(grep -m1 -E 'not found|FAILURE|panic|fault' "$log" 2>/dev/null | head -c 120)); re-creating once"
    xl destroy "$name" >/dev/null 2>&1
    [ -f "$log" ] && mv "$log" "$CONSOLE_DIR/guest-$name.try1.log"
    xl create "$LAB_CFG_DIR/$name.cfg" >>"${OUT:-/tmp}/xl-create-$name.log" 2>&1 \
        || lab_fail "xl create $name (second attempt) failed"
    lab_poll_console "$name" "^ivcom-guest: $name up" "$limit" \
        || lab_fail "$name did not come up on the second attempt either"
}

# The standard guest init ends with one "ivcom-guest: result: ..." line.
lab_wait_result() {
    lab_wait_console "$1" '^ivcom-guest: result: ' "${2:-120}"
    grep -q '^ivcom-guest: result: SUCCESS' "$CONSOLE_DIR/guest-$1.log" \
        || lab_fail "$1: $(grep '^ivcom-guest: result: ' "$CONSOLE_DIR/guest-$1.log" | head -n 1)"
}

# Lines "ivcom-result: {json}" printed by a guest, one JSON object per line.
lab_guest_results() {
    sed -n 's/^ivcom-result: //p' "$CONSOLE_DIR/guest-$1.log" | tr -d '\r'
}

lab_bridge_up() {
    [ -d /sys/class/net/xenbr0 ] && return 0
    brctl addbr xenbr0 || lab_fail "cannot create bridge xenbr0"
    brctl setfd xenbr0 0 2>/dev/null
    brctl stp xenbr0 off 2>/dev/null
    ip addr add 10.99.0.1/24 dev xenbr0
    ip link set xenbr0 up
}

lab_destroy() { xl destroy "$1" >/dev/null 2>&1; }

lab_destroy_all() {
    for d in $(xl list 2>/dev/null | awk 'NR > 1 && $2 != 0 { print $1 }'); do
        xl destroy "$d" >/dev/null 2>&1
    done
}

# Copy guest console logs (and xl's own logs) into a results directory.
lab_collect() {
    mkdir -p "$1/consoles"
    for f in "$CONSOLE_DIR"/guest-*.log; do
        [ -f "$f" ] && cp "$f" "$1/consoles/"
    done
    for f in /var/log/xen/xl-*.log /var/log/xen/qemu-dm-*.log /var/log/xen/vif-lab.log; do
        [ -f "$f" ] && cp "$f" "$1/consoles/"
    done
    xl list >"$1/xl-list.txt" 2>&1
}

# Forget console logs of guests that are gone (between scenarios).
lab_forget_consoles() {
    for f in "$CONSOLE_DIR"/guest-*.log; do
        [ -f "$f" ] || continue
        n=${f##*/guest-}
        n=${n%.log}
        xl list "${n%.try1}" >/dev/null 2>&1 || rm -f "$f"
    done
    rm -f /var/log/xen/xl-*.log /var/log/xen/qemu-dm-*.log /var/log/xen/vif-lab.log
}
