/* SPDX-License-Identifier: MIT */
/* Console: PV console ring for a domU, console_io for dom0. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <xen/io/console.h>
#include <arch/hypercall.h>
#include <kernel/console.h>
#include <kernel/evtchn.h>
#include <kernel/hypervisor.h>
#include <kernel/time.h>

static struct xencons_interface *ring;
static evtchn_port_t ring_port;

/* How long a full ring may stay full before output is dropped rather
 * than hanging the guest on a dead console daemon. */
#define RING_STALL_NS (2 * NSEC_PER_SEC)

void console_init(void)
{
    if ( is_initial_domain() || start_info->console.domU.mfn == 0 )
        return;
    ring = mfn_to_virt(start_info->console.domU.mfn);
    ring_port = start_info->console.domU.evtchn;
}

static void hv_write(const char *buf, size_t len)
{
    hypercall_console_io(CONSOLEIO_write, (unsigned int)len, buf);
}

/* Put one byte in the out ring, waiting (bounded) for space. */
static int ring_putc(char c)
{
    uint64_t deadline = 0;

    for ( ;; )
    {
        XENCONS_RING_IDX cons = READ_ONCE(ring->out_cons);
        XENCONS_RING_IDX prod = ring->out_prod;

        /* R1: read out_cons before reusing the slot it frees; pairs with
         * the daemon's write of out_cons after it copied the bytes out. */
        mb();
        if ( prod - cons > sizeof(ring->out) )
            return -1;      /* nonsense from the daemon: stop writing */
        if ( prod - cons < sizeof(ring->out) )
        {
            ring->out[MASK_XENCONS_IDX(prod, ring->out)] = c;
            /* W1: the byte before the index that publishes it. */
            wmb();
            WRITE_ONCE(ring->out_prod, prod + 1);
            return 0;
        }
        notify_remote_via_evtchn(ring_port);
        if ( !deadline )
            deadline = monotonic_clock() + RING_STALL_NS;
        else if ( monotonic_clock() > deadline )
            return -1;
        evtchn_wait(ring_port, 10 * NSEC_PER_MSEC);
    }
}

void console_write(const char *buf, size_t len)
{
    if ( !ring )
    {
        hv_write(buf, len);
        return;
    }
    for ( size_t i = 0; i < len; i++ )
    {
        /* CRLF so `xl console` shows lines; log readers strip the CR. */
        if ( buf[i] == '\n' && ring_putc('\r') )
            break;
        if ( ring_putc(buf[i]) )
            break;
    }
    notify_remote_via_evtchn(ring_port);
}

void console_flush(void)
{
    uint64_t deadline;

    if ( !ring )
        return;
    deadline = monotonic_clock() + RING_STALL_NS;
    while ( READ_ONCE(ring->out_cons) != READ_ONCE(ring->out_prod) &&
            monotonic_clock() < deadline )
    {
        notify_remote_via_evtchn(ring_port);
        evtchn_wait(ring_port, 10 * NSEC_PER_MSEC);
    }
}

int vprintk(const char *fmt, va_list ap)
{
    char buf[512];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);

    console_write(buf, strlen(buf));
    return n;
}

int printk(const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vprintk(fmt, ap);
    va_end(ap);
    return n;
}
