/* SPDX-License-Identifier: MIT */
/* sim platform: message + fd passing, paths, the xenstored socket. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sim.h"

int sim_send_msg(int sock, const void *buf, size_t len,
                 const int *fds, unsigned nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * SIM_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = { (void *)buf, len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t n;

    if (nfds > SIM_MAX_FDS)
        return -E2BIG;
    if (nfds) {
        struct cmsghdr *c;

        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EPROTO;
}

int sim_recv_msg(int sock, void *buf, size_t len, int *fds, unsigned *nfds,
                 unsigned max_fds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * SIM_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = { buf, len };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
    };
    struct cmsghdr *c;
    ssize_t n;

    *nfds = 0;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        unsigned i, k;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (i = 0; i < k; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*nfds < max_fds)
                fds[(*nfds)++] = fd;
            else
                close(fd);
        }
    }
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        while (*nfds)
            close(fds[--*nfds]);
        return -EPROTO;
    }
    return (int)n;
}

int sim_path(char *buf, size_t len, const char *dir, const char *fmt, ...)
{
    va_list ap;
    int a, b;

    a = snprintf(buf, len, "%s/", dir);
    if (a < 0 || (size_t)a >= len)
        return -ENAMETOOLONG;
    va_start(ap, fmt);
    b = vsnprintf(buf + a, len - (size_t)a, fmt, ap);
    va_end(ap);
    if (b < 0 || (size_t)b >= len - (size_t)a)
        return -ENAMETOOLONG;
    return 0;
}

/* ---- xenstored Unix socket as an xs_ring transport ---------------------- */

static int sock_send(void *ctx, const void *buf, uint32_t len)
{
    struct sim_xs_sock *s = ctx;
    ssize_t n;

    /* Blocking: a message is always sent whole, so no wait for POLLOUT. */
    do
        n = send(s->fd, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : (int)n;
}

static int sock_recv(void *ctx, void *buf, uint32_t len)
{
    struct sim_xs_sock *s = ctx;
    ssize_t n = recv(s->fd, buf, len, MSG_DONTWAIT);

    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    return n == 0 ? -EPIPE : (int)n;
}

static int sock_wait(void *ctx, int timeout_ms)
{
    struct sim_xs_sock *s = ctx;
    struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
    int r = poll(&pfd, 1, timeout_ms);

    if (r < 0)
        return -errno;
    return r == 0 ? -ETIMEDOUT : 0;
}

int sim_xs_sock_connect(struct sim_xs_sock *s, const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    s->fd = -1;
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        return -errno;
    if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = -errno;
        close(s->fd);
        s->fd = -1;
        return err;
    }
    return 0;
}

void sim_xs_sock_transport(struct sim_xs_sock *s, struct ivcom_xs_transport *t)
{
    t->send = sock_send;
    t->recv = sock_recv;
    t->wait = sock_wait;
    t->ctx = s;
}

void sim_xs_sock_close(struct sim_xs_sock *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}
