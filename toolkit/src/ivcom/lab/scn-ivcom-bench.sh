# Scenario ivcom-bench: IVCOM against the paths it replaces, side by side
# in one boot, between the same two PV domUs (ia -> ib):
#   ivcom  -- libivcom over the xen-linux backend (ivcom-pingpong,
#             ivcom-stream in stream mode, 64 KiB rings)
#   tcp    -- TCP over netfront/netback through the dom0 bridge (lab-tcp)
#   vchan  -- libxenvchan, 64 KiB rings (lab-vchan; server in ib)
# Sessions: BENCH_RR_REPS rounds of a 64 B round-trip session per transport
# (interleaved), then for each size in
# BENCH_SIZES and each of BENCH_REPS repetitions a bulk session moving
# about BENCH_BYTES bytes.  Then, per transport, a 64 B round-trip session
# (and an IVCOM 64 B message stream) lasting BENCH_TRACE_S + 6 seconds with
# a BENCH_TRACE_S-second xentrace window recorded in its middle:
# trace-<what>.xt.
# Results: sessions.jsonl, one JSON object per session, tagged with
# "transport", "kind" (rr|bulk|trace-rr|trace-msg) and "rep"; info.txt.
. /lab/ivcom-lib.sh

: "${BENCH_RR_COUNT:=2000}"
: "${BENCH_SIZES:=64 1024 16384 262144 1048576}"
: "${BENCH_BYTES:=8388608}"
: "${BENCH_REPS:=2}"
: "${BENCH_RR_REPS:=3}"
: "${BENCH_TRACE_S:=2}"
# Extra options for both IVCOM ends, e.g. "-w 0" (block at once, no spin).
: "${BENCH_IVCOM_OPTS:=}"
PORT=5003
VPATH=data/ivcom-bench-vchan

agent_guest ia net=1 ip=10.99.0.31/24
agent_guest ib net=1 ip=10.99.0.32/24
agent_ready ia ib
A=$(agent_id ia)
B=$(agent_id ib)
{
    echo "ia=$A ib=$B"
    xl info | grep -E '^(xen_version|cpu_mhz|nr_cpus|xen_scheduler) '
    echo "sizes=$BENCH_SIZES bytes=$BENCH_BYTES reps=$BENCH_REPS rr=$BENCH_RR_COUNT rr_reps=$BENCH_RR_REPS"
    echo "dom0 loadavg at start: $(cat /proc/loadavg)"
} >info.txt

# emit TRANSPORT KIND REP FILE: tag each JSON line of FILE into sessions.jsonl.
emit() {
    sed -n "s/^{/{\"transport\": \"$1\", \"kind\": \"$2\", \"rep\": $3, /p" "$4" \
        >>sessions.jsonl
}

seq_no=0
# ivcom TOOL KIND REP ARGS...: one IVCOM session, server in ib, client in ia;
# the JSON line of the side that measures (pingpong: client; stream: sink).
ivcom() {
    local tool=$1 kind=$2 rep=$3 sn cn tag
    shift 3
    seq_no=$((seq_no + 1))
    tag=b$seq_no
    # shellcheck disable=SC2086
    agent_start ib sn "$tool" -p "$A" -n "$tag" -t 60000 -j $BENCH_IVCOM_OPTS "$@" server
    # shellcheck disable=SC2086
    agent_start ia cn "$tool" -p "$B" -n "$tag" -t 60000 -j $BENCH_IVCOM_OPTS "$@" client
    agent_ok ia "$cn" "$tag.client" 300
    agent_ok ib "$sn" "$tag.server" 300
    if [ "$tool" = ivcom-pingpong ]; then emit ivcom "$kind" "$rep" "$tag.client"
    else emit ivcom "$kind" "$rep" "$tag.server"; fi
}

# baseline SPECS...: one lab-tcp and one lab-vchan run of the given
# MODE:SIZE:COUNT sessions (servers in ib, clients in ia).
baseline() {
    local kind=$1 rep=$2 n ts tc vs vc
    shift 2
    n=$#
    agent_start ib ts lab-tcp server "$PORT" "$n"
    sleep 1
    agent_start ia tc /lab/guest-tcp.sh 10.99.0.32 "$PORT" "$@"
    agent_ok ia "$tc" "tcp-$seq_no.client" 600
    agent_ok ib "$ts" "tcp-$seq_no.server" 60
    sed -n 's/^ivcom-result: //p' "tcp-$seq_no.client" >"tcp-$seq_no.jsonl"
    emit tcp "$kind" "$rep" "tcp-$seq_no.jsonl"
    agent_start ib vs lab-vchan server "$A" "$VPATH" 65536
    agent_start ia vc lab-vchan client "$B" "/local/domain/$B/$VPATH" "$@"
    agent_ok ia "$vc" "vchan-$seq_no.client" 600
    agent_ok ib "$vs" "vchan-$seq_no.server" 60
    sed -n 's/^ivcom-result: //p' "vchan-$seq_no.client" >"vchan-$seq_no.jsonl"
    emit vchan "$kind" "$rep" "vchan-$seq_no.jsonl"
    seq_no=$((seq_no + 1))
}

