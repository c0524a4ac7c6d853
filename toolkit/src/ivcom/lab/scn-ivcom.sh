# Scenario ivcom: libivcom's xen-linux backend on real Xen.
#   1. a third domain (ivc) is refused an offer made to ivb: its client
#      reports -EACCES and it cannot map the offer's control grant;
#   2. dom0 <-> PV domU (iva) and PV domU <-> PV domU (iva <-> ivb):
#      ivcom-pingpong both ways, ivcom-stream both ways in message and in
#      stream mode, every message checked by the receiver;
#   2b. services: dom0 serves iva and ivb at once, iva serves dom0 and ivb;
#   3. a long iva -> ivb stream with xentrace recording in dom0 (the host
#      checks that dom0 made no grant or event-channel hypercalls);
#   4. ivb is destroyed mid-stream: iva's client must fail with -EPIPE;
#   5. iva is destroyed half-way through a handshake (it announced itself
#      in XenStore but never came up on the shared page): dom0's server
#      must end with -EPIPE, not wait on.
# Results: <tag>.json/.out (+ .err) per run, runs.txt (one line per run:
# TAG TOOL SERVER CLIENT), xentrace files, domids.
. /lab/ivcom-lib.sh

: "${IVCOM_PP:=-s 64 -c 500}"
: "${IVCOM_MSG:=-s 4096 -c 2000}"
TMO="-t 30000"

agent_guest iva
agent_guest ivb
agent_guest ivc
agent_ready iva ivb ivc
A=$(agent_id iva)
B=$(agent_id ivb)
C=$(agent_id ivc)
echo "dom0=0 iva=$A ivb=$B ivc=$C" >domids

id_of() { [ "$1" = dom0 ] && echo 0 || agent_id "$1"; }

# run TAG TOOL SERVER CLIENT ARGS...: one session; SERVER and CLIENT are
# "dom0" or guest names.  The server's output goes to TAG.server, the
# client's to TAG.client (each with .err).
run() {
    local tag=$1 tool=$2 srv=$3 cli=$4 sid cid spid sn cn
    shift 4
    sid=$(id_of "$srv")
    cid=$(id_of "$cli")
    echo "$tag $tool $srv $cli" >>runs.txt
    if [ "$srv" = dom0 ]; then
        # shellcheck disable=SC2086
        lab_fault_rerun "$tag.server" "$tag.server.err" $tool -p "$cid" -n "$tag" $TMO -j "$@" \
            server &
        spid=$!
    else
        agent_start "$srv" sn $tool -p "$cid" -n "$tag" $TMO -j "$@" server
    fi
    if [ "$cli" = dom0 ]; then
        # shellcheck disable=SC2086
        lab_fault_rerun "$tag.client" "$tag.client.err" $tool -p "$sid" -n "$tag" $TMO -j \
            "$@" client || lab_fail "$tag: dom0 client failed: $(tail -n 1 "$tag.client.err")"
    else
        agent_start "$cli" cn $tool -p "$sid" -n "$tag" $TMO -j "$@" client
        agent_ok "$cli" "$cn" "$tag.client" 180
    fi
    if [ "$srv" = dom0 ]; then
        bg_ok "$spid" "$tag.server" "$tag: dom0 server"
    else
        agent_ok "$srv" "$sn" "$tag.server" 180
    fi
    lab_log "$tag: ok"
}

# ---- 1. a third domain is refused ------------------------------------------
agent_start iva dsrv ivcom-pingpong -p "$B" -n deny -t 120000 server
lab_offer_wait "$A" deny 60
xenstore-ls -p "$offer" >deny-offer.txt 2>&1
echo "$ref" >deny-ctrl-ref
agent_start ivc c1 ivcom-pingpong -p "$A" -n deny -t 3000 client
agent_wait ivc "$c1" deny-third.client 60
echo $? >deny-third.rc
agent_start ivc c2 lab-gntmap "$A" "$ref"
agent_wait ivc "$c2" deny-gntmap.out 60
echo $? >deny-gntmap.rc
# Nor read the offer's XenStore nodes (the peer can: the control case).
agent_start ivc c5 xenstore read "$offer/ctrl-ref"
agent_wait ivc "$c5" deny-third-xsread.out 60
echo $? >deny-third-xsread.rc
agent_start ivc c6 xenstore ls "$offer"
agent_wait ivc "$c6" deny-third-xsls.out 60
echo $? >deny-third-xsls.rc
agent_start ivb c7 xenstore read "$offer/ctrl-ref"
agent_ok ivb "$c7" deny-peer-xsread.out 60
# The intended peer still gets through (and maps the same grant).
agent_start ivb c3 lab-gntmap "$A" "$ref"
agent_wait ivb "$c3" deny-peer-gntmap.out 60
echo $? >deny-peer-gntmap.rc
agent_start ivb c4 ivcom-pingpong -p "$A" -n deny -s 64 -c 100 -j client
agent_ok ivb "$c4" deny-peer.client 120
agent_ok iva "$dsrv" deny.server 60
# ivc leaves: its idle agent must not touch XenStore during the trace.
agent_post ivc exit >/dev/null
i=0
while xl list ivc >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -gt 150 ] && { lab_destroy ivc; break; }
    sleep 0.2
