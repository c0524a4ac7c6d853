/* Description: sim platform: refs granted to one domain cannot be mapped
 * by a third domain, nor under the wrong granter, nor mixed with a
 * foreign ref (-EPERM, nothing mapped); the grantee can map them. */
#include "sim_test.h"

#define SERVER 20
#define PEER   21
#define THIRD  22

static struct sim_pipe to_peer, to_third, done;

static int server(void *arg)
{
    struct ivcom_platform plat;
    uint32_t refs[2];
    void *mem;
    char c;

    (void)arg;
    sim_become(&plat, SERVER);
    CHECK_RC(plat.ops->share(&plat, PEER, 2, &mem, refs));
    sim_put(&to_peer, refs, sizeof(refs));
    sim_put(&to_third, refs, sizeof(refs));
    sim_get(&done, &c, 1);
    sim_get(&done, &c, 1);
    CHECK_RC(plat.ops->unshare(&plat, mem, 2));
    plat.ops->close(&plat);
    return T_PASS;
}

static int third(void *arg)
{
    struct ivcom_platform plat;
    uint32_t refs[2];
    void *mem = NULL;
    int r;

    (void)arg;
    sim_become(&plat, THIRD);
    sim_get(&to_third, refs, sizeof(refs));
    r = plat.ops->map(&plat, SERVER, 2, refs, 1, &mem);
    CHECK(r == -EPERM, "third domain map: %d", r);
    r = plat.ops->map(&plat, SERVER, 1, &refs[1], 0, &mem);
    CHECK(r == -EPERM, "third domain read-only map: %d", r);
    sim_put(&done, "t", 1);
    plat.ops->close(&plat);
    return T_PASS;
}

static int peer(void *arg)
{
    struct ivcom_platform plat;
    uint32_t refs[2], mixed[2];
    void *mem = NULL;
    int r;

    (void)arg;
    sim_become(&plat, PEER);
    sim_get(&to_peer, refs, sizeof(refs));
    r = plat.ops->map(&plat, THIRD, 2, refs, 1, &mem);
    CHECK(r == -EPERM, "wrong granter: %d", r);
    mixed[0] = refs[0];
    mixed[1] = refs[1] + 1000;
    r = plat.ops->map(&plat, SERVER, 2, mixed, 1, &mem);
    CHECK(r == -EPERM, "one bad ref among good ones: %d", r);
    CHECK_RC(plat.ops->map(&plat, SERVER, 2, refs, 1, &mem));
    CHECK_RC(plat.ops->unmap(&plat, mem, 2));
    sim_put(&done, "p", 1);
    plat.ops->close(&plat);
    return T_PASS;
}

int main(void)
{
    int codes[3];
    pid_t pids[3];
    unsigned i;

    sim_require();
    sim_pipe_init(&to_peer);
    sim_pipe_init(&to_third);
    sim_pipe_init(&done);
    pids[0] = sim_spawn(server, NULL);
    pids[1] = sim_spawn(peer, NULL);
    pids[2] = sim_spawn(third, NULL);
    for (i = 0; i < 3; i++)
        codes[i] = sim_reap(pids[i]);
    return sim_result(codes, 3);
}
