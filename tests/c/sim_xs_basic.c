/* Description: sim platform XenStore through a domain's ring to the real
 * xenstored: write/read/rm, -ENOENT, set perms (read back), a
 * transaction commit, a conflicting transaction ending in -EAGAIN, and
 * watches (initial event, timeout, event on a dom0 write). */
#include <time.h>

#include "sim_test.h"

#define DOM 50
#define BASE "/local/domain/50/data"

static struct sim_pipe to_dom0, to_dom;

static int dom(void *arg)
{
    struct ivcom_platform plat;
    struct ivcom_xs_perm perms[4];
    const struct ivcom_xs_perm want[2] = {
        { DOM, IVCOM_XS_PERM_NONE }, { 0, IVCOM_XS_PERM_READ },
    };
    char buf[128], c;
    uint32_t tx;
    time_t t0;
    int r;

    (void)arg;
    sim_become(&plat, DOM);
    CHECK_RC(plat.ops->xs_write(&plat, 0, BASE "/x", "hello"));
    CHECK_RC(plat.ops->xs_read(&plat, 0, BASE "/x", buf, sizeof(buf)));
    CHECK(strcmp(buf, "hello") == 0, "read back '%s'", buf);
    r = plat.ops->xs_read(&plat, 0, BASE "/x", buf, 3);
    CHECK(r == -E2BIG, "value larger than buf: %d", r);
    r = plat.ops->xs_read(&plat, 0, BASE "/nope", buf, sizeof(buf));
    CHECK(r == -ENOENT, "missing node: %d", r);

    CHECK_RC(plat.ops->xs_set_perms(&plat, 0, BASE "/x", want, 2));
    r = ivcom_sim_xs_get_perms(&plat, BASE "/x", perms, 4);
    CHECK(r == 2, "two perms: %d", r);
    CHECK(perms[0].domid == DOM && perms[0].perms == IVCOM_XS_PERM_NONE &&
          perms[1].domid == 0 && perms[1].perms == IVCOM_XS_PERM_READ,
          "perms %u/%u %u/%u", perms[0].domid, perms[0].perms,
          perms[1].domid, perms[1].perms);
    CHECK_RC(plat.ops->xs_rm(&plat, 0, BASE "/x"));
    r = plat.ops->xs_read(&plat, 0, BASE "/x", buf, sizeof(buf));
    CHECK(r == -ENOENT, "removed: %d", r);

    /* Transaction: invisible outside until committed. */
    CHECK_RC(plat.ops->xs_tx_start(&plat, &tx));
    CHECK_RC(plat.ops->xs_write(&plat, tx, BASE "/t", "in-tx"));
    r = plat.ops->xs_read(&plat, 0, BASE "/t", buf, sizeof(buf));
    CHECK(r == -ENOENT, "uncommitted write visible: %d", r);
    CHECK_RC(plat.ops->xs_tx_end(&plat, tx, 0));
    CHECK_RC(plat.ops->xs_read(&plat, 0, BASE "/t", buf, sizeof(buf)));
    CHECK(strcmp(buf, "in-tx") == 0, "committed '%s'", buf);

    /* Conflict: dom0 changes what the transaction read. */
    CHECK_RC(plat.ops->xs_tx_start(&plat, &tx));
    CHECK_RC(plat.ops->xs_read(&plat, tx, BASE "/t", buf, sizeof(buf)));
    sim_put(&to_dom0, "1", 1);
    sim_get(&to_dom, &c, 1);
    CHECK_RC(plat.ops->xs_write(&plat, tx, BASE "/t", "mine"));
    r = plat.ops->xs_tx_end(&plat, tx, 0);
    CHECK(r == -EAGAIN, "conflicting commit: %d", r);
    CHECK_RC(plat.ops->xs_read(&plat, 0, BASE "/t", buf, sizeof(buf)));
    CHECK(strcmp(buf, "dom0") == 0, "dom0's value stays: '%s'", buf);

    /* Watches. */
    CHECK_RC(plat.ops->xs_watch(&plat, BASE "/w", "tok"));
    CHECK_RC(plat.ops->xs_wait_watch(&plat, 20000));  /* initial event */
    r = plat.ops->xs_wait_watch(&plat, 0);
    CHECK(r == -ETIMEDOUT, "no change, no event: %d", r);
    sim_put(&to_dom0, "2", 1);
    /* Wake-ups may be spurious (the contract says so), and any number of
     * them may come before dom0 gets to its write: wait until an event
     * comes with the node in place, for 20 s at most. */
    for (r = -ENOENT, t0 = time(NULL); r == -ENOENT && time(NULL) - t0 < 20;) {
        CHECK_RC(plat.ops->xs_wait_watch(&plat, 20000));
        r = plat.ops->xs_read(&plat, 0, BASE "/w", buf, sizeof(buf));
    }
    CHECK_RC(r);
    CHECK(strcmp(buf, "fired") == 0, "watched node '%s'", buf);
    CHECK_RC(plat.ops->xs_unwatch(&plat, BASE "/w", "tok"));
    plat.ops->close(&plat);
    return T_PASS;
}

int main(void)
{
    struct ivcom_platform plat;
    char c;
    pid_t d;
    int code;

    sim_require();
    sim_pipe_init(&to_dom0);
    sim_pipe_init(&to_dom);
    d = sim_spawn(dom, NULL);
    sim_become(&plat, 0);           /* dom0: the xenstored socket */
    sim_get(&to_dom0, &c, 1);
    CHECK_RC(plat.ops->xs_write(&plat, 0, BASE "/t", "dom0"));
    sim_put(&to_dom, "k", 1);
    sim_get(&to_dom0, &c, 1);
    CHECK_RC(plat.ops->xs_write(&plat, 0, BASE "/w", "fired"));
    code = sim_reap(d);
    plat.ops->close(&plat);
    return code;
}