done

# ---- 2. the data path, every direction --------------------------------------
# shellcheck disable=SC2086  # option lists are split on purpose
for pair in "dom0 iva" "iva dom0" "iva ivb" "ivb iva"; do
    set -- $pair
    k=$1-$2
    run "pp-$k" ivcom-pingpong "$1" "$2" $IVCOM_PP
    run "msg-$k" ivcom-stream "$1" "$2" $IVCOM_MSG
    run "str-$k" ivcom-stream "$1" "$2" -S $IVCOM_MSG
done

# ---- 2b. services: one name, many client domains ----------------------------
# dom0 serves echo service "svc0" to iva and ivb at once (each reported by
# the domain xenstored records); then iva serves "svca" to dom0 and ivb at
# once: a domU serves and dom0 connects like any domain.
# shellcheck disable=SC2086
lab_fault_rerun svc0.server svc0.server.err ivcom-pingpong -n svc0 $TMO -j --clients 2 \
    server &
spid=$!
agent_start iva s1 ivcom-pingpong -p 0 -n svc0 $TMO -j $IVCOM_PP client
agent_start ivb s2 ivcom-pingpong -p 0 -n svc0 $TMO -j $IVCOM_PP client
agent_ok iva "$s1" svc0-iva.client 180
agent_ok ivb "$s2" svc0-ivb.client 180
bg_ok "$spid" svc0.server "svc0: dom0 service"
agent_start iva s3 ivcom-pingpong -n svca $TMO -j --clients 2 server
agent_start ivb s4 ivcom-pingpong -p "$A" -n svca $TMO -j $IVCOM_PP client
# shellcheck disable=SC2086
lab_fault_rerun svca-dom0.client svca-dom0.client.err ivcom-pingpong -p "$A" -n svca $TMO -j \
    $IVCOM_PP client || lab_fail "svca: dom0 client failed: $(tail -n 1 svca-dom0.client.err)"
agent_ok ivb "$s4" svca-ivb.client 180
agent_ok iva "$s3" svca.server 180
lab_log "services: ok"

# ---- 3. domU <-> domU does not involve dom0 ---------------------------------
# A long stream iva (client, source) -> ivb (server, sink): trace a window
# well inside it (the handshake and the processes' start-up are over).
echo "trace ivcom-stream ivb iva" >>runs.txt
agent_start ivb tsrv ivcom-stream -p "$A" -n trace -t 30000 -j -s 4096 server
agent_start iva tcli ivcom-stream -p "$B" -n trace -t 10000 -j -s 4096 -c 100000000 client
sleep 3
agent_running iva "$tcli" || lab_fail "the traced stream ended before the trace started"
trace_window trace-domu.xt 3 || lab_fail "xentrace failed: $(tail -n 1 trace-domu.xt.log)"
agent_running iva "$tcli" || lab_fail "the traced stream ended inside the trace window"
echo "still-running" >trace-domu.window

# ---- 4. the peer is destroyed mid-stream ------------------------------------
t0=$(date +%s)
xl destroy ivb || lab_fail "xl destroy ivb failed"
agent_wait iva "$tcli" destroy.client 60
echo $? >destroy.rc
echo $(( $(date +%s) - t0 )) >destroy.seconds

# ---- 5. a domain destroyed during the handshake ------------------------------
# dom0 offers; iva writes what a connecting client writes to XenStore
# (client/state under the offer, its presence node in its own home) and
# goes no further; then iva is destroyed.  `timeout` bounds a hang.
lab_fault_rerun hs.server hs.server.err timeout 60 ivcom-pingpong -p "$A" -n hs -t 45000 server &
spid=$!
lab_offer_wait 0 hs 60
hsoffer=$offer
agent_start iva h1 xenstore write "data/ivcom-client/0/hs" connected
agent_ok iva "$h1" hs-presence 60
agent_start iva h2 xenstore chmod "data/ivcom-client/0/hs" "n$A" r0
agent_ok iva "$h2" hs-chmod 60
agent_start iva h3 xenstore write "$hsoffer/client/state" connected
agent_ok iva "$h3" hs-client-state 60
xl destroy iva || lab_fail "xl destroy iva failed"
wait $spid
echo $? >hs.server.rc
