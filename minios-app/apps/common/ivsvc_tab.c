/* SPDX-License-Identifier: MIT */
/* The service kit's bookkeeping (no hypercalls: host-tested). */
#include <errno.h>
#include <string.h>

#include "ivsvc_tab.h"

#define PAGE        4096u
/* libivcom's channel record and ours, rounded up generously. */
#define CHAN_BYTES  2048u

void ivsvc_tab_init(struct ivsvc_tab *t, struct ivsvc_client *slots, unsigned max)
{
    t->slot = slots;
    t->max = max;
    t->n = t->peak = 0;
    memset(slots, 0, max * sizeof(*slots));
}

struct ivsvc_client *ivsvc_tab_add(struct ivsvc_tab *t)
{
    struct ivsvc_client *c;

    if ( t->n >= t->max )
        return NULL;
    c = &t->slot[t->n++];
    memset(c, 0, sizeof(*c));
    c->port = IVSVC_NO_PORT;
    if ( t->n > t->peak )
        t->peak = t->n;
    return c;
}

void ivsvc_tab_remove(struct ivsvc_tab *t, unsigned i)
{
    if ( i >= t->n )
        return;
    if ( i != --t->n )
        t->slot[i] = t->slot[t->n];
    memset(&t->slot[t->n], 0, sizeof(t->slot[t->n]));
}

unsigned ivsvc_tab_ports(const struct ivsvc_tab *t, uint32_t first, uint32_t *ports,
                         unsigned cap)
{
    unsigned n = 0, i;

    if ( first != IVSVC_NO_PORT && n < cap )
        ports[n++] = first;
    for ( i = 0; i < t->n && n < cap; i++ )
        if ( t->slot[i].port != IVSVC_NO_PORT )
            ports[n++] = t->slot[i].port;
    return n;
}

uint64_t ivsvc_wait_ns(unsigned nclients, uint64_t now, uint64_t next_scan)
{
    uint64_t ns = next_scan > now ? next_scan - now : 0;

    if ( nclients && ns > IVSVC_PROBE_NS )
        ns = IVSVC_PROBE_NS;
    return ns;
}

int ivsvc_parse_domids(const char *s, int *out, unsigned max)
{
    unsigned n = 0;

    if ( !s || !*s )
        return -EINVAL;
    for ( ;; )
    {
        unsigned long v = 0;
        const char *d = s;

        while ( *s >= '0' && *s <= '9' )
        {
            v = v * 10 + (unsigned long)(*s++ - '0');
            if ( v >= 0x7ff0 )
                return -EINVAL;
        }
        if ( s == d || (*s && *s != ',') )
            return -EINVAL;
        if ( n == max )
            return -E2BIG;
        out[n++] = (int)v;
        if ( !*s )
            return (int)n;
        s++;
    }
}

size_t ivsvc_client_cost(unsigned order)
{
    size_t ring = (size_t)1 << order;
    size_t ring_pages = (ring + PAGE - 1) / PAGE * PAGE;

    /* control page + two rings granted, one reply of up to a ring kept */
    return PAGE + 2 * ring_pages + ring + CHAN_BYTES;
}
