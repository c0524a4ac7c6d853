/* SPDX-License-Identifier: MIT */
/*
 * The sim platform: plain Linux processes act as domains.
 *
 * A sim directory ($IVCOM_SIM_DIR) holds everything:
 *   simhv.sock        simhv, the sim's hypervisor + toolstack (seqpacket)
 *   xenstored.sock    the real xenstored's Unix socket (XENSTORED_PATH)
 *   xsd-evtchn.sock   xenstored's event channel: domains send their domid
 *   xs-ring-<N>       domain N's xenstore ring page
 *   xs-evt-<N>        FIFO: xenstored -> domain N event channel
 *   dom-<N>           exists while domain N is alive (xc_domain_getinfo)
 *   xsd_port, xsd_kva /proc/xen/xsd_{port,kva} for dom0 (unused ring)
 *   ready             "<simhv pid> <xenstored pid>" once serving
 *
 * simhv speaks fixed-size little records over SOCK_SEQPACKET; file
 * descriptors (memfds, eventfds) travel as SCM_RIGHTS.
 */
#ifndef IVCOM_SIM_H
#define IVCOM_SIM_H

#include <stdint.h>

#include "xs_ring.h"

#define SIM_SOCK_HV         "simhv.sock"
#define SIM_SOCK_XS         "xenstored.sock"
#define SIM_SOCK_XSEVT      "xsd-evtchn.sock"
#define SIM_READY           "ready"

#define SIM_PAGE            4096u
#define SIM_MAX_PAGES       1024u   /* per grant or map call */
#define SIM_MAX_FDS         32u     /* distinct memfds in one map reply */
#define SIM_MAX_DOMID       32751   /* DOMID_FIRST_RESERVED - 1 */
#define SIM_XS_PORT         1u      /* a domain's xenstore port (its side) */
#define SIM_XSEVT_VIRQ      0xffffffffu /* datagram: VIRQ_DOM_EXC */

enum sim_op {
    SIM_HELLO = 1,      /* domid = who I am */
    SIM_GRANT,          /* domid = grantee, npages -> refs[] + memfd */
    SIM_UNGRANT,        /* ref = first ref of the grant */
    SIM_MAP,            /* domid = granter, npages, refs[] -> fds + pages */
    SIM_NOTIFY_REG,     /* domid = granter, ref = first page, offset, port */
    SIM_NOTIFY_FIRE,    /* domid = granter, ref: do it now and forget it */
    SIM_EVT_ALLOC,      /* domid = peer -> port + own eventfd */
    SIM_EVT_BIND,       /* domid = peer, port = remote -> port + 2 fds */
    SIM_EVT_UNBIND,     /* port */
    SIM_EVT_REMOTE,     /* port -> the remote end's eventfd */
};

struct sim_req {
    uint32_t op;
    int32_t  domid;
    uint32_t npages;
    uint32_t ref;
    uint32_t port;
    uint32_t offset;
    uint32_t refs[];
};

/* MAP reply data: per page (index into the fds, page offset in it). */
struct sim_page {
    uint32_t fd_index;
    uint32_t pgoff;
};

struct sim_rsp {
    int32_t  rc;        /* 0 or -errno */
    uint32_t port;
    uint32_t npages;
    uint32_t nfds;
    uint32_t data[];    /* GRANT: refs; MAP: struct sim_page[] */
};

#define SIM_REQ_MAX (sizeof(struct sim_req) + SIM_MAX_PAGES * 4u)
#define SIM_RSP_MAX (sizeof(struct sim_rsp) + SIM_MAX_PAGES * 8u)

/* Message I/O with file descriptors (sim_io.c).  recv returns the byte
 * count, 0 at EOF, or -errno; received fds land in fds[*nfds]. */
int sim_send_msg(int sock, const void *buf, size_t len,
                 const int *fds, unsigned nfds);
int sim_recv_msg(int sock, void *buf, size_t len, int *fds, unsigned *nfds,
                 unsigned max_fds);

/* "<dir>/<name>" into buf; -ENAMETOOLONG. */
int sim_path(char *buf, size_t len, const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Unix socket transport for xs_ring.c (dom0 tools and simhv). */
struct sim_xs_sock {
    int fd;
};

int  sim_xs_sock_connect(struct sim_xs_sock *s, const char *path);
void sim_xs_sock_transport(struct sim_xs_sock *s,
                           struct ivcom_xs_transport *t);
void sim_xs_sock_close(struct sim_xs_sock *s);

/* Not in the ops table: the permissions of a node (plat_sim.c). */
struct ivcom_platform;
int ivcom_sim_xs_get_perms(struct ivcom_platform *plat, const char *path,
                           struct ivcom_xs_perm *perms, unsigned max);

#endif /* IVCOM_SIM_H */
