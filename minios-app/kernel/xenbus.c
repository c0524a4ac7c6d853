/* SPDX-License-Identifier: MIT */
/*
 * xenbus_*: the Mini-OS-shaped XenStore API, on top of libivcom's
 * freestanding ring client (ivcom-core/src/xs_ring.c, compiled into the
 * guest), which does the framing and treats the ring as hostile.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/console.h>
#include <kernel/evtchn.h>
#include <kernel/hypervisor.h>
#include <kernel/time.h>
#include <kernel/xenbus.h>

#include "xs_ring.h"

static struct ivcom_xs_ring ring;
static struct ivcom_xs_client client;
static evtchn_port_t store_port;
static int self_domid = -1;

#define MAX_PERMS 16u

static void store_notify(void *arg)
{
    (void)arg;
    notify_remote_via_evtchn(store_port);
}

static uint64_t ms_to_ns(int timeout_ms)
{
    if ( timeout_ms < 0 )
        return EVTCHN_WAIT_FOREVER;
    return (uint64_t)timeout_ms * NSEC_PER_MSEC;
}

static int ns_to_ms(uint64_t ns)
{
    uint64_t ms;

    if ( ns == EVTCHN_WAIT_FOREVER )
        return -1;
    ms = (ns + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static int store_wait(void *arg, int timeout_ms)
{
    (void)arg;
    return evtchn_wait(store_port, ms_to_ns(timeout_ms));
}

int xenbus_init(void)
{
    struct ivcom_xs_transport t;
    char buf[16];
    unsigned long v;
    int rc;

    store_port = start_info->store_evtchn;
    ring.intf = mfn_to_virt(start_info->store_mfn);
    ring.notify = store_notify;
    ring.wait = store_wait;
    ring.arg = NULL;
    ivcom_xs_ring_transport(&ring, &t);
    ivcom_xs_init(&client, &t);

    /* Relative paths resolve under our own /local/domain/<id>. */
    rc = xenbus_read(XBT_NIL, "domid", buf, sizeof(buf));
    if ( rc < 0 )
        return rc;
    if ( parse_ulong(buf, &v) || v >= DOMID_FIRST_RESERVED )
        return -EPROTO;
    self_domid = (int)v;
    printk("xenbus: ring at %p, port %u, domid %d\n", (void *)ring.intf,
           store_port, self_domid);
    return 0;
}

int xenbus_domid(void)
{
    return self_domid;
}

evtchn_port_t xenbus_event_port(void)
{
    return store_port;
}

int xenbus_watch_pending(void)
{
    /* Reads what the ring holds (no wait) and looks at the queue. */
    return ivcom_xs_wait_event(&client, 0) == 0;
}

int xenbus_read(xenbus_transaction_t t, const char *path, char *buf,
                size_t len)
{
    return ivcom_xs_read(&client, t, path, buf, len);
}

int xenbus_write(xenbus_transaction_t t, const char *path, const char *value)
{
    return ivcom_xs_write(&client, t, path, value, strlen(value));
}

int xenbus_rm(xenbus_transaction_t t, const char *path)
{
    return ivcom_xs_rm(&client, t, path);
}

int xenbus_set_perms(xenbus_transaction_t t, const char *path,
                     const struct xenbus_perm *perms, unsigned int n)
{
    struct ivcom_xs_perm p[MAX_PERMS];

    if ( n == 0 || n > MAX_PERMS )
        return -EINVAL;
    for ( unsigned int i = 0; i < n; i++ )
    {
        p[i].domid = perms[i].domid;
        switch ( perms[i].perm )
        {
        case 'n': p[i].perms = IVCOM_XS_PERM_NONE; break;
        case 'r': p[i].perms = IVCOM_XS_PERM_READ; break;
        case 'w': p[i].perms = IVCOM_XS_PERM_WRITE; break;
        case 'b': p[i].perms = IVCOM_XS_PERM_BOTH; break;
        default:  return -EINVAL;
        }
    }
    return ivcom_xs_set_perms(&client, t, path, p, n);
}

int xenbus_directory(xenbus_transaction_t t, const char *path, char *buf,
                     size_t len)
{
    int n = ivcom_xs_directory(&client, t, path, buf, len), count = 0;

    for ( int i = 0; i < n; i++ )
        count += buf[i] == '\0';
    return n < 0 ? n : count;
}

int xenbus_get_perms(xenbus_transaction_t t, const char *path,
                     struct xenbus_perm *perms, unsigned int max)
{
    static const char letter[4] = { 'n', 'r', 'w', 'b' };
    struct ivcom_xs_perm p[MAX_PERMS];
    int n = ivcom_xs_get_perms(&client, t, path, p,
                               max < MAX_PERMS ? max : MAX_PERMS);

    for ( int i = 0; i < n; i++ )
    {
        perms[i].domid = p[i].domid;
        perms[i].perm = letter[p[i].perms & 3];
    }
    return n;
}

int xenbus_transaction_start(xenbus_transaction_t *t)
{
    return ivcom_xs_tx_start(&client, t);
}

int xenbus_transaction_end(xenbus_transaction_t t, int abort)
{
    return ivcom_xs_tx_end(&client, t, abort);
}

int xenbus_watch(const char *path, const char *token)
{
    return ivcom_xs_watch(&client, path, token);
}

int xenbus_unwatch(const char *path, const char *token)
{
    return ivcom_xs_unwatch(&client, path, token);
}

int xenbus_wait_watch(uint64_t timeout_ns, char *path, size_t path_len,
                      char *token, size_t token_len)
{
    struct ivcom_xs_event ev;
    int rc = ivcom_xs_wait_event(&client, ns_to_ms(timeout_ns));

    if ( rc < 0 )
        return rc;
    if ( ivcom_xs_next_event(&client, &ev) != 1 )
        return -ETIMEDOUT;
    if ( path && path_len )
        strlcpy(path, ev.path, path_len);
    if ( token && token_len )
        strlcpy(token, ev.token, token_len);
    return 0;
}
