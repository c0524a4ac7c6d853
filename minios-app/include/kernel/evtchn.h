/* SPDX-License-Identifier: MIT */
/*
 * Event channels.  Upcalls stay masked for the whole life of the guest:
 * waiting is SCHEDOP_poll on the ports, then test-and-clear of their
 * pending bits in shared_info.
 */
#ifndef KERNEL_EVTCHN_H
#define KERNEL_EVTCHN_H

#include <stdint.h>
#include <xen/event_channel.h>

#define EVTCHN_WAIT_FOREVER UINT64_MAX

int evtchn_alloc_unbound(domid_t remote, evtchn_port_t *port);
int evtchn_bind_interdomain(domid_t remote, evtchn_port_t remote_port,
                            evtchn_port_t *local_port);
int evtchn_close(evtchn_port_t port);
int notify_remote_via_evtchn(evtchn_port_t port);

/* 1 if the port was pending (now cleared), 0 if not. */
int evtchn_test_and_clear(evtchn_port_t port);
int evtchn_is_pending(evtchn_port_t port);
/* Block until `port` is pending, then clear it: 0 or -ETIMEDOUT.
 * timeout_ns 0 = do not block; EVTCHN_WAIT_FOREVER = no timeout. */
int evtchn_wait(evtchn_port_t port, uint64_t timeout_ns);
/* Block until any of ports[0..n) is pending (nothing is cleared):
 * 0 or -ETIMEDOUT, -EINVAL for n == 0 or n > 128. */
int evtchn_wait_any(const evtchn_port_t *ports, unsigned int n,
                    uint64_t timeout_ns);

#endif
