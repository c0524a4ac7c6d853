# Scenario guest-bench: the tiny IVCOM guest (minios-app) beside a Linux PV
# domU, run in the boot that ran ivcom-bench (whose Linux<->Linux IVCOM
# sessions are the comparison), with the same BENCH_* plan:
#   boot  -- time from `xl create` to the guest's ready line: the tiny
#            guest GUEST_BOOT_RUNS times (the sink app; "ivcom-guest:
#            ready"), the lab's standard Linux PV domU once ("ivcom-guest:
#            NAME up"); both polled alike, every 50 ms.  With them the
#            image sizes and the memory the xl configs give.
#   rr    -- BENCH_RR_REPS sessions of BENCH_RR_COUNT 64 B round trips,
#            tiny pingpong client -> tiny echo server
#   bulk  -- per size of GUEST_BENCH_SIZES (default BENCH_SIZES; the tiny
#            apps take 1 B .. 1 MiB) and per repetition (BENCH_REPS), one
#            stream-mode session tiny source -> tiny sink moving about
#            BENCH_BYTES bytes (at least 16 writes), as ivcom-bench's IVCOM
#            bulk sessions do
# Needs the shared files ($LAB_FILES): guest-lib.sh, guest.cfg.in and
# ivcom-guest-{echo,pingpong,source,sink}.elf (`ivcom bench` ships them).
# Results: guest-bench.jsonl, one JSON object per line with "kind"
# (plan|image|boot|rr|bulk) and "ok".  A measurement that fails is a line
# with "ok": false and its "reason", and the scenario goes on.
[ -f "$LAB_FILES/guest-lib.sh" ] ||
    lab_fail "guest-lib.sh is not among the shared files (run this through ivcom bench)"
. "$LAB_FILES/guest-lib.sh"
guest_files
APPS="echo pingpong source sink"
for f in guest.cfg.in $(for a in $APPS; do echo "ivcom-guest-$a.elf"; done); do
    [ -s "$G/$f" ] || lab_fail "$f is not among the shared files"
done

: "${BENCH_RR_COUNT:=2000}"
: "${BENCH_SIZES:=64 1024 16384 262144 1048576}"
: "${BENCH_BYTES:=8388608}"
: "${BENCH_REPS:=2}"
: "${BENCH_RR_REPS:=3}"
: "${GUEST_BOOT_RUNS:=3}"
: "${GUEST_BENCH_SIZES:=$BENCH_SIZES}"
TINY_MAX_SIZE=1048576           # the apps' size= limit
RES=guest-bench.jsonl
: >"$RES"

# jstr TEXT: TEXT as a JSON string (quotes, backslashes and control
# characters dropped).
jstr() {
    printf '"%s"' "$(printf '%s' "$1" | tr -d '"\\\000-\037')"
}

# kv_object TEXT: the key=value words of TEXT as a JSON object, whole
# numbers bare, anything else a string (built-ins only).
kv_object() {
    local w k v sep=
    set -f
    printf '{'
    for w in $1; do
        case $w in *=*) ;; *) continue ;; esac
        k=${w%%=*}
        v=${w#*=}
        case $k in ''|*[!A-Za-z0-9_]*) continue ;; esac
        case $v in *[\"\\]*) continue ;; esac
        case $v in
            0) ;;
            [1-9]*) case $v in *[!0-9]*) v="\"$v\"" ;; esac ;;
            *) v="\"$v\"" ;;
        esac
        printf '%s"%s": %s' "$sep" "$k" "$v"
        sep=", "
    done
    printf '}'
    set +f
}

# fail_line KIND REP SIZE WHY: a measurement that did not happen.
fail_line() {
    printf '{"kind": "%s", "rep": %s, "size": %s, "ok": false, "reason": %s}\n' \
        "$1" "$2" "$3" "$(jstr "$4")" >>"$RES"
    lab_log "guest-bench: $1 ${3} B rep $2 failed: $4"
}

