# Scenario services: one service in dom0 serves many client domains.
#   1. six client domains at once: three Linux PV domUs (ivcom-pingpong
#      clients, through the agent) and three tiny guests (the pingpong app,
#      role=client peer=0 name=svc): each is served and reported by the
#      domid xenstored recorded as its request's owner, every round trip
#      answered;
#   2. clients that go: a Linux client killed (SIGKILL) mid-run and a tiny
#      guest destroyed mid-run; the Linux domain connects again and a new
#      tiny guest comes, both served with nothing done on the service's
#      side;
#   3. the service restarts: killed (SIGKILL) while a client is connected;
#      that client's channel ends with an error (not a hang), and its next
#      connect reaches the new instance;
#   4. what the service leaves: dom0's event channels back to their count
#      before the first client, no request node and no state node.
# Verdicts: KTAP lines in ktap.txt, each written as its check is made.
. /lab/ivcom-lib.sh
. /lab/guest-lib.sh
guest_files

SVC=/local/domain/0/data/ivcom-svc/svc
TMO="-t 60000"
LINUX_PP="-s 64 -c 2000"         # long enough for all six to overlap
TINY_COUNT=3000

agent_guest la
agent_guest lb
agent_guest lc
agent_ready la lb lc
LA=$(agent_id la)
LB=$(agent_id lb)
LC=$(agent_id lc)
echo "la=$LA lb=$LB lc=$LC" >domids

# svc_start TAG CLIENTS [direct]: the service in dom0 (in the background,
# $svc_pid), serving until CLIENTS clients have ended (0: for ever);
# returns once it listens.  "direct": $svc_pid is the service process
# itself (to be killed), not lab_fault_rerun's shell.
svc_start() {
    local t=0 n=
    [ "$2" -gt 0 ] && n="--clients $2"
    if [ "$3" = direct ]; then
        # shellcheck disable=SC2086
        ivcom-pingpong -n svc $TMO -j $n server >"$1.server" 2>"$1.server.err" &
    else
        # shellcheck disable=SC2086
        lab_fault_rerun "$1.server" "$1.server.err" ivcom-pingpong -n svc $TMO -j $n server &
    fi
    svc_pid=$!
    until [ "$(xenstore-read "$SVC/state" 2>/dev/null)" = listening ]; do
        [ $t -ge 300 ] && lab_fail "$1: the service did not listen within 60 s"
        sleep 0.2
        t=$((t + 1))
    done
}

# tiny NAME COUNT: a tiny pingpong client of the service, created paused.
tiny() {
    guest_cfg "$1" pingpong "role=client peer=0 name=svc count=$2 timeout=120000"
    guest_create "$1" -p
    guest_domid d "$1"
    echo "$1 $d" >>tiny-domids
}

ev0=$(ivcom_evtchn_count 0)
echo "$ev0" >evtchn-before

# ---- 1. six client domains at once --------------------------------------------
svc_start p1 10                     # 6 here, 4 in part 2
tiny t1 $TINY_COUNT
tiny t2 $TINY_COUNT
tiny t3 $TINY_COUNT
for g in la lb lc; do
    agent_start "$g" "cmd_$g" ivcom-pingpong -p 0 -n svc $TMO -j $LINUX_PP client
done
guest_unpause t1 t2 t3
for g in la lb lc; do
    eval "n=\$cmd_$g"
    agent_wait "$g" "$n" "p1-$g.client" 300
    lab_ktap $? "p1 $g served"
done
# (guest_finish sets $name and $t: a loop variable of ours must differ)
for tg in t1 t2 t3; do
    guest_finish "$tg"
    case $(guest_result "$tg") in SUCCESS*) r=0 ;; *) r=1 ;; esac
    lab_ktap $r "p1 $tg served" "$(guest_result "$tg")"
done

# ---- 2. clients that go, and come back ------------------------------------------
# la's client is killed 8 s in; t4 is destroyed once it has connected.
agent_start la k1 timeout -s KILL 8 ivcom-pingpong -p 0 -n svc $TMO -j -s 64 -c 100000000 \
    client
tiny t4 100000
guest_unpause t4
wait_console t4 "pingpong: connected svc" 120
sleep 2
lab_destroy t4
agent_wait la "$k1" p2-la-killed.client 120
[ $? -eq 137 ]
lab_ktap $? "p2 la's client killed mid-run (SIGKILL)"
agent_start la a2 ivcom-pingpong -p 0 -n svc $TMO -j -s 64 -c 200 client
agent_wait la "$a2" p2-la-again.client 180
lab_ktap $? "p2 la served again after its client was killed"
tiny t5 500
guest_unpause t5
guest_finish t5
case $(guest_result t5) in SUCCESS*) r=0 ;; *) r=1 ;; esac
lab_ktap $r "p2 a new tiny guest served after one was destroyed" "$(guest_result t5)"
wait "$svc_pid"
lab_ktap $? "p1+p2 the service ended after its 10 clients, none with an error" \
    "$(tail -n 1 p1.server.err)"

# ---- 3. the service restarts under a connected client ---------------------------
svc_start p3a 0 direct
agent_start lb r1 ivcom-pingpong -p 0 -n svc -t 20000 -j -s 64 -c 100000000 client
sleep 8
agent_running lb "$r1"
lab_ktap $? "p3 lb's long client still running when the service is killed"
kill -9 "$svc_pid"
wait "$svc_pid" 2>/dev/null
agent_wait lb "$r1" p3-lb-cut.client 120
rc=$?
[ $rc -ne 0 ]
lab_ktap $? "p3 lb's channel ended with an error after the service died" "rc=$rc"
svc_start p3b 1
agent_start lb r2 ivcom-pingpong -p 0 -n svc $TMO -j -s 64 -c 200 client
agent_wait lb "$r2" p3-lb-again.client 180
lab_ktap $? "p3 lb's next connect reached the new instance"
wait "$svc_pid"
lab_ktap $? "p3 the new instance served its client"

# ---- 4. what is left -----------------------------------------------------------
ev1=$(ivcom_evtchn_count 0)
echo "$ev1" >evtchn-after
[ "$ev1" = "$ev0" ]
lab_ktap $? "p4 dom0's event channels back to $ev0" "now $ev1"
xenstore-ls -f "$SVC" >svc-nodes.txt 2>&1
! grep -qE "^$SVC/(state|req/.)" svc-nodes.txt
lab_ktap $? "p4 no state or request node left under the service" "$(head -n 3 svc-nodes.txt)"
for g in la lb lc; do agent_post "$g" exit >/dev/null; done
