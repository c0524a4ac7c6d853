#!/bin/sh
# Guest payload: run lab-tcp client sessions against HOST:PORT, one per
# MODE:SIZE:COUNT spec, e.g. `guest-tcp.sh 10.99.0.11 5001 rr:64:200`.
host=$1 port=$2
shift 2
for spec in "$@"; do
    mode=${spec%%:*}
    rest=${spec#*:}
    lab-tcp client "$host" "$port" "$mode" "${rest%%:*}" "${rest#*:}" || exit 1
done
