# Scenario net: TCP between two PV domUs over netfront/netback through the
# dom0 bridge xenbr0: round trips and a byte-verified bulk transfer.
# Session specs can be overridden with NET_SESSIONS (MODE:SIZE:COUNT,...).
: "${NET_SESSIONS:=rr:64:200,bulk:65536:64}"
n=$(echo "$NET_SESSIONS" | tr ',' '\n' | grep -c .)
lab_guest net1 net=1 ip=10.99.0.11/24 run=/usr/local/bin/lab-tcp args=server,5001,$n
lab_guest net2 net=1 ip=10.99.0.12/24 run=/lab/guest-tcp.sh args=10.99.0.11,5001,$NET_SESSIONS
lab_guest_up net1 120
lab_wait_console net1 '^lab-tcp: listening' 60
lab_guest_up net2 120
lab_wait_result net2 300
lab_guest_results net2 >tcp.jsonl
lab_wait_result net1 60
# Both results present and the bulk transfer verified end to end.
case $NET_SESSIONS in
    *bulk*) grep -q '"mode": "bulk".*"verified": true' tcp.jsonl \
                || lab_fail "no verified bulk transfer in tcp.jsonl" ;;
    *) grep -q '"mode": "rr"' tcp.jsonl || lab_fail "no round-trip result in tcp.jsonl" ;;
esac
