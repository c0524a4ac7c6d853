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
    sed "s/^/ivcom-agent: $n out: /" /tmp/agent.out
    sed "s/^/ivcom-agent: $n err: /" /tmp/agent.err
    echo "ivcom-agent: $n done rc=$rc"
    n=$((n + 1))
done
echo "ivcom-agent: exit"
exit 0
