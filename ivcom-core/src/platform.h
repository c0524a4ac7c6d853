/* SPDX-License-Identifier: MIT */
/*
 * The platform ops table: everything libivcom needs from a hypervisor.
 * One backend per file (plat_sim.c, plat_xen_linux.c, plat_minios.c),
 * in the spirit of Xen's tools/libs/evtchn/{core,linux,minios}.c split.
 * Unsupported ops return -EOPNOTSUPP.  All ops return 0 or -errno.
 */
#ifndef IVCOM_PLATFORM_H
#define IVCOM_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

struct ivcom_platform;
struct ivcom_evtchn;            /* one event-channel handle (own fd) */
struct ivcom_xs_watch;

/* XenStore permission entry, as in Xen's struct xs_permissions. */
#define IVCOM_XS_PERM_NONE  0u
#define IVCOM_XS_PERM_READ  1u
#define IVCOM_XS_PERM_WRITE 2u
#define IVCOM_XS_PERM_BOTH  3u

struct ivcom_xs_perm {
    uint32_t domid;
    uint32_t perms;
};

#define IVCOM_XS_NO_TX 0u

struct ivcom_platform_ops {
    const char *name;
    /* 1 when the peer may be a process of this same OS (sim): a spinning
     * wait then yields the CPU, which may be the one the peer needs.  0
     * when the peer is always another domain: a yield cannot run it (and
     * in a PV guest each one costs a system call and a hypercall), so the
     * spin only pauses. */
    int yield_in_spin;

    /* Set up the backend; fills plat->domid.  `close` undoes it. */
    int  (*open)(struct ivcom_platform *plat);
    void (*close)(struct ivcom_platform *plat);

    /* ---- grant tables ----
     * share: allocate npages zeroed pages, grant them to peer (read-write),
     * map them locally at *addr and fill refs[npages] (gntalloc shape). */
    int (*share)(struct ivcom_platform *plat, int peer, unsigned npages,
                 void **addr, uint32_t *refs);
    int (*unshare)(struct ivcom_platform *plat, void *addr, unsigned npages);
    /* map: map the peer's refs contiguously at *addr (gntdev shape).
     * Must refuse refs that were not granted to us (-EPERM/-EACCES). */
    int (*map)(struct ivcom_platform *plat, int peer, unsigned npages,
               const uint32_t *refs, int writable, void **addr);
    int (*unmap)(struct ivcom_platform *plat, void *addr, unsigned npages);
    /* When this process dies or unmaps `addr` (a shared or mapped area),
     * the platform clears byte `offset` of its first page and notifies
     * `port` (gntalloc/gntdev UNMAP_NOTIFY_CLEAR_BYTE|SEND_EVENT). */
    int (*unmap_notify)(struct ivcom_platform *plat, void *addr,
                        uint32_t offset, uint32_t port);

    /* ---- event channels ---- */
    int  (*evtchn_open)(struct ivcom_platform *plat, struct ivcom_evtchn **out);
    void (*evtchn_close)(struct ivcom_evtchn *ev);
    int  (*evtchn_alloc_unbound)(struct ivcom_evtchn *ev, int peer,
                                 uint32_t *port);
    int  (*evtchn_bind)(struct ivcom_evtchn *ev, int peer,
                        uint32_t remote_port, uint32_t *port);
    int  (*evtchn_unbind)(struct ivcom_evtchn *ev, uint32_t port);
    int  (*evtchn_notify)(struct ivcom_evtchn *ev, uint32_t port);
    /* Wait for an event on the handle: 0 = one or more events consumed
     * (and the port unmasked), -ETIMEDOUT, -EINTR. */
    int  (*evtchn_wait)(struct ivcom_evtchn *ev, int timeout_ms);
    /* Consume pending events without waiting: 1 if any, 0 if none. */
    int  (*evtchn_ack)(struct ivcom_evtchn *ev);
    int  (*evtchn_fd)(struct ivcom_evtchn *ev);   /* -EOPNOTSUPP if none */

    /* ---- XenStore (paths absolute) ----
     * read: NUL-terminated value in buf (at most len-1 bytes), -ENOENT. */
    int (*xs_read)(struct ivcom_platform *plat, uint32_t tx, const char *path,
                   char *buf, size_t len);
    int (*xs_write)(struct ivcom_platform *plat, uint32_t tx, const char *path,
                    const char *value);
    int (*xs_rm)(struct ivcom_platform *plat, uint32_t tx, const char *path);
    int (*xs_set_perms)(struct ivcom_platform *plat, uint32_t tx,
                        const char *path, const struct ivcom_xs_perm *perms,
                        unsigned nperms);
    int (*xs_tx_start)(struct ivcom_platform *plat, uint32_t *tx);
    /* abort != 0 discards; -EAGAIN means retry the transaction. */
    int (*xs_tx_end)(struct ivcom_platform *plat, uint32_t tx, int abort);
    /* Watches: wait returns 0 when any watched path fired (or spuriously),
     * -ETIMEDOUT otherwise. */
    int (*xs_watch)(struct ivcom_platform *plat, const char *path,
                    const char *token);
    int (*xs_unwatch)(struct ivcom_platform *plat, const char *path,
                      const char *token);
    int (*xs_wait_watch)(struct ivcom_platform *plat, int timeout_ms);
    /* A file descriptor that polls readable while a watch event may be
     * waiting (xs_wait_watch(plat, 0) consumes them; wake-ups may be
     * spurious, never missed), or -EOPNOTSUPP. */
    int (*xs_watch_fd)(struct ivcom_platform *plat);
    /* Children of path as consecutive NUL-terminated names in buf: the
     * number of children, -E2BIG when they do not fit. */
    int (*xs_directory)(struct ivcom_platform *plat, uint32_t tx,
                        const char *path, char *buf, size_t len);
    /* A node's permissions as xenstored records them: perms[0].domid is
     * the node's owner.  Returns how many entries (at most max). */
    int (*xs_get_perms)(struct ivcom_platform *plat, uint32_t tx,
                        const char *path, struct ivcom_xs_perm *perms,
                        unsigned max);
};

struct ivcom_platform {
    const struct ivcom_platform_ops *ops;
    int domid;
    void *priv;         /* backend state */
    int swept;          /* ivcom_xs_sweep() ran */
};

extern const struct ivcom_platform_ops ivcom_plat_sim_ops;
extern const struct ivcom_platform_ops ivcom_plat_xen_linux_ops;
extern const struct ivcom_platform_ops ivcom_plat_minios_ops;

#endif /* IVCOM_PLATFORM_H */
