/* Description: sim platform unmap notify: when a domain that mapped a
 * page and registered (byte, port) is killed with SIGKILL, the byte is
 * cleared and the granting domain's event channel fires. */
#include <poll.h>

#include "sim_test.h"

#define SERVER 40
#define CLIENT 41
#define LIVE   10           /* byte offset of the client's live flag */

static struct sim_pipe to_client, to_server;

static int client(void *arg)
{
    struct ivcom_platform plat;
    struct ivcom_evtchn *ev;
    uint32_t msg[2], port;
    uint8_t *mem;

    (void)arg;
    sim_become(&plat, CLIENT);
    sim_get(&to_client, msg, sizeof(msg));      /* ref, server port */
    CHECK_RC(plat.ops->map(&plat, SERVER, 1, &msg[0], 1, (void **)&mem));
    CHECK_RC(plat.ops->evtchn_open(&plat, &ev));
    CHECK_RC(plat.ops->evtchn_bind(ev, SERVER, msg[1], &port));
    CHECK_RC(plat.ops->unmap_notify(&plat, mem, LIVE, port));
    mem[LIVE] = 1;
    sim_put(&to_server, "u", 1);
    for (;;)
        pause();                                /* until SIGKILL */
}

static int server(void *arg)
{
    pid_t victim = *(pid_t *)arg;
    struct ivcom_platform plat;
    struct ivcom_evtchn *ev;
    uint32_t msg[2];
    uint8_t *mem;
    char c;
    int r;

    sim_become(&plat, SERVER);
    CHECK_RC(plat.ops->share(&plat, CLIENT, 1, (void **)&mem, &msg[0]));
    CHECK_RC(plat.ops->evtchn_open(&plat, &ev));
    CHECK_RC(plat.ops->evtchn_alloc_unbound(ev, CLIENT, &msg[1]));
    sim_put(&to_client, msg, sizeof(msg));
    sim_get(&to_server, &c, 1);
    CHECK(mem[LIVE] == 1, "client is up: %d", mem[LIVE]);
    r = plat.ops->evtchn_wait(ev, 0);
    CHECK(r == -ETIMEDOUT, "no event while the client lives: %d", r);

    CHECK(kill(victim, SIGKILL) == 0, "kill: %s", strerror(errno));
    CHECK_RC(plat.ops->evtchn_wait(ev, 20000));
    CHECK(mem[LIVE] == 0, "live byte cleared: %d", mem[LIVE]);
    plat.ops->evtchn_close(ev);
    CHECK_RC(plat.ops->unshare(&plat, mem, 1));
    plat.ops->close(&plat);
    return T_PASS;
}

int main(void)
{
    pid_t c, s;
    int codes[2], st;

    sim_require();
    sim_pipe_init(&to_client);
    sim_pipe_init(&to_server);
    c = sim_spawn(client, NULL);
    s = sim_spawn(server, &c);
    codes[1] = sim_reap(s);
    if (codes[1] != T_PASS)
        kill(c, SIGKILL);
    /* The client must have died of our SIGKILL, not of a failed check. */
    codes[0] = waitpid(c, &st, 0) == c && WIFSIGNALED(st) &&
               WTERMSIG(st) == SIGKILL ? T_PASS : T_FAIL;
    return sim_result(codes, 2);
}
