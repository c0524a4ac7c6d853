/* SPDX-License-Identifier: MIT */
/* Description: a hostile vchan peer at either end is reported, bounded,
 * never followed: a server's impossible orders or grant count refuse the
 * client's open (-EPROTO); a client's producer index past the ring, its
 * consumer index past ours, or a garbage live byte break the server's
 * blocked read or its write within one wait slice, with no event sent;
 * a server's garbage live byte, its index going back, or notify bits no
 * peer writes break the client; a forged grant in the list is refused.
 * A broken channel stays broken. */
#include "vchan_helpers.h"
#include "vchan_int.h"

#include <time.h>

#define BOUND_MS 1500

static int *step;

static struct ivcom_vchan_page *page_of(struct ivcom_vchan *v)
{
    return (struct ivcom_vchan_page *)(uintptr_t)ivcom_vchan_page(v);
}

static long long ms_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000ll + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* A call on v that must fail with -EPROTO within BOUND_MS. */
#define T_PROTO_SOON(call) do {                                             \
        struct timespec _t0;                                                \
        long long _r;                                                       \
        clock_gettime(CLOCK_MONOTONIC, &_t0);                               \
        _r = (long long)(call);                                             \
        if (_r != -EPROTO)                                                  \
            T_FAIL("%s = %lld (%s), expected -EPROTO", #call, _r,           \
                   _r < 0 ? ivcom_strerror((int)_r) : "bytes");             \
        if (ms_since(&_t0) > BOUND_MS)                                      \
            T_FAIL("%s took %lld ms", #call, ms_since(&_t0));               \
    } while (0)

struct bad_orders { unsigned left, right; };

static const struct bad_orders bad[] = {
    { 9, 11 },      /* below the smallest ring */
    { 11, 21 },     /* above the largest */
    { 11, 11 },     /* two in-page rings at one offset */
    { 10, 10 },
    { 10, 20 },     /* 512 grants run into the ring at offset 1024 */
    { 20, 20 },     /* fine: 512 grants end at 2072 < 4096 ... */
};
#define NBAD (sizeof(bad) / sizeof(bad[0]) - 1)     /* ... the last is not bad */

static void path_of(char *buf, size_t len, const char *name, int absolute)
{
    t_vchan_path(buf, len, t_dom(0), t_dom(1), name, absolute);
}

static struct ivcom_vchan *client_open(struct ivcom_platform *plat, const char *name)
{
    struct ivcom_vchan *v;
    char path[128];

    path_of(path, sizeof(path), name, 1);
    T_OK(ivcom_vchan_client_open(plat, t_dom(0), path, &v, T_VCHAN_TIMEOUT));
    return v;
}

static int client(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_vchan *v;
    char path[128], buf[128];
    unsigned i;
    int s = 0;

    (void)arg;
    /* 1. the server's impossible orders */
    for (i = 0; i < NBAD; i++) {
        t_step_wait(step, ++s);
        path_of(path, sizeof(path), "orders", 1);
        T_EQ(ivcom_vchan_client_open(plat, t_dom(0), path, &v, T_VCHAN_TIMEOUT), -EPROTO);
        t_step_set(step, ++s);
    }
    /* 2. our producer index past the ring, no event */
    t_step_wait(step, ++s);
    v = client_open(plat, "cprod");
    t_step_set(step, ++s);
    usleep(100000);         /* the server is blocked in read by now */
    __atomic_store_n(&page_of(v)->left.prod, 5000u, __ATOMIC_RELEASE);
    t_step_wait(step, ++s);
    ivcom_vchan_close(v);
    /* 3. our consumer index past the server's producer index */
    t_step_wait(step, ++s);
    v = client_open(plat, "ccons");
    __atomic_store_n(&page_of(v)->right.cons, 12345u, __ATOMIC_RELEASE);
    t_step_set(step, ++s);
    t_step_wait(step, ++s);
    ivcom_vchan_close(v);
    /* 4. a live byte no client writes */
    t_step_wait(step, ++s);
    v = client_open(plat, "clive");
    t_step_set(step, ++s);
    usleep(100000);
    __atomic_store_n(&page_of(v)->cli_live, 7, __ATOMIC_RELEASE);
    t_step_wait(step, ++s);
    ivcom_vchan_close(v);
    /* 5. the server's live byte: garbage */
    t_step_wait(step, ++s);
    v = client_open(plat, "slive");
    t_step_set(step, ++s);
    t_step_wait(step, ++s);
    T_PROTO_SOON(ivcom_vchan_read(v, buf, sizeof(buf), T_VCHAN_TIMEOUT));
    T_EQ(ivcom_vchan_write(v, "x", 1, 0), -EPROTO);
    T_EQ(ivcom_vchan_state(v), -EPROTO);
    t_step_set(step, ++s);
    ivcom_vchan_close(v);
    /* 6. the server's producer index goes back */
    t_step_wait(step, ++s);
    v = client_open(plat, "sback");
    T_EQ(ivcom_vchan_recv(v, buf, 50, T_VCHAN_TIMEOUT), 50);
    t_step_set(step, ++s);
    t_step_wait(step, ++s);
    T_PROTO_SOON(ivcom_vchan_read(v, buf, sizeof(buf), T_VCHAN_TIMEOUT));
    t_step_set(step, ++s);
    ivcom_vchan_close(v);
    /* 7. notify bits no peer writes */
    t_step_wait(step, ++s);
    v = client_open(plat, "snotify");
    t_step_set(step, ++s);
    t_step_wait(step, ++s);
    T_PROTO_SOON(ivcom_vchan_write(v, "x", 1, T_VCHAN_TIMEOUT));
    T_EQ(ivcom_vchan_data_ready(v), -EPROTO);
    ivcom_vchan_close(v);
    t_step_set(step, ++s);
    /* 8. a grant in the list that was never granted to us: refused by
     * the platform, nothing mapped */
    t_step_wait(step, ++s);
    path_of(path, sizeof(path), "grants", 1);
    {
        int r = ivcom_vchan_client_open(plat, t_dom(0), path, &v, T_VCHAN_TIMEOUT);

        if (r != -EPERM && r != -EACCES)
            T_FAIL("open with a forged grant: %s", ivcom_strerror(r));
    }
    t_step_set(step, ++s);
    return 0;
}

