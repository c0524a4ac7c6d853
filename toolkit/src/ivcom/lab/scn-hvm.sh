# Scenario hvm (trace image): dom0 <-> an HVM Linux guest, the same
# transfers over
#   tcp    -- TCP through the guest's emulated e1000 (qemu-xen in dom0, its
#             tap on the dom0 bridge): every register access is a VM exit
#             that Xen forwards to the device model
#   ivcom  -- libivcom over the guest's PV-on-HVM interfaces (grant table,
#             event channels delivered through the HVM callback vector)
# and IVCOM with both ends polling (--poll; kinds rr-poll, bulk-poll) or
# with a spin budget sized to the lab (-w HVM_SPIN_US: TCG answers in about
# a millisecond, far beyond the default 30 us; kinds rr-spin, bulk-spin);
# each session inside its own xentrace recording (TRC_GEN|SCHED|HVM: every
# VM exit with its reason, entries, hypercalls).  The dom0 clients print
# the TSC (the trace's clock) at the start and end of their measured loop
# (tsc_begin/tsc_end; a bulk sender's end is after the guest has read it
# all), so the analysis counts exactly the exits inside the transfer and
# divides by its exact work.  An idle recording gives the guest's
# background exit rate.
# Sessions: HVM_REPS rounds of [64 B round trips x HVM_RR_COUNT, a stream
# of HVM_BYTES in HVM_CHUNK writes] per transport, dom0 the client/source.
# With the tiny guest's PVH images among the shared files (ivcom-guest-
# {echo,sink}-pvh.elf, guest-pvh.cfg.in, guest-lib.sh), the same IVCOM
# sessions run once more against the tiny guest booted as PVH (transport
# "tiny"), each in a fresh guest.
# Results: sessions.jsonl (tagged "transport", "kind" rr|rr-poll|bulk|
# bulk-poll, "rep", "trace", "domid"), <transport>-<kind>-<rep>.xt,
# idle.xt, info.txt (the HVM guest's domid).
. /lab/ivcom-lib.sh

: "${HVM_RR_COUNT:=200}"
: "${HVM_BYTES:=1048576}"
: "${HVM_CHUNK:=65536}"
: "${HVM_REPS:=1}"
: "${HVM_IDLE_S:=3}"
: "${HVM_SPIN_US:=2000}"
PORT=5004
GIP=10.99.0.21
MASK=0x000bf000

/lab/trace-mount.sh || lab_fail "cannot mount the trace tree (qemu-xen lives there)"
agent_guest hv type=hvm net=1 ip=$GIP/24
# Firmware, then the emulated platform's bring-up, all under TCG: ~1 min
# on an idle host, several when other QEMUs share it.
lab_guest_up hv 600
agent_ready hv
HV=$(agent_id hv)
xl list -l hv >xl-list-long-hv.json 2>&1 || lab_fail "xl does not list hv"
grep -q '"type": "hvm"' xl-list-long-hv.json || lab_fail "xl does not report hv as HVM"
log=$CONSOLE_DIR/guest-hv.log
grep -q 'Booting paravirtualized kernel on Xen HVM' "$log" || lab_fail "hv did not boot as HVM"
grep -q 'Xen HVM callback vector for event delivery is enabled' "$log" \
    || lab_fail "hv has no HVM callback vector (event channels)"
grep -Eq 'e1000 .* eth0: Intel' "$log" || lab_fail "hv has no emulated e1000"
{
    echo "hvm_domid=$HV"
    xl info | grep -E '^(xen_version|cpu_mhz|nr_cpus|virt_caps) '
    echo "spin_us=$HVM_SPIN_US"
    echo "rr_count=$HVM_RR_COUNT bytes=$HVM_BYTES chunk=$HVM_CHUNK reps=$HVM_REPS idle_s=$HVM_IDLE_S"
} >info.txt

# trace_on NAME / trace_off NAME: a recording around one session (xentrace
# in the background, stopped with SIGINT, which flushes and exits).  Like
# trace_window, it records into /tmp and copies into the results.
trace_on() {
    rm -f "/tmp/$1.xt"
    xentrace -e "$MASK" -S 1024 -s 50 "/tmp/$1.xt" >"$1.xt.log" 2>&1 &
    TRACE_PID=$!
    sleep 1
    kill -0 "$TRACE_PID" 2>/dev/null || lab_fail "xentrace for $1 exited: $(tail -n 1 "$1.xt.log")"
}
trace_off() {
    kill -INT "$TRACE_PID" 2>/dev/null
    wait "$TRACE_PID"
    cp "/tmp/$1.xt" "$1.xt" && rm -f "/tmp/$1.xt" || lab_fail "no recording $1.xt"
}

