#!/bin/sh
# lab-twice CMD ARGS...: run a one-client server twice in a row (in a lab
# guest), "%n" in any argument becoming the run number (1, then 2).  Exits
# with the first failure's status.
run() {
    n=$1
    shift
    cmd=
    for a in "$@"; do
        cmd="$cmd '$(printf '%s\n' "$a" | sed "s/%n/$n/g")'"
    done
    eval "$cmd"
}
run 1 "$@" || exit $?
run 2 "$@"
