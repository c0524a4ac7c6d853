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

static long tcp_read_some(void *ctx, void *buf, size_t len)
{
    ssize_t n = read(*(int *)ctx, buf, len);
    if (n < 0 && errno == EINTR)
        return 0;
    return n > 0 ? (long)n : -1;   /* end of stream: the peer is gone */
}

static long tcp_write_some(void *ctx, const void *buf, size_t len)
{
    ssize_t n = write(*(int *)ctx, buf, len);
    if (n < 0 && errno == EINTR)
        return 0;
    return n > 0 ? (long)n : -1;
}

static int serve_one(int fd)
{
    struct lab_io io = { tcp_read_some, tcp_write_some, &fd };
    struct lab_hdr h;
    static uint8_t buf[CHUNK];
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (lab_read(&io, &h, sizeof(h)) || h.magic != LAB_MAGIC || h.size == 0) {
        fprintf(stderr, "lab-tcp: bad session header\n");
        return -1;
    }
    return lab_serve(&h, &io, buf, CHUNK);
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
    struct lab_io io = { tcp_read_some, tcp_write_some, &fd };
    if (lab_write(&io, &h, sizeof(h)))
        return 1;
    static uint8_t out[CHUNK], in[CHUNK];
    int rc = h.mode == LAB_MODE_BULK ? lab_bulk_client("tcp", &h, &io, out, CHUNK)
                                     : lab_rr_client("tcp", &h, &io, out, in);
    close(fd);
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
        fprintf(stderr, "usage: lab-tcp server PORT [SESSIONS] | "
                        "client HOST PORT rr|bulk SIZE COUNT | client HOST PORT rrt SIZE SECONDS\n");
    return rc;
}