# traced_client NAME COMMAND...: a dom0 client inside its own recording
# NAME.xt; stdout to NAME.client (re-run once if it faults at start-up).
traced_client() {
    local name=$1
    shift
    trace_on "$name"
    lab_fault_rerun "$name.client" "$name.client.err" "$@"
    rc=$?
    trace_off "$name"
    [ $rc -eq 0 ] || lab_fail "$name: $1 client failed: $(tail -n 1 "$name.client.err")"
}

# emit TRANSPORT KIND REP TRACE FILE [DOMID]: tag each JSON line into
# sessions.jsonl (DOMID: the guest whose exits count; default the HVM one).
emit() {
    sed -n "s/^{/{\"transport\": \"$1\", \"kind\": \"$2\", \"rep\": $3, \"trace\": \"$4.xt\", \"domid\": ${6:-$HV}, /p" \
        "$5" >>sessions.jsonl
}

# nic up|down: the guest's e1000 up for the TCP sessions only.  While up,
# its driver's watchdog reads some 70 device registers every 2 s (MMIO
# exits that a short IVCOM window catches now and then); down, the
# watchdog is off and IVCOM's windows see no device at all.
nic() {
    # (not "n": agent_start's own local would take the command number)
    local nicmd i=0 c=
    agent_start hv nicmd ip link set eth0 "$1"
    agent_ok hv "$nicmd" "nic-$1.out" 60
    [ "$1" = down ] && return 0
    # Carrier back (emulated link negotiation), then the TCP session.
    while [ "$c" != 1 ] && [ $i -lt 30 ]; do
        agent_start hv nicmd cat /sys/class/net/eth0/carrier
        agent_wait hv "$nicmd" nic-carrier.out 60
        read -r c <nic-carrier.out
        i=$((i + 1))
    done
    [ "$c" = 1 ] || lab_fail "hv's e1000 has no carrier after ip link set eth0 up"
}

# tcp KIND REP SPEC: lab-tcp server in the guest, client in dom0.
tcp() {
    local name=tcp-$1-$2 ts
    nic up
    agent_start hv ts lab-tcp server "$PORT" 1
    agent_running hv "$ts" || lab_fail "lab-tcp server in hv ended at once"
    sleep 1
    traced_client "$name" lab-tcp client "$GIP" "$PORT" \
        "$(echo "$3" | cut -d: -f1)" "$(echo "$3" | cut -d: -f2)" "$(echo "$3" | cut -d: -f3)"
    agent_ok hv "$ts" "$name.server" 120
    sed -n 's/^ivcom-result: //p' "$name.client" >"$name.jsonl"
    emit tcp "$1" "$2" "$name" "$name.jsonl"
    nic down
}

# ivcom TOOL KIND REP ARGS...: server in the guest (peer dom0), client in
# dom0 (the stream's source: it reports once the guest has read it all).
ivcom() {
    local tool=$1 kind=$2 rep=$3 name=ivcom-$2-$3 sn
    shift 3
    agent_start hv sn "$tool" -p 0 -n "hv$kind$rep" -t 120000 -j "$@" server
    lab_offer_wait "$HV" "hv$kind$rep" 120
    traced_client "$name" "$tool" -p "$HV" -n "hv$kind$rep" -t 120000 -j "$@" client
    agent_ok hv "$sn" "$name.server" 120
    emit ivcom "$kind" "$rep" "$name" "$name.client"
}

trace_on idle
sleep "$HVM_IDLE_S"
trace_off idle

chunks=$((HVM_BYTES / HVM_CHUNK))
[ $chunks -lt 1 ] && chunks=1
rep=1
while [ $rep -le "$HVM_REPS" ]; do
    tcp rr "$rep" "rr:64:$HVM_RR_COUNT"
    ivcom ivcom-pingpong rr "$rep" -s 64 -c "$HVM_RR_COUNT"
    ivcom ivcom-pingpong rr-poll "$rep" -s 64 -c "$HVM_RR_COUNT" --poll
    ivcom ivcom-pingpong rr-spin "$rep" -s 64 -c "$HVM_RR_COUNT" -w "$HVM_SPIN_US"
    tcp bulk "$rep" "bulk:$HVM_CHUNK:$chunks"
    ivcom ivcom-stream bulk "$rep" -S -s "$HVM_CHUNK" -c "$chunks"
    ivcom ivcom-stream bulk-poll "$rep" -S -s "$HVM_CHUNK" -c "$chunks" --poll
    ivcom ivcom-stream bulk-spin "$rep" -S -s "$HVM_CHUNK" -c "$chunks" -w "$HVM_SPIN_US"
    rep=$((rep + 1))
