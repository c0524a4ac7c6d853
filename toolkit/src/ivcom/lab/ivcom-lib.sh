# dom0 helpers for the IVCOM lab scenarios (sourced after lib.sh; busybox
# sh).  Guests run ivcom-agent.sh; these post commands to them and collect
# the results from their console logs.

IVCOM_AGENT=/usr/local/bin/ivcom-agent

# agent_guest NAME [settings...]: create a guest running the agent.
agent_guest() {
    local name=$1
    shift
    lab_guest "$name" run=$IVCOM_AGENT "$@"
}

# agent_ready NAME...: wait for each guest's agent (re-creating a guest that
# died at start, as lab_guest_up does).
agent_ready() {
    for g in "$@"; do
        lab_guest_up "$g" 180
        lab_wait_console "$g" '^ivcom-agent: ready' 60
        rm -f "/tmp/agent-id-$g"
        agent_id "$g" >/dev/null || lab_fail "no domid for $g"
    done
}

# agent_id NAME: the guest's domid, looked up once (retried: under TCG a
# freshly started process in dom0 occasionally faults at start-up).  The
# cached value is read with the shell's own `read`: no process to fault.
agent_id() {
    local f=/tmp/agent-id-$1 id= try=1
    if [ -s "$f" ]; then
        read -r id <"$f"
        case $id in
            ''|*[!0-9]*) ;;
            *) echo "$id"; return 0 ;;
        esac
    fi
    while [ $try -le 3 ]; do
        id=$(lab_domid "$1")
        case $id in *[!0-9]*) id= ;; esac
        if [ -n "$id" ]; then
            echo "$id" >"$f"
            echo "$id"
            return 0
        fi
        try=$((try + 1))
        sleep 0.2
    done
    return 1
}

# agent_post NAME COMMAND...: post a command; prints its number.
agent_post() {
    local name=$1 id n seqf path
    shift
    id=$(agent_id "$name") || { echo "agent_post: no domain $name" >&2; return 1; }
    seqf=/tmp/agent-seq-$name
    n=0
    [ -s "$seqf" ] && read -r n <"$seqf"
    n=$((n + 1))
    echo "$n" >"$seqf"
    path=/local/domain/$id/data/lab/cmd$n
    xenstore-write "$path" "$*" || xenstore-write "$path" "$*" \
        || { echo "agent_post: cannot write $path" >&2; return 1; }
    xenstore-chmod "$path" "n$id" || xenstore-chmod "$path" "n$id" \
        || { echo "agent_post: cannot chmod $path" >&2; return 1; }
    echo "$n"
}

# agent_start NAME VAR COMMAND...: post and store the command number in VAR.
agent_start() {
    local name=$1 var=$2 n
    shift 2
    n=$(agent_post "$name" "$@") || lab_fail "cannot post '$*' to $name"
    eval "$var=\$n"
}

# agent_running NAME N: 0 while command N has not finished.
agent_running() {
    ! grep -q "^ivcom-agent: $2 done rc=" "$CONSOLE_DIR/guest-$1.log" 2>/dev/null
}

# _grab FILE SED_EXPR OUT: sed over a console log (carriage returns
# dropped), retried when sed itself dies of a signal: under TCG a freshly
# started busybox applet in dom0 occasionally faults in its TLS set-up.
_grab() {
    local try=1 st
    while :; do
        sed -n -e "s/$IVCOM_CR\$//" -e "$2" "$1" >"$3"
        st=$?
        [ $st -lt 128 ] && return 0
        [ $try -ge 3 ] && return 1
        lab_retry_note "sed died (status $st) reading $1; retrying"
        try=$((try + 1))
    done
}
IVCOM_CR=$(printf '\r')

# _agent_poll NAME PATTERN TIMEOUT_S: lab_poll_console, except that a guest
# is declared gone only when `xl list` fails three times in a row (a single
# failure may be the tool itself faulting at start-up under TCG).
_agent_poll() {
    local name=$1 pattern=$2 limit=$3 log t=0 miss
    log=$CONSOLE_DIR/guest-$name.log
    while [ $t -lt $((limit * 5)) ]; do
        grep -Eq "$pattern" "$log" 2>/dev/null && return 0
        if [ $((t % 10)) -eq 9 ]; then
            miss=0
            while [ $miss -lt 3 ] && ! xl list "$name" >/dev/null 2>&1; do
                miss=$((miss + 1))
                sleep 0.3
            done
            if [ $miss -ge 3 ]; then
                grep -Eq "$pattern" "$log" 2>/dev/null && return 0
                return 1
            fi
        fi
        sleep 0.2
        t=$((t + 1))
    done
    return 2
}

# agent_wait NAME N OUTFILE [TIMEOUT_S]: wait for command N; its stdout goes
# to OUTFILE, stderr to OUTFILE.err; returns the command's exit status.
agent_wait() {
    local name=$1 n=$2 out=$3 limit=${4:-120} log rc
    log=$CONSOLE_DIR/guest-$name.log
    _agent_poll "$name" "^ivcom-agent: $n done rc=" "$limit"
    case $? in
        1) lab_fail "$name died while running command $n" ;;
        2) lab_fail "$name: command $n did not finish within ${limit}s" ;;
    esac
    _grab "$log" "s/^ivcom-agent: $n retry: //p" "$out.retry" || lab_fail "cannot read $log"
    [ -s "$out.retry" ] && lab_retry_note "$name command $n ($out): $(cat "$out.retry"); re-ran it"
    rm -f "$out.retry"
    _grab "$log" "s/^ivcom-agent: $n out: //p" "$out" || lab_fail "cannot read $log"
    _grab "$log" "s/^ivcom-agent: $n err: //p" "$out.err" || lab_fail "cannot read $log"
    _grab "$log" "s/^ivcom-agent: $n done rc=\([0-9]*\).*/\1/p" "$out.rc" \
        || lab_fail "cannot read $log"
    rc=
    read -r rc <"$out.rc"
    rm -f "$out.rc"
    return "${rc:-255}"
}

# agent_ok NAME N OUTFILE [TIMEOUT_S]: agent_wait, failing the scenario on a
# non-zero status (with the command's last error line).
agent_ok() {
    agent_wait "$@" || lab_fail "$1 command $2 failed (rc=$?): $(tail -n 1 "$3.err")"
}

# bg_ok PID OUTFILE WHAT: wait for a dom0 background job.
bg_ok() {
    wait "$1" || lab_fail "$3 failed: $(tail -n 1 "$2.err" 2>/dev/null)"
}

# trace_window FILE SECONDS [MASK]: record a xentrace window in dom0.
# Default mask: TRC_GEN | TRC_SCHED | TRC_PV (lost records, the scheduler
# records the decoder attributes CPUs with, PV hypercalls).  xentrace
# writes straight from Xen's trace buffers, which the 9p share refuses
# (EFAULT): record into /tmp, then copy FILE into the results.
trace_window() {
    local file=$1 secs=$2 mask=${3:-0x0023f000} tmp
    tmp=/tmp/${file##*/}
    rm -f "$tmp"
    xentrace -e "$mask" -S 1024 -s 1000 -T "$secs" "$tmp" >"$file.log" 2>&1 || return 1
    cp "$tmp" "$file" && rm -f "$tmp"
}

# ivcom_evtchn_count DOMID: the domain's interdomain and unbound event
# channels (what channels hold), as Xen's lsevtchn lists them.
ivcom_evtchn_count() {
    /usr/lib/xen-4.17/bin/lsevtchn "$1" 2>/dev/null | grep -cE 'Interdomain|Unbound'
}
