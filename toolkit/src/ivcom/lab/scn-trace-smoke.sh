# Scenario trace-smoke (trace image): the trace tree mounts, Debian's
# python3 and ivcom-trace start in dom0, and the kernel has what the event
# channel tracer probes (the bcc compile itself is exercised by trace-vchan).
. /lab/trace-env.sh
t0=$(cut -d' ' -f1 /proc/uptime)
python3 -c 'import sys; print(sys.version)' >python.txt 2>&1 \
    || lab_fail "python3 does not start: $(tail -n 1 python.txt)"
echo "python_start_s $t0 $(cut -d' ' -f1 /proc/uptime)" >timing
ivcom-trace --help >help.txt 2>&1 || lab_fail "ivcom-trace --help: $(tail -n 1 help.txt)"
echo "ivcom_trace_help_done $(cut -d' ' -f1 /proc/uptime)" >>timing
python3 -c 'import bcc; print(bcc.__file__)' >bcc.txt 2>&1 \
    || lab_fail "bcc does not import: $(tail -n 1 bcc.txt)"
uname -r >uname.txt
ls -l "/lib/modules/$(uname -r)/" >modules-dir.txt 2>&1
# Which of the tracer's optional kprobe targets this kernel has.
grep -E ' (notify_remote_via_irq|xen_evtchn_do_upcall|gntdev_ioctl|gntdev_ioctl_map_grant_ref)$' \
    /proc/kallsyms >kallsyms.txt 2>&1
df -k / /trace >df.txt 2>&1
free -k >free.txt 2>&1