done
# ---- the tiny guest as PVH: no device model, no firmware, no emulated
# platform; the smallest exit count an HVM container can have.  Run when
# the shared files carry its images (ivcom bench and the test ship them).
# tiny APP KIND REP EXTRA TOOL ARGS...: the tiny APP (server, peer dom0)
# in a fresh PVH guest, libivcom's TOOL as the dom0 client.
tiny() {
    local app=$1 kind=$2 rep=$3 extra=$4 tool=$5 sess=tiny-$2-$3 ch=hvt$2$3 dom=tiny-$2-$3
    # (not "name": guest_create and guest_finish set that one)
    shift 5
    # A guest that dies before its offer is out has moved no data: under
    # TCG's nested SVM one triple-faulted on returning from a hypercall.
    # It is noted and replaced once, under a new name (a name's console
    # log is used once per boot).  HVM_TINY_FAULT=1 gives the first such
    # guest an impossible ring order, so that it leaves before offering.
    local first="role=server peer=0 name=$ch $extra"
    if [ -n "$HVM_TINY_FAULT" ]; then
        first="$first order=99"
        HVM_TINY_FAULT=
    fi
    if ! tiny_up "$dom" "$app" "$first" "$ch"; then
        keep_console "$dom"
        mv "console-$dom.log" "console-$dom-gone.log"
        lab_retry_note "$dom died before offering $ch (console-$dom-gone.log ends:" \
            "$(tail -n 1 "console-$dom-gone.log"); triple faults in xl dmesg:" \
            "$(xl dmesg | grep -c 'Triple fault')); re-created as $dom-r"
        dom=$dom-r
        tiny_up "$dom" "$app" "role=server peer=0 name=$ch $extra" "$ch" \
            || lab_fail "$dom died before offering $ch, twice"
    fi
    traced_client "$sess" "$tool" -p "$tid" -n "$ch" -t 120000 -j "$@" client
    guest_finish "$dom"
    [ "$dom" = "$sess" ] || cp "console-$dom.log" "console-$sess.log"
    grep -q '^ivcom-guest: result: SUCCESS' "console-$sess.log" \
        || lab_fail "$sess: $(grep -m1 '^ivcom-guest: result: ' "console-$sess.log")"
    emit tiny "$kind" "$rep" "$sess" "$sess.client" "$tid"
}
# tiny_up NAME APP EXTRA CH: the PVH guest created and its offer CH out
# (sets tid, offer, ref, port); 1 if the guest is gone before that.
tiny_up() {
    local t=0
    guest_cfg_pvh "$1" "$2" "$3"
    guest_create "$1"
    while [ $t -lt 600 ]; do
        tid=$(xl domid "$1" 2>/dev/null) || return 1
        if [ "$(xenstore-read "/local/domain/$tid/data/ivcom/$4/state" 2>/dev/null)" = offered ]
        then
            lab_offer_wait "$tid" "$4" 1
            return 0
        fi
        sleep 0.2
        t=$((t + 1))
    done
    lab_fail "$1: no offer $4 within 120 s"
}
ntiny=0
if [ -f "$LAB_FILES/ivcom-guest-echo-pvh.elf" ]; then
    lab_collect .
    lab_destroy hv   # alone with dom0: only the tiny guest's exits remain
    [ -f "$LAB_FILES/guest-lib.sh" ] || lab_fail "guest-lib.sh is not among the shared files"
    . "$LAB_FILES/guest-lib.sh"
    guest_files
    rep=1
    while [ $rep -le "$HVM_REPS" ]; do
        tiny echo rr "$rep" "" ivcom-pingpong -s 64 -c "$HVM_RR_COUNT"
        tiny echo rr-poll "$rep" poll ivcom-pingpong -s 64 -c "$HVM_RR_COUNT" --poll
        tiny echo rr-spin "$rep" "spin=$HVM_SPIN_US" ivcom-pingpong -s 64 -c "$HVM_RR_COUNT" \
            -w "$HVM_SPIN_US"
        tiny sink bulk "$rep" "mode=stream size=$HVM_CHUNK count=$chunks" ivcom-stream -S \
            -s "$HVM_CHUNK" -c "$chunks"
        tiny sink bulk-poll "$rep" "mode=stream size=$HVM_CHUNK count=$chunks poll" ivcom-stream \
            -S -s "$HVM_CHUNK" -c "$chunks" --poll
        tiny sink bulk-spin "$rep" "mode=stream size=$HVM_CHUNK count=$chunks spin=$HVM_SPIN_US" \
            ivcom-stream -S -s "$HVM_CHUNK" -c "$chunks" -w "$HVM_SPIN_US"
        rep=$((rep + 1))
    done
    ntiny=6
fi

n=$(grep -c . sessions.jsonl)
want=$(((8 + ntiny) * HVM_REPS))
[ "$n" -eq "$want" ] || lab_fail "expected $want session results, have $n"
lab_collect .
lab_destroy hv || :   # (already gone when the tiny guest ran)
