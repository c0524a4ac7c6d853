# Scenario vchan-interop: libxenvchan's protocol spoken by libivcom's
# drop-in libxenvchan.so.4.17 (in /opt/ivcom/lib) and by Debian's stock
# library, in all four combinations of server (a PV domU, which grants
# the rings) and client (dom0, which maps them): the same unmodified
# program, lab-vchan, linked against libxenvchan.so.4.17, picks ours up
# through LD_LIBRARY_PATH.  Each pair does round trips and a verified
# bulk transfer (the server checks every byte).
# Verdicts: KTAP lines in ktap.txt; <srv>-<cli>.jsonl the results.
. /lab/ivcom-lib.sh

: "${VCHAN_SESSIONS:=rr:64:200 bulk:65536:64}"
OURS="env LD_LIBRARY_PATH=/opt/ivcom/lib"

agent_guest vi
agent_ready vi
V=$(agent_id vi)
echo "$V" >domid

n=0
for srv in stock ours; do
    for cli in stock ours; do
        n=$((n + 1))
        path=data/vchan-interop-$n
        s=
        c=
        [ $srv = ours ] && s=$OURS
        [ $cli = ours ] && c=$OURS
        # shellcheck disable=SC2086  # $s is a command prefix or nothing
        agent_start vi sv $s lab-vchan server 0 $path
        # The server is up once its ring-ref is in XenStore.
        t=0
        until xenstore-read "/local/domain/$V/$path/ring-ref" >/dev/null 2>&1; do
            t=$((t + 1))
            [ $t -gt 300 ] && lab_fail "$srv server: no ring-ref within 60 s"
            sleep 0.2
        done
        # shellcheck disable=SC2086
        $c lab-vchan client "$V" "/local/domain/$V/$path" $VCHAN_SESSIONS \
            >"$srv-$cli.out" 2>"$srv-$cli.err"
        crc=$?
        agent_wait vi "$sv" "$srv-$cli.server" 120
        src=$?
        sed -n 's/^ivcom-result: //p' "$srv-$cli.out" >"$srv-$cli.jsonl"
        grep -q '"mode": "bulk".*"verified": true' "$srv-$cli.jsonl"
        ok=$?
        [ $crc -eq 0 ] && [ $src -eq 0 ] && [ $ok -eq 0 ]
        lab_ktap $? "$srv server, $cli client: round trips and a verified bulk transfer" \
            "client rc=$crc: $(tail -n 1 "$srv-$cli.err"); server rc=$src: $(tail -n 1 "$srv-$cli.server.err")"
    done
done
# Which library each end runs: the dynamic loader's own answer, both ways.
LDSO=/lib64/ld-linux-x86-64.so.2
$OURS $LDSO --list /usr/local/bin/lab-vchan >which-dom0-ours.txt 2>&1
$LDSO --list /usr/local/bin/lab-vchan >which-dom0-stock.txt 2>&1
agent_start vi m1 $OURS $LDSO --list /usr/local/bin/lab-vchan
agent_wait vi "$m1" which-domu-ours.txt 60
agent_start vi m2 $LDSO --list /usr/local/bin/lab-vchan
agent_wait vi "$m2" which-domu-stock.txt 60
for w in dom0 domu; do
    grep -q 'libxenvchan.so.4.17 => /opt/ivcom/lib/libxenvchan.so.4.17' "which-$w-ours.txt" &&
        ! grep -q '/opt/ivcom' "which-$w-stock.txt"
    lab_ktap $? "$w: lab-vchan loads ours with LD_LIBRARY_PATH, stock without" \
        "$(grep libxenvchan "which-$w-ours.txt") / $(grep libxenvchan "which-$w-stock.txt")"
done
agent_post vi exit >/dev/null
