# Scenario kv-bench: the kv service three ways, side by side in one boot,
# measured by the same clients -- four Linux PV domUs (kc1..kc4) running
# `ivcom-kv -j bench -D KVB_SECONDS`, every reply checked:
#   tiny         the tiny kv service domain (ivcom-guest-kv.elf, 4 MiB,
#                `name=kv allow=<the clients> max=8`), over IVCOM
#   linux-ivcom  `ivcom-kv serve kv` as a process in a Linux PV domU (ks),
#                over IVCOM
#   linux-tcp    that same service over TCP (`serve kv --tcp`), through
#                netfront/netback and dom0's bridge xenbr0
# For each, per round (KVB_ROUNDS, the targets interleaved): one client
# (kc1) alone, then all four at once -- started together at one
# CLOCK_REALTIME instant (--at-wall, KVB_LEAD_S seconds ahead: every domain
# reads Xen's one wallclock); the analysis takes the sum of their ops/s.
# With it, the tiny kv domain's create-to-serving time (from before `xl
# create` to its "kv: serving" console line, polled every 50 ms), its
# image size and the memory its xl config gives.
# Needs the shared files ($LAB_FILES): ivcom-guest-kv.elf and guest.cfg.in
# (`ivcom bench` ships them).
# Results: kv-bench.jsonl, one JSON object per measurement, "kind" plan |
# image | serving | bench | service, with "ok" (false: "reason"; the
# scenario goes on).  KTAP lines (ktap.txt) say each run's replies were
# all checked; the targets' verdicts are the host's (ivcom.lab.bench_kv).
. /lab/ivcom-lib.sh
. /lab/guest-lib.sh
guest_files
for f in guest.cfg.in ivcom-guest-kv.elf; do
    [ -s "$G/$f" ] || lab_fail "$f is not among the shared files"
done

: "${KVB_SECONDS:=10}"
: "${KVB_ROUNDS:=1}"
: "${KVB_SIZE:=64}"
: "${KVB_KEYS:=100}"
: "${KVB_LEAD_S:=6}"
PORT=5010
SVC_IP=10.99.0.40
BIG=100000000
RES=kv-bench.jsonl
: >"$RES"
CLIENTS="kc1 kc2 kc3 kc4"

# jstr TEXT: TEXT as a JSON string (quotes, backslashes and control
# characters dropped).
jstr() {
    printf '"%s"' "$(printf '%s' "$1" | tr -d '"\\\000-\037')"
}

# fail_line KIND TARGET ROUND WHY: a measurement that did not happen.
fail_line() {
    printf '{"kind": "%s", "target": "%s", "round": %s, "ok": false, "reason": %s}\n' \
        "$1" "$2" "$3" "$(jstr "$4")" >>"$RES"
    lab_log "kv-bench: $1 $2 round $3 failed: $4"
}

# last_json FILE: the last line of FILE that is a JSON object (nothing if none).
last_json() {
    local l j=
    while IFS= read -r l || [ -n "$l" ]; do
        case $l in "{"*"}") j=$l ;; esac
    done <"$1"
    printf '%s' "$j"
}

agent_guest ks net=1 ip=$SVC_IP/24
n=1
for g in $CLIENTS; do
    agent_guest "$g" net=1 ip=10.99.0.4$n/24
    n=$((n + 1))
done
agent_ready ks $CLIENTS
S=$(agent_id ks)
ALLOW=
for g in $CLIENTS; do ALLOW="${ALLOW:+$ALLOW,}$(agent_id "$g")"; done
{
    echo "ks=$S clients=$ALLOW"
    xl info | grep -E '^(xen_version|cpu_mhz|nr_cpus|xen_scheduler) '
    echo "seconds=$KVB_SECONDS rounds=$KVB_ROUNDS size=$KVB_SIZE keys=$KVB_KEYS lead=$KVB_LEAD_S"
} >info.txt
printf '{"kind": "plan", "ok": true, "seconds": %s, "rounds": %s, "size": %s, "keys": %s, ' \
    "$KVB_SECONDS" "$KVB_ROUNDS" "$KVB_SIZE" "$KVB_KEYS" >>"$RES"
printf '"lead_s": %s, "clients": [1, 4], "targets": ["tiny", "linux-ivcom", "linux-tcp"]}\n' \
    "$KVB_LEAD_S" >>"$RES"
printf '{"kind": "image", "target": "tiny", "ok": true, "image": "ivcom-guest-kv.elf", "bytes": %s}\n' \
    "$(wc -c <"$G/ivcom-guest-kv.elf")" >>"$RES"

