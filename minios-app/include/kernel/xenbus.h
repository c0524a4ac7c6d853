/* SPDX-License-Identifier: MIT */
/*
 * XenStore client over the domain's store ring (start_info->store_mfn and
 * store_evtchn).  Paths are absolute or relative to /local/domain/<self>.
 * Every call returns 0 (or a length) or -errno; the store's error strings
 * (ENOENT, EACCES, EAGAIN, ...) become the matching -errno.
 */
#ifndef KERNEL_XENBUS_H
#define KERNEL_XENBUS_H

#include <stddef.h>
#include <stdint.h>
#include <xen/event_channel.h>
#include <xen/io/xs_wire.h>

typedef uint32_t xenbus_transaction_t;
#define XBT_NIL ((xenbus_transaction_t)0)

struct xenbus_perm {
    uint32_t domid;
    char perm;                  /* 'n', 'r', 'w' or 'b' */
};

int xenbus_init(void);
/* Our domain id, as read from the store at init ("domid"). */
int xenbus_domid(void);

/* Value copied into buf, NUL-terminated: its length or -errno. */
int xenbus_read(xenbus_transaction_t t, const char *path, char *buf,
                size_t len);
int xenbus_write(xenbus_transaction_t t, const char *path, const char *value);
int xenbus_rm(xenbus_transaction_t t, const char *path);
/* perms[0] is the owner and the default for domains not listed. */
int xenbus_set_perms(xenbus_transaction_t t, const char *path,
                     const struct xenbus_perm *perms, unsigned int n);
/* Children of path as consecutive NUL-terminated names: how many. */
int xenbus_directory(xenbus_transaction_t t, const char *path, char *buf,
                     size_t len);
/* A node's permissions (perms[0]: its owner): how many, at most max. */
int xenbus_get_perms(xenbus_transaction_t t, const char *path,
                     struct xenbus_perm *perms, unsigned int max);
int xenbus_transaction_start(xenbus_transaction_t *t);
/* abort != 0 discards; -EAGAIN means the transaction must be retried. */
int xenbus_transaction_end(xenbus_transaction_t t, int abort);
int xenbus_watch(const char *path, const char *token);
int xenbus_unwatch(const char *path, const char *token);
/* Wait for any watch event: 0 (token/path copied if buffers given),
 * -ETIMEDOUT.  timeout_ns as for evtchn_wait. */
int xenbus_wait_watch(uint64_t timeout_ns, char *path, size_t path_len,
                      char *token, size_t token_len);

/* For an event loop that polls the store's port beside others: the port
 * (pending when xenstored answered or a watch fired), and whether a watch
 * event is queued (the ring is read without waiting; nothing is consumed:
 * any xenbus call may have queued one and cleared the port meanwhile). */
evtchn_port_t xenbus_event_port(void);
int xenbus_watch_pending(void);

#endif
