/* SPDX-License-Identifier: MIT */
/* Channel tests: each process is a sim domain (IVCOM_SIM_DOMID).  The
 * test forks its domains; domids are derived from the pid so that tests
 * never reuse a domain that the sim is still tearing down. */
#ifndef IVCOM_CHAN_HELPERS_H
#define IVCOM_CHAN_HELPERS_H

#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "ivcom/ivcom.h"

static int t_domid_base;

static inline void t_sim_required(void)
{
    if (!getenv("IVCOM_SIM_DIR"))
        T_SKIP("needs a running sim (IVCOM_SIM_DIR unset); run through pytest");
    t_domid_base = 100 + (int)(getpid() % 500) * 64;
}

static inline int t_dom(int i)
{
    return t_domid_base + i;
}

/* Become domain `domid` and open the sim platform. */
static inline struct ivcom_platform *t_platform(int domid)
{
    struct ivcom_platform *plat;
    char buf[16];
    int err;

    snprintf(buf, sizeof(buf), "%d", domid);
    setenv("IVCOM_SIM_DOMID", buf, 1);
    err = ivcom_platform_open("sim", &plat);
    if (err)
        T_FAIL("open sim platform as domain %d: %s", domid, ivcom_strerror(err));
    T_EQ(ivcom_platform_domid(plat), domid);
    return plat;
}

/* Run fn(arg) as domain `domid` in a child process.  Returns once the
 * domain exists (XenStore only honours permissions naming live domains,
 * so a server must not offer a channel to a domain not yet created). */
static inline pid_t t_spawn(int domid, int (*fn)(struct ivcom_platform *, void *), void *arg)
{
    int up[2];
    char c;
    pid_t pid;

    if (pipe(up) < 0)
        T_FAIL("pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0)
        T_FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
        struct ivcom_platform *plat = t_platform(domid);
        int rc;

        close(up[0]);
        if (write(up[1], "u", 1) != 1)
            _exit(T_EXIT_FAIL);
        close(up[1]);
        rc = fn(plat, arg);
        ivcom_platform_close(plat);
        fflush(NULL);
        _exit(rc);
    }
    close(up[1]);
    if (read(up[0], &c, 1) != 1)
        T_FAIL("domain %d did not come up", domid);
    close(up[0]);
    return pid;
}

/* Exit status of a child: its exit code, or 128+signal. */
static inline int t_wait(pid_t pid)
{
    int st;

    if (waitpid(pid, &st, 0) < 0)
        T_FAIL("waitpid: %s", strerror(errno));
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Memory shared by the test's processes (outside the channel). */
static inline void *t_shared(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        T_FAIL("mmap: %s", strerror(errno));
    return p;
}

/* Lock-step between the test's processes: a counter in t_shared() memory.
 * Waiting gives up loudly if the other process died or 60 s passed, so a
 * failure on one side never leaves the other hanging. */
static inline void t_step_set(int *step, int v)
{
    __atomic_store_n(step, v, __ATOMIC_RELEASE);
}

static inline void t_step_wait(int *step, int v)
{
    int i;

    for (i = 0; i < 120000; i++) {
        if (__atomic_load_n(step, __ATOMIC_ACQUIRE) >= v)
            return;
        if (getppid() == 1)
            T_FAIL("the test's parent process died while waiting for step %d", v);
        if (i % 100 == 99) {
            siginfo_t si = { 0 };
            /* WNOWAIT: look, but leave the child for t_wait(). */
            if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid)
                T_FAIL("process %d ended while we waited for step %d", si.si_pid, v);
        }
        usleep(500);
    }
    T_FAIL("gave up waiting for step %d", v);
}

/* Fail at once if a child process already ended with a failure. */
static inline void t_children_ok(void)
{
    siginfo_t si = { 0 };

    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid &&
        (si.si_code != CLD_EXITED || si.si_status != 0))
        T_FAIL("process %d failed (status %d)", si.si_pid, si.si_status);
}

#define T_OK(expr) do {                                                     \
        long long _r = (long long)(expr);                                   \
        if (_r < 0)                                                         \
            T_FAIL("%s: %s", #expr, ivcom_strerror((int)_r));               \
    } while (0)

#endif
