/* SPDX-License-Identifier: MIT */
/*
 * A tiny program written against Debian's <libxenvchan.h> only, linked
 * with -lxenvchan as any vchan program is: tests/py/test_vchan.py runs it
 * on our drop-in (LD_LIBRARY_PATH) and on the stock library.
 *
 *   vchan_echo server DOMID PATH BYTES [READ_MIN WRITE_MIN] [nonblock]
 *   vchan_echo client DOMID PATH BYTES [nonblock]
 *
 * The client sends BYTES patterned bytes, the server checks them and
 * sends BYTES back (another pattern), the client checks those and then
 * sees the server's close.  Blocking mode uses read/write; nonblock mode
 * uses select() on libxenvchan_fd_for_select, libxenvchan_wait, the
 * data_ready/buffer_space counts and send/recv in small packets.  Exit 0
 * when every byte arrived as sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <libxenvchan.h>

static unsigned char pat(size_t i, int dir)
{
    return (unsigned char)((i * 2654435761u) >> 13) ^ (unsigned char)(dir * 0x5a);
}

static void die(const char *what)
{
    fprintf(stderr, "vchan_echo: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void wait_event(struct libxenvchan *c)
{
    int fd = libxenvchan_fd_for_select(c);
    struct timeval tv = { 5, 0 };
    fd_set rfds;

    FD_ZERO(&rfds);
    FD_SET(fd, &rfds);
    if (select(fd + 1, &rfds, NULL, NULL, &tv) <= 0)
        die("select (no event in 5 s)");
    if (libxenvchan_wait(c) < 0)
        die("libxenvchan_wait");
}

static void send_all(struct libxenvchan *c, size_t total, int dir, int nonblock)
{
    unsigned char buf[3001];
    size_t pos = 0, n, i;
    int r;

    while (pos < total) {
        n = total - pos < sizeof(buf) ? total - pos : sizeof(buf);
        if (nonblock && n > 500)
            n = 500;
        for (i = 0; i < n; i++)
            buf[i] = pat(pos + i, dir);
        if (!nonblock) {
            r = libxenvchan_write(c, buf, n);
        } else {
            /* nonblocking: whole packets only, waiting on the fd */
            while (libxenvchan_buffer_space(c) < (int)n)
                wait_event(c);
            r = libxenvchan_send(c, buf, n);
        }
        if (r < 0)
            die("write/send");
        pos += (size_t)r;
    }
}

static void recv_all(struct libxenvchan *c, size_t total, int dir, int nonblock)
{
    unsigned char buf[4096];
    size_t pos = 0, i;
    int r;

    while (pos < total) {
        size_t want = total - pos < sizeof(buf) ? total - pos : sizeof(buf);

        if (!nonblock) {
            r = libxenvchan_read(c, buf, want);
        } else {
            if (want > 500)
                want = 500;
            while (libxenvchan_data_ready(c) < (int)want)
                wait_event(c);
            r = libxenvchan_recv(c, buf, want);
        }
        if (r <= 0)
            die("read/recv");
        for (i = 0; i < (size_t)r; i++)
            if (buf[i] != pat(pos + i, dir)) {
                fprintf(stderr, "vchan_echo: byte %zu differs\n", pos + i);
                exit(1);
            }
        pos += (size_t)r;
    }
}

int main(int argc, char **argv)
{
    struct libxenvchan *c = NULL;
    int server, domid, nonblock = 0, tries;
    size_t bytes;

    if (argc < 5)
        return 2;
    server = strcmp(argv[1], "server") == 0;
    domid = atoi(argv[2]);
    bytes = strtoul(argv[4], NULL, 0);
    nonblock = strcmp(argv[argc - 1], "nonblock") == 0;
    if (server) {
        size_t rmin = argc > 6 ? strtoul(argv[5], NULL, 0) : 0;
        size_t wmin = argc > 6 ? strtoul(argv[6], NULL, 0) : 0;

        c = libxenvchan_server_init(NULL, domid, argv[3], rmin, wmin);
        if (!c)
            die("libxenvchan_server_init");
        c->blocking = !nonblock;
        printf("ready\n");
        fflush(stdout);
        while (libxenvchan_is_open(c) != 1)
            if (libxenvchan_wait(c) < 0)
                die("wait for the client");
        recv_all(c, bytes, 0, nonblock);
        send_all(c, bytes, 1, nonblock);
        /* the client says it has everything by closing */
        while (libxenvchan_is_open(c) == 1)
            wait_event(c);
    } else {
        for (tries = 0; tries < 500 && !c; tries++) {
            c = libxenvchan_client_init(NULL, domid, argv[3]);
            if (!c)
                usleep(20000);
        }
        if (!c)
            die("libxenvchan_client_init");
        c->blocking = !nonblock;
        send_all(c, bytes, 0, nonblock);
        recv_all(c, bytes, 1, nonblock);
    }
    libxenvchan_close(c);
    printf("ok %zu\n", bytes);
    return 0;
}
