/* SPDX-License-Identifier: MIT */
/*
 * Services: one name, many client domains.  The service watches its
 * request directory (one watch, whatever the number of clients); each
 * scan answers new requests -- refused by policy, busy past the domain's
 * limit, or offered a channel of their own -- and forgets requests whose
 * node is gone.  Accept hands out offered channels whose client came.
 * XenStore layout and request protocol: chan_svc_xs.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"

/* An offered channel whose client does not come within this is withdrawn. */
#define SVC_PENDING_NS      (10ull * 1000 * 1000 * 1000)
#define SVC_MAX_PER_DOMAIN  16u
/* Requests the directory listing can hold: 4096 bytes of 17-byte names. */
#define SVC_LIST_BYTES      4096u
/* The longest accept sleeps between looks at its requests. */
#define SVC_SLICE_MS        100
/* A request answered "refused" or "busy", or one we could not use, is
 * removed after this (its client has read the answer by then): the
 * request directory's list of names is bounded by xenstored (2048 bytes
 * an entry), so requests nobody follows up must not pile up there. */
#define SVC_ANSWER_KEEP_NS  (1000ull * 1000 * 1000)

enum req_state { REQ_OFFERED, REQ_HANDED_OUT, REQ_ANSWERED, REQ_IGNORED };

/* A request node we have seen (and answered, or set aside). */
struct svc_req {
    struct svc_req *next;
    char token[IVCOM_SVC_TOKEN_LEN + 1];
    int owner;                  /* as xenstored records it; -1 unknown */
    enum req_state state;
    struct ivcom_chan *ch;      /* REQ_OFFERED: the channel on offer */
    uint64_t expires;           /* REQ_OFFERED: withdrawn after this;
                                   ANSWERED/IGNORED: removed after this */
    int seen;                   /* listed in the latest scan */
};

struct ivcom_service {
    struct ivcom_platform *plat;
    char name[IVCOM_NAME_MAX + 1];
    struct ivcom_params params;
    int *allow;                 /* NULL: any domain */
    unsigned nallow, max_per_domain;
    char dir[IVCOM_PATH_MAX], req_dir[IVCOM_PATH_MAX];
    int watching;
    char token[32];             /* the watch's: one per instance */
    struct svc_req *reqs;
    struct ivcom_service_stats st;
    char list[SVC_LIST_BYTES];
};

static int token_ok(const char *t)
{
    size_t i;

    for (i = 0; t[i]; i++)
        if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
            return 0;
    return i == IVCOM_SVC_TOKEN_LEN;
}

static int allowed(const struct ivcom_service *svc, int domid)
{
    unsigned i;

    if (!svc->allow)
        return 1;
    for (i = 0; i < svc->nallow; i++)
        if (svc->allow[i] == domid)
            return 1;
    return 0;
}

static unsigned held_by(const struct ivcom_service *svc, int domid)
{
    const struct svc_req *r;
    unsigned n = 0;

    for (r = svc->reqs; r; r = r->next)
        n += r->owner == domid && (r->state == REQ_OFFERED || r->state == REQ_HANDED_OUT);
    return n;
}

/* ---- open / close ------------------------------------------------------- */

static int publish_once(struct ivcom_service *svc)
{
    const struct ivcom_platform_ops *ops = svc->plat->ops;
    const uint32_t self = (uint32_t)svc->plat->domid;
    const struct ivcom_xs_perm readable[1] = { { self, IVCOM_XS_PERM_READ } };
    const struct ivcom_xs_perm creatable[1] = { { self, IVCOM_XS_PERM_WRITE } };
    char state[IVCOM_PATH_MAX];
    uint32_t tx;
    int err = ivcom_xs_svc_dir(state, sizeof(state), svc->plat->domid, svc->name, "/state");

    if (err || (err = ops->xs_tx_start(svc->plat, &tx)))
        return err;
    err = ops->xs_write(svc->plat, tx, svc->dir, "");
    if (!err)
        err = ops->xs_set_perms(svc->plat, tx, svc->dir, readable, 1);
    if (!err)
        err = ops->xs_write(svc->plat, tx, svc->req_dir, "");
    if (!err)
        err = ops->xs_set_perms(svc->plat, tx, svc->req_dir, creatable, 1);
    if (!err && ivcom_os_pid()) {
        char owner[IVCOM_PATH_MAX + sizeof(IVCOM_XS_OWNER)], pid[16];

        snprintf(owner, sizeof(owner), "%s/%s", svc->dir, IVCOM_XS_OWNER);
        snprintf(pid, sizeof(pid), "%u", ivcom_os_pid());
        err = ops->xs_write(svc->plat, tx, owner, pid);
        if (!err)
            err = ops->xs_set_perms(svc->plat, tx, owner, readable, 1);
    }
    if (!err)
        err = ops->xs_write(svc->plat, tx, state, IVCOM_XS_SVC_LISTENING);
    if (!err)
        err = ops->xs_set_perms(svc->plat, tx, state, readable, 1);
    if (err) {
        ops->xs_tx_end(svc->plat, tx, 1);
        return err;
    }
    return ops->xs_tx_end(svc->plat, tx, 0);
}

