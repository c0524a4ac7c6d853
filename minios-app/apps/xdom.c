/* SPDX-License-Identifier: MIT */
/*
 * xdom: two guests talk over one granted page and one event channel, with
 * the kernel API alone (no libivcom): the cross-domain path a platform
 * backend relies on.
 *
 *   role=server [peer=N] [rounds=R]   grants a page and offers it under
 *       /local/domain/<self>/data/ivcom-xdom (readable by the peer only);
 *       without peer=, waits for data/ivcom-xdom-peer (written by dom0)
 *   role=client server=N              maps the page, binds the channel
 *
 * Then R ping-pong rounds: the server writes ping=i and notifies, the
 * client answers pong=i and notifies.  The server reports the mean round
 * trip; the client checks the sequence.  Finally the client unmaps and
 * the server revokes its grant (which must succeed once unmapped).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arch/cpu.h>
#include <kernel/app.h>
#include <kernel/cmdline.h>
#include <kernel/console.h>
#include <kernel/evtchn.h>
#include <kernel/gnttab.h>
#include <kernel/hypervisor.h>
#include <kernel/mm.h>
#include <kernel/report.h>
#include <kernel/time.h>
#include <kernel/xenbus.h>

#define MAGIC       "ivcom-xdom v1"
#define PING_OFF    64          /* written by the server only */
#define PONG_OFF    128         /* written by the client only */
#define DONE        0xffffffffu
#define STEP_NS     (30 * NSEC_PER_SEC)

static volatile uint32_t *word(void *page, unsigned int off)
{
    return (volatile uint32_t *)((char *)page + off);
}

#define FAIL(...) (report_failure(__VA_ARGS__), -EIO)

/* Wait until *w == want (or DONE), blocking on port between checks. */
static int wait_word(volatile uint32_t *w, uint32_t want, evtchn_port_t port)
{
    uint64_t deadline = monotonic_clock() + STEP_NS;

    for ( ;; )
    {
        uint32_t v = *w;

        if ( v == want || v == DONE )
            return 0;
        if ( monotonic_clock() > deadline )
            return -ETIMEDOUT;
        evtchn_wait(port, STEP_NS);
    }
}

static int read_ulong(const char *path, unsigned long *out)
{
    char buf[32];
    int rc = xenbus_read(XBT_NIL, path, buf, sizeof(buf));

    return rc < 0 ? rc : parse_ulong(buf, out);
}

/* Read `path` as a number, waiting (watch) until it exists. */
static int wait_ulong(const char *path, unsigned long *out)
{
    uint64_t deadline = monotonic_clock() + STEP_NS;
    int rc = xenbus_watch(path, "xdom");

    if ( rc )
        return rc;
    while ( (rc = read_ulong(path, out)) == -ENOENT ||
            rc == -EACCES )
    {
        uint64_t now = monotonic_clock();

        if ( now > deadline )
            break;
        /* Re-read at least every 100 ms: a watch event is a hint only. */
        xenbus_wait_watch(100 * NSEC_PER_MSEC, NULL, 0, NULL, 0);
    }
    xenbus_unwatch(path, "xdom");
    return rc;
}

static int offer(const char *base, domid_t self, domid_t peer,
                 grant_ref_t ref, evtchn_port_t port)
{
    const struct xenbus_perm perms[] = { { self, 'n' }, { peer, 'r' } };
    static const char *const leaves[] = { "", "/ref", "/port", "/state" };
    char path[128], val[16];
    xenbus_transaction_t t;
    int rc;

    do {
        rc = xenbus_transaction_start(&t);
        if ( rc )
            return rc;
        snprintf(path, sizeof(path), "%s/ref", base);
        snprintf(val, sizeof(val), "%u", ref);
        rc = xenbus_write(t, path, val);
        snprintf(path, sizeof(path), "%s/port", base);
        snprintf(val, sizeof(val), "%u", port);
        rc = rc ?: xenbus_write(t, path, val);
        snprintf(path, sizeof(path), "%s/state", base);
        rc = rc ?: xenbus_write(t, path, "offered");
        for ( unsigned int i = 0; !rc && i < 4; i++ )
        {
            snprintf(path, sizeof(path), "%s%s", base, leaves[i]);
            rc = xenbus_set_perms(t, path, perms, 2);
        }
        if ( rc )
        {
            xenbus_transaction_end(t, 1);
            return rc;
        }
        rc = xenbus_transaction_end(t, 0);
    } while ( rc == -EAGAIN );
    return rc;
}

