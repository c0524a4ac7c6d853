# dom0 helpers for scenarios that run the tiny IVCOM guest (minios-app) as
# domUs (sourced after lib.sh; busybox sh).  Sourcing only defines: call
# guest_files first to put the shared files ($LAB_FILES: the guest images
# ivcom-guest-<app>.elf, the xl config template guest.cfg.in, any tools)
# in $G.  Guests are named by the scenario; each name is used once per
# boot (its console log would carry an earlier guest's lines).
G=${G:-/tmp/ivcom-guest}
# guest_cfg NAME APP EXTRA: the xl config, generated from the template.
guest_cfg() {
    sed -e "s|@NAME@|$1|g" -e "s|@KERNEL@|$G/ivcom-guest-$2.elf|g" \
        -e "s|@EXTRA@|$3|g" "$G/guest.cfg.in" >"$1.cfg"
}
# guest_cfg_pvh NAME APP EXTRA: the same for the PVH image
# (ivcom-guest-APP-pvh.elf, guest-pvh.cfg.in), with the native TSC TCG
# needs (an emulated TSC traps RDTSCP, which TCG's SVM cannot decode).
guest_cfg_pvh() {
    sed -e "s|@NAME@|$1|g" -e "s|@KERNEL@|$G/ivcom-guest-$2-pvh.elf|g" \
        -e "s|@EXTRA@|$3|g" "$G/guest-pvh.cfg.in" >"$1.cfg"
    echo 'tsc_mode = "native"' >>"$1.cfg"
}
# guest_create NAME [xl create options]: retried once (xl's helper can
# crash under TCG).  Not confirmed with `xl list`: a quick guest may be
# gone already.
guest_create() {
    name=$1
    shift
    attempt=1
    until xl create "$@" "$name.cfg" >"xl-create-$name.log" 2>&1; do
        xl destroy "$name" >/dev/null 2>&1
        [ $attempt -ge 2 ] &&
            lab_fail "xl create $name failed twice: $(tail -n 1 xl-create-$name.log)"
        lab_retry_note "xl create $name failed; retrying once"
        attempt=2
        sleep 1
    done
}
# guest_finish NAME: wait for the result line and for the guest to shut
# itself down (GUEST_GONE_WAIT steps of 0.2 s, default 100); keep its
# console log (CRs stripped).  A guest still there is noted in
# still-running and destroyed, unless it is in the shutdown state: then it
# did shut itself down and only its reaper (the `xl create` that started
# it, which can die under TCG) is gone; that is noted as a retry.
guest_finish() {
    name=$1
    log=$CONSOLE_DIR/guest-$name.log
    t=0
    while [ $t -lt 600 ] && ! grep -q '^ivcom-guest: result: ' "$log" 2>/dev/null; do
        sleep 0.2
        t=$((t + 1))
    done
    t=0
    while [ $t -lt "${GUEST_GONE_WAIT:-100}" ] && xl list "$name" >/dev/null 2>&1; do
        sleep 0.2
        t=$((t + 1))
    done
    if xl list "$name" >/dev/null 2>&1; then
        case $(xl list "$name" 2>/dev/null | awk -v n="$name" '$1 == n { print $5 }') in
            *s*) lab_retry_note "$name shut itself down but nothing reaped it (its xl create is gone); destroyed it" ;;
            *) echo "$name" >>still-running ;;
        esac
        xl destroy "$name" >/dev/null 2>&1
    fi
    tr -d '\r' <"$log" >"console-$name.log" 2>/dev/null
    lab_log "$name: $(grep '^ivcom-guest: result: ' "console-$name.log" | head -n 1)"
}
run_guest() {
    guest_cfg "$1" "$2" "$3"
    guest_create "$1"
    guest_finish "$1"
}

# guest_files: copy the shared files to $G (the runner's share is 9p;
# the copies in /tmp outlive the scenario, for the next ones in the same
# boot), make the tools among them executable and put $G on PATH.
guest_files() {
    mkdir -p "$G"
    cp "$LAB_FILES"/* "$G"/ || lab_fail "cannot copy the shared files"
    chmod +x "$G"/*
    PATH=$G:$PATH
}
now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
# guest_tell DOMID KEY VALUE: VALUE in the guest's data/KEY, readable by
# that guest alone (xenstore-write and -chmod, each re-run once if it
# faulted at start-up); fails the scenario if it cannot be written.
guest_tell() {
    local node=/local/domain/$1/data/$2
    lab_fault_rerun /dev/null "${TMPDIR:-/tmp}/xs-write.err" xenstore-write "$node" "$3" &&
        lab_fault_rerun /dev/null "${TMPDIR:-/tmp}/xs-chmod.err" xenstore-chmod "$node" "n$1" ||
        lab_fail "cannot write dom$1's data/$2"
}
# tell DOMID PEER: the peer's domid in the guest's data/ivcom-peer.
tell() {
    guest_tell "$1" ivcom-peer "$2"
}
# guest_domid VAR NAME: VAR set to the guest's domid (xl domid, re-run
# once if it faulted at start-up); fails the scenario if there is none.
guest_domid() {
    lab_fault_rerun "${TMPDIR:-/tmp}/xl-domid-$2" "${TMPDIR:-/tmp}/xl-domid-$2.err" xl domid "$2" &&
        read -r "$1" <"${TMPDIR:-/tmp}/xl-domid-$2" || lab_fail "$2 not created"
}
# guest_unpause NAME...: each guest unpaused (re-run once if xl faulted at
# start-up: a guest left paused would look like one that hangs).
guest_unpause() {
    local n
    for n in "$@"; do
        lab_fault_rerun /dev/null "${TMPDIR:-/tmp}/xl-unpause-$n.err" xl unpause "$n" ||
            lab_fail "xl unpause $n failed"
    done
}
# pair_up S C: guests S and C, configured (S.cfg, C.cfg), created paused
# (the server first: XenStore perms may only name existing domains), each
# told the other's domid, then both unpaused.  Domids in domids-S.
pair_up() {
    guest_create "$1" -p
    guest_domid sid "$1"
    guest_create "$2" -p
    guest_domid cid "$2"
    tell "$sid" "$cid"
    tell "$cid" "$sid"
    echo "$sid $cid" >"domids-$1"
    guest_unpause "$1" "$2"
}
# pair_start S APP EXTRA C APP EXTRA: pair_up with PV configs.
pair_start() {
    guest_cfg "$1" "$2" "$3"
    guest_cfg "$4" "$5" "$6"
    pair_up "$1" "$4"
}
# pair S APP EXTRA C APP EXTRA: pair_start, then both finished (client
# first).
pair() {
    pair_start "$@"
    guest_finish "$4"
    guest_finish "$1"
}
# keep_console NAME: the console log of a guest that will never finish.
keep_console() {
    tr -d '\r' <"$CONSOLE_DIR/guest-$1.log" >"console-$1.log" 2>/dev/null
}
# wait_console NAME PATTERN LIMIT_S: 0 seen, else fail the scenario.
wait_console() {
    lab_poll_console "$1" "$2" "$3" || lab_fail "$1: no '$2' within ${3}s"
}
# guest_result NAME: the text after "ivcom-guest: result: " in the kept
# console-NAME.log (guest_finish), nothing if there is none.  Shell
# built-ins only: no process that could fault at start-up under TCG.
guest_result() {
    local l
    [ -f "console-$1.log" ] || return 0
    while IFS= read -r l || [ -n "$l" ]; do
        case $l in
            "ivcom-guest: result: "*)
                echo "${l#ivcom-guest: result: }"
                return 0 ;;
        esac
    done <"console-$1.log"
}
