// SPDX-License-Identifier: MIT
/*
 * Event channel tracing for a Linux 6.1 Xen domain (bcc program).
 *
 * Counts (cumulative: the maps are never cleared, Python reports the
 * difference of two readings per interval):
 *   user_sends   IOCTL_EVTCHN_NOTIFY on /dev/xen/evtchn, by (tgid, port)
 *   kernel_sends notify_remote_via_irq(), by irq (in-kernel backends,
 *                xenbus, console)
 *   deliveries   hard-irq handler entries of user-space event channels;
 *                drivers/xen/evtchn.c names them "evtchn:<comm>", by irq
 *   upcalls      xen_evtchn_do_upcall() entries, by cpu
 *   grant_maps   IOCTL_GNTDEV_MAP_GRANT_REF on /dev/xen/gntdev, by tgid
 *                (the ioctl number: the handler is inlined in 6.1)
 * a map (not a count): irq_port, irq -> port of every user-space event
 * channel bound while tracing (/dev/xen/evtchn binds with
 * bind_evtchn_to_irqhandler_lateeoi(port, ...), which returns the irq),
 * so that deliveries, counted per irq, can be told per port;
 * and a log2 histogram of the upcall-to-handler latency (ns) per irq: the
 * time from the event upcall entering the kernel on a CPU to the handler
 * of an "evtchn:" interrupt starting on that CPU.
 *
 * The kprobes are attached only when their symbol is in kallsyms (the
 * Python side checks); HAVE_UPCALL_PROBE tells this program whether the
 * upcall timestamp exists.
 */
#include <uapi/linux/ptrace.h>

#ifndef IOCTL_EVTCHN_NOTIFY
#define IOCTL_EVTCHN_NOTIFY 0x44504     /* _IOC(_IOC_NONE, 'E', 4, 4) */
#endif
#ifndef IOCTL_GNTDEV_MAP_GRANT_REF
#define IOCTL_GNTDEV_MAP_GRANT_REF 0x184700 /* _IOC(_IOC_NONE, 'G', 0, 24) */
#endif
#ifndef FILTER_TGID
#define FILTER_TGID 0                   /* 0: every process */
#endif
#define IRQ_NAME_LEN 24                 /* "evtchn:" + TASK_COMM_LEN */

struct send_key {
    u32 tgid;
    u32 port;
};

struct irq_key {
    u32 irq;
    char name[IRQ_NAME_LEN];
};

struct lat_key {
    u32 irq;
    u32 slot;
};

BPF_HASH(user_sends, struct send_key, u64, 4096);
BPF_HASH(kernel_sends, u32, u64, 4096);
BPF_HASH(deliveries, struct irq_key, u64, 4096);
BPF_HASH(upcalls, u32, u64, 256);
BPF_HASH(grant_maps, u32, u64, 4096);
BPF_HISTOGRAM(latency, struct lat_key, 4096);
BPF_HASH(bind_port, u64, u32, 1024);    /* thread -> port, entry to return */
BPF_HASH(irq_port, u32, u32, 4096);
BPF_PERCPU_ARRAY(upcall_ts, u64, 1);

static inline int tgid_wanted(u32 tgid)
{
    return FILTER_TGID == 0 || tgid == FILTER_TGID;
}

/* User-space sends: the evtchn device's NOTIFY ioctl carries the port.
 * gntdev grant maps (the mapping side of a shared-memory channel). */
TRACEPOINT_PROBE(syscalls, sys_enter_ioctl)
{
    struct send_key key = {};
    u32 port = 0;
    u32 tgid = bpf_get_current_pid_tgid() >> 32;

    if (!tgid_wanted(tgid))
        return 0;
    if (args->cmd == IOCTL_GNTDEV_MAP_GRANT_REF) {
        grant_maps.increment(tgid);
        return 0;
    }
    if (args->cmd != IOCTL_EVTCHN_NOTIFY)
        return 0;
    /* struct ioctl_evtchn_notify { unsigned int port; } in user memory */
    if (bpf_probe_read_user(&port, sizeof(port), (void *)args->arg))
        return 0;
    key.tgid = tgid;
    key.port = port;
    user_sends.increment(key);
    return 0;
}

/* Deliveries to user space: handler entry of an "evtchn:<comm>" irq. */
TRACEPOINT_PROBE(irq, irq_handler_entry)
{
    struct irq_key key = {};
    u32 zero = 0;
    u64 *ts;

    TP_DATA_LOC_READ_CONST(key.name, name, IRQ_NAME_LEN);
    if (key.name[0] != 'e' || key.name[1] != 'v' || key.name[2] != 't' ||
        key.name[3] != 'c' || key.name[4] != 'h' || key.name[5] != 'n' ||
        key.name[6] != ':')
        return 0;
    key.irq = args->irq;
    deliveries.increment(key);

#ifdef HAVE_UPCALL_PROBE
    ts = upcall_ts.lookup(&zero);
    if (ts && *ts) {
        u64 delta = bpf_ktime_get_ns() - *ts;
        struct lat_key lk = { .irq = args->irq, .slot = bpf_log2l(delta) };
        latency.increment(lk);
    }
#endif
    return 0;
}

/* In-kernel sends (backends, xenbus, console): notify_remote_via_irq(irq). */
int trace_notify_remote(struct pt_regs *ctx, int irq)
{
    u32 key = irq;

    kernel_sends.increment(key);
    return 0;
}

/* The upcall: Xen has set pending bits and interrupted this vCPU. */
int trace_upcall(struct pt_regs *ctx)
{
    u32 zero = 0;
    u32 cpu = bpf_get_smp_processor_id();
    u64 now = bpf_ktime_get_ns();

    upcall_ts.update(&zero, &now);
    upcalls.increment(cpu);
    return 0;
}

/* A port being bound to an irq: bind_evtchn_to_irqhandler_lateeoi(port,
 * handler, flags, name, dev) on entry, the irq (or -errno) on return. */
int trace_bind_entry(struct pt_regs *ctx, unsigned int port)
{
    u64 tid = bpf_get_current_pid_tgid();
    u32 p = port;

    bind_port.update(&tid, &p);
    return 0;
}

int trace_bind_return(struct pt_regs *ctx)
{
    u64 tid = bpf_get_current_pid_tgid();
    u32 *port = bind_port.lookup(&tid);
    int irq = PT_REGS_RC(ctx);

    if (port) {
        if (irq > 0) {
            u32 key = irq;
            irq_port.update(&key, port);
        }
        bind_port.delete(&tid);
    }
    return 0;
}