IVCOM_EXPORT int ivcom_service_open(struct ivcom_platform *plat, const char *name,
                                    const struct ivcom_params *params,
                                    const struct ivcom_policy *policy,
                                    struct ivcom_service **out)
{
    const struct ivcom_platform_ops *ops = plat->ops;
    struct ivcom_service *svc;
    int i, err;

    if (!ivcom_name_ok(name) || (params && !ivcom_params_ok(params)) ||
        (policy && policy->allow && policy->nallow == 0))
        return -EINVAL;
    if (!ops->xs_directory || !ops->xs_get_perms)
        return -EOPNOTSUPP;
    svc = calloc(1, sizeof(*svc));
    if (!svc)
        return -ENOMEM;
    svc->plat = plat;
    strcpy(svc->name, name);
    if (params)
        svc->params = *params;
    else
        ivcom_params_init(&svc->params);
    svc->max_per_domain = policy && policy->max_per_domain ? policy->max_per_domain
                                                           : SVC_MAX_PER_DOMAIN;
    if (policy && policy->allow) {
        svc->allow = calloc(policy->nallow, sizeof(int));
        if (!svc->allow) {
            err = -ENOMEM;
            goto out_free;
        }
        memcpy(svc->allow, policy->allow, policy->nallow * sizeof(int));
        svc->nallow = policy->nallow;
    }
    err = ivcom_xs_svc_dir(svc->dir, sizeof(svc->dir), plat->domid, name, "");
    if (!err)
        err = ivcom_xs_svc_dir(svc->req_dir, sizeof(svc->req_dir), plat->domid, name, "/req");
    if (err)
        goto out_free;
    ivcom_xs_sweep(plat);
    /* A previous instance's requests and channels end here. */
    ops->xs_rm(plat, IVCOM_XS_NO_TX, svc->dir);
    err = -EAGAIN;
    for (i = 0; i < 16 && err == -EAGAIN; i++)
        err = publish_once(svc);
    if (err)
        goto out_free;
    /* xenstored refuses a second watch of the same path and token on one
     * connection: an instance in the same process as its predecessor
     * (restarted in place) has a token of its own. */
    snprintf(svc->token, sizeof(svc->token), "ivcom-svc-%016llx",
             (unsigned long long)ivcom_os_nonce());
    err = ops->xs_watch(plat, svc->req_dir, svc->token);
    if (err)
        goto out_unpublish;
    svc->watching = 1;
    *out = svc;
    return 0;

out_unpublish:
    ops->xs_rm(plat, IVCOM_XS_NO_TX, svc->dir);
out_free:
    free(svc->allow);
    free(svc);
    return err;
}

IVCOM_EXPORT int ivcom_service_fd(const struct ivcom_service *svc)
{
    const struct ivcom_platform_ops *ops = svc->plat->ops;

    return ops->xs_watch_fd ? ops->xs_watch_fd(svc->plat) : -EOPNOTSUPP;
}

IVCOM_EXPORT void ivcom_service_get_stats(const struct ivcom_service *svc,
                                          struct ivcom_service_stats *st)
{
    const struct svc_req *r;

    *st = svc->st;
    st->pending = 0;
    for (r = svc->reqs; r; r = r->next)
        st->pending += r->state == REQ_OFFERED;
}

