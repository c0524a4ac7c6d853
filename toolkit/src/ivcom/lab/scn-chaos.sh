# Scenario chaos: for CHAOS_SECONDS (default 75; `make chaos`: 600), one
# round after another, a session between two of dom0, ca and cb (a stream
# with every message's sequence checked by the sink, or a ping-pong) meets
# a fault at a random point: its client or its server SIGKILLed (during
# the handshake, mid-stream, or as it closes), or the domU on one end
# destroyed and created again -- or no fault.  Every process runs under a
# hard limit well past its own timeout.  Then:
#   - no process outlived its own timeout (the hard limit never struck);
#   - no receiver saw a message out of sequence or damaged (what it
#     acknowledged arrived intact and in order);
#   - dom0's event channels and the IVCOM XenStore nodes of dom0 and of
#     the domains still there are back at their starting counts (a killed
#     process's nodes are reclaimed by its domain's next IVCOM process).
# Verdicts: KTAP lines in ktap.txt; rounds.txt has one line per round.
. /lab/ivcom-lib.sh

: "${CHAOS_SECONDS:=75}"
TMO_MS=15000
HARD_S=45                       # a process alive this long has hung

agent_guest ca
agent_guest cb
agent_ready ca cb

# IVCOM's XenStore nodes of domain $1: its offers, services and presences
# (not the directories above them, which stay once made).
xs_nodes() {
    local d=/local/domain/$1/data
    xenstore-ls -f "$d" 2>/dev/null |
        grep -E "^$d/(ivcom|ivcom-svc)/[^/ ]+ |^$d/ivcom-client/[^/ ]+/[^/ ]+ |^$d/ivcom-svc-client/[^/ ]+/[^/ ]+/[^/ ]+ "
}
xs_count() { xs_nodes "$1" | grep -c .; }
rand() { awk -v n="$1" -v s="$2" 'BEGIN { srand(s); print int(rand() * n) }'; }
id_of() { [ "$1" = dom0 ] && echo 0 || agent_id "$1"; }

ev0=$(ivcom_evtchn_count 0)
xs0=$(xs_count 0)
echo "evtchn=$ev0 xs0=$xs0" >counts-before

# start SIDE TAG LIMIT ARGS...: the tool in dom0 (background) or in a domU
# (agent), SIGKILLed after LIMIT seconds.
start() {
    local side=$1 tag=$2 limit=$3
    shift 3
    if [ "$side" = dom0 ]; then
        timeout -s KILL "$limit" "$@" >"$tag" 2>"$tag.err" &
        eval "pid_${tag%%.*}_${tag#*.}=\$!"
    else
        agent_start "$side" "cmd_${tag%%.*}_${tag#*.}" timeout -s KILL "$limit" "$@"
    fi
}
# finish SIDE TAG: its exit status (137: SIGKILL, ours or the hard limit's).
finish() {
    local side=$1 tag=$2 v
    v="${tag%%.*}_${tag#*.}"
    if [ "$side" = dom0 ]; then
        eval "wait \$pid_$v"
    else
        eval "agent_wait \"$side\" \"\$cmd_$v\" \"$tag\" $((HARD_S + 60))"
    fi
}
# recreate NAME: the domU again, with a fresh console log and command count.
recreate() {
    mv "$CONSOLE_DIR/guest-$1.log" "$CONSOLE_DIR/guest-$1.gone$rounds.log" 2>/dev/null
    rm -f "/tmp/agent-seq-$1" "/tmp/agent-id-$1"
    agent_guest "$1"
    agent_ready "$1"
}

