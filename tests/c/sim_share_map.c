/* Description: sim platform: a domain shares pages with a peer domain,
 * which maps them (also out of order, from one grant) and sees the same
 * memory in both directions. */
#include "sim_test.h"

#define SERVER 10
#define CLIENT 11
#define NPAGES 3

static struct sim_pipe to_client, to_server;

static int server(void *arg)
{
    struct ivcom_platform plat;
    uint32_t refs[NPAGES];
    uint8_t *mem;
    char done;
    unsigned i;

    (void)arg;
    sim_become(&plat, SERVER);
    CHECK_RC(plat.ops->share(&plat, CLIENT, NPAGES, (void **)&mem, refs));
    for (i = 0; i < NPAGES; i++) {
        CHECK(mem[i * 4096] == 0, "fresh pages are zeroed");
        snprintf((char *)mem + i * 4096, 64, "page %u", i);
    }
    sim_put(&to_client, refs, sizeof(refs));
    sim_get(&to_server, &done, 1);
    CHECK(mem[4096 + 100] == 0x5a, "client write visible: %#x",
          mem[4096 + 100]);
    CHECK_RC(plat.ops->unshare(&plat, mem, NPAGES));
    plat.ops->close(&plat);
    return T_PASS;
}

static int client(void *arg)
{
    struct ivcom_platform plat;
    uint32_t refs[NPAGES], rev[2];
    uint8_t *mem, *m2;
    unsigned i;
    char buf[64];

    (void)arg;
    sim_become(&plat, CLIENT);
    sim_get(&to_client, refs, sizeof(refs));
    CHECK_RC(plat.ops->map(&plat, SERVER, NPAGES, refs, 1, (void **)&mem));
    for (i = 0; i < NPAGES; i++) {
        snprintf(buf, sizeof(buf), "page %u", i);
        CHECK(strcmp((char *)mem + i * 4096, buf) == 0, "page %u: '%s'", i,
              (char *)mem + i * 4096);
    }
    /* Pages in another order: two runs placed into one area. */
    rev[0] = refs[2];
    rev[1] = refs[0];
    CHECK_RC(plat.ops->map(&plat, SERVER, 2, rev, 0, (void **)&m2));
    CHECK(strcmp((char *)m2, "page 2") == 0, "first: %s", (char *)m2);
    CHECK(strcmp((char *)m2 + 4096, "page 0") == 0, "second: %s",
          (char *)m2 + 4096);
    CHECK_RC(plat.ops->unmap(&plat, m2, 2));

    mem[4096 + 100] = 0x5a;
    sim_put(&to_server, "d", 1);
    CHECK_RC(plat.ops->unmap(&plat, mem, NPAGES));
    plat.ops->close(&plat);
    return T_PASS;
}

int main(void)
{
    int codes[2];
    pid_t s, c;

    sim_require();
    sim_pipe_init(&to_client);
    sim_pipe_init(&to_server);
    s = sim_spawn(server, NULL);
    c = sim_spawn(client, NULL);
    codes[0] = sim_reap(s);
    codes[1] = sim_reap(c);
    return sim_result(codes, 2);
}
