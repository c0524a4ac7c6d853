# Scenario ivcom-bench: IVCOM against the paths it replaces, side by side
# in one boot, between the same two PV domUs (ia -> ib):
#   ivcom  -- libivcom over the xen-linux backend (ivcom-pingpong,
#             ivcom-stream in stream mode, 64 KiB rings)
#   tcp    -- TCP over netfront/netback through the dom0 bridge (lab-tcp)
#   vchan  -- libxenvchan, 64 KiB rings (lab-vchan; server in ib)
# Sessions: BENCH_RR_REPS rounds of a 64 B round-trip session per transport
# (interleaved), then for each size in
# BENCH_SIZES and each of BENCH_REPS repetitions a bulk session moving
# about BENCH_BYTES bytes.  Then, per transport, a long 64 B round-trip
# session (and an IVCOM 64 B message stream) with a BENCH_TRACE_S-second
# xentrace window recorded in its middle: trace-<what>.xt.
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
# first_num GREP FIELD: FIELD of the first session line matching GREP.
first_num() {
    grep "$1" sessions.jsonl | head -n 1 | sed -n "s/.*\"$2\": \([0-9.]*\).*/\1/p"
}
# long_count PER_SECOND MAX: a count lasting the 3 s lead-in + window + 3 s
# at the rate measured earlier, three times over (under TCG the rate moves
# with the host's load, and the window must fall inside the session), but
# at most MAX: a guest clock that stood still during the measurement
# makes the rate look absurdly high.
long_count() {
    echo "$1" | awk -v w="$BENCH_TRACE_S" -v max="$2" \
        '{ c = 3 * (w + 6) * $1; if (c < 1000) c = 1000; if (c > max) c = max;
           printf "%d", c }'
}

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

m=$(first_num '"transport": "ivcom", "kind": "rr"' median)
n=$(long_count "$(echo "$m" | awk '{ print 1e9 / ($1 > 0 ? $1 : 1e9) }')" 20000)
agent_start ib sn ivcom-pingpong -p "$A" -n tr1 -t 60000 -j $BENCH_IVCOM_OPTS server
agent_start ia cn ivcom-pingpong -p "$B" -n tr1 -t 60000 -j $BENCH_IVCOM_OPTS -s 64 -c "$n" client
traced ivcom-rr ia "$cn"
agent_ok ia "$cn" trace-ivcom-rr.client 900
agent_ok ib "$sn" trace-ivcom-rr.server 60
emit ivcom trace-rr 0 trace-ivcom-rr.client

r=$(grep '"transport": "ivcom", "kind": "bulk"' sessions.jsonl | grep '"size": 64,' |
    head -n 1 | sed -n 's/.*"bytes_per_s": \([0-9.]*\).*/\1/p')
n=$(long_count "$(echo "$r" | awk '{ print $1 / 64 }')" 600000)
agent_start ib sn ivcom-stream -p "$A" -n tr2 -t 60000 -j $BENCH_IVCOM_OPTS -s 64 server
agent_start ia cn ivcom-stream -p "$B" -n tr2 -t 60000 -j $BENCH_IVCOM_OPTS -s 64 -c "$n" client
traced ivcom-msg ia "$cn"
agent_ok ia "$cn" trace-ivcom-msg.client 900
agent_ok ib "$sn" trace-ivcom-msg.server 60
emit ivcom trace-msg 0 trace-ivcom-msg.server

for t in tcp vchan; do
    m=$(first_num "\"transport\": \"$t\", \"kind\": \"rr\"" median_us)
    n=$(long_count "$(echo "$m" | awk '{ print 1e6 / ($1 > 0 ? $1 : 1e6) }')" 20000)
    if [ $t = tcp ]; then
        agent_start ib sn lab-tcp server "$PORT" 1
        sleep 1
        agent_start ia cn lab-tcp client 10.99.0.32 "$PORT" rr 64 "$n"
    else
        agent_start ib sn lab-vchan server "$A" "$VPATH" 65536
        agent_start ia cn lab-vchan client "$B" "/local/domain/$B/$VPATH" "rr:64:$n"
    fi
    traced "$t-rr" ia "$cn"
    agent_ok ia "$cn" "trace-$t-rr.client" 900
    agent_ok ib "$sn" "trace-$t-rr.server" 60
    sed -n 's/^ivcom-result: //p' "trace-$t-rr.client" >"trace-$t-rr.jsonl"
    emit "$t" trace-rr 0 "trace-$t-rr.jsonl"
done