IVCOM_EXPORT void ivcom_service_close(struct ivcom_service *svc)
{
    const struct ivcom_platform_ops *ops;
    char state[IVCOM_PATH_MAX];

    if (!svc)
        return;
    ops = svc->plat->ops;
    /* No new clients; the request nodes of accepted channels stay. */
    if (!ivcom_xs_svc_dir(state, sizeof(state), svc->plat->domid, svc->name, "/state"))
        ops->xs_rm(svc->plat, IVCOM_XS_NO_TX, state);
    if (svc->watching)
        ops->xs_unwatch(svc->plat, svc->req_dir, svc->token);
    while (svc->reqs) {
        struct svc_req *r = svc->reqs;

        svc->reqs = r->next;
        if (r->state == REQ_OFFERED)
            ivcom_close(r->ch);
        free(r);
    }
    free(svc->allow);
    free(svc);
}

/* ---- requests ----------------------------------------------------------- */

static int req_path(const struct ivcom_service *svc, const char *token, char *buf, size_t len)
{
    size_t n = strlen(svc->req_dir);

    if (n + 1 + IVCOM_SVC_TOKEN_LEN >= len)
        return -ENAMETOOLONG;
    memcpy(buf, svc->req_dir, n);
    buf[n] = '/';
    strcpy(buf + n + 1, token);
    return 0;
}

/* Who created the node (xenstored's record), if it let us answer. */
static int request_owner(struct ivcom_service *svc, const char *path)
{
    struct ivcom_xs_perm perms[8];
    int i, n = svc->plat->ops->xs_get_perms(svc->plat, IVCOM_XS_NO_TX, path, perms, 8);

    if (n <= 0)
        return -1;
    for (i = 1; i < n; i++)
        if (perms[i].domid == (uint32_t)svc->plat->domid &&
            perms[i].perms == IVCOM_XS_PERM_BOTH)
            return (int)perms[0].domid;
    return -1;
}

static void answer(struct ivcom_service *svc, struct svc_req *r, const char *path)
{
    const struct ivcom_platform_ops *ops = svc->plat->ops;
    struct ivcom_chan *ch;
    char val[32];
    int err;

    r->state = REQ_IGNORED;
    r->expires = ivcom_now_ns() + SVC_ANSWER_KEEP_NS;
    svc->st.requests++;
    r->owner = request_owner(svc, path);
    if (r->owner < 0 || r->owner == svc->plat->domid ||
        ops->xs_read(svc->plat, IVCOM_XS_NO_TX, path, val, sizeof(val)) ||
        strcmp(val, IVCOM_XS_SVC_REQUEST) != 0) {
        svc->st.bad_requests++;
        return;
    }
    r->state = REQ_ANSWERED;
    if (!allowed(svc, r->owner)) {
        svc->st.refused++;
        ops->xs_write(svc->plat, IVCOM_XS_NO_TX, path, IVCOM_XS_SVC_REFUSED);
        return;
    }
    if (held_by(svc, r->owner) >= svc->max_per_domain) {
        svc->st.over_limit++;
        ops->xs_write(svc->plat, IVCOM_XS_NO_TX, path, IVCOM_XS_SVC_BUSY);
        return;
    }
    err = ivcom_chan_server_new(svc->plat, svc->name, r->owner, &svc->params, &ch);
    if (!err) {
        err = ivcom_xs_svc_offer(ch, path, r->token);
        if (err)
            ivcom_chan_destroy(ch);
    }
    if (err) {
        svc->st.failed++;
        ops->xs_write(svc->plat, IVCOM_XS_NO_TX, path, IVCOM_XS_SVC_BUSY);
        return;
    }
    r->state = REQ_OFFERED;
    r->ch = ch;
    r->expires = ivcom_now_ns() + SVC_PENDING_NS;
}

/* Forget requests whose node is gone (an offered channel goes with it). */
static void forget_unseen(struct ivcom_service *svc)
{
    struct svc_req **link = &svc->reqs, *r;

    while ((r = *link) != NULL) {
        if (r->seen) {
            link = &r->next;
            continue;
        }
        *link = r->next;
        if (r->state == REQ_OFFERED) {
            svc->st.abandoned++;
            ivcom_chan_destroy(r->ch);
        }
        free(r);
    }
}

/* Remove the requests we will not serve once their time is up (those
 * whose client denied us write access stay until its domain goes). */
