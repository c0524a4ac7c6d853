/* SPDX-License-Identifier: MIT */
/*
 * lab-ivcom-hostile: a deliberately broken IVCOM client for the lab.
 *
 *   lab-ivcom-hostile SERVER_DOMID CTRL_REF PORT [index|header]
 *
 * Maps a server's channel straight through /dev/xen/gntdev and binds its
 * event channel through /dev/xen/evtchn (libc only: no libivcom, so none
 * of its checks stand between us and the server).  The scenario reads
 * CTRL_REF and PORT from the server's XenStore offer and writes our
 * presence node itself.  Then:
 *   1. announce ourselves up, send one honest message, wait for its echo
 *      (proves the channel works);
 *   2. index (the default): publish an impossible producer index on the
 *      client->server ring (fill level beyond the ring size) and notify;
 *      header: publish a well-formed index over a message header whose
 *      length runs past the bytes published (and past the ring);
 *   3. wait for the server to mark itself closed, unmap, exit.
 * Prints "lab-ivcom-hostile: ..." progress lines; exit 0 when every step
 * it drove happened (what the server made of it is the scenario's check).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef uint16_t domid_t;     /* xen/sys/evtchn.h uses it, defines it not */
#include <xen/sys/evtchn.h>
#include <xen/sys/gntdev.h>

#include "../../ivcom-core/include/ivcom/wire.h"

#define STEP_S 30

static void die(const char *fmt, const char *arg, int err)
{
    fprintf(stderr, "lab-ivcom-hostile: error: ");
    fprintf(stderr, fmt, arg);
    if (err)
        fprintf(stderr, ": %s", strerror(err));
    fputc('\n', stderr);
    exit(1);
}

static unsigned long num(const char *s, unsigned long max)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max)
        die("bad number '%s'", s, 0);
    return v;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Map n refs of domid: the address, and the gntdev index for unmapping. */
static void *map_refs(int fd, uint32_t domid, const uint32_t *refs, uint32_t n,
                      uint64_t *index)
{
    struct ioctl_gntdev_map_grant_ref *m;
    void *va;
    uint32_t i;

    m = calloc(1, sizeof(*m) + n * sizeof(m->refs[0]));
    if (!m)
        die("out of memory%s", "", 0);
    m->count = n;
    for (i = 0; i < n; i++) {
        m->refs[i].domid = domid;
        m->refs[i].ref = refs[i];
    }
    if (ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, m) != 0)
        die("gntdev map of %s grant(s)", n == 1 ? "one" : "the data", errno);
    *index = m->index;
    va = mmap(NULL, (size_t)n * IVCOM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
              (off_t)m->index);
    free(m);
    if (va == MAP_FAILED)
        die("mmap of the %s", n == 1 ? "control page" : "data pages", errno);
    return va;
}

static void unmap_refs(int fd, void *va, uint32_t n, uint64_t index)
{
    struct ioctl_gntdev_unmap_grant_ref u = { .index = index, .count = n };

    munmap(va, (size_t)n * IVCOM_PAGE_SIZE);
    ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &u);
}

static void notify(int fd, uint32_t port)
{
    struct ioctl_evtchn_notify nt = { .port = port };

    if (ioctl(fd, IOCTL_EVTCHN_NOTIFY, &nt) != 0)
        die("evtchn notify%s", "", errno);
}