# The rounds follow from the seed: CHAOS_SEED replays a run (summary says it).
seed=${CHAOS_SEED:-$(date +%s)}
echo "seed=$seed" >seed
hangs=0 bad_data=0 rounds=0
t_end=$(( $(date +%s) + CHAOS_SECONDS ))
while [ "$(date +%s)" -lt "$t_end" ]; do
    rounds=$((rounds + 1))
    seed=$((seed + 7919))
    set -- dom0 ca cb
    s=$(rand 3 "$seed")
    c=$(( (s + 1 + $(rand 2 "$((seed + 1))")) % 3 ))
    eval "srv=\${$((s + 1))}"
    eval "cli=\${$((c + 1))}"
    # 0, 1: no fault; 2: kill the client; 3: kill the server; 4: destroy a domU
    fault=$(rand 5 "$((seed + 2))")
    delay=$(( 1 + $(rand 4 "$((seed + 3))") ))      # 1..4 s: handshake .. close
    climit=$HARD_S slimit=$HARD_S victim= what="no fault"
    case $fault in
        2) climit=$delay; what="client killed at ${delay}s" ;;
        3) slimit=$delay; what="server killed at ${delay}s" ;;
        4) victim=$srv; [ "$srv" = dom0 ] && victim=$cli
           what="$victim destroyed at ${delay}s" ;;
    esac
    tag=r$rounds
    sid=$(id_of "$srv")
    cid=$(id_of "$cli")
    if [ "$(rand 3 "$((seed + 4))")" = 0 ]; then
        tool=ivcom-pingpong
        start "$srv" "$tag.server" "$slimit" ivcom-pingpong -p "$cid" -n "$tag" -t $TMO_MS -j \
            server
        start "$cli" "$tag.client" "$climit" ivcom-pingpong -p "$sid" -n "$tag" -t $TMO_MS -j \
            -c 300 client
    else
        tool=ivcom-stream
        start "$srv" "$tag.server" "$slimit" ivcom-stream -p "$cid" -n "$tag" -t $TMO_MS -j \
            -s 1024 server
        start "$cli" "$tag.client" "$climit" ivcom-stream -p "$sid" -n "$tag" -t $TMO_MS -j \
            -s 1024 -D 4 -c 100000000 client
    fi
    if [ -n "$victim" ]; then
        sleep "$delay"
        lab_destroy "$victim"
    fi
    for end in server client; do
        side=$srv limit=$slimit
        [ $end = client ] && side=$cli limit=$climit
        [ "$side" = "$victim" ] && continue             # its domain is gone
        finish "$side" "$tag.$end"
        rc=$?
        echo "$rc" >"$tag.$end.rc"
        # SIGKILL from the hard limit, not from this round's fault: a hang.
        if [ $rc -eq 137 ] && [ "$limit" = "$HARD_S" ]; then
            hangs=$((hangs + 1))
            echo "$tag.$end ($what)" >>hung.txt
        fi
        if grep -qE 'out of sequence|came back wrong' "$tag.$end.err" 2>/dev/null; then
            bad_data=$((bad_data + 1))
            echo "$tag.$end: $(grep -m1 -E 'out of sequence|came back wrong' "$tag.$end.err")" \
                >>bad-data.txt
        fi
    done
    echo "$tag $tool $srv->$cli: $what" >>rounds.txt
    [ -n "$victim" ] && recreate "$victim"
done

lab_ktap $([ "$rounds" -ge 3 ]; echo $?) "ran rounds for ${CHAOS_SECONDS}s" "rounds=$rounds"
lab_ktap $([ "$hangs" -eq 0 ]; echo $?) "no process outlived its timeout" "$hangs: $(head -n 2 hung.txt 2>/dev/null)"
lab_ktap $([ "$bad_data" -eq 0 ]; echo $?) "every receiver's messages intact and in order" "$(head -n 2 bad-data.txt 2>/dev/null)"
sleep 2
ev1=$(ivcom_evtchn_count 0)
lab_ktap $([ "$ev1" = "$ev0" ]; echo $?) "dom0's event channels back to their count" "$ev0 before, $ev1 after"
# XenStore: a SIGKILLed process cannot remove its own nodes (a server's
# offer, a client's presence); the next IVCOM process of its domain does,
# at its first set-up call.  One such call in each domain, then count.
ivcom-pingpong -p "$(agent_id ca)" -n chaos-sweep -t 1 client >/dev/null 2>&1
for g in ca cb; do
    agent_start "$g" sw ivcom-pingpong -p 0 -n chaos-sweep -t 1 client
    agent_wait "$g" "$sw" "sweep-$g" 60
done
xs1=$(xs_count 0)
xs_nodes 0 >xs-left-dom0.txt
lab_ktap $([ "$xs1" = "$xs0" ]; echo $?) "dom0's IVCOM XenStore nodes back to their count" \
    "$xs0 before, $xs1 after: $(head -n 2 xs-left-dom0.txt)"
left=0
for g in ca cb; do
    id=$(agent_id "$g")
    xs_nodes "$id" >"xs-left-$g.txt"
    left=$((left + $(grep -c . "xs-left-$g.txt")))
done
lab_ktap $([ "$left" -eq 0 ]; echo $?) "no IVCOM XenStore node left in the domUs" \
    "$left: $(cat xs-left-ca.txt xs-left-cb.txt | head -n 2)"
echo "$(cat seed) rounds=$rounds hangs=$hangs bad_data=$bad_data" >summary
for g in ca cb; do agent_post "$g" exit >/dev/null; done
