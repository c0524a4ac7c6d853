/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the sim platform's C tests (tests/c/sim_*.c): exit 0 pass,
 * 1 fail, 77 skip.  Each test forks its domains; a child opens the
 * platform itself (one process = one domain) and reports through its
 * exit status.  Pipes carry refs and ports between them, as XenStore
 * would in the real handshake.
 */
#ifndef IVCOM_SIM_TEST_H
#define IVCOM_SIM_TEST_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform.h"
#include "sim.h"

#define T_PASS 0
#define T_FAIL 1
#define T_SKIP 77

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: [pid %d] check failed: %s: ",         \
                    __FILE__, __LINE__, (int)getpid(), #cond);            \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
            _exit(T_FAIL);                                                \
        }                                                                 \
    } while (0)

#define CHECK_RC(expr)                                                    \
    do {                                                                  \
        int rc_ = (expr);                                                 \
        CHECK(rc_ == 0, "%s", strerror(rc_ < 0 ? -rc_ : rc_));            \
    } while (0)

static inline void sim_require(void)
{
    const char *d = getenv("IVCOM_SIM_DIR");

    if (!d || !*d) {
        printf("SKIP: IVCOM_SIM_DIR is not set (run via make sim-test)\n");
        exit(T_SKIP);
    }
}

/* Become domain `domid` and open the sim platform. */
static inline void sim_become(struct ivcom_platform *plat, int domid)
{
    char buf[16];

    snprintf(buf, sizeof(buf), "%d", domid);
    setenv("IVCOM_SIM_DOMID", buf, 1);
    memset(plat, 0, sizeof(*plat));
    plat->ops = &ivcom_plat_sim_ops;
    CHECK_RC(plat->ops->open(plat));
    CHECK(plat->domid == domid, "domid %d", plat->domid);
}

typedef int (*sim_child_fn)(void *arg);

static inline pid_t sim_spawn(sim_child_fn fn, void *arg)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0)
        _exit(fn(arg));
    return pid;
}

/* Exit status of a child: its code, or T_FAIL if it was killed. */
static inline int sim_reap(pid_t pid)
{
    int st;

    if (waitpid(pid, &st, 0) != pid)
        return T_FAIL;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    fprintf(stderr, "child %d killed by signal %d\n", (int)pid,
            WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return T_FAIL;
}

struct sim_pipe {
    int rd, wr;
};

static inline void sim_pipe_init(struct sim_pipe *p)
{
    int fds[2];

    CHECK(pipe(fds) == 0, "pipe: %s", strerror(errno));
    p->rd = fds[0];
    p->wr = fds[1];
}

static inline void sim_put(struct sim_pipe *p, const void *buf, size_t len)
{
    CHECK(write(p->wr, buf, len) == (ssize_t)len, "pipe write");
}

/* Read exactly len bytes; a closed pipe (peer died) fails the test. */
static inline void sim_get(struct sim_pipe *p, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(p->rd, (char *)buf + got, len - got);
        CHECK(n > 0, "pipe read: peer gone");
        got += (size_t)n;
    }
}

/* Combine children's results: first failure wins, else skip, else pass. */
static inline int sim_result(const int *codes, unsigned n)
{
    unsigned i;
    int res = T_PASS;

    for (i = 0; i < n; i++) {
        if (codes[i] != T_PASS && codes[i] != T_SKIP)
            return T_FAIL;
        if (codes[i] == T_SKIP)
            res = T_SKIP;
    }
    return res;
}

#endif /* IVCOM_SIM_TEST_H */
