# Scenario trace-live (trace image): `ivcom-trace xen --live 1 2` runs
# xentrace in dom0 for two one-second intervals and prints two summaries
# (text, then JSON lines), while a PV domU boots (so that a guest's
# hypercalls are in the window).
. /lab/trace-env.sh

lab_guest tlive run=/bin/sleep args=600
ivcom-trace xen --live 1 2 >live.txt 2>live.err || lab_fail "xen --live: $(tail -n 1 live.err)"
ivcom-trace xen --live -j 1 2 >live.jsonl 2>live-j.err \
    || lab_fail "xen --live -j: $(tail -n 1 live-j.err)"
lab_domid tlive >domid
lab_destroy tlive
