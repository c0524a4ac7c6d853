/* SPDX-License-Identifier: MIT */
/* libivcom internals shared by the chan_*.c files and the wait code. */
#ifndef IVCOM_INTERNAL_H
#define IVCOM_INTERNAL_H

#include <stdint.h>

#include "ivcom/ivcom.h"
#include "platform.h"
#include "ring.h"

#define IVCOM_NAME_MAX      63
/* Xen's DOMID_FIRST_RESERVED: ids from here up are not domains. */
#define IVCOM_DOMID_FIRST_RESERVED 0x7ff0
#define IVCOM_PATH_MAX      160
/* While blocked, re-check the peer's XenStore presence this often: a
 * destroyed domain runs no unmap notify, so no event will come. */
#define IVCOM_PROBE_MS      200
/* Spin this long before also yielding the CPU on every spin iteration. */
#define IVCOM_SPIN_PURE_NS  1000u
/* The spin is also bounded by a count, because the clock alone cannot be
 * trusted to end it: a guest's CLOCK_MONOTONIC can stand still for
 * milliseconds (Xen guests under QEMU TCG, an overcommitted host), and a
 * spin timed by it alone then holds the vCPU -- which the peer may need --
 * for as long, never arming the event.  At most IVCOM_SPIN_PURE_ITERS
 * cpu_relax() iterations, then IVCOM_SPIN_YIELDS_PER_US yielding
 * iterations per microsecond of spin_us (a yield is a system call, some
 * 0.2-1 us, so with a working clock the spin still lasts about spin_us). */
#define IVCOM_SPIN_PURE_ITERS   64u
#define IVCOM_SPIN_YIELDS_PER_US 4u
/* Where yielding cannot run the peer (it is always another domain), the
 * whole spin is cpu_relax(): at most this many per microsecond of spin_us
 * (a pause is some 10-150 cycles). */
#define IVCOM_SPIN_PAUSES_PER_US 64u
/* The spin budget adapts: a wait the spin ended doubles it (up to
 * spin_us), a wait that had to block halves it; once at 0 (spinning never
 * paid: the peer answers slower than spin_us) the full budget is tried
 * again every IVCOM_SPIN_RETRY waits. */
#define IVCOM_SPIN_MIN_NS       500u
#define IVCOM_SPIN_RETRY        64u

#define IVCOM_EXPORT __attribute__((visibility("default")))

struct ivcom_chan {
    struct ivcom_platform *plat;
    struct ivcom_params params;
    char     name[IVCOM_NAME_MAX + 1];
    int      is_server;
    int      peer;
    int      connected;
    int      connecting;            /* client set-up step (chan_setup.c) */
    int      soft_err;              /* its last "not yet" (-EACCES ...) */
    char     watch_token[32];       /* its XenStore watch, if any */
    int      broken;                /* 0 or the -errno that broke it */
    uint8_t  ready;                 /* the mode while connected and not broken */

    void    *area;                  /* server: ctrl + data pages; client: ctrl */
    void    *data;                  /* client: the mapped data pages */
    unsigned area_pages, data_pages;
    struct ivcom_ctrl *ctrl;
    uint8_t *own_live, *peer_live;  /* bytes in line 0 of ctrl */

    struct ivcom_ring tx, rx;
    struct ivcom_evtchn *ev;
    uint32_t port;
    int      closing;
    uint64_t idle_probe_at;         /* next presence probe of a call that
                                       does not wait (0: not started) */
    int      peer_seen;             /* server: XenStore says the client came */
    uint32_t tx_len, rx_len;        /* payload of the reserved/peeked message */
    /* The adaptive spin: the budget now (ns, 0..spin_us) and the waits
     * since it fell to 0 (see chan_wait). */
    uint64_t spin_ns;
    uint32_t spin_idle;

    uint64_t nonce;                 /* the offer's, in ctrl and XenStore */
    uint32_t ctrl_ref;              /* the control page's grant (client:
                                       as the offer named it) */
    uint8_t  svc;                   /* a channel of a service: its XenStore
                                       node is the client's request */
    uint8_t  xs_announced;          /* client: its presence node exists */
    uint8_t  xs_state_written;      /* client: it wrote client/state */
    char     xs_dir[IVCOM_PATH_MAX];    /* server's offer directory */
    char     xs_presence[IVCOM_PATH_MAX]; /* client's presence node */
    struct ivcom_stats st;
};

/* OS glue (wait_<os>.c): monotonic clock in ns; the platform to use when
 * the caller names none. */
uint64_t ivcom_now_ns(void);
const char *ivcom_default_platform(void);
/* Let another runnable thread have this CPU (the peer may be waiting for
 * it when both ends share a CPU); returns at once when none is. */
void ivcom_os_yield(void);
/* 64 unpredictable-enough bits for an offer's nonce: distinct offers must
 * differ (it names an offer; it is not a secret). */
uint64_t ivcom_os_nonce(void);
/* This process's id; 0 where there are no processes (the tiny guest). */
uint32_t ivcom_os_pid(void);
/* 0 once process `pid` is known gone, else 1. */
int ivcom_os_pid_alive(uint32_t pid);

