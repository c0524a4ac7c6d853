/* SPDX-License-Identifier: MIT */
/*
 * A drop-in libxenvchan.so.4.17 on libivcom's vchan protocol: the API,
 * ABI and versioned symbols of Debian's libxenvchan 4.17, so a program
 * built against <libxenvchan.h> runs on it through LD_LIBRARY_PATH, and
 * the hardening of ivcom/vchan.h underneath: an impossible value in the
 * shared page ends the channel with -1 / errno EPROTO (and one line on
 * stderr), where stock libxenvchan stalls.
 *
 * The handle is the public struct libxenvchan (whose `blocking` and
 * `server_persist` programs set directly, read here on every call)
 * followed by our channel.  Its informative fields (ring, event_port,
 * is_server, read/write order, shr, buffer, xs_path) are filled in; the
 * xengntshr/xengnttab/xenevtchn handles are NULL: there are none.
 *
 * The platform (sim, xen-linux: IVCOM_PLATFORM or the default) is opened
 * with the first handle and closed with the last, shared by all.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxenvchan.h>

#include "ivcom/ivcom.h"
#include "ivcom/vchan.h"
#include "vchan_int.h"

#define COMPAT_EXPORT __attribute__((visibility("default")))
/* A broken channel's wait returns -1 after at most this long, so a
 * program that waits in a loop regardless does not spin hot. */
#define COMPAT_BROKEN_WAIT_MS 200

_Static_assert(offsetof(struct vchan_interface, grants) == IVCOM_VCHAN_GRANTS_OFFSET,
               "struct vchan_interface and ivcom_vchan_page disagree");
_Static_assert(sizeof(struct vchan_interface) == sizeof(struct ivcom_vchan_page),
               "struct vchan_interface and ivcom_vchan_page disagree");

struct compat {
    struct libxenvchan pub;     /* first: the handle programs hold */
    struct ivcom_vchan *v;
    int reported;               /* the -EPROTO line was printed */
};

/* Non-static prototypes of what only the version script exports. */
COMPAT_EXPORT void close_xs_srv(struct libxenvchan *ctrl);

static pthread_mutex_t plat_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ivcom_platform *plat;
static unsigned plat_users;

static struct ivcom_platform *plat_get(void)
{
    struct ivcom_platform *p = NULL;
    int err = 0;

    pthread_mutex_lock(&plat_lock);
    if (!plat)
        err = ivcom_platform_open(NULL, &plat);
    if (!err) {
        plat_users++;
        p = plat;
    } else {
        plat = NULL;
        errno = -err;
    }
    pthread_mutex_unlock(&plat_lock);
    return p;
}

static void plat_put(void)
{
    pthread_mutex_lock(&plat_lock);
    if (plat_users && --plat_users == 0) {
        ivcom_platform_close(plat);
        plat = NULL;
    }
    pthread_mutex_unlock(&plat_lock);
}

static struct compat *compat_of(struct libxenvchan *ctrl)
{
    return (struct compat *)ctrl;
}

/* -errno -> -1 with errno set (and the protocol breach said once). */
static int fail(struct compat *c, int err)
{
    if (err == -EPROTO && !c->reported) {
        c->reported = 1;
        fprintf(stderr, "libxenvchan (ivcom): the peer broke the vchan protocol (an "
                "impossible index, live or notify byte in the shared page); channel closed\n");
    }
    errno = -err;
    return -1;
}

/* The fields programs may change between calls. */
static struct ivcom_vchan *sync_flags(struct compat *c)
{
    if (c->pub.is_server)
        ivcom_vchan_set_persist(c->v, c->pub.server_persist != 0);
    return c->v;
}

static int blocking(const struct compat *c)
{
    return c->pub.blocking != 0;
}

static struct libxenvchan *handle_new(struct ivcom_vchan *v, int is_server)
{
    struct compat *c = calloc(1, sizeof(*c));
    struct libxenvchan *pub;

    if (!c)
        return NULL;
    pub = &c->pub;
    c->v = v;
    pub->ring = (struct vchan_interface *)(uintptr_t)ivcom_vchan_page(v);
    pub->event_port = (uint32_t)v->port;
    pub->is_server = is_server ? 1 : 0;
    pub->server_persist = 0;
    pub->blocking = 0;
    pub->read.shr = (struct ring_shared *)v->rx.shr_cons;
    pub->read.buffer = v->rx.buf;
    pub->read.order = v->rx.order;
    pub->write.shr = (struct ring_shared *)v->tx.shr_cons;
    pub->write.buffer = v->tx.buf;
    pub->write.order = v->tx.order;
    if (is_server) {
        pub->xs_path = strdup(v->xs_path);
        if (!pub->xs_path) {
            free(c);
            return NULL;
        }
    }
    return pub;
}

COMPAT_EXPORT struct libxenvchan *libxenvchan_server_init(struct xentoollog_logger *logger,
                                                          int domain, const char *xs_path,
                                                          size_t read_min, size_t write_min)
{
    struct ivcom_platform *p = plat_get();
    struct libxenvchan *h;
    struct ivcom_vchan *v;
    int err;

    (void)logger;
    if (!p)
        return NULL;
    err = ivcom_vchan_server_open(p, domain, xs_path, read_min, write_min, &v);
    if (err) {
        plat_put();
        errno = -err;
        return NULL;
    }
    h = handle_new(v, 1);
    if (!h) {
        ivcom_vchan_close(v);
        plat_put();
        errno = ENOMEM;
    }
    return h;
}

