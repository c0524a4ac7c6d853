#!/bin/sh
# Run the sim platform's C tests against a private sim:
#   sh sim/run-tests.sh BUILD_DIR TEST...
# Starts ivcom-simhv (which starts the real xenstored) in a fresh
# directory, runs each test with IVCOM_SIM_DIR set, stops the sim.
# Exit status: 0 if no test failed.
set -u
O=$1
shift
simhv=$O/bin/ivcom-simhv
dir=$(mktemp -d "${TMPDIR:-/tmp}/ivcom-sim.XXXXXX") || exit 1

"$simhv" -d "$dir" 2>"$dir/simhv.log" &
hv=$!
i=0
while [ ! -f "$dir/ready" ]; do
    if ! kill -0 "$hv" 2>/dev/null || [ $i -ge 200 ]; then
        echo "sim-test: simhv did not start:" >&2
        cat "$dir/simhv.log" "$dir/xenstored.log" >&2 2>/dev/null
        kill "$hv" 2>/dev/null
        exit 1
    fi
    sleep 0.05
    i=$((i + 1))
done

pass=0 fail=0 skip=0
for t in "$@"; do
    name=$(basename "$t")
    IVCOM_SIM_DIR=$dir timeout 120 "$t" >"$dir/$name.out" 2>&1
    rc=$?
    case $rc in
    0) pass=$((pass + 1)); echo "PASS $name" ;;
    77) skip=$((skip + 1)); echo "SKIP $name: $(tail -n 1 "$dir/$name.out")" ;;
    *) fail=$((fail + 1)); echo "FAIL $name (exit $rc)"; sed 's/^/    /' "$dir/$name.out" ;;
    esac
done

kill "$hv" 2>/dev/null
wait "$hv" 2>/dev/null
if [ $fail -ne 0 ]; then
    echo "sim-test: logs kept in $dir"
else
    rm -rf "$dir"
fi
echo "sim-test: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