# bench_runs TARGET ROUND ARGS...: the clients against a service that
# serves 5 clients: kc1 alone, then the four at once.  One "bench" line per
# client per run, with the bench's own JSON line as "result"; one KTAP line
# per run.
bench_runs() {
    local target=$1 round=$2 at g n rc out why bad limit run j nc
    shift 2
    limit=$((KVB_SECONDS + KVB_LEAD_S + 180))
    for nc in 1 4; do
        at=$(($(date +%s) + KVB_LEAD_S))
        if [ "$nc" -eq 1 ]; then run="kc1"; else run=$CLIENTS; fi
        for g in $run; do
            agent_start "$g" "n_$g" ivcom-kv "$@" -t 60000 -j bench -D "$KVB_SECONDS" \
                -c "$BIG" --size "$KVB_SIZE" --keys "$KVB_KEYS" --at-wall "$at"
        done
        bad=
        for g in $run; do
            eval "n=\$n_$g"
            out="$target-r$round-c$nc-$g.bench"
            agent_wait "$g" "$n" "$out" "$limit"
            rc=$?
            j=$(last_json "$out")
            if [ "$rc" -eq 0 ] && [ -n "$j" ]; then
                printf '{"kind": "bench", "target": "%s", "round": %s, "clients": %s, ' \
                    "$target" "$round" "$nc" >>"$RES"
                printf '"client": "%s", "ok": true, "result": %s}\n' "$g" "$j" >>"$RES"
            else
                why="$g: rc=$rc: $(tail -n 1 "$out.err" 2>/dev/null)"
                printf '{"kind": "bench", "target": "%s", "round": %s, "clients": %s, ' \
                    "$target" "$round" "$nc" >>"$RES"
                printf '"client": "%s", "ok": false, "reason": %s}\n' "$g" "$(jstr "$why")" \
                    >>"$RES"
                bad="${bad:+$bad; }$why"
            fi
        done
        [ -z "$bad" ]
        lab_ktap $? "$target round $round, $nc client(s): every reply checked" "$bad"
    done
}

# service_line TARGET ROUND OK TEXT: how the service itself ended.
service_line() {
    printf '{"kind": "service", "target": "%s", "round": %s, "ok": %s, "result": %s}\n' \
        "$1" "$2" "$3" "$(jstr "$4")" >>"$RES"
}

# poll_fast NAME PATTERN LIMIT_S: 0 once PATTERN is on NAME's console
# (checked about every 50 ms), 1 if not within LIMIT_S.
poll_fast() {
    local log=$CONSOLE_DIR/guest-$1.log i=0
    while [ $i -lt $(($3 * 20)) ]; do
        grep -Eq "$2" "$log" 2>/dev/null && return 0
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# tiny ROUND: a tiny kv domain (5 clients, then it ends), timed to serving.
tiny() {
    local name=kvbt$1 t0 t1 K mem r
    guest_cfg "$name" kv "name=kv allow=$ALLOW max=8 clients=5"
    mem=$(sed -n 's/^memory *= *//p' "$name.cfg")
    t0=$(now_ms)
    guest_create "$name"
    if ! poll_fast "$name" '^kv: serving kv' 60; then
        fail_line serving tiny "$1" "no 'kv: serving kv' on its console within 60 s"
        keep_console "$name"
        lab_destroy "$name"
        return 1
    fi
    t1=$(now_ms)
    printf '{"kind": "serving", "target": "tiny", "round": %s, "ok": true, "ms": %s, ' \
        "$1" $((t1 - t0)) >>"$RES"
    printf '"memory_mib": %s}\n' "$mem" >>"$RES"
    guest_domid K "$name"
    bench_runs tiny "$1" -d "$K"
    guest_finish "$name"
    r=$(guest_result "$name")
    case $r in "SUCCESS kv: service kv: clients=5 failed=0"*) ok=true ;; *) ok=false ;; esac
    service_line tiny "$1" "$ok" "$r"
}

# linux TARGET ROUND: `ivcom-kv serve` in ks over IVCOM or TCP, 5 clients.
linux() {
    local target=$1 round=$2 sv t=0 state rc
    if [ "$target" = linux-tcp ]; then
        agent_start ks sv ivcom-kv serve kv --tcp "0.0.0.0:$PORT" --clients 5 -t 60000 -j
        sleep 1     # the clients' connects are retried until the service listens
        bench_runs "$target" "$round" --tcp "$SVC_IP:$PORT"
    else
        agent_start ks sv ivcom-kv serve kv --allow "$ALLOW" --clients 5 -t 60000 -j
        state=/local/domain/$S/data/ivcom-svc/kv/state
        until [ "$(xenstore-read "$state" 2>/dev/null)" = listening ]; do
            if [ $t -ge 300 ]; then
                fail_line bench "$target" "$round" "the service did not listen within 60 s"
                break
            fi
            sleep 0.2
            t=$((t + 1))
        done
        bench_runs "$target" "$round" -d "$S"
    fi
    agent_wait ks "$sv" "$target-r$round.serve" 120
    rc=$?
    [ $rc -eq 0 ] && ok=true || ok=false
    service_line "$target" "$round" "$ok" "rc=$rc: $(tail -n 1 "$target-r$round.serve.err")"
}

round=1
while [ $round -le "$KVB_ROUNDS" ]; do
    tiny $round
    linux linux-ivcom $round
    linux linux-tcp $round
    round=$((round + 1))
done
for g in ks $CLIENTS; do agent_post "$g" exit >/dev/null; done
