/* SPDX-License-Identifier: MIT */
/*
 * Description: libxenvchan round trips and bulk transfer between two lab
 * domains (the baseline IVCOM is measured against, and the proof that
 * grant mapping + event channels work dom0<->domU in the lab).
 *
 *   lab-vchan server PEER_DOMID XS_PATH [RING_BYTES]
 *   lab-vchan client SERVER_DOMID XS_PATH rr|bulk:SIZE:COUNT|rrt:SIZE:SECONDS ...
 *
 * The server (usually the domU, XS_PATH relative to its own xenstore home,
 * e.g. data/ivcom-vchan) serves sessions until the client sends an end
 * header or closes.  The client runs each session in turn on one vchan and
 * prints one "ivcom-result:" JSON line per session.  Bulk bytes are checked
 * against lab_pattern() by the server, which returns the verified count.
 *
 * Both ends finish with one line counting the events they sent:
 *   lab-vchan: events {"role": "client", "pid": P, "port": N, "notifies": K}
 * (libxenvchan sends every event through xenevtchn_notify(), interposed
 * below), which the event channel tracer's counts are checked against.
 *
 * Exit 0 on success, 1 on error or verification failure, 2 on usage.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxenvchan.h>

#include "labstat.h"

#define CHUNK (16 * 1024)

/* Events this process sent.  This definition of xenevtchn_notify() is
 * exported (libxenvchan refers to it) and so takes precedence over
 * libxenevtchn's, which it calls. */
static unsigned long long lab_notifies;

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    static int (*real)(xenevtchn_handle *, evtchn_port_t);

    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "xenevtchn_notify");
        if (!real) {
            errno = ENOSYS;
            return -1;
        }
    }
    lab_notifies++;
    return real(xce, port);
}

/* After libxenvchan_close(), which itself notifies the peer. */
static void report_events(const char *role, int port)
{
    printf("lab-vchan: events {\"role\": \"%s\", \"pid\": %d, \"port\": %d, "
           "\"notifies\": %llu}\n", role, (int)getpid(), port, lab_notifies);
    fflush(stdout);
}

static long vc_read_some(void *ctx, void *buf, size_t len)
{
    struct libxenvchan *vc = ctx;
    int n = libxenvchan_read(vc, buf, len);
    if (n < 0 || (n == 0 && !libxenvchan_is_open(vc)))
        return -1;
    return n;
}

static long vc_write_some(void *ctx, const void *buf, size_t len)
{
    struct libxenvchan *vc = ctx;
    int n = libxenvchan_write(vc, buf, len);
    if (n < 0 || (n == 0 && !libxenvchan_is_open(vc)))
        return -1;
    return n;
}

static int server(int argc, char **argv)
{
    uint32_t peer, ring = 65536;
    if (argc < 2 || (lab_parse_u32(argv[0], &peer) && strcmp(argv[0], "0") != 0) ||
        (argc > 2 && lab_parse_u32(argv[2], &ring)))
        return 2;
    if (strcmp(argv[0], "0") == 0)
        peer = 0;
    struct libxenvchan *vc = libxenvchan_server_init(NULL, (int)peer, argv[1], ring, ring);
    if (!vc) {
        fprintf(stderr, "lab-vchan: server_init(%u, %s) failed: %s\n", peer, argv[1],
                strerror(errno));
        return 1;
    }
    vc->blocking = 1;
    printf("lab-vchan: serving at %s for domain %u\n", argv[1], peer);
    fflush(stdout);
    struct lab_io io = { vc_read_some, vc_write_some, vc };
    static uint8_t buf[CHUNK];
    int rc = 0;
    unsigned n = 0;
    for (;;) {
        struct lab_hdr h;
        if (lab_read(&io, &h, sizeof(h))) {
            if (n == 0) {
                fprintf(stderr, "lab-vchan: closed before any session\n");
                rc = 1;
            }
            break;
        }
        if (h.magic != LAB_MAGIC) {
            fprintf(stderr, "lab-vchan: bad session header\n");
            rc = 1;
            break;
        }
        if (h.mode == 0)
            break;
        if (lab_serve(&h, &io, buf, CHUNK)) {
            fprintf(stderr, "lab-vchan: session %u failed\n", n);
            rc = 1;
            break;
        }
        n++;
    }
    printf("lab-vchan: served %u session(s)\n", n);
    int port = (int)vc->event_port;
    libxenvchan_close(vc);
    report_events("server", port);
    return rc;
}

static int run_session(const struct lab_io *io, const char *spec)
{
    struct lab_hdr h = { .magic = LAB_MAGIC };
    char mode[8];
    unsigned size, count;
    if (sscanf(spec, "%7[a-z]:%u:%u", mode, &size, &count) != 3 ||
        lab_parse_mode(mode, &h.mode) || size == 0 || count == 0 ||
        (h.mode != LAB_MODE_BULK && size > CHUNK)) {
        fprintf(stderr, "lab-vchan: bad session spec %s (want rr|bulk:SIZE:COUNT or "
                        "rrt:SIZE:SECONDS)\n", spec);
        return 2;
    }
    h.size = size;
    h.count = count;
    if (lab_write(io, &h, sizeof(h)))
        return 1;
    static uint8_t out[CHUNK], in[CHUNK];
    return h.mode == LAB_MODE_BULK ? lab_bulk_client("vchan", &h, io, out, CHUNK)
                                   : lab_rr_client("vchan", &h, io, out, in);
}

static int client(int argc, char **argv)
{
    uint32_t dom;
    if (argc < 3 || lab_parse_u32(argv[0], &dom))
        return 2;
    struct libxenvchan *vc = NULL;
    /* The server guest may still be booting: retry for two minutes. */
    double deadline = lab_now_us() + 120e6;
    while (!vc && lab_now_us() < deadline) {
        vc = libxenvchan_client_init(NULL, (int)dom, argv[1]);
        if (!vc)
            usleep(500 * 1000);
    }
    if (!vc) {
        fprintf(stderr, "lab-vchan: cannot connect to domain %u at %s\n", dom, argv[1]);
        return 1;
    }
    vc->blocking = 1;
    struct lab_io io = { vc_read_some, vc_write_some, vc };
    int rc = 0;
    for (int i = 2; i < argc && rc == 0; i++)
        rc = run_session(&io, argv[i]);
    struct lab_hdr end = { .magic = LAB_MAGIC, .mode = 0 };
    if (rc == 0 && lab_write(&io, &end, sizeof(end)))
        rc = 1;
    /* Let the server drain the end header before the rings go away. */
    for (int i = 0; i < 100 && libxenvchan_is_open(vc) == 1; i++)
        usleep(10 * 1000);
    int port = (int)vc->event_port;
    libxenvchan_close(vc);
    report_events("client", port);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 2;
    if (argc >= 2 && strcmp(argv[1], "server") == 0)
        rc = server(argc - 2, argv + 2);
    else if (argc >= 2 && strcmp(argv[1], "client") == 0)
        rc = client(argc - 2, argv + 2);
    if (rc == 2)
        fprintf(stderr, "usage: lab-vchan server PEER_DOMID XS_PATH [RING_BYTES] | "
                        "client SERVER_DOMID XS_PATH rr|bulk:SIZE:COUNT|rrt:SIZE:SECONDS ...\n");
    return rc;
}
