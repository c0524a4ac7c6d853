/* Description: sim platform: the real xenstored enforces node permissions
 * on domains' rings: a node {owner server, others none} + {peer: read}
 * is readable by the peer, not writable by it, and refused (-EACCES) to a
 * third domain; a {peer: read+write} subdir takes the peer's writes. */
#include "sim_test.h"

#define SERVER 60
#define PEER   61
#define THIRD  62
#define NODE   "/local/domain/60/data/ivcom/t"

static struct sim_pipe up, go_peer, go_third;

static int server(void *arg)
{
    struct ivcom_platform plat;
    const struct ivcom_xs_perm ro[2] = {
        { SERVER, IVCOM_XS_PERM_NONE }, { PEER, IVCOM_XS_PERM_READ },
    };
    const struct ivcom_xs_perm rw[2] = {
        { SERVER, IVCOM_XS_PERM_NONE }, { PEER, IVCOM_XS_PERM_BOTH },
    };
    uint32_t tx;
    int r;

    (void)arg;
    sim_become(&plat, SERVER);
    do {
        CHECK_RC(plat.ops->xs_tx_start(&plat, &tx));
        CHECK_RC(plat.ops->xs_write(&plat, tx, NODE, ""));
        CHECK_RC(plat.ops->xs_set_perms(&plat, tx, NODE, ro, 2));
        CHECK_RC(plat.ops->xs_write(&plat, tx, NODE "/offer", "secret"));
        CHECK_RC(plat.ops->xs_set_perms(&plat, tx, NODE "/offer", ro, 2));
        CHECK_RC(plat.ops->xs_write(&plat, tx, NODE "/client", ""));
        CHECK_RC(plat.ops->xs_set_perms(&plat, tx, NODE "/client", rw, 2));
        r = plat.ops->xs_tx_end(&plat, tx, 0);
    } while (r == -EAGAIN);
    CHECK_RC(r);
    sim_put(&go_peer, "g", 1);
    sim_put(&go_third, "g", 1);
    sim_get(&up, &tx, 1);           /* both done */
    sim_get(&up, &tx, 1);
    plat.ops->close(&plat);
    return T_PASS;
}

static int peer(void *arg)
{
    struct ivcom_platform plat;
    char buf[64], c;
    int r;

    (void)arg;
    sim_become(&plat, PEER);
    sim_put(&up, "u", 1);
    sim_get(&go_peer, &c, 1);
    CHECK_RC(plat.ops->xs_read(&plat, 0, NODE "/offer", buf, sizeof(buf)));
    CHECK(strcmp(buf, "secret") == 0, "peer reads '%s'", buf);
    r = plat.ops->xs_write(&plat, 0, NODE "/offer", "mine");
    CHECK(r == -EACCES, "peer write to read-only node: %d", r);
    CHECK_RC(plat.ops->xs_write(&plat, 0, NODE "/client/state", "connected"));
    sim_put(&up, "d", 1);
    plat.ops->close(&plat);
    return T_PASS;
}

static int third(void *arg)
{
    struct ivcom_platform plat;
    char buf[64], c;
    int r;

    (void)arg;
    sim_become(&plat, THIRD);
    sim_put(&up, "u", 1);
    sim_get(&go_third, &c, 1);
    r = plat.ops->xs_read(&plat, 0, NODE "/offer", buf, sizeof(buf));
    CHECK(r == -EACCES, "third domain read: %d", r);
    r = plat.ops->xs_read(&plat, 0, NODE, buf, sizeof(buf));
    CHECK(r == -EACCES, "third domain read of the dir: %d", r);
    r = plat.ops->xs_write(&plat, 0, NODE "/client/state", "evil");
    CHECK(r == -EACCES, "third domain write: %d", r);
    sim_put(&up, "d", 1);
    plat.ops->close(&plat);
    return T_PASS;
}

int main(void)
{
    int codes[3];
    pid_t pids[3];
    char c;
    unsigned i;

    sim_require();
    sim_pipe_init(&up);
    sim_pipe_init(&go_peer);
    sim_pipe_init(&go_third);
    /* Perms only name domains that exist: start peer and third first. */
    pids[1] = sim_spawn(peer, NULL);
    pids[2] = sim_spawn(third, NULL);
    sim_get(&up, &c, 1);
    sim_get(&up, &c, 1);
    pids[0] = sim_spawn(server, NULL);
    for (i = 0; i < 3; i++)
        codes[i] = sim_reap(pids[i]);
    return sim_result(codes, 3);
}