/* Our dead processes' XenStore nodes (chan_sweep.c): removed once per
 * platform, at its first set-up call. */
#define IVCOM_XS_OWNER          "owner"
void ivcom_xs_sweep(struct ivcom_platform *plat);
void ivcom_xs_presence_value(char *buf, size_t len);

/* XenStore side of the handshake (chan_xs.c). */
int  ivcom_xs_offer(struct ivcom_chan *ch, uint32_t ctrl_ref);
int  ivcom_xs_read_offer(struct ivcom_chan *ch, int server_domid,
                         uint32_t *ctrl_ref, uint32_t *port,
                         int timeout_ms);
/* Client: its presence node, readable by the server, in one transaction:
 * written before its live byte says up, since the server's presence probe
 * takes a missing or unreadable node for a departure. */
int  ivcom_xs_announce(struct ivcom_chan *ch);
int  ivcom_xs_set_state(struct ivcom_chan *ch, const char *state);
#define IVCOM_XS_STATE_CONNECTING "connecting"
/* Client of a one-peer offer: take it (-EBUSY: another connect has). */
int  ivcom_xs_claim(struct ivcom_chan *ch);
/* Client: a connect that failed takes back what it wrote. */
void ivcom_xs_retract(struct ivcom_chan *ch);
/* Server, before accept saw the client: 1 if client/state (a service's:
 * the request node) says it came, 0 not yet; -EPROTO (services) a value
 * no honest client writes. */
int  ivcom_xs_client_came(struct ivcom_chan *ch);
/* 1 when the peer's presence node is gone or says closed, else 0. */
int  ivcom_xs_peer_gone(struct ivcom_chan *ch);
void ivcom_xs_withdraw(struct ivcom_chan *ch);

/* Set-up pieces shared by ivcom_listen and services (chan_setup.c). */
int  ivcom_name_ok(const char *name);
int  ivcom_params_ok(const struct ivcom_params *p);
int  ivcom_chan_check_args(struct ivcom_platform *plat, const char *name, int peer,
                           const struct ivcom_params *params);
int  ivcom_chan_server_new(struct ivcom_platform *plat, const char *name, int peer_domid,
                           const struct ivcom_params *params, struct ivcom_chan **out);
/* Undo a channel that never reached its user: no XenStore steps. */
void ivcom_chan_destroy(struct ivcom_chan *ch);

/* Services (chan_svc.c, chan_xs.c). */
#define IVCOM_XS_SVC_BASE       "data/ivcom-svc"
#define IVCOM_XS_SVC_CLIENT     "data/ivcom-svc-client"
#define IVCOM_XS_SVC_LISTENING  "listening"
#define IVCOM_XS_SVC_REQUEST    "request 1"
#define IVCOM_XS_SVC_REFUSED    "refused"
#define IVCOM_XS_SVC_BUSY       "busy"
#define IVCOM_SVC_TOKEN_LEN     16
/* ivcom_xs_read_offer found a service, not a one-peer offer. */
#define IVCOM_XS_IS_SERVICE     1
/* Server: offer ch to the client whose request node is req_path. */
int  ivcom_xs_svc_offer(struct ivcom_chan *ch, const char *req_path, const char *token);
/* /local/domain/<server>/data/ivcom-svc/<name><leaf> */
int  ivcom_xs_svc_dir(char *buf, size_t len, int server, const char *name, const char *leaf);
/* Client: 1 when server_domid runs a service called ch->name. */
int  ivcom_xs_svc_present(struct ivcom_chan *ch, int server_domid);
/* Client: request a channel of the service; then look for its answer:
 * 0 (an offer, parsed), -EAGAIN (none yet), or -errno (the request is
 * gone: -EACCES refused, -EBUSY over the limit, -ECONNRESET ...). */
int  ivcom_xs_svc_request_start(struct ivcom_chan *ch, int server_domid);
int  ivcom_xs_svc_request_answer(struct ivcom_chan *ch, uint32_t *ctrl_ref, uint32_t *port);
/* Client, once up: "connected <port> <ctrl-ref> <nonce>" for its request
 * node.  Server: 1 when the request node says the client came, 0 not yet,
 * -EPROTO for a value no honest client writes. */
int  ivcom_xs_svc_connected_value(const struct ivcom_chan *ch, char *buf, size_t len);
int  ivcom_xs_svc_came(struct ivcom_chan *ch);

/* Strict parsers of XenStore values (chan_xs.c): unsigned decimal up to
 * max; exactly 16 lower-case hex digits.  0 or -EPROTO. */
int  ivcom_parse_u32(const char *s, uint32_t max, uint32_t *out);
int  ivcom_parse_nonce(const char *s, uint64_t *out);

/* Consume the platform's pending watch events (what they announced is
 * read by the caller afterwards), at most IVCOM_XS_DRAIN_MAX of them. */
#define IVCOM_XS_DRAIN_MAX      64
void ivcom_xs_drain_watch(struct ivcom_platform *plat);

/* Mark the channel broken with err (-EPROTO ...) and return err. */
int  ivcom_chan_fail(struct ivcom_chan *ch, int err);

#endif /* IVCOM_INTERNAL_H */
