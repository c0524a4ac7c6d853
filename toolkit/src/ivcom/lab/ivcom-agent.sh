#!/bin/sh
# Guest agent for the IVCOM lab scenarios (runs inside a PV domU as the
# standard guest's payload).  dom0 posts shell commands one at a time in
# the guest's own XenStore directory, data/lab/cmd<N> (N = 1, 2, ...); the
# agent runs each to completion and reports on its console:
#   ivcom-agent: N start
#   ivcom-agent: N out: <each stdout line>
#   ivcom-agent: N err: <each stderr line>
#   ivcom-agent: N done rc=<exit status>
# The command "exit" ends the agent (and so the guest).  While a command
# runs the agent is silent: no XenStore or console traffic disturbs a
# measurement.  Idle, it blocks on a XenStore watch, re-reading every 2 s
# in case a command was posted between its read and its watch.
base=data/lab
n=1

# Shell built-ins only (no new process that could fault at start-up):
# lines FILE prints its line count; report TAG FILE copies it to the console.
lines() {
    c=0
    while IFS= read -r l || [ -n "$l" ]; do c=$((c + 1)); done <"$1"
    echo "$c"
}
report() {
    while IFS= read -r l || [ -n "$l" ]; do echo "ivcom-agent: $n $1: $l"; done <"$2"
}

echo "ivcom-agent: ready"
while :; do
    cmd=$(xenstore read "$base/cmd$n" 2>/dev/null)
    if [ -z "$cmd" ]; then
        # The first watch event fires at registration: wait for the second.
        timeout 2 xenstore watch -n 2 "$base" >/dev/null 2>&1
        continue
    fi
    [ "$cmd" = exit ] && break
    echo "ivcom-agent: $n start"
    # shellcheck disable=SC2086  # the command line is split on purpose
    $cmd >/tmp/agent.out 2>/tmp/agent.err </dev/null
    rc=$?
    # Killed by a fault (SIGILL, SIGABRT, SIGBUS, SIGFPE, SIGSEGV), or
    # "not found" (127) for a program that is there, with nothing on
    # stdout and at most the shell's one line on stderr: it failed at
    # start-up (under TCG a freshly started process occasionally faults, or
    # its exec fails).  Run it once more; a peer it was meant to meet is
    # still waiting within its timeout.
    # glibc's one line on a corrupt heap before SIGABRT ("malloc():
    # corrupted top size") counts as nothing printed, as in dom0's
    # lab_died_silently: our tools report their own errors, never abort.
    case $rc in 127|132|134|135|136|139) fault=1 ;; *) fault= ;; esac
    said=$(lines /tmp/agent.err)
    if [ "$rc" = 134 ] && [ "$said" -eq 2 ]; then
        first=
        IFS= read -r first </tmp/agent.err
        case $first in malloc*|free*|realloc*|"double free"*|corrupted*) said=1 ;; esac
    fi
    if [ -n "$fault" ] && [ ! -s /tmp/agent.out ] && [ "$said" -le 1 ]; then
        echo "ivcom-agent: $n retry: rc=$rc before any output"
        $cmd >/tmp/agent.out 2>/tmp/agent.err </dev/null
        rc=$?
    fi
    report out /tmp/agent.out
    report err /tmp/agent.err
    echo "ivcom-agent: $n done rc=$rc"
    n=$((n + 1))
done
echo "ivcom-agent: exit"
exit 0
