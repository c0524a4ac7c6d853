# Scenario trace-ivcom (trace image): the tracing tools on live IVCOM
# channels between a PV domU (ivcom-pingpong server: it grants the pages to
# dom0) and dom0 (the client).  The domU serves channel tpp1, then tpp2
# (lab-twice).  Needs libivcom's tools (make core) in the image: without
# /usr/local/bin/ivcom-pingpong it writes `skipped` and ends.
#
# A. counted: `ivcom-trace evtchn -j -T 1 600` runs from before the client
#    until after it (SIGTERM: the last interval is partial); the client's
#    JSON (a.json) carries its own notifies_sent.
# B. inspected: `ivcom-trace inspect -b -T NAME 0.2 600` starts before the
#    client and ends by itself when the channel closes; `ivcom-trace rings
#    -j` runs while the client does about $TRACE_B_SECONDS of round trips.
# A channel that never connects is recorded (a.err, the server's console)
# and fails the scenario with that line, for the test to report.
. /lab/trace-env.sh

: "${TRACE_BCC_TIMEOUT:=240}"
: "${TRACE_B_SECONDS:=10}"
: "${TRACE_A_COUNT:=2000}"


# wait_offer NAME: until the domU server offers channel NAME.
wait_offer() {
    local i=0
    until [ "$(xenstore-read "/local/domain/$domid/data/ivcom/$1/state" 2>/dev/null)" = offered ]
    do
        i=$((i + 1))
        if [ $i -gt 300 ]; then
            echo "$1" >not-offered
            lab_fail "tivc did not offer channel $1: $(grep -m1 'error' "$CONSOLE_DIR/guest-tivc.log")"
        fi
        sleep 0.2
    done
}

if [ ! -x /usr/local/bin/ivcom-pingpong ]; then
    echo "ivcom-pingpong is not in the image (build libivcom's tools: make core)" >skipped
    exit 0
fi
[ -x /usr/local/bin/lab-twice ] || lab_fail "lab-twice missing (use the trace tests' payload)"
lab_guest tivc run=/usr/local/bin/lab-twice \
    "args=ivcom-pingpong,-p,0,-n,tpp%n,-t,120000,-j,server"
lab_guest_up tivc 120
domid=$(lab_domid tivc)
echo "$domid" >domid

# ---- A. counted ----------------------------------------------------------------
wait_offer tpp1
xenstore-ls -p "/local/domain/$domid/data/ivcom/tpp1" >offer.txt 2>&1
stamp offered
trace_evtchn_start
ivcom-pingpong -p "$domid" -n tpp1 -s 64 -c "$TRACE_A_COUNT" -t 60000 -j client \
    >a.json 2>a.err &
clpid=$!
echo "$clpid" >a.pid
# The port the client publishes in client/event-channel when it connects
# (the evtchn tracer's per-channel row must name it): polled until seen,
# while the client runs (at most 60 s); the node is gone again once the
# channel closes.
(
    i=0
    while [ $i -lt 600 ]; do
        p=$(xenstore-read "/local/domain/$domid/data/ivcom/tpp1/client/event-channel" \
            2>/dev/null)
        if [ -n "$p" ]; then echo "$p" >client-port; break; fi
        kill -0 "$clpid" 2>/dev/null || break
        i=$((i + 1))
        sleep 0.1
    done
) &
cppid=$!
wait "$clpid"
echo $? >a.rc
wait "$cppid"
stamp a-done
sleep 1
kill -TERM "$evpid"
wait "$evpid"
echo $? >evtchn.rc
[ "$(cat a.rc)" = 0 ] || lab_fail "ivcom-pingpong client: $(tail -n 1 a.err)"

# ---- B. inspected -------------------------------------------------------------------
wait_offer tpp2
# Size B from A's mean round trip (a loaded host has a long tail).
mean=$(sed -n 's/.*"mean": \([0-9]*\).*/\1/p' a.json)
[ -n "$mean" ] && [ "$mean" -gt 0 ] || mean=1000000
n=$((TRACE_B_SECONDS * 1000000 / (mean / 1000 + 1)))
[ $n -lt 500 ] && n=500
[ $n -gt 100000 ] && n=100000
echo "$n" >b.count
ivcom-trace inspect -b -T "$domid/tpp2" 0.2 600 >inspect.txt 2>inspect.err &
inpid=$!
wait_for inspect.txt '^[0-9][0-9]:[0-9][0-9]:[0-9][0-9] ' "$inpid" 120 "ivcom-trace inspect"
stamp inspect-first-frame
start_rings
ivcom-pingpong -p "$domid" -n tpp2 -s 64 -c "$n" -t 60000 -j client >b.json 2>b.err &
clpid=$!
sleep 1
go_rings
stamp rings-done
kill -0 "$clpid" 2>/dev/null && echo yes >b-alive-after-rings
wait "$clpid"
echo $? >b.rc
stamp b-done
i=0
while kill -0 "$inpid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done
kill -TERM "$inpid" 2>/dev/null
wait "$inpid"
echo $? >inspect.rc
stamp inspect-done
[ "$(cat b.rc)" = 0 ] || lab_fail "ivcom-pingpong client B: $(tail -n 1 b.err)"
lab_wait_result tivc 60