static struct ivcom_vchan *server_open(struct ivcom_platform *plat, const char *name,
                                       size_t rmin, size_t wmin)
{
    struct ivcom_vchan *v;
    char path[128];

    path_of(path, sizeof(path), name, 0);
    T_OK(ivcom_vchan_server_open(plat, t_dom(1), path, rmin, wmin, &v));
    return v;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_vchan *v;
    char buf[128];
    unsigned i;
    pid_t pid;
    int s = 0;

    t_sim_required();
    step = t_shared(sizeof(*step));
    plat = t_platform(t_dom(0));
    pid = t_spawn(t_dom(1), client, NULL);

    /* the last "bad" pair is a legal one: the check is not too strict */
    T_EQ(ivcom_vchan_orders_ok(bad[NBAD].left, bad[NBAD].right), 0);
    T_EQ(ivcom_vchan_orders_ok(10, 19), 0);         /* 128 grants end at 536 */
    T_EQ(ivcom_vchan_orders_ok(11, 20), 0);         /* 256 end at 1048 < 2048 */
    for (i = 0; i < NBAD; i++) {
        v = server_open(plat, "orders", 0, 0);
        page_of(v)->left_order = (uint16_t)bad[i].left;
        page_of(v)->right_order = (uint16_t)bad[i].right;
        t_step_set(step, ++s);
        t_step_wait(step, ++s);
        ivcom_vchan_close(v);
    }
    /* 2 */
    v = server_open(plat, "cprod", 0, 0);
    t_step_set(step, ++s);
    t_step_wait(step, ++s);
    T_PROTO_SOON(ivcom_vchan_read(v, buf, sizeof(buf), T_VCHAN_TIMEOUT));
    T_EQ(ivcom_vchan_write(v, "x", 1, 0), -EPROTO);
    T_EQ(ivcom_vchan_is_broken(v), -EPROTO);
    t_step_set(step, ++s);
    ivcom_vchan_close(v);
    /* 3 */
    v = server_open(plat, "ccons", 4096, 65536);
    t_step_set(step, ++s);
    t_step_wait(step, ++s);
    T_PROTO_SOON(ivcom_vchan_write(v, "abc", 3, T_VCHAN_TIMEOUT));
    t_step_set(step, ++s);
    ivcom_vchan_close(v);
    /* 4 */
    v = server_open(plat, "clive", 0, 0);
    t_step_set(step, ++s);
    t_step_wait(step, ++s);
    T_PROTO_SOON(ivcom_vchan_read(v, buf, sizeof(buf), T_VCHAN_TIMEOUT));
    t_step_set(step, ++s);
    ivcom_vchan_close(v);
    /* 5 */
    v = server_open(plat, "slive", 0, 0);
    t_step_set(step, ++s);
    t_step_wait(step, ++s);
    __atomic_store_n(&page_of(v)->srv_live, 9, __ATOMIC_RELEASE);
    t_step_set(step, ++s);
    t_step_wait(step, ++s);
    ivcom_vchan_close(v);
    /* 6 */
    v = server_open(plat, "sback", 0, 0);
    memset(buf, 'a', 100);
    T_EQ(ivcom_vchan_send(v, buf, 100, T_VCHAN_TIMEOUT), 100);
    t_step_set(step, ++s);
    t_step_wait(step, ++s);
    __atomic_store_n(&page_of(v)->right.prod, 70u, __ATOMIC_RELEASE);
    t_step_set(step, ++s);
    t_step_wait(step, ++s);
    ivcom_vchan_close(v);
    /* 7 */
    v = server_open(plat, "snotify", 0, 0);
    t_step_set(step, ++s);
    t_step_wait(step, ++s);
    __atomic_store_n(&page_of(v)->cli_notify, 0x81, __ATOMIC_RELEASE);
    t_step_set(step, ++s);
    t_step_wait(step, ++s);
    ivcom_vchan_close(v);
    /* 8 */
    v = server_open(plat, "grants", 65536, 0);
    page_of(v)->grants[3] = 0xdeadbeefu;
    t_step_set(step, ++s);
    t_step_wait(step, ++s);
    ivcom_vchan_close(v);

    T_EQ(t_wait(pid), 0);
    ivcom_platform_close(plat);
    return 0;
}
