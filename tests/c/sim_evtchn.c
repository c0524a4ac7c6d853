/* Description: sim platform event channels: alloc-unbound + bind between
 * two domains, notify both ways, wait timeout with nothing pending, the
 * pollable fd and ack, a second bind refused, and the peer's close waking
 * the other end. */
#include <poll.h>

#include "sim_test.h"

#define A 30
#define B 31
#define LONG_MS 20000       /* a bound on hangs, not a timing assertion */

static struct sim_pipe a2b, b2a;

static int dom_a(void *arg)
{
    struct ivcom_platform plat;
    struct ivcom_evtchn *ev;
    uint32_t port;
    char c;
    int r;

    (void)arg;
    sim_become(&plat, A);
    CHECK_RC(plat.ops->evtchn_open(&plat, &ev));
    CHECK(plat.ops->evtchn_fd(ev) == -EOPNOTSUPP, "no fd before a port");
    CHECK_RC(plat.ops->evtchn_alloc_unbound(ev, B, &port));
    r = plat.ops->evtchn_alloc_unbound(ev, B, &port);
    CHECK(r == -EBUSY, "second port on one handle: %d", r);
    /* Notifying an unbound port goes nowhere and is not an error. */
    CHECK_RC(plat.ops->evtchn_notify(ev, port));
    sim_put(&a2b, &port, sizeof(port));

    sim_get(&b2a, &c, 1);                       /* B bound */
    CHECK_RC(plat.ops->evtchn_notify(ev, port));
    CHECK_RC(plat.ops->evtchn_wait(ev, LONG_MS)); /* B's reply */
    r = plat.ops->evtchn_wait(ev, 0);
    CHECK(r == -ETIMEDOUT, "nothing pending: %d", r);

    CHECK_RC(plat.ops->evtchn_notify(ev, port)); /* for B's poll + ack */
    sim_get(&b2a, &c, 1);                       /* B is closing */
    CHECK_RC(plat.ops->evtchn_wait(ev, LONG_MS)); /* woken by the close */
    plat.ops->evtchn_close(ev);
    plat.ops->close(&plat);
    return T_PASS;
}

static int dom_b(void *arg)
{
    struct ivcom_platform plat;
    struct ivcom_evtchn *ev, *ev2;
    struct pollfd pfd;
    uint32_t rport, port, p2;
    int r;

    (void)arg;
    sim_become(&plat, B);
    CHECK_RC(plat.ops->evtchn_open(&plat, &ev));
    sim_get(&a2b, &rport, sizeof(rport));
    CHECK_RC(plat.ops->evtchn_bind(ev, A, rport, &port));
    CHECK_RC(plat.ops->evtchn_open(&plat, &ev2));
    r = plat.ops->evtchn_bind(ev2, A, rport, &p2);
    CHECK(r == -EINVAL, "binding a bound port: %d", r);
    plat.ops->evtchn_close(ev2);

    r = plat.ops->evtchn_wait(ev, 0);
    CHECK(r == -ETIMEDOUT, "nothing pending yet: %d", r);
    sim_put(&b2a, "b", 1);
    CHECK_RC(plat.ops->evtchn_wait(ev, LONG_MS));
    CHECK_RC(plat.ops->evtchn_notify(ev, port));

    pfd.fd = plat.ops->evtchn_fd(ev);
    pfd.events = POLLIN;
    CHECK(pfd.fd >= 0, "evtchn fd: %d", pfd.fd);
    CHECK(poll(&pfd, 1, LONG_MS) == 1, "fd polls readable");
    CHECK(plat.ops->evtchn_ack(ev) == 1, "ack consumes the event");
    CHECK(plat.ops->evtchn_ack(ev) == 0, "then nothing is pending");

    sim_put(&b2a, "c", 1);
    plat.ops->evtchn_close(ev);
    plat.ops->close(&plat);
    return T_PASS;
}

int main(void)
{
    int codes[2];
    pid_t a, b;

    sim_require();
    sim_pipe_init(&a2b);
    sim_pipe_init(&b2a);
    a = sim_spawn(dom_a, NULL);
    b = sim_spawn(dom_b, NULL);
    codes[0] = sim_reap(a);
    codes[1] = sim_reap(b);
    return sim_result(codes, 2);
}