int main(int argc, char **argv)
{
    struct ioctl_evtchn_bind_interdomain bind;
    uint32_t server, ctrl_ref, ndata, grefs[IVCOM_CTRL_MAX_GREFS];
    uint64_t ctrl_index, data_index;
    struct ivcom_ctrl *c;
    struct ivcom_msg_hdr h;
    uint8_t *data, *c2s, *s2c;
    uint32_t s2c_size, c2s_size, bad, port;
    uint64_t payload = 0x1122334455667788ull, back;
    double t;
    int gfd, efd, rc, header_mode = 0;

    if (argc == 5 && strcmp(argv[4], "header") == 0)
        header_mode = 1;
    else if (argc == 5 && strcmp(argv[4], "index") != 0)
        argc = 0;
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: lab-ivcom-hostile SERVER_DOMID CTRL_REF PORT [index|header]\n");
        return 2;
    }
    server = (uint32_t)num(argv[1], 0x7fef);
    ctrl_ref = (uint32_t)num(argv[2], UINT32_MAX);
    port = (uint32_t)num(argv[3], UINT32_MAX);

    gfd = open("/dev/xen/gntdev", O_RDWR | O_CLOEXEC);
    if (gfd < 0)
        die("open %s", "/dev/xen/gntdev", errno);
    efd = open("/dev/xen/evtchn", O_RDWR | O_CLOEXEC);
    if (efd < 0)
        die("open %s", "/dev/xen/evtchn", errno);

    c = map_refs(gfd, server, &ctrl_ref, 1, &ctrl_index);
    if (c->magic != IVCOM_WIRE_MAGIC || c->version != IVCOM_WIRE_VERSION ||
        c->mode != IVCOM_MODE_MESSAGE)
        die("the control page is not a v1 message-mode channel%s", "", 0);
    if (c->s2c_order < IVCOM_RING_ORDER_MIN || c->s2c_order > IVCOM_RING_ORDER_MAX ||
        c->c2s_order < IVCOM_RING_ORDER_MIN || c->c2s_order > IVCOM_RING_ORDER_MAX)
        die("bad ring orders%s", "", 0);
    s2c_size = 1u << c->s2c_order;
    c2s_size = 1u << c->c2s_order;
    ndata = (s2c_size + c2s_size) / IVCOM_PAGE_SIZE;
    if (c->nr_grefs != ndata)
        die("bad grant count%s", "", 0);
    memcpy(grefs, c->grefs, ndata * sizeof(grefs[0]));
    data = map_refs(gfd, server, grefs, ndata, &data_index);
    s2c = data;
    c2s = data + s2c_size;

    bind.remote_domain = server;
    bind.remote_port = port;
    rc = ioctl(efd, IOCTL_EVTCHN_BIND_INTERDOMAIN, &bind);
    if (rc < 0)
        die("bind the event channel%s", "", errno);
    port = (uint32_t)rc;

    /* 1. Up, one honest message, its echo. */
    __atomic_store_n(&c->c2s_prod.prod, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&c->s2c_cons.cons, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&c->client_live, IVCOM_LIVE_UP, __ATOMIC_RELEASE);
    notify(efd, port);
    h.len = sizeof(payload);
    h.type = IVCOM_MSG_DATA;
    h.reserved = 0;
    memcpy(c2s, &h, sizeof(h));
    memcpy(c2s + sizeof(h), &payload, sizeof(payload));
    __atomic_store_n(&c->c2s_prod.prod, (uint32_t)(sizeof(h) + sizeof(payload)),
                     __ATOMIC_RELEASE);
    notify(efd, port);
    printf("lab-ivcom-hostile: connected to dom%u (rings %u/%u bytes), sent one message\n",
           server, s2c_size, c2s_size);
    fflush(stdout);
    t = now_s();
    while (__atomic_load_n(&c->s2c_prod.prod, __ATOMIC_ACQUIRE) < sizeof(h) + sizeof(payload)) {
        if (now_s() - t > STEP_S)
            die("no echo within 30 s%s", "", 0);
        usleep(1000);
    }
    memcpy(&h, s2c, sizeof(h));
    memcpy(&back, s2c + sizeof(h), sizeof(back));
    if (h.type != IVCOM_MSG_DATA || h.len != sizeof(payload) || back != payload)
        die("the echo came back wrong%s", "", 0);
    __atomic_store_n(&c->s2c_cons.cons, (uint32_t)(sizeof(h) + sizeof(payload)),
                     __ATOMIC_RELEASE);
    printf("lab-ivcom-hostile: echo ok\n");
    fflush(stdout);

    if (header_mode) {
        /* 2. A header no honest client writes: a DATA record claiming more
         * payload than the ring holds, under a well-formed index that
         * publishes just the header. */
        uint32_t at = __atomic_load_n(&c->c2s_prod.prod, __ATOMIC_RELAXED);

        h.len = 2 * c2s_size;
        h.type = IVCOM_MSG_DATA;
        h.reserved = 0;
        memcpy(c2s + (at & (c2s_size - 1)), &h, sizeof(h));
        bad = at + (uint32_t)sizeof(h);
        __atomic_store_n(&c->c2s_prod.prod, bad, __ATOMIC_RELEASE);
        notify(efd, port);
        printf("lab-ivcom-hostile: wrote a header of length %u at %u (ring %u bytes)\n",
               h.len, at, c2s_size);
    } else {
        /* 2. A producer index no honest client writes: more bytes in flight
         * than the ring holds. */
        bad = __atomic_load_n(&c->c2s_cons.cons, __ATOMIC_ACQUIRE) + 2 * c2s_size + 8;
        __atomic_store_n(&c->c2s_prod.prod, bad, __ATOMIC_RELEASE);
        notify(efd, port);
        printf("lab-ivcom-hostile: wrote c2s prod %u (ring %u bytes)\n", bad, c2s_size);
    }
    fflush(stdout);

    /* 3. The server should give up on us and say so in its live byte. */
    t = now_s();
    while (__atomic_load_n(&c->server_live, __ATOMIC_ACQUIRE) == IVCOM_LIVE_UP) {
        if (now_s() - t > STEP_S) {
            printf("lab-ivcom-hostile: server still up after 30 s\n");
            break;
        }
        usleep(1000);
    }
    printf("lab-ivcom-hostile: server live byte %u\n",
           __atomic_load_n(&c->server_live, __ATOMIC_ACQUIRE));
    unmap_refs(gfd, data, ndata, data_index);
    unmap_refs(gfd, c, 1, ctrl_index);
    close(efd);
    close(gfd);
    return 0;
}