COMPAT_EXPORT struct libxenvchan *libxenvchan_client_init(struct xentoollog_logger *logger,
                                                          int domain, const char *xs_path)
{
    struct ivcom_platform *p = plat_get();
    struct libxenvchan *h;
    struct ivcom_vchan *v;
    int err;

    (void)logger;
    if (!p)
        return NULL;
    /* As stock: the server's nodes are there now or this fails. */
    err = ivcom_vchan_client_open(p, domain, xs_path, &v, 0);
    if (err) {
        plat_put();
        errno = -err;
        return NULL;
    }
    h = handle_new(v, 0);
    if (!h) {
        ivcom_vchan_close(v);
        plat_put();
        errno = ENOMEM;
    }
    return h;
}

COMPAT_EXPORT void libxenvchan_close(struct libxenvchan *ctrl)
{
    struct compat *c;

    if (!ctrl)
        return;
    c = compat_of(ctrl);
    ivcom_vchan_close(c->v);
    free(ctrl->xs_path);
    free(c);
    plat_put();
}

COMPAT_EXPORT void close_xs_srv(struct libxenvchan *ctrl)
{
    struct compat *c = compat_of(ctrl);

    if (ctrl && ctrl->is_server && c->v->xs_written)
        ivcom_vchan_xs_remove(c->v);
}

static size_t clamp(size_t size)
{
    return size > INT_MAX ? INT_MAX : size;
}

COMPAT_EXPORT int libxenvchan_read(struct libxenvchan *ctrl, void *data, size_t size)
{
    struct compat *c = compat_of(ctrl);
    ssize_t r = ivcom_vchan_read(sync_flags(c), data, clamp(size), blocking(c) ? -1 : 0);

    if (r == -EAGAIN)
        return 0;
    return r < 0 ? fail(c, (int)r) : (int)r;
}

COMPAT_EXPORT int libxenvchan_recv(struct libxenvchan *ctrl, void *data, size_t size)
{
    struct compat *c = compat_of(ctrl);
    ssize_t r = ivcom_vchan_recv(sync_flags(c), data, clamp(size), blocking(c) ? -1 : 0);

    /* Not now, or (not blocking) never: 0, as stock says. */
    if (r == -EAGAIN || (r == -EMSGSIZE && !blocking(c)))
        return 0;
    return r < 0 ? fail(c, (int)r) : (int)r;
}

COMPAT_EXPORT int libxenvchan_write(struct libxenvchan *ctrl, const void *data, size_t size)
{
    struct compat *c = compat_of(ctrl);
    struct ivcom_vchan *v = sync_flags(c);
    size_t pos = 0;
    ssize_t r;

    size = clamp(size);
    if (!blocking(c)) {
        r = ivcom_vchan_write(v, data, size, 0);
        if (r == -EAGAIN)
            return 0;
        return r < 0 ? fail(c, (int)r) : (int)r;
    }
    /* Blocking: all of it. */
    while (pos < size) {
        r = ivcom_vchan_write(v, (const uint8_t *)data + pos, size - pos, -1);
        if (r < 0)
            return fail(c, (int)r);
        pos += (size_t)r;
    }
    return (int)pos;
}

COMPAT_EXPORT int libxenvchan_send(struct libxenvchan *ctrl, const void *data, size_t size)
{
    struct compat *c = compat_of(ctrl);
    ssize_t r = ivcom_vchan_send(sync_flags(c), data, clamp(size), blocking(c) ? -1 : 0);

    if (r == -EAGAIN || (r == -EMSGSIZE && !blocking(c)))
        return 0;
    return r < 0 ? fail(c, (int)r) : (int)r;
}

COMPAT_EXPORT int libxenvchan_wait(struct libxenvchan *ctrl)
{
    struct compat *c = compat_of(ctrl);
    struct ivcom_vchan *v = sync_flags(c);
    int err;

    if (ivcom_vchan_is_broken(v)) {
        struct pollfd pfd = { .fd = ivcom_vchan_fd(v), .events = POLLIN };

        poll(&pfd, 1, COMPAT_BROKEN_WAIT_MS);
        return fail(c, ivcom_vchan_is_broken(v));
    }
    err = ivcom_vchan_wait(v, -1);
    return err ? fail(c, err) : 0;
}

COMPAT_EXPORT int libxenvchan_fd_for_select(struct libxenvchan *ctrl)
{
    return ivcom_vchan_fd(compat_of(ctrl)->v);
}

COMPAT_EXPORT int libxenvchan_is_open(struct libxenvchan *ctrl)
{
    struct compat *c = compat_of(ctrl);
    struct ivcom_vchan *v = sync_flags(c);
    int st;

    if (ivcom_vchan_is_broken(v))
        return 0;
    if (ctrl->is_server && ctrl->server_persist)
        return 1;
    st = ivcom_vchan_state(v);
    if (st < 0) {
        fail(c, st);
        return 0;
    }
    return st;
}

COMPAT_EXPORT int libxenvchan_data_ready(struct libxenvchan *ctrl)
{
    struct compat *c = compat_of(ctrl);
    int r = ivcom_vchan_data_ready(sync_flags(c));

    return r < 0 ? fail(c, r) : r;
}

COMPAT_EXPORT int libxenvchan_buffer_space(struct libxenvchan *ctrl)
{
    struct compat *c = compat_of(ctrl);
    int r = ivcom_vchan_buffer_space(sync_flags(c));

    return r < 0 ? fail(c, r) : r;
}