static int server(const char *args, domid_t self)
{
    char base[96], path[128];
    unsigned long peer, rounds = 1000;
    uint64_t t0, t1;
    evtchn_port_t port;
    grant_ref_t ref;
    void *page;
    int rc;

    if ( cmdline_get_ulong(args, "rounds", &rounds) == -EINVAL || rounds == 0 ||
         rounds >= DONE )
        return FAIL("xdom: bad rounds= value");
    rc = cmdline_get_ulong(args, "peer", &peer);
    if ( rc == -ENOENT )
    {
        snprintf(path, sizeof(path), "/local/domain/%u/data/ivcom-xdom-peer", self);
        rc = wait_ulong(path, &peer);
    }
    if ( rc || peer >= DOMID_FIRST_RESERVED )
        return FAIL("xdom server: no peer domid (%d)", rc);

    page = alloc_page();
    if ( !page )
        return FAIL("xdom server: out of memory");
    strcpy(page, MAGIC);
    ref = gnttab_grant_access((domid_t)peer, virt_to_mfn(page), 0);
    if ( ref == GRANT_INVALID_REF )
        return FAIL("xdom server: grant table full");
    rc = evtchn_alloc_unbound((domid_t)peer, &port);
    if ( rc )
        return FAIL("xdom server: alloc_unbound: %d", rc);

    snprintf(base, sizeof(base), "/local/domain/%u/data/ivcom-xdom", self);
    rc = offer(base, self, (domid_t)peer, ref, port);
    if ( rc )
        return FAIL("xdom server: offer in xenstore: %d", rc);
    printk("xdom: server offered ref %u port %u to dom%lu\n", ref, port, peer);

    /* The client announces itself with pong = 0 ... and an event. */
    rc = evtchn_wait(port, STEP_NS);
    if ( rc )
        return FAIL("xdom server: client never connected (%d)", rc);

    t0 = monotonic_clock();
    for ( uint32_t i = 1; i <= rounds; i++ )
    {
        WRITE_ONCE(*word(page, PING_OFF), i);
        notify_remote_via_evtchn(port);
        rc = wait_word(word(page, PONG_OFF), i, port);
        if ( rc || *word(page, PONG_OFF) != i )
            return FAIL("xdom server: round %u: pong %u (%d)", i,
                        *word(page, PONG_OFF), rc);
    }
    t1 = monotonic_clock();
    WRITE_ONCE(*word(page, PING_OFF), DONE);
    notify_remote_via_evtchn(port);

    /* Revoking must work once the client unmapped. */
    {
        uint64_t deadline = monotonic_clock() + STEP_NS;

        while ( (rc = gnttab_end_access(ref)) == -EBUSY &&
                monotonic_clock() < deadline )
            sleep_ns(NSEC_PER_MSEC);
        if ( rc )
            return FAIL("xdom server: end_access: %d", rc);
    }
    evtchn_close(port);
    xenbus_rm(XBT_NIL, base);
    report_success("xdom server: peer dom%lu, %lu round trips, mean %lu ns",
                   peer, rounds, (unsigned long)((t1 - t0) / rounds));
    return 0;
}

static int client(const char *args)
{
    char base[96], path[128], state[16];
    unsigned long server, ref, rport;
    evtchn_port_t port;
    uint64_t deadline;
    uint32_t last = 0;
    void *va;
    int rc;

    if ( cmdline_get_ulong(args, "server", &server) || server >= DOMID_FIRST_RESERVED )
        return FAIL("xdom client: need server=<domid>");
    snprintf(base, sizeof(base), "/local/domain/%lu/data/ivcom-xdom", server);

    /* Wait for the offer (the nodes are invisible to us until then). */
    snprintf(path, sizeof(path), "%s/state", base);
    rc = xenbus_watch(path, "offer");
    if ( rc )
        return FAIL("xdom client: watch %s: %d", path, rc);
    deadline = monotonic_clock() + STEP_NS;
    while ( (rc = xenbus_read(XBT_NIL, path, state, sizeof(state))) < 0 ||
            strcmp(state, "offered") != 0 )
    {
        uint64_t now = monotonic_clock();

        if ( now > deadline )
            return FAIL("xdom client: no offer from dom%lu (%d)", server, rc);
        xenbus_wait_watch(100 * NSEC_PER_MSEC, NULL, 0, NULL, 0);
    }
    xenbus_unwatch(path, "offer");

    snprintf(path, sizeof(path), "%s/ref", base);
    rc = read_ulong(path, &ref);
    snprintf(path, sizeof(path), "%s/port", base);
    rc = rc ?: read_ulong(path, &rport);
    if ( rc )
        return FAIL("xdom client: bad offer: %d", rc);

    rc = gnttab_map_refs((domid_t)server, (grant_ref_t[]){ (grant_ref_t)ref }, 1,
                         1, &va);
    if ( rc )
        return FAIL("xdom client: map ref %lu of dom%lu: %d", ref, server, rc);
    if ( memcmp(va, MAGIC, sizeof(MAGIC)) != 0 )
        return FAIL("xdom client: mapped page has no magic");
    rc = evtchn_bind_interdomain((domid_t)server, (evtchn_port_t)rport, &port);
    if ( rc )
        return FAIL("xdom client: bind port %lu: %d", rport, rc);
    printk("xdom: client mapped ref %lu, bound port %lu as %u\n", ref, rport, port);

    WRITE_ONCE(*word(va, PONG_OFF), 0);
    notify_remote_via_evtchn(port);
    for ( ;; )
    {
        uint32_t ping;

        rc = wait_word(word(va, PING_OFF), last + 1, port);
        ping = *word(va, PING_OFF);
        if ( ping == DONE )
            break;
        if ( rc || ping != last + 1 )
            return FAIL("xdom client: after %u got ping %u (%d)", last, ping, rc);
        last = ping;
        WRITE_ONCE(*word(va, PONG_OFF), ping);
        notify_remote_via_evtchn(port);
    }
    rc = gnttab_unmap(va, 1);
    if ( rc )
        return FAIL("xdom client: unmap: %d", rc);
    evtchn_close(port);
    report_success("xdom client: dom%lu ref %lu, %u round trips", server, ref,
                   last);
    return 0;
}

int app_main(const char *args)
{
    char role[16];
    int self = xenbus_domid();

    if ( self < 0 )
        return FAIL("xdom: needs XenStore (run as a domU)");
    if ( cmdline_get(args, "role", role, sizeof(role)) < 0 )
        return FAIL("xdom: need role=server or role=client");
    if ( strcmp(role, "server") == 0 )
        return server(args, (domid_t)self);
    if ( strcmp(role, "client") == 0 )
        return client(args);
    return FAIL("xdom: bad role=%s (server or client)", role);
}