static void sweep(struct ivcom_service *svc)
{
    uint64_t now = ivcom_now_ns();
    char path[IVCOM_PATH_MAX];
    struct svc_req *r;

    for (r = svc->reqs; r; r = r->next)
        if ((r->state == REQ_ANSWERED || r->state == REQ_IGNORED) && now >= r->expires &&
            !req_path(svc, r->token, path, sizeof(path))) {
            svc->plat->ops->xs_rm(svc->plat, IVCOM_XS_NO_TX, path);
            r->expires = UINT64_MAX;    /* once */
        }
}

static int scan(struct ivcom_service *svc)
{
    char path[IVCOM_PATH_MAX];
    struct svc_req *r;
    const char *name;
    int i, n;

    n = svc->plat->ops->xs_directory(svc->plat, IVCOM_XS_NO_TX, svc->req_dir, svc->list,
                                     sizeof(svc->list));
    if (n < 0)
        return n;
    for (r = svc->reqs; r; r = r->next)
        r->seen = 0;
    for (i = 0, name = svc->list; i < n; i++, name += strlen(name) + 1) {
        for (r = svc->reqs; r && strcmp(r->token, name); r = r->next)
            ;
        if (r) {
            r->seen = 1;
            continue;
        }
        r = calloc(1, sizeof(*r));
        if (!r)
            return -ENOMEM;
        r->seen = 1;
        r->owner = -1;
        r->expires = ivcom_now_ns() + SVC_ANSWER_KEEP_NS;
        r->next = svc->reqs;
        svc->reqs = r;
        if (!token_ok(name) || req_path(svc, name, path, sizeof(path))) {
            r->state = REQ_IGNORED;
            snprintf(r->token, sizeof(r->token), "%.16s", name);
            svc->st.bad_requests++;
            continue;
        }
        strcpy(r->token, name);
        answer(svc, r, path);
    }
    forget_unseen(svc);
    sweep(svc);
    return 0;
}

/* An offered channel whose client came: 1; not yet: 0; broken: -errno. */
static int came(struct ivcom_chan *ch)
{
    /* A4: pairs with R4 in ivcom_connect(). */
    uint8_t v = ivcom_load_acquire(ch->peer_live);

    if (v == IVCOM_LIVE_UP || v == IVCOM_LIVE_CLOSED)
        return 1;
    if (v != IVCOM_LIVE_DEAD)
        return -EPROTO;
    return ivcom_xs_client_came(ch);
}

static int take_ready(struct ivcom_service *svc, struct ivcom_chan **out)
{
    uint64_t now = ivcom_now_ns();
    struct svc_req *r;

    for (r = svc->reqs; r; r = r->next) {
        int c;

        if (r->state != REQ_OFFERED)
            continue;
        c = came(r->ch);
        if (c > 0) {
            r->state = REQ_HANDED_OUT;
            r->ch->connected = 1;
            r->ch->ready = r->ch->params.mode;
            *out = r->ch;
            r->ch = NULL;
            svc->st.accepted++;
            return 1;
        }
        if (c < 0 || now >= r->expires) {
            /* A liar, or a client that never came: the offer goes (and
             * with it the request node, so the client's wait ends). */
            if (c < 0)
                svc->st.bad_requests++;
            else
                svc->st.abandoned++;
            r->state = REQ_ANSWERED;
            r->expires = UINT64_MAX;    /* close removes the node */
            ivcom_close(r->ch);
            r->ch = NULL;
        }
    }
    return 0;
}

IVCOM_EXPORT int ivcom_service_accept(struct ivcom_service *svc, struct ivcom_chan **out,
                                      int timeout_ms)
{
    const struct ivcom_platform_ops *ops = svc->plat->ops;
    uint64_t deadline = ivcom_deadline_of(timeout_ms);

    for (;;) {
        int err, left;

        /* Consume the watch's events first: what they announced is read
         * by the scan below, and the service's fd stops polling readable. */
        ivcom_xs_drain_watch(svc->plat);
        err = scan(svc);
        if (err)
            return err;
        if (take_ready(svc, out))
            return 0;
        left = ivcom_ms_left(deadline);
        if (left == 0)
            return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
        ops->xs_wait_watch(svc->plat, left < 0 || left > SVC_SLICE_MS ? SVC_SLICE_MS : left);
    }
}
