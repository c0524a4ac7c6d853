# Scenario baseline: the paths IVCOM is measured against, side by side in
# one boot -- TCP over netfront/netback between two PV domUs through the
# dom0 bridge, and libxenvchan between dom0 and a PV domU.  Writes
# baseline.json: {"xen": ..., "kernel": ..., "results": [one object per
# session]} with medians and spread for round trips and MB/s for bulk.
# Override sizes with BASE_RR (MODE:SIZE:COUNT) and BASE_BULK.
: "${BASE_RR:=rr:64:1000}"
: "${BASE_BULK:=bulk:65536:1024}"

lab_guest bnet1 net=1 ip=10.99.0.21/24 run=/usr/local/bin/lab-tcp args=server,5002,2
lab_guest bnet2 net=1 ip=10.99.0.22/24 run=/lab/guest-tcp.sh \
    args=10.99.0.21,5002,$BASE_RR,$BASE_BULK
lab_guest_up bnet1 120
lab_wait_console bnet1 '^lab-tcp: listening' 60
lab_guest_up bnet2 120
lab_wait_result bnet2 600
lab_guest_results bnet2 >tcp.jsonl
lab_wait_result bnet1 60
lab_destroy bnet1
lab_destroy bnet2

lab_guest bvch run=/usr/local/bin/lab-vchan args=server,0,data/ivcom-vchan
lab_guest_up bvch 120
lab_wait_console bvch '^lab-vchan: serving' 60
domid=$(lab_domid bvch)
vchan_client() {
    lab-vchan client "$domid" "/local/domain/$domid/data/ivcom-vchan" "$BASE_RR" "$BASE_BULK" \
        >vchan.out 2>vchan.err
}
if ! vchan_client; then
    # The baseline, not IVCOM: a libxenvchan session that failed (seen
    # once: its bulk data arrived corrupted while TCG was faulting other
    # processes in dom0) is measured once more on a fresh server, and the
    # retry is reported.
    grep -q '"verified": false' vchan.out || lab_fail "lab-vchan client: $(tail -n 1 vchan.err)"
    lab_retry_note "libxenvchan bulk failed verification; re-ran the vchan sessions once"
    lab_destroy bvch
    lab_guest bvch2 run=/usr/local/bin/lab-vchan args=server,0,data/ivcom-vchan
    lab_guest_up bvch2 120
    lab_wait_console bvch2 '^lab-vchan: serving' 60
    domid=$(lab_domid bvch2)
    vchan_client || lab_fail "lab-vchan client (second run): $(tail -n 1 vchan.err)"
    lab_wait_result bvch2 60
else
    lab_wait_result bvch 60
fi
sed -n 's/^ivcom-result: //p' vchan.out >vchan.jsonl

[ "$(cat tcp.jsonl vchan.jsonl | grep -c .)" -eq 4 ] \
    || lab_fail "expected 4 results, got $(cat tcp.jsonl vchan.jsonl | grep -c .)"
grep -q '"verified": false' tcp.jsonl vchan.jsonl && lab_fail "a bulk transfer failed verification"
{
    printf '{"xen": "%s", "kernel": "%s", "rr": "%s", "bulk": "%s", "results": [\n' \
        "$(xl info | sed -n 's/^xen_version *: *//p')" "$(uname -r)" "$BASE_RR" "$BASE_BULK"
    cat tcp.jsonl vchan.jsonl | sed '$!s/$/,/'
    printf ']}\n'
} >baseline.json