# session KIND REP SIZE MEASURER OTHER: one line for a finished pair, from
# the result line of the guest that measures (pingpong client, sink) and
# that of its peer, which must have succeeded too.
session() {
    local kind=$1 rep=$2 size=$3 r p g why=
    r=$(guest_result "$4")
    p=$(guest_result "$5")
    for g in "$4:$r" "$5:$p"; do
        [ -n "$why" ] && break
        case ${g#*:} in
            "SUCCESS "*) ;;
            "") why="${g%%:*}: no result line" ;;
            *) why="${g%%:*}: ${g#*:}" ;;
        esac
    done
    if [ -n "$why" ]; then
        fail_line "$kind" "$rep" "$size" "$why"
        return 1
    fi
    printf '{"kind": "%s", "rep": %s, "size": %s, "ok": true, "guest": "%s", "peer_guest": "%s", ' \
        "$kind" "$rep" "$size" "$4" "$5" >>"$RES"
    printf '"result": %s, "peer_result": %s}\n' "$(kv_object "${r#SUCCESS }")" \
        "$(kv_object "${p#SUCCESS }")" >>"$RES"
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

# timed_boot GUEST NAME CFG PATTERN LIMIT_S RUN MEMORY_MIB IMAGE [RAMDISK]:
# `xl create CFG`, then the time until PATTERN is on the console; one boot
# line.  A failed create or a guest that never gets there is retried once
# (and noted), then recorded as failed.
timed_boot() {
    local guest=$1 name=$2 cfg=$3 pattern=$4 limit=$5 run=$6 mem=$7 img=$8 rd=${9:-} \
        t0 t1 attempt=1 why extra=
    [ -n "$rd" ] && extra=", \"ramdisk_bytes\": $(wc -c <"$rd")"
    while :; do
        t0=$(now_ms)
        if xl create "$cfg" >"xl-create-$name.log" 2>&1; then
            if poll_fast "$name" "$pattern" "$limit"; then
                t1=$(now_ms)
                printf '{"kind": "boot", "guest": "%s", "run": %s, "ok": true, "ms": %s, ' \
                    "$guest" "$run" $((t1 - t0)) >>"$RES"
                printf '"memory_mib": %s, "image": "%s", "image_bytes": %s%s}\n' \
                    "$mem" "${img##*/}" "$(wc -c <"$img")" "$extra" >>"$RES"
                return 0
            fi
            why="no '$pattern' on its console within ${limit}s"
        else
            why="xl create failed: $(tail -n 1 "xl-create-$name.log")"
        fi
        xl destroy "$name" >/dev/null 2>&1
        [ $attempt -ge 2 ] && break
        lab_retry_note "$name: $why; retrying once"
        attempt=2
        sleep 1
    done
    printf '{"kind": "boot", "guest": "%s", "run": %s, "ok": false, "reason": %s}\n' \
        "$guest" "$run" "$(jstr "$name: $why")" >>"$RES"
    lab_log "guest-bench: boot $name failed: $why"
    return 1
}

# Sizes the tiny apps take; the others are recorded as not measured.
sizes=
sizes_json=
for s in $GUEST_BENCH_SIZES; do
    if [ "$s" -ge 1 ] 2>/dev/null && [ "$s" -le $TINY_MAX_SIZE ]; then
        sizes="$sizes $s"
        sizes_json="${sizes_json:+$sizes_json, }$s"
    else
        fail_line bulk 0 "$s" "the tiny apps take sizes of 1 to $TINY_MAX_SIZE bytes"
    fi
done
printf '{"kind": "plan", "ok": true, "rr_count": %s, "rr_reps": %s, "bytes": %s, ' \
    "$BENCH_RR_COUNT" "$BENCH_RR_REPS" "$BENCH_BYTES" >>"$RES"
printf '"reps": %s, "boot_runs": %s, "sizes": [%s]}\n' "$BENCH_REPS" "$GUEST_BOOT_RUNS" \
    "$sizes_json" >>"$RES"
for a in $APPS; do
    printf '{"kind": "image", "ok": true, "app": "%s", "bytes": %s}\n' "$a" \
        "$(wc -c <"$G/ivcom-guest-$a.elf")" >>"$RES"
done

# ---- time to ready ----------------------------------------------------------
# The tiny guest: the sink app offering a channel to dom0 (nobody takes it:
# it gives up after 500 ms and shuts itself down).
i=1
while [ $i -le "$GUEST_BOOT_RUNS" ]; do
    n=gbboot$i
    guest_cfg $n sink "role=server peer=0 name=gb-boot timeout=500"
    mem=$(sed -n 's/^memory *= *//p' $n.cfg)
    timed_boot tiny $n $n.cfg '^ivcom-guest: ready' 60 $i "$mem" "$G/ivcom-guest-sink.elf" &&
        guest_finish $n
    i=$((i + 1))
done
# The lab's standard Linux PV domU (kernel + initramfs), doing nothing.
cfg=$(lab_guest_cfg gbpv run=/bin/sleep args=600) || lab_fail "no config for gbpv"
mem=$(sed -n 's/^memory *= *//p' "$cfg")
timed_boot linux-pv gbpv "$cfg" '^ivcom-guest: gbpv up' 150 1 "$mem" "$LAB_GUEST_KERNEL" \
    "$LAB_GUEST_INITRD"
lab_destroy gbpv

# ---- tiny <-> tiny: round trips, then stream throughput ---------------------
k=0
rep=0
while [ $rep -lt "$BENCH_RR_REPS" ]; do
    k=$((k + 1))
    pair gbe$k echo "role=server name=gb-pp$k" \
         gbp$k pingpong "role=client name=gb-pp$k count=$BENCH_RR_COUNT size=64"
    session rr $rep 64 gbp$k gbe$k
    rep=$((rep + 1))
done
rep=1
while [ $rep -le "$BENCH_REPS" ]; do
    for s in $sizes; do
        c=$((BENCH_BYTES / s))
        [ $c -lt 16 ] && c=16
        k=$((k + 1))
        pair gbk$k sink "role=server name=gb-st$k mode=stream size=$s count=$c" \
             gbs$k source "role=client name=gb-st$k mode=stream size=$s count=$c"
        session bulk $rep "$s" gbk$k gbs$k
    done
    rep=$((rep + 1))
done
xl dmesg >xl-dmesg.txt 2>&1