# ---- round trips and throughput ---------------------------------------------
# Round trips: BENCH_RR_REPS rounds, each transport once per round, so that
# a change in the host's load (which moves every TCG timing by 10x or more)
# hits all three alike instead of whichever happened to run then.
rep=0
while [ $rep -lt "$BENCH_RR_REPS" ]; do
    ivcom ivcom-pingpong rr "$rep" -s 64 -c "$BENCH_RR_COUNT"
    baseline rr "$rep" "rr:64:$BENCH_RR_COUNT"
    rep=$((rep + 1))
done
rep=1
while [ $rep -le "$BENCH_REPS" ]; do
    specs=
    for s in $BENCH_SIZES; do
        c=$((BENCH_BYTES / s))
        [ $c -lt 16 ] && c=16
        ivcom ivcom-stream bulk "$rep" -S -s "$s" -c "$c"
        specs="$specs bulk:$s:$c"
    done
    # shellcheck disable=SC2086
    baseline bulk "$rep" $specs
    rep=$((rep + 1))
done

# ---- hypercall counts: a trace window inside a long session -----------------
# Each traced session runs for a fixed time (3 s lead-in + the window + 3 s),
# not a count: under TCG, tracing and the host's load move every rate by
# 10x or more, so a count sized from an earlier rate may never finish.
TRACE_SESSION_S=$((BENCH_TRACE_S + 6))
BIG=100000000

# traced WHAT GUEST NUM: 3 s into agent command NUM of GUEST, record the
# window; the command must still be running when it closes.
traced() {
    sleep 3
    agent_running "$2" "$3" || lab_fail "$1: the session ended before the trace window"
    trace_window "trace-$1.xt" "$BENCH_TRACE_S" \
        || lab_fail "xentrace failed: $(tail -n 1 "trace-$1.xt.log")"
    agent_running "$2" "$3" || lab_fail "$1: the session ended inside the trace window"
    echo "$1" >>trace-windows.txt
}

# shellcheck disable=SC2086
agent_start ib sn ivcom-pingpong -p "$A" -n tr1 -t 60000 -j $BENCH_IVCOM_OPTS server
# shellcheck disable=SC2086
agent_start ia cn ivcom-pingpong -p "$B" -n tr1 -t 60000 -j $BENCH_IVCOM_OPTS -s 64 \
    -c "$BIG" -D "$TRACE_SESSION_S" client
traced ivcom-rr ia "$cn"
agent_ok ia "$cn" trace-ivcom-rr.client 300
agent_ok ib "$sn" trace-ivcom-rr.server 60
emit ivcom trace-rr 0 trace-ivcom-rr.client

# shellcheck disable=SC2086
agent_start ib sn ivcom-stream -p "$A" -n tr2 -t 60000 -j $BENCH_IVCOM_OPTS -s 64 server
# shellcheck disable=SC2086
agent_start ia cn ivcom-stream -p "$B" -n tr2 -t 60000 -j $BENCH_IVCOM_OPTS -s 64 \
    -c "$BIG" -D "$TRACE_SESSION_S" client
traced ivcom-msg ia "$cn"
agent_ok ia "$cn" trace-ivcom-msg.client 300
agent_ok ib "$sn" trace-ivcom-msg.server 60
emit ivcom trace-msg 0 trace-ivcom-msg.server

for t in tcp vchan; do
    if [ $t = tcp ]; then
        agent_start ib sn lab-tcp server "$PORT" 1
        sleep 1
        agent_start ia cn lab-tcp client 10.99.0.32 "$PORT" rrt 64 "$TRACE_SESSION_S"
    else
        agent_start ib sn lab-vchan server "$A" "$VPATH" 65536
        agent_start ia cn lab-vchan client "$B" "/local/domain/$B/$VPATH" \
            "rrt:64:$TRACE_SESSION_S"
    fi
    traced "$t-rr" ia "$cn"
    agent_ok ia "$cn" "trace-$t-rr.client" 300
    agent_ok ib "$sn" "trace-$t-rr.server" 60
    sed -n 's/^ivcom-result: //p' "trace-$t-rr.client" >"trace-$t-rr.jsonl"
    emit "$t" trace-rr 0 "trace-$t-rr.jsonl"
done
