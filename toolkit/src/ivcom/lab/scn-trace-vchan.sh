# Scenario trace-vchan (trace image): the tracing tools on live libxenvchan
# channels between dom0 (client: it maps the grants) and a PV domU (server:
# it grants them), offered under the conventional
# /local/domain/<domU>/data/vchan/0/<port> path.  The domU serves two client
# connections in turn (lab-twice, from the trace tests' payload).
#
# A. counted: `ivcom-trace evtchn -j -T 1 600` (bcc) runs from before the
#    client starts until after it ends (stopped with SIGTERM: its last
#    interval is partial); xentrace records the client's first seconds
#    (general, scheduler, HVM and PV classes: 0x002bf000, as `xen --live`).
#    Each lab-vchan prints what it sent ("lab-vchan: events {...}").
# B. inspected: `ivcom-trace inspect -b -T NAME 0.2 600` starts first and
#    ends by itself when the channel closes; `ivcom-trace rings -j` runs
#    while a client does round trips for about $TRACE_B_SECONDS (the count
#    comes from A's round trips, so the window holds on a loaded host).
# Files: domid, port, channel, a.*, b.*, evtchn.jsonl/.err, trace.xt,
# rings.json, inspect.txt/.err, timing.
. /lab/trace-env.sh

: "${TRACE_VCHAN_PORT:=7}"
: "${TRACE_BCC_TIMEOUT:=240}"
: "${TRACE_XT_SECONDS:=3}"
: "${TRACE_B_SECONDS:=10}"

[ -x /usr/local/bin/lab-twice ] || lab_fail "lab-twice missing (use the trace tests' payload)"
path=data/vchan/0/$TRACE_VCHAN_PORT
lab_guest tvch run=/usr/local/bin/lab-twice "args=lab-vchan,server,0,$path"
lab_guest_up tvch 120
lab_wait_console tvch '^lab-vchan: serving' 60
domid=$(lab_domid tvch)
echo "$domid" >domid
echo "$TRACE_VCHAN_PORT" >port
name=$domid/vchan:0/$TRACE_VCHAN_PORT
echo "$name" >channel
stamp guest-serving

# ---- A. counted ----------------------------------------------------------------
trace_evtchn_start
# xentrace writes straight from Xen's trace pages, which 9p cannot take
# (EFAULT): record into dom0's tmpfs and copy the file afterwards.
rm -f /tmp/trace.xt
xentrace -D -S 256 -e 0x002bf000 -T "$TRACE_XT_SECONDS" /tmp/trace.xt >xentrace.log 2>&1 &
xtpid=$!
sleep 0.5
kill -0 "$xtpid" 2>/dev/null || lab_fail "xentrace did not start: $(tail -n 1 xentrace.log)"
stamp xentrace-started
lab-vchan client "$domid" "/local/domain/$domid/$path" rr:64:200 bulk:65536:32 rr:64:1000 \
    >a.out 2>a.err &
clpid=$!
echo "$clpid" >a.pid
wait "$clpid"
echo $? >a.rc
stamp a-done
wait "$xtpid"
echo $? >xentrace.rc
cp /tmp/trace.xt trace.xt && rm -f /tmp/trace.xt
sleep 1
kill -TERM "$evpid"
wait "$evpid"
echo $? >evtchn.rc
stamp evtchn-stopped
[ "$(cat a.rc)" = 0 ] || lab_fail "lab-vchan client A: $(tail -n 1 a.err)"
[ -s trace.xt ] || lab_fail "xentrace wrote nothing"
grep -q '"verified": true' a.out || lab_fail "client A: no verified bulk transfer"

# ---- B. inspected -------------------------------------------------------------------
# The server offers again once A has closed.
i=0
until [ "$(grep -c '^lab-vchan: serving' "$CONSOLE_DIR/guest-tvch.log")" -ge 2 ]; do
    i=$((i + 1))
    [ $i -gt 300 ] && lab_fail "tvch did not offer the channel a second time"
    sleep 0.2
done
# Size B from A's 90th percentile round trip (a loaded host has a long tail).
p90=$(sed -n 's/.*"mode": "rr", "size": 64, "count": 1000, .*"p90_us": \([0-9]*\).*/\1/p' a.out)
[ -n "$p90" ] && [ "$p90" -gt 0 ] || p90=1000
n=$((TRACE_B_SECONDS * 1000000 / p90))
[ $n -lt 500 ] && n=500
[ $n -gt 100000 ] && n=100000
echo "$n" >b.count
ivcom-trace inspect -b -T "$name" 0.2 600 >inspect.txt 2>inspect.err &
inpid=$!
wait_for inspect.txt '^[0-9][0-9]:[0-9][0-9]:[0-9][0-9] ' "$inpid" 120 "ivcom-trace inspect"
stamp inspect-first-frame
start_rings
lab-vchan client "$domid" "/local/domain/$domid/$path" "rr:64:$n" >b.out 2>b.err &
clpid=$!
sleep 1
go_rings
stamp rings-done
kill -0 "$clpid" 2>/dev/null && echo yes >b-alive-after-rings
wait "$clpid"
echo $? >b.rc
stamp b-done
# inspect ends by itself once the channel closes; give it 60 s.
i=0
while kill -0 "$inpid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done
kill -TERM "$inpid" 2>/dev/null
wait "$inpid"
echo $? >inspect.rc
stamp inspect-done
[ "$(cat b.rc)" = 0 ] || lab_fail "lab-vchan client B: $(tail -n 1 b.err)"
lab_wait_result tvch 60
