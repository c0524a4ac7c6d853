/* SPDX-License-Identifier: MIT */
/* A platform whose XenStore writes pass through a test's hook first: the
 * hook may delay a write (a slow XenStore) or fail it (a quota, a full
 * store) by returning -errno.  The real backend does the rest. */
#ifndef IVCOM_OPS_WRAP_H
#define IVCOM_OPS_WRAP_H

#include "chan_helpers.h"
#include "platform.h"

static const struct ivcom_platform_ops *t_real_ops;
static struct ivcom_platform_ops t_wrapped_ops;
/* 0: go on with the write; -errno: fail it with that. */
static int (*t_xs_write_hook)(const char *path, const char *value);
static int (*t_xs_perms_hook)(const char *path);

static inline int t_wrap_xs_write(struct ivcom_platform *plat, uint32_t tx,
                                  const char *path, const char *value)
{
    int r = t_xs_write_hook ? t_xs_write_hook(path, value) : 0;

    return r ? r : t_real_ops->xs_write(plat, tx, path, value);
}

static inline int t_wrap_xs_set_perms(struct ivcom_platform *plat, uint32_t tx,
                                      const char *path, const struct ivcom_xs_perm *perms,
                                      unsigned nperms)
{
    int r = t_xs_perms_hook ? t_xs_perms_hook(path) : 0;

    return r ? r : t_real_ops->xs_set_perms(plat, tx, path, perms, nperms);
}

static inline void t_wrap_platform(struct ivcom_platform *plat)
{
    t_real_ops = plat->ops;
    t_wrapped_ops = *plat->ops;
    t_wrapped_ops.xs_write = t_wrap_xs_write;
    t_wrapped_ops.xs_set_perms = t_wrap_xs_set_perms;
    plat->ops = &t_wrapped_ops;
}

/* 1 when path ends with `leaf` (a whole path element). */
static inline int t_path_ends(const char *path, const char *leaf)
{
    size_t n = strlen(path), m = strlen(leaf);

    return n > m && path[n - m - 1] == '/' && strcmp(path + n - m, leaf) == 0;
}

#endif
