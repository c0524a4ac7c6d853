/* SPDX-License-Identifier: MIT */
/* Event channels over the 2-level ABI, waited on with SCHEDOP_poll. */
#include <errno.h>
#include <arch/cpu.h>
#include <xen/sched.h>
#include <arch/hypercall.h>
#include <kernel/evtchn.h>
#include <kernel/hypervisor.h>
#include <kernel/time.h>

#define NR_PORTS (sizeof(xen_ulong_t) * 8 * sizeof(xen_ulong_t) * 8)

int evtchn_alloc_unbound(domid_t remote, evtchn_port_t *port)
{
    evtchn_alloc_unbound_t op = { .dom = DOMID_SELF, .remote_dom = remote };
    long rc = hypercall_event_channel_op(EVTCHNOP_alloc_unbound, &op);

    if ( rc == 0 )
        *port = op.port;
    return (int)rc;
}

int evtchn_bind_interdomain(domid_t remote, evtchn_port_t remote_port,
                            evtchn_port_t *local_port)
{
    evtchn_bind_interdomain_t op = {
        .remote_dom = remote, .remote_port = remote_port,
    };
    long rc = hypercall_event_channel_op(EVTCHNOP_bind_interdomain, &op);

    if ( rc == 0 )
        *local_port = op.local_port;
    return (int)rc;
}

int evtchn_close(evtchn_port_t port)
{
    evtchn_close_t op = { .port = port };

    return (int)hypercall_event_channel_op(EVTCHNOP_close, &op);
}

int notify_remote_via_evtchn(evtchn_port_t port)
{
    evtchn_send_t op = { .port = port };

    return (int)hypercall_event_channel_op(EVTCHNOP_send, &op);
}

int evtchn_is_pending(evtchn_port_t port)
{
    if ( port >= NR_PORTS )
        return 0;
    return test_bit(port, (volatile unsigned long *)shared_info->evtchn_pending);
}

int evtchn_test_and_clear(evtchn_port_t port)
{
    if ( port >= NR_PORTS )
        return 0;
    return test_and_clear_bit(port,
                              (volatile unsigned long *)shared_info->evtchn_pending);
}

int evtchn_wait_any(const evtchn_port_t *ports, unsigned int n,
                    uint64_t timeout_ns)
{
    uint64_t deadline = 0;

    if ( n == 0 || n > 128 )
        return -EINVAL;
    if ( timeout_ns != EVTCHN_WAIT_FOREVER && timeout_ns != 0 )
        deadline = monotonic_clock() + timeout_ns;

    for ( ;; )
    {
        struct sched_poll poll;
        long rc;

        for ( unsigned int i = 0; i < n; i++ )
            if ( evtchn_is_pending(ports[i]) )
                return 0;
        if ( timeout_ns == 0 ||
             (deadline && monotonic_clock() >= deadline) )
            return -ETIMEDOUT;

        /* Xen re-checks the pending bits after marking us as a poller,
         * so an event between our check and the block is not lost.
         * timeout is absolute system time, 0 = none. */
        set_xen_guest_handle(poll.ports, (evtchn_port_t *)ports);
        poll.nr_ports = n;
        poll.timeout = deadline;
        rc = hypercall_sched_op(SCHEDOP_poll, &poll);
        if ( rc < 0 )
            return (int)rc;
    }
}

int evtchn_wait(evtchn_port_t port, uint64_t timeout_ns)
{
    int rc = evtchn_wait_any(&port, 1, timeout_ns);

    if ( rc == 0 )
        evtchn_test_and_clear(port);
    return rc;
}
