# Sourced by trace scenarios in the lab's trace-flavour dom0 (busybox sh):
# mounts the trace tree (python3, bcc, kernel headers), debugfs and tracefs
# (bcc needs kprobes and tracepoints), and checks the tools are there.
if [ "$(cat /etc/ivcom-flavour 2>/dev/null)" != trace ]; then
    lab_fail "not the trace image (build it with build_image(..., flavour=\"trace\"))"
fi
/lab/trace-mount.sh >trace-mount.log 2>&1 \
    || lab_fail "cannot mount the trace tree: $(tail -n 1 trace-mount.log)"
grep -q ' /sys/kernel/debug ' /proc/mounts \
    || mount -t debugfs debugfs /sys/kernel/debug \
    || lab_fail "cannot mount debugfs"
grep -q ' /sys/kernel/tracing ' /proc/mounts \
    || mount -t tracefs tracefs /sys/kernel/tracing \
    || lab_fail "cannot mount tracefs"
[ -d "/lib/modules/$(uname -r)/build/include" ] \
    || lab_fail "kernel headers for $(uname -r) missing from the trace tree"

# ---- helpers of the trace scenarios ----------------------------------------

stamp() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" >>timing; }

# `ivcom-trace rings -j` >rings.json, its Python start-up (many seconds
# under TCG) done before the client starts, so that the listing is taken
# at a known point of the transfer whatever the load: start_rings, start
# the client, go_rings.  Two listers are started, the second a spare: a
# lister that dies silently (lab_died_silently: as processes occasionally
# do under TCG, at start-up or once seen waiting) is replaced by the spare,
# and noted.
_rings_spawn() {
    rm -f "/tmp/rings-go-$1" "/tmp/rings-ready-$1"
    RINGS_N=$1 python3 - >"rings-$1.json" 2>"rings-$1.err" <<'PY' &
import os, sys, time
from ivcom_trace import cli
n = os.environ["RINGS_N"]
cli.build_parser()  # every import done now
open(f"/tmp/rings-ready-{n}", "w").close()
while not os.path.exists(f"/tmp/rings-go-{n}"):
    time.sleep(0.05)
sys.exit(cli.main(["rings", "-j"]))
PY
    eval "rgpid$1=\$!"
}
# _rings_fail REASON: stop the listers still there, then lab_fail.
_rings_fail() {
    kill "$rgpid1" "$rgpid2" 2>/dev/null
    wait "$rgpid1" "$rgpid2" 2>/dev/null
    lab_fail "$*"
}
start_rings() {
    local n pid i st again
    _rings_spawn 1
    _rings_spawn 2
    for n in 1 2; do
        i=0 again=1
        until [ -f "/tmp/rings-ready-$n" ]; do
            eval "pid=\$rgpid$n"
            if ! kill -0 "$pid" 2>/dev/null; then
                wait "$pid"
                st=$?
                if [ $again -eq 1 ] && lab_died_silently "$st" "rings-$n.json" "rings-$n.err"; then
                    lab_retry_note "ivcom-trace rings died at start (status $st); starting it again"
                    _rings_spawn "$n"
                    i=0 again=0
                    continue
                fi
                _rings_fail "ivcom-trace rings died (status $st): $(tail -n 1 "rings-$n.err")"
            fi
            i=$((i + 1))
            [ $i -gt 600 ] && _rings_fail "ivcom-trace rings: not ready after 120s"
            sleep 0.2
        done
    done
}
go_rings() {
    touch /tmp/rings-go-1
    wait "$rgpid1"
    rc=$?
    if lab_died_silently "$rc" rings-1.json rings-1.err; then
        lab_retry_note "ivcom-trace rings died before listing (status $rc: $(head -n 1 rings-1.err)); the spare lists"
        touch /tmp/rings-go-2
        wait "$rgpid2"
        rc=$?
        mv rings-2.json rings.json
        mv rings-2.err rings.err
    else
        kill "$rgpid2" 2>/dev/null
        wait "$rgpid2" 2>/dev/null
        mv rings-1.json rings.json
        mv rings-1.err rings.err
    fi
    [ $rc -eq 0 ] || lab_fail "ivcom-trace rings -j: exit $rc: $(tail -n 1 rings.err)"
}

# wait_for FILE PATTERN PID SECONDS WHAT: until PATTERN is in FILE; fail if
# PID dies first or time runs out.
wait_for() {
    local i=0
    until grep -q "$2" "$1" 2>/dev/null; do
        kill -0 "$3" 2>/dev/null || lab_fail "$5 died: $(tail -n 1 "$1")"
        i=$((i + 1))
        [ $i -gt $(($4 * 5)) ] && lab_fail "$5: nothing after ${4}s"
        sleep 0.2
    done
}

# trace_evtchn_start: `ivcom-trace evtchn -j -T 1 600` in the background
# (evtchn.jsonl, evtchn.err; its pid in evpid), attached before returning.
# busybox (the wrapper's shell) has been seen to segfault at start under
# TCG: a tracer gone within 5 s without a word is started once more.
trace_evtchn_start() {
    ivcom-trace evtchn -j -T 1 600 >evtchn.jsonl 2>evtchn.err &
    evpid=$!
    sleep 5
    if ! kill -0 "$evpid" 2>/dev/null && [ ! -s evtchn.err ]; then
        wait "$evpid"
        lab_retry_note "ivcom-trace evtchn died at start (status $?); starting it again"
        ivcom-trace evtchn -j -T 1 600 >evtchn.jsonl 2>evtchn.err &
        evpid=$!
    fi
    wait_for evtchn.err '^Tracing Xen event channels' "$evpid" "${TRACE_BCC_TIMEOUT:-240}" \
        "ivcom-trace evtchn"
    stamp evtchn-attached
}
