# Scenario kv: a tiny key-value service domain (the kv app on the tiny
# guest's service kit) serves Linux and tiny client domains at once.
#   1. four clients at once: three Linux PV domUs run `ivcom-kv bench`
#      (every reply checked against what the client last wrote) and a
#      tiny kvclient (PUT/GET/DEL, every reply checked);
#   2. a Linux client killed (SIGKILL) mid-bench; its domain's next bench
#      is served; the kv domain ends after its 6 clients with SUCCESS;
#   3. the kv domain destroyed mid-bench: the client ends with an error,
#      not a hang; a new kv domain serves its next bench;
#   4. bad extra= words: one FAILURE line naming the word, domain gone.
# Figures (not verdicts): create-to-serving time of the kv domain, the
# bench lines.  Verdicts: KTAP lines in ktap.txt.
. /lab/ivcom-lib.sh
. /lab/guest-lib.sh
guest_files

TMO="-t 60000"

agent_guest ka
agent_guest kb
agent_guest kc
agent_ready ka kb kc
KA=$(agent_id ka)
KB=$(agent_id kb)
KC=$(agent_id kc)

# kv_domain NAME CLIENTS: the kv service domain, allowed the three Linux
# domUs and $KT; its domid in $K; create-to-serving ms in NAME.serving-ms.
kv_domain() {
    local t0 t1
    guest_cfg "$1" kv "name=kv allow=$KA,$KB,$KC,$KT max=8 clients=$2"
    t0=$(now_ms)
    guest_create "$1"
    wait_console "$1" '^kv: serving kv' 60
    t1=$(now_ms)
    echo $((t1 - t0)) >"$1.serving-ms"
    guest_domid K "$1"
}

# The tiny client exists (paused) before the service names it.
guest_cfg kvc kvclient "name=kv count=3000 size=64 timeout=120000"
guest_create kvc -p
guest_domid KT kvc
kv_domain kvs 6
echo "ka=$KA kb=$KB kc=$KC kvc=$KT kvs=$K" >domids
tell "$KT" "$K"

# ---- 1. four clients at once ------------------------------------------------------
for g in ka kb kc; do
    agent_start "$g" "b_$g" ivcom-kv -d "$K" $TMO -j bench -D 15 --size 256
done
guest_unpause kvc
for g in ka kb kc; do
    eval "n=\$b_$g"
    agent_wait "$g" "$n" "p1-$g.bench" 180
    lab_ktap $? "p1 $g's bench: every reply checked"
done
guest_finish kvc
case $(guest_result kvc) in SUCCESS*) r=0 ;; *) r=1 ;; esac
lab_ktap $r "p1 the tiny kvclient: every reply checked" "$(guest_result kvc)"

# ---- 2. a client killed mid-bench, then served again ----------------------------
agent_start ka k1 timeout -s KILL 6 ivcom-kv -d "$K" $TMO -j bench -D 60
agent_wait ka "$k1" p2-ka-killed.bench 120
[ $? -eq 137 ]
lab_ktap $? "p2 ka's bench killed mid-run (SIGKILL)"
agent_start ka k2 ivcom-kv -d "$K" $TMO -j bench -c 2000
agent_wait ka "$k2" p2-ka-again.bench 120
lab_ktap $? "p2 ka's next bench served"
guest_finish kvs
case $(guest_result kvs) in "SUCCESS kv: service kv: clients=6 failed=0"*) r=0 ;; *) r=1 ;; esac
lab_ktap $r "p2 the kv domain ended after its 6 clients" "$(guest_result kvs)"

# ---- 3. the kv domain destroyed under a client, then re-created ----------------
kv_domain kvs2 1
agent_start kb d1 ivcom-kv -d "$K" -t 20000 -j bench -D 120
sleep 6
agent_running kb "$d1"
lab_ktap $? "p3 kb's bench running when the kv domain is destroyed"
lab_destroy kvs2
agent_wait kb "$d1" p3-kb-cut.bench 120
rc=$?
[ $rc -ne 0 ]
lab_ktap $? "p3 kb's bench ended with an error, not a hang" "rc=$rc"
keep_console kvs2
kv_domain kvs3 1
agent_start kb d2 ivcom-kv -d "$K" $TMO -j bench -c 2000
agent_wait kb "$d2" p3-kb-again.bench 120
lab_ktap $? "p3 a new kv domain serves kb's next bench"
guest_finish kvs3
case $(guest_result kvs3) in SUCCESS*) r=0 ;; *) r=1 ;; esac
lab_ktap $r "p3 the new kv domain ended with SUCCESS" "$(guest_result kvs3)"

# ---- 4. bad extra= words ------------------------------------------------------------
# bad_words NAME EXTRA EXPECTED: one FAILURE line naming the word.
bad_words() {
    run_guest "$1" kv "$2"
    case $(guest_result "$1") in "FAILURE $3"*) r=0 ;; *) r=1 ;; esac
    lab_ktap $r "p4 $1: $3" "$(guest_result "$1")"
}
bad_words kvbad1 "name=kv colour=blue" 'kv: unknown word "colour=blue"'
bad_words kvbad2 "allow=1" "kv: missing name="
bad_words kvbad3 "name=kv max=lots" "kv: bad max="
for g in ka kb kc; do agent_post "$g" exit >/dev/null; done
