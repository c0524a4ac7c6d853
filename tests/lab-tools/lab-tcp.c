/* SPDX-License-Identifier: MIT */
/*
 * Description: TCP round-trip and bulk transfer between two lab domains
 * (the netfront/netback baseline).  The server echoes round trips and
 * verifies every bulk byte against lab_pattern(); the client prints one
 * "ivcom-result:" JSON line per session.
 *
 *   lab-tcp server PORT [SESSIONS]
 *   lab-tcp client HOST PORT rr|bulk SIZE COUNT
 *   lab-tcp client HOST PORT rrt SIZE SECONDS
 *
 * Exit 0 on success, 1 on any error or verification failure, 2 on usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "labstat.h"

#define CHUNK (64 * 1024)

static int read_full(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int io_read(void *ctx, void *buf, size_t len)
{
    return read_full(*(int *)ctx, buf, len);
}

static int io_write(void *ctx, void *buf, size_t len)
{
    return write_full(*(int *)ctx, buf, len);
}

static int serve_one(int fd)
{
    struct lab_hdr h;
    static uint8_t buf[CHUNK];
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (read_full(fd, &h, sizeof(h)) || h.magic != LAB_MAGIC || h.size == 0) {
        fprintf(stderr, "lab-tcp: bad session header\n");
        return -1;
    }
    if (h.mode == LAB_MODE_RR || h.mode == LAB_MODE_RRT)
        return lab_rr_serve(&h, io_read, io_write, &fd, buf, CHUNK);
    if (h.mode != LAB_MODE_BULK)
        return -1;
    uint64_t total = (uint64_t)h.size * h.count, got = 0, good = 0;
    int ok = 1;
    while (got < total) {
        size_t want = total - got < CHUNK ? (size_t)(total - got) : CHUNK;
        ssize_t n = read(fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != lab_pattern(got + (uint64_t)i))
                ok = 0;
        got += (uint64_t)n;
    }
    good = ok ? got : 0;
    return write_full(fd, &good, sizeof(good));
}

static int server(int argc, char **argv)
{
    uint32_t port, sessions = 0;
    if (argc < 1 || lab_parse_u32(argv[0], &port) || port > 65535 ||
        (argc > 1 && lab_parse_u32(argv[1], &sessions)))
        return 2;
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 4)) {
        perror("lab-tcp: listen");
        return 1;
    }
    printf("lab-tcp: listening on %u\n", port);
    fflush(stdout);
    int rc = 0;
    for (uint32_t n = 0; sessions == 0 || n < sessions; n++) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            perror("lab-tcp: accept");
            return 1;
        }
        if (serve_one(fd)) {
            fprintf(stderr, "lab-tcp: session %u failed\n", n);
            rc = 1;
        }
        close(fd);
    }
    close(ls);
    return rc;
}

static int connect_retry(const char *host, uint32_t port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "lab-tcp: bad address %s\n", host);
        return -1;
    }
    /* The server guest may still be booting: retry for two minutes of wall
     * time (a connect to an absent host can itself take seconds). */
    double deadline = lab_now_us() + 120e6;
    while (lab_now_us() < deadline) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return fd;
        close(fd);
        usleep(500 * 1000);
    }
    fprintf(stderr, "lab-tcp: cannot connect to %s:%u\n", host, port);
    return -1;
}

static int client(int argc, char **argv)
{
    struct lab_hdr h = { .magic = LAB_MAGIC };
    uint32_t port;
    if (argc != 5 || lab_parse_u32(argv[1], &port) || port > 65535 ||
        lab_parse_mode(argv[2], &h.mode) || lab_parse_u32(argv[3], &h.size) ||
        lab_parse_u32(argv[4], &h.count) || (h.mode != LAB_MODE_BULK && h.size > CHUNK))
        return 2;
    int fd = connect_retry(argv[0], port), one = 1;
    if (fd < 0)
        return 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (write_full(fd, &h, sizeof(h)))
        return 1;
    static uint8_t out[CHUNK], in[CHUNK];
    if (h.mode != LAB_MODE_BULK) {
        int rc = lab_rr_client("tcp", &h, io_write, io_read, &fd, out, in);
        close(fd);
        return rc;
    }
    uint64_t total = (uint64_t)h.size * h.count, sent = 0, verdict = 0;
    double t0 = lab_now_us();
    lab_span(0);
    while (sent < total) {
        size_t n = total - sent < CHUNK ? (size_t)(total - sent) : CHUNK;
        for (size_t i = 0; i < n; i++)
            out[i] = lab_pattern(sent + i);
        if (write_full(fd, out, n))
            return 1;
        sent += n;
    }
    if (read_full(fd, &verdict, sizeof(verdict)))
        return 1;
    double us = lab_now_us() - t0;
    lab_span(1);
    lab_report_bulk("tcp", total, us, verdict == total);
    close(fd);
    return verdict == total ? 0 : 1;
}

int main(int argc, char **argv)
{
    int rc = 2;
    if (argc >= 2 && strcmp(argv[1], "server") == 0)
        rc = server(argc - 2, argv + 2);
    else if (argc >= 2 && strcmp(argv[1], "client") == 0)
        rc = client(argc - 2, argv + 2);
    if (rc == 2)
        fprintf(stderr, "usage: lab-tcp server PORT [SESSIONS] | "
                        "client HOST PORT rr|bulk SIZE COUNT | client HOST PORT rrt SIZE SECONDS\n");
    return rc;
}
