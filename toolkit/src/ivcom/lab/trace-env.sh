# Sourced by trace scenarios in the lab's trace-flavour dom0 (busybox sh):
# mounts the trace tree (python3, bcc, kernel headers), debugfs and tracefs
# (bcc needs kprobes and tracepoints), and checks the tools are there.
if [ "$(cat /etc/ivcom-flavour 2>/dev/null)" != trace ]; then
    lab_fail "not the trace image (build it with build_image(..., flavour=\"trace\"))"
fi
/lab/trace-mount.sh >trace-mount.log 2>&1 \
    || lab_fail "cannot mount the trace tree: $(tail -n 1 trace-mount.log)"
grep -q ' /sys/kernel/debug ' /proc/mounts \
    || mount -t debugfs debugfs /sys/kernel/debug \
    || lab_fail "cannot mount debugfs"
grep -q ' /sys/kernel/tracing ' /proc/mounts \
    || mount -t tracefs tracefs /sys/kernel/tracing \
    || lab_fail "cannot mount tracefs"
[ -d "/lib/modules/$(uname -r)/build/include" ] \
    || lab_fail "kernel headers for $(uname -r) missing from the trace tree"
