# Scenario vchan: libxenvchan between dom0 (client, maps the grants) and a
# PV domU (server, grants the rings): round trips and a verified bulk
# transfer.  Session specs can be overridden with VCHAN_SESSIONS.
: "${VCHAN_SESSIONS:=rr:64:200 bulk:65536:64}"
lab_guest vch1 run=/usr/local/bin/lab-vchan args=server,0,data/ivcom-vchan
lab_guest_up vch1 120
lab_wait_console vch1 '^lab-vchan: serving' 60
domid=$(lab_domid vch1)
echo "$domid" >domid
# shellcheck disable=SC2086  # the session list is split on purpose
lab-vchan client "$domid" "/local/domain/$domid/data/ivcom-vchan" $VCHAN_SESSIONS \
    >vchan.out 2>vchan.err || lab_fail "lab-vchan client: $(tail -n 1 vchan.err)"
sed -n 's/^ivcom-result: //p' vchan.out >vchan.jsonl
lab_wait_result vch1 60
case $VCHAN_SESSIONS in
    *bulk*) grep -q '"mode": "bulk".*"verified": true' vchan.jsonl \
                || lab_fail "no verified bulk transfer in vchan.jsonl" ;;
    *) grep -q '"mode": "rr"' vchan.jsonl || lab_fail "no round-trip result in vchan.jsonl" ;;
esac
