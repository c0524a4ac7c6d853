/* SPDX-License-Identifier: MIT */
/* The service kit: see ivsvc.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/cmdline.h>
#include <kernel/console.h>
#include <kernel/evtchn.h>
#include <kernel/mm.h>
#include <kernel/report.h>
#include <kernel/time.h>
#include <kernel/xenbus.h>

#include "ivsvc.h"

#define DEFAULT_MAX     16u
#define DEFAULT_ORDER   14u
/* Messages one client may have handled per turn before the others get
 * theirs (then the loop does not sleep: it has work left). */
#define TURN_MAX        64
/* Kept free for the kit and libivcom beyond max= clients. */
#define RESERVE_BYTES   (128u * 1024)

static const char *const service_words[] = {
    "role", "name", "allow", "max", "clients", "order", "spin", "poll", NULL,
};

/* key=number within [lo, hi], or *out untouched when absent. */
static int num_word(const char *app, const char *args, const char *key, unsigned long lo,
                    unsigned long hi, unsigned long *out)
{
    unsigned long v;
    int rc = cmdline_get_ulong(args, key, &v);

    if ( rc == -ENOENT )
        return 0;
    if ( rc || v < lo || v > hi )
    {
        report_failure("%s: bad %s= (a number in [%lu, %lu])", app, key, lo, hi);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

static int parse_service(struct ivsvc *s, const char *args)
{
    const char *app = s->ops->app;
    unsigned long max = DEFAULT_MAX, order = DEFAULT_ORDER, spin = 30, goal = 0;
    char allow[256];
    int rc;

    rc = ivapp_check_words(app, args, service_words, s->ops->words);
    if ( rc )
        return rc;
    rc = cmdline_get(args, "name", s->a.name, sizeof(s->a.name));
    if ( rc == -ENOENT )
    {
        report_failure("%s: missing name= (the service's name, 1 to 63 characters)", app);
        return -EINVAL;
    }
    if ( rc <= 0 )
    {
        report_failure("%s: bad name= (1 to 63 characters)", app);
        return -EINVAL;
    }
    rc = cmdline_get(args, "allow", allow, sizeof(allow));
    if ( rc >= 0 )
    {
        rc = ivsvc_parse_domids(allow, s->allow, sizeof(s->allow) / sizeof(s->allow[0]));
        if ( rc < 0 )
        {
            report_failure("%s: bad allow= (domain ids, comma-separated, at most %u)", app,
                           (unsigned)(sizeof(s->allow) / sizeof(s->allow[0])));
            return -EINVAL;
        }
        s->nallow = rc;
    }
    else if ( rc != -ENOENT )
    {
        report_failure("%s: bad allow= (domain ids, comma-separated)", app);
        return -EINVAL;
    }
    if ( (rc = num_word(app, args, "max", 1, IVSVC_MAX_CLIENTS, &max)) ||
         (rc = num_word(app, args, "clients", 1, 1ul << 40, &goal)) ||
         (rc = num_word(app, args, "order", IVCOM_RING_ORDER_MIN, 18, &order)) ||
         (rc = num_word(app, args, "spin", 0, 10000000, &spin)) )
        return rc;
    ivcom_params_init(&s->a.params);
    s->a.params.tx_order = s->a.params.rx_order = (uint8_t)order;
    s->a.params.spin_us = (uint32_t)spin;
    s->a.params.poll_only = cmdline_has(args, "poll");
    s->a.timeout_ms = 60000;
    s->goal = goal;
    s->tab.max = (unsigned)max;
    return 0;
}

size_t ivsvc_spare_bytes(const struct ivsvc *s)
{
    size_t free_b = (size_t)mm_free_pages() * PAGE_SIZE;
    size_t need = (size_t)s->tab.max * ivsvc_client_cost(s->a.params.rx_order) + RESERVE_BYTES;

    return free_b > need ? free_b - need : 0;
}

int ivsvc_reply(struct ivsvc_client *c, const void *buf, size_t len)
{
    size_t max = ivcom_max_msg(c->ch);
    void *out;
    int err;

    if ( c->holding )
        return -EBUSY;
    if ( len > max )
        return -EMSGSIZE;
    err = ivcom_msg_try_reserve(c->ch, len, &out);
    if ( err == 0 )
    {
        memcpy(out, buf, len);
        return ivcom_msg_commit(c->ch);
    }
    if ( err != -EAGAIN )
        return err;
    /* Its ring is full: keep this one; no more of its messages are read
     * until it went (a client that does not read is not read). */
    if ( !c->held && !(c->held = malloc(max ? max : 1)) )
        return -ENOMEM;
    memcpy(c->held, buf, len);
    c->held_len = len;
    c->holding = 1;
    return 0;
}

/* >0 it had work (and may have more), 0 nothing to do, <0 it is done. */
static int turn(struct ivsvc *s, struct ivsvc_client *c)
{
    int k;

    for ( k = 0; k < TURN_MAX; k++ )
    {
        const void *in;
        size_t len;
        int err;

        if ( c->holding )
        {
            ssize_t r = ivcom_try_send(c->ch, c->held, c->held_len);

            if ( r == -EAGAIN )
                return k > 0;
            if ( r < 0 )
                return (int)r;
            c->holding = 0;
        }
        err = ivcom_msg_try_peek(c->ch, &in, &len);
        if ( err == -EAGAIN )
            return k > 0;
        if ( err )
            return err;
        c->msgs++;
        c->bytes += len;
        s->msgs++;
        s->bytes += len;
        err = s->ops->on_message(s, c, in, len);
        if ( err )
            return err;
        err = ivcom_msg_release(c->ch);
        if ( err )
            return err;
    }
    return 1;
}

static void add_client(struct ivsvc *s, struct ivcom_chan *ch)
{
    const char *app = s->ops->app;
    int domid = ivcom_peer_domid(ch), port = ivcom_local_port(ch), err;
    struct ivsvc_client *c = ivsvc_tab_add(&s->tab);

    if ( !c )
    {
        printk("%s: dom%d turned away: %u clients already (max=%u)\n", app, domid,
               s->tab.n, s->tab.max);
        s->turned_away++;
        ivcom_close(ch);
        return;
    }
    c->ch = ch;
    c->domid = domid;
    c->port = port < 0 ? IVSVC_NO_PORT : (uint32_t)port;
    if ( s->ops->on_client && (err = s->ops->on_client(s, c)) != 0 )
    {
        printk("%s: dom%d turned away: -%s (%s)\n", app, domid, ivapp_errname(err),
               ivcom_strerror(err));
        s->turned_away++;
        ivcom_close(ch);
        ivsvc_tab_remove(&s->tab, s->tab.n - 1);
        return;
    }
    printk("%s: dom%d came (port %d, %u clients)\n", app, domid, port, s->tab.n);
}

/* The client in slot i leaves (err -EPIPE: it closed) or is ended. */
static void end_client(struct ivsvc *s, unsigned i, int err)
{
    struct ivsvc_client *c = &s->tab.slot[i];
    const char *app = s->ops->app;

    if ( err == -EPIPE )
        err = 0;
    if ( s->ops->on_gone )
        s->ops->on_gone(s, c, err);
    if ( err )
    {
        s->failed++;
        printk("%s: dom%d ended: -%s (%s) after %llu messages\n", app, c->domid,
               ivapp_errname(err), ivcom_strerror(err), (unsigned long long)c->msgs);
    }
    else
        printk("%s: dom%d left after %llu messages (%llu bytes)\n", app, c->domid,
               (unsigned long long)c->msgs, (unsigned long long)c->bytes);
    ivcom_close(c->ch);
    free(c->held);
    ivsvc_tab_remove(&s->tab, i);
    s->ended++;
}

static void accept_all(struct ivsvc *s, int *last_err)
{
    for ( ;; )
    {
        struct ivcom_chan *ch;
        int err = ivcom_service_accept(s->svc, &ch, 0);

        if ( err == -EAGAIN || err == -ETIMEDOUT )
            return;
        if ( err )
        {
            /* Said once per kind: the next scan may well succeed. */
            if ( err != *last_err )
                printk("%s: accept: -%s (%s)\n", s->ops->app, ivapp_errname(err),
                       ivcom_strerror(err));
            *last_err = err;
            return;
        }
        *last_err = 0;
        add_client(s, ch);
    }
}

/* One client's error in one-peer mode: the run's FAILURE line. */
static int one_peer_error(struct ivsvc *s, struct ivsvc_client *c, int err)
{
    char tail[48];

    snprintf(tail, sizeof(tail), " after %llu messages", (unsigned long long)c->msgs);
    return ivapp_fail(&s->a, "receive", err, tail);
}

/* The loop: 0 when done (clients= reached, or the one peer left), else
 * the -errno of a one-peer failure (reported). */
static int serve(struct ivsvc *s)
{
    static uint32_t ports[IVSVC_POLL_PORTS];
    uint32_t store = s->svc ? (uint32_t)xenbus_event_port() : IVSVC_NO_PORT;
    uint64_t next_scan = 0, last_work = 0;
    int last_err = 0;

    for ( ;; )
    {
        uint64_t now, wait;
        unsigned i, np;
        int busy = 0, rc;

        /* Cleared before looking, so news after the look keeps it set. */
        if ( store != IVSVC_NO_PORT )
            evtchn_test_and_clear(store);
        now = monotonic_clock();
        if ( s->svc && (now >= next_scan || xenbus_watch_pending()) )
        {
            accept_all(s, &last_err);
            next_scan = now + IVSVC_SCAN_NS;
        }
        for ( i = 0; i < s->tab.n; i++ )
        {
            struct ivsvc_client *c = &s->tab.slot[i];
            int r;

            ivcom_ack(c->ch);
            r = turn(s, c);
            if ( r > 0 )
                busy = 1;
            else if ( r < 0 )
            {
                if ( !s->svc && r != -EPIPE )
                    return one_peer_error(s, c, r);
                end_client(s, i--, r);
            }
        }
        if ( (s->goal && s->ended >= s->goal) || (!s->svc && s->tab.n == 0) )
            return 0;
        now = monotonic_clock();
        if ( busy )
        {
            last_work = now;
            continue;
        }
        /* A client that just sent is likely to send again soon: look
         * again for spin= before paying for a sleep and a wake-up. */
        if ( s->a.params.poll_only || now - last_work < s->spin_ns )
            continue;
        /* A xenbus call above (a presence probe) may have read a watch
         * event off the ring and cleared the store's port. */
        if ( s->svc && xenbus_watch_pending() )
            continue;
        wait = ivsvc_wait_ns(s->tab.n, now, s->svc ? next_scan : UINT64_MAX);
        np = ivsvc_tab_ports(&s->tab, store, ports, IVSVC_POLL_PORTS);
        /* A poll Xen refuses must not turn into a busy loop. */
        rc = np ? evtchn_wait_any(ports, np, wait) : -ENOENT;
        if ( rc && rc != -ETIMEDOUT )
            sleep_ns(wait);
    }
}

static void report_service(struct ivsvc *s)
{
    struct ivcom_service_stats st;
    char tail[128] = "";

    ivcom_service_get_stats(s->svc, &st);
    if ( s->ops->on_report )
        s->ops->on_report(s, tail, sizeof(tail));
    report_success("%s: service %s: clients=%llu failed=%llu peak=%u turned_away=%llu "
                   "msgs=%llu bytes=%llu refused=%llu over_limit=%llu abandoned=%llu "
                   "bad=%llu free_kib=%lu/%lu%s",
                   s->ops->app, s->a.name, (unsigned long long)s->ended,
                   (unsigned long long)s->failed, s->tab.peak,
                   (unsigned long long)s->turned_away, (unsigned long long)s->msgs,
                   (unsigned long long)s->bytes, (unsigned long long)st.refused,
                   (unsigned long long)st.over_limit, (unsigned long long)st.abandoned,
                   (unsigned long long)st.bad_requests, s->free_kib_start,
                   mm_free_pages() * (PAGE_SIZE / 1024), tail);
}

static void close_all(struct ivsvc *s)
{
    while ( s->tab.n )
        end_client(s, s->tab.n - 1, -EPIPE);
}

static int run_service(struct ivsvc *s, const char *args)
{
    struct ivcom_policy pol = { .allow = s->nallow ? s->allow : NULL,
                                .nallow = (unsigned)s->nallow };
    const char *app = s->ops->app;
    char from[96] = "any domain";
    size_t off = 0;
    int rc, i;

    (void)args;
    for ( i = 0; i < s->nallow && off < sizeof(from); i++ )
        off += (size_t)snprintf(from + off, sizeof(from) - off, "%sdom%d", i ? "," : "",
                                s->allow[i]);
    rc = ivcom_platform_open("minios", &s->a.plat);
    if ( rc )
        return ivapp_fail(&s->a, "platform minios", rc, " (needs XenStore: run as a domU)");
    printk("ivcom-guest: ready %s domid %d t=%llu\n", app, s->a.self,
           (unsigned long long)monotonic_clock());
    rc = ivcom_service_open(s->a.plat, s->a.name, &s->a.params, &pol, &s->svc);
    if ( rc )
    {
        ivapp_fail(&s->a, "service", rc, NULL);
        goto out_close;
    }
    s->free_kib_start = mm_free_pages() * (PAGE_SIZE / 1024);
    printk("%s: serving %s (clients from %s, at most %u at once, order %u, "
           "%lu KiB free, %lu KiB a client)\n", app, s->a.name,
           from, s->tab.max,
           s->a.params.rx_order, s->free_kib_start,
           (unsigned long)(ivsvc_client_cost(s->a.params.rx_order) / 1024));
    rc = serve(s);
    /* Said before the clients still here (past clients=) are closed. */
    report_service(s);
    close_all(s);
    ivcom_service_close(s->svc);
out_close:
    ivcom_platform_close(s->a.plat);
    s->a.plat = NULL;
    return rc;
}

/* role=server|client: ivapp's one channel, served by the same loop until
 * the peer leaves. */
static int run_one_peer(struct ivsvc *s, const char *args, const char *role)
{
    struct ivsvc_client *c;
    char tail[128] = "";
    uint64_t msgs, bytes;
    int peer, rc;

    rc = ivapp_start_words(&s->a, s->ops->app, args, role, 0, s->ops->words);
    if ( rc )
        return rc;
    if ( s->a.params.mode != IVCOM_MODE_MESSAGE )
    {
        ivapp_finish(&s->a);
        report_failure("%s: needs mode=message", s->ops->app);
        return -EINVAL;
    }
    s->spin_ns = (uint64_t)s->a.params.spin_us * 1000u;
    peer = s->a.peer;
    c = ivsvc_tab_add(&s->tab);
    c->ch = s->a.ch;
    c->domid = peer;
    c->port = ivcom_local_port(c->ch) < 0 ? IVSVC_NO_PORT : (uint32_t)ivcom_local_port(c->ch);
    s->a.ch = NULL;             /* the table owns it now */
    if ( s->ops->on_client && (rc = s->ops->on_client(s, c)) != 0 )
    {
        ivapp_fail(&s->a, "client", rc, NULL);
        s->failed++;
        goto out;
    }
    rc = serve(s);
    msgs = s->msgs;
    bytes = s->bytes;
    if ( rc == 0 )
    {
        if ( s->ops->on_report )
            s->ops->on_report(s, tail, sizeof(tail));
        report_success("%s: served %llu messages (%llu bytes) with dom%d%s", s->ops->app,
                       (unsigned long long)msgs, (unsigned long long)bytes, peer, tail);
    }
out:
    if ( s->tab.n )
        end_client(s, 0, rc ? rc : -EPIPE);
    ivapp_finish(&s->a);
    return rc;
}

int ivsvc_run(const struct ivsvc_ops *ops, const char *args)
{
    static struct ivsvc_client slots[IVSVC_MAX_CLIENTS];
    static struct ivsvc svc_state;
    struct ivsvc *s = &svc_state;
    char role[16];
    int rc;

    memset(s, 0, sizeof(*s));
    s->ops = ops;
    s->a.app = ops->app;
    s->a.self = xenbus_domid();
    rc = cmdline_get(args, "role", role, sizeof(role));
    if ( rc == -ENOENT )
        strlcpy(role, ops->default_role ? ops->default_role : "service", sizeof(role));
    else if ( rc < 0 || (strcmp(role, "service") && strcmp(role, "server") &&
                         strcmp(role, "client")) )
    {
        report_failure("%s: bad role= (service, server or client)", ops->app);
        return -EINVAL;
    }
    s->service = strcmp(role, "service") == 0;
    ivsvc_tab_init(&s->tab, slots, s->service ? DEFAULT_MAX : 1);
    if ( s->service )
    {
        rc = parse_service(s, args);
        if ( rc )
            return rc;
        s->spin_ns = (uint64_t)s->a.params.spin_us * 1000u;
    }
    else
    {
        /* ivapp reads the words once the app has started: its ring order
         * is what ivsvc_spare_bytes() provides for meanwhile. */
        unsigned long order = 16;

        if ( cmdline_get_ulong(args, "order", &order) || order > 18 )
            order = 16;
        s->a.params.tx_order = s->a.params.rx_order = (uint8_t)order;
    }
    if ( ops->on_start && (rc = ops->on_start(s, args)) != 0 )
        return rc;
    rc = s->service ? run_service(s, args) : run_one_peer(s, args, role);
    if ( ops->on_stop )
        ops->on_stop(s);
    return rc;
}
