/* SPDX-License-Identifier: MIT */
/*
 * The service kit's bookkeeping, apart from any hypercall or channel call
 * so that it is host-tested (tests/c/guest_ivsvc_tab.c): the client
 * table, the set of ports one SCHEDOP_poll waits on, how long it may
 * wait, the allow= list and what one client may cost in memory.
 */
#ifndef APPS_IVSVC_TAB_H
#define APPS_IVSVC_TAB_H

#include <stddef.h>
#include <stdint.h>

struct ivcom_chan;

/* Clients at once: their ports and the store's stay within the 128 ports
 * one SCHEDOP_poll takes. */
#define IVSVC_MAX_CLIENTS   64u
#define IVSVC_POLL_PORTS    128u
/* With clients, the loop wakes at least this often: a non-blocking call
 * that finds nothing probes the peer's presence on this schedule (the
 * core's IVCOM_PROBE_MS), the only news of a destroyed idle client. */
#define IVSVC_PROBE_NS      (200ull * 1000 * 1000)
/* The service's request directory is scanned at least this often (offers
 * withdrawn, answered requests swept), as ivcom-kv serve's poll timeout. */
#define IVSVC_SCAN_NS       (1000ull * 1000 * 1000)
#define IVSVC_NO_PORT       UINT32_MAX

struct ivsvc_client {
    struct ivcom_chan *ch;
    uint32_t port;              /* our end of its event channel */
    int domid;                  /* its domain, as xenstored recorded it */
    uint64_t msgs, bytes;       /* messages read from it, their bytes */
    void *priv;                 /* the app's (on_client sets, on_gone frees) */
    uint8_t *held;              /* one reply kept while its ring is full */
    size_t held_len;
    int holding;                /* held[0..held_len) waits to be sent */
};

struct ivsvc_tab {
    struct ivsvc_client *slot;  /* max slots, the first n in use */
    unsigned n, max, peak;
};

void ivsvc_tab_init(struct ivsvc_tab *t, struct ivsvc_client *slots, unsigned max);
/* A zeroed slot at the end, or NULL when the table is full. */
struct ivsvc_client *ivsvc_tab_add(struct ivsvc_tab *t);
/* Slot i is freed: the last client moves into it (a loop over the table
 * that removes slot i looks at slot i again). */
void ivsvc_tab_remove(struct ivsvc_tab *t, unsigned i);

/* The ports to poll: `first` (unless IVSVC_NO_PORT), then each client's,
 * at most cap: how many. */
unsigned ivsvc_tab_ports(const struct ivsvc_tab *t, uint32_t first, uint32_t *ports,
                         unsigned cap);

/* How long the loop may sleep at `now`: until the next scan, and with
 * clients no longer than IVSVC_PROBE_NS; 0 if the scan is due. */
uint64_t ivsvc_wait_ns(unsigned nclients, uint64_t now, uint64_t next_scan);

/* "1,2,3" -> out[0..n): n, or -EINVAL (not a list of domain ids below
 * 0x7ff0, or empty), -E2BIG (more than max). */
int ivsvc_parse_domids(const char *s, int *out, unsigned max);

/* Bytes one client may take at ring order `order` (both rings): the
 * control page and rings we grant, one reply kept aside, and the
 * channel's and our bookkeeping. */
size_t ivsvc_client_cost(unsigned order);

#endif
