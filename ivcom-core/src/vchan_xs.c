/* SPDX-License-Identifier: MIT */
/*
 * vchan's XenStore nodes, as stock libxenvchan writes and reads them:
 *
 *   <path>/ring-ref        the shared page's grant     {server: none} {peer: r}
 *   <path>/event-channel   the server's unbound port   {server: none} {peer: r}
 *
 * written in one transaction by the server; the server's close removes
 * <path>.  Values read back are parsed strictly (digits only, non-zero).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vchan_int.h"

#define VCHAN_XS_TX_RETRIES 16

int ivcom_vchan_xs_path(struct ivcom_platform *plat, const char *path, char *out, size_t len)
{
    int n;

    if (!*path)
        return -EINVAL;
    if (path[0] == '/')
        n = snprintf(out, len, "%s", path);
    else
        n = snprintf(out, len, "/local/domain/%d/%s", plat->domid, path);
    return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

static int leaf_path(const struct ivcom_vchan *v, const char *leaf, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", v->xs_path, leaf);

    return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

static int write_leaf(struct ivcom_vchan *v, uint32_t tx, const char *leaf, uint32_t value)
{
    const struct ivcom_platform_ops *ops = v->plat->ops;
    const struct ivcom_xs_perm perms[2] = {
        { (uint32_t)v->plat->domid, IVCOM_XS_PERM_NONE },
        { (uint32_t)v->peer, IVCOM_XS_PERM_READ },
    };
    char path[IVCOM_PATH_MAX], val[16];
    int err = leaf_path(v, leaf, path, sizeof(path));

    snprintf(val, sizeof(val), "%u", value);
    if (!err)
        err = ops->xs_write(v->plat, tx, path, val);
    if (!err)
        err = ops->xs_set_perms(v->plat, tx, path, perms, 2);
    return err;
}

int ivcom_vchan_xs_publish(struct ivcom_vchan *v)
{
    const struct ivcom_platform_ops *ops = v->plat->ops;
    uint32_t tx;
    int i, err = -EAGAIN;

    for (i = 0; i < VCHAN_XS_TX_RETRIES && err == -EAGAIN; i++) {
        err = ops->xs_tx_start(v->plat, &tx);
        if (err)
            return err;
        err = write_leaf(v, tx, "ring-ref", v->ring_ref);
        if (!err)
            err = write_leaf(v, tx, "event-channel", v->port);
        if (err) {
            ops->xs_tx_end(v->plat, tx, 1);
            return err;
        }
        err = ops->xs_tx_end(v->plat, tx, 0);
    }
    if (!err)
        v->xs_written = 1;
    return err;
}

static int read_leaf(struct ivcom_vchan *v, const char *leaf, uint32_t *out)
{
    char path[IVCOM_PATH_MAX], buf[32];
    int err = leaf_path(v, leaf, path, sizeof(path));

    if (!err)
        err = v->plat->ops->xs_read(v->plat, IVCOM_XS_NO_TX, path, buf, sizeof(buf));
    if (!err)
        err = ivcom_parse_u32(buf, UINT32_MAX, out);
    if (!err && *out == 0)
        err = -EPROTO;
    return err;
}

/* Both nodes, each read once: 0, or -ENOENT / -EACCES while they are not
 * there for us, or -EPROTO for a value that is no ref or port. */
static int read_once(struct ivcom_vchan *v, uint32_t *ring_ref, uint32_t *port)
{
    int err = read_leaf(v, "ring-ref", ring_ref);

    return err ? err : read_leaf(v, "event-channel", port);
}

int ivcom_vchan_xs_read(struct ivcom_vchan *v, uint32_t *ring_ref, uint32_t *port,
                        int timeout_ms)
{
    const struct ivcom_platform_ops *ops = v->plat->ops;
    uint64_t deadline = ivcom_deadline_of(timeout_ms);
    char token[32];
    int err, werr, slice, watching = 0;

    snprintf(token, sizeof(token), "ivcom-vchan-%p", (void *)v);
    for (;;) {
        err = read_once(v, ring_ref, port);
        if (err != -ENOENT && err != -EACCES)
            break;
        slice = ivcom_ms_left(deadline);
        if (slice == 0)
            break;
        if (!watching) {
            /* Registered, then read again: a write in between fires it. */
            werr = ops->xs_watch(v->plat, v->xs_path, token);
            if (werr) {
                err = werr;
                break;
            }
            watching = 1;
            continue;
        }
        if (slice < 0 || slice > IVCOM_PROBE_MS)
            slice = IVCOM_PROBE_MS;
        werr = ops->xs_wait_watch(v->plat, slice);
        if (werr && werr != -ETIMEDOUT && werr != -EINTR) {
            err = werr;
            break;
        }
    }
    if (watching)
        ops->xs_unwatch(v->plat, v->xs_path, token);
    return err;
}

void ivcom_vchan_xs_remove(struct ivcom_vchan *v)
{
    v->plat->ops->xs_rm(v->plat, IVCOM_XS_NO_TX, v->xs_path);
    v->xs_written = 0;
}
