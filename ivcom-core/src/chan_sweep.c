/* SPDX-License-Identifier: MIT */
/*
 * Reclaiming the XenStore nodes of our domain's dead processes.  A process
 * killed (SIGKILL, a crash) cannot remove what it wrote: a server's offer,
 * a service's directory (with its clients' requests), a client's presence.
 * Each records its process id -- an offer's and a service's `owner` node,
 * a presence's value "connected <pid>" -- and the first set-up call of a
 * platform (listen, service open, connect) removes those of our domain
 * whose process is gone.  Where there are no processes (the tiny guest)
 * nothing is recorded and nothing is swept.
 *
 *   /local/domain/<self>/data/ivcom/<name>/owner                 (offers)
 *   /local/domain/<self>/data/ivcom-svc/<name>/owner             (services)
 *   /local/domain/<self>/data/ivcom-client/<S>/<name>            (presences)
 *   /local/domain/<self>/data/ivcom-svc-client/<S>/<name>/<token>
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define SWEEP_LIST_BYTES 4096

/* 1 if `val` names a process of ours that is gone ("<pid>", or "connected
 * <pid>" for a presence); anything else (not ours to judge) 0. */
static int dead_owner(const char *val, int presence)
{
    uint32_t pid;
    size_t n = strlen(IVCOM_XS_STATE_CONNECTED);

    if (presence) {
        if (strncmp(val, IVCOM_XS_STATE_CONNECTED, n) || val[n] != ' ')
            return 0;
        val += n + 1;
    }
    if (ivcom_parse_u32(val, UINT32_MAX, &pid) || pid == 0)
        return 0;
    return pid != ivcom_os_pid() && !ivcom_os_pid_alive(pid);
}

/* Each child of dir: `leaf` under it (or, with leaf NULL, the child
 * itself) read; removed if dead_owner() says so.  depth > 1 descends. */
static void sweep_dir(struct ivcom_platform *plat, const char *dir, const char *leaf,
                      int depth)
{
    const struct ivcom_platform_ops *ops = plat->ops;
    char list[SWEEP_LIST_BYTES], path[IVCOM_PATH_MAX], node[IVCOM_PATH_MAX], val[64];
    const char *name;
    int i, n = ops->xs_directory(plat, IVCOM_XS_NO_TX, dir, list, sizeof(list));

    for (i = 0, name = list; i < n; i++, name += strlen(name) + 1) {
        int len = snprintf(path, sizeof(path), "%s/%s", dir, name);

        if (len < 0 || (size_t)len >= sizeof(path))
            continue;
        if (depth > 1) {
            sweep_dir(plat, path, leaf, depth - 1);
            continue;
        }
        len = leaf ? snprintf(node, sizeof(node), "%s/%s", path, leaf)
                   : snprintf(node, sizeof(node), "%s", path);
        if (len < 0 || (size_t)len >= sizeof(node))
            continue;
        if (ops->xs_read(plat, IVCOM_XS_NO_TX, node, val, sizeof(val)) == 0 &&
            dead_owner(val, leaf == NULL))
            ops->xs_rm(plat, IVCOM_XS_NO_TX, path);
    }
}

void ivcom_xs_sweep(struct ivcom_platform *plat)
{
    char dir[IVCOM_PATH_MAX];

    if (plat->swept || !plat->ops->xs_directory || ivcom_os_pid() == 0)
        return;
    plat->swept = 1;
    snprintf(dir, sizeof(dir), "/local/domain/%d/%s", plat->domid, IVCOM_XS_BASE);
    sweep_dir(plat, dir, IVCOM_XS_OWNER, 1);
    snprintf(dir, sizeof(dir), "/local/domain/%d/%s", plat->domid, IVCOM_XS_SVC_BASE);
    sweep_dir(plat, dir, IVCOM_XS_OWNER, 1);
    snprintf(dir, sizeof(dir), "/local/domain/%d/data/ivcom-client", plat->domid);
    sweep_dir(plat, dir, NULL, 2);
    snprintf(dir, sizeof(dir), "/local/domain/%d/%s", plat->domid, IVCOM_XS_SVC_CLIENT);
    sweep_dir(plat, dir, NULL, 3);
}

/* "connected <pid>" (or "connected" where there are no processes). */
void ivcom_xs_presence_value(char *buf, size_t len)
{
    uint32_t pid = ivcom_os_pid();

    if (pid)
        snprintf(buf, len, "%s %u", IVCOM_XS_STATE_CONNECTED, pid);
    else
        snprintf(buf, len, "%s", IVCOM_XS_STATE_CONNECTED);
}
