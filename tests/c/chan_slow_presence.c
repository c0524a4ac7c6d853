/* SPDX-License-Identifier: MIT */
/* Description: a client whose XenStore writes are slow (as under TCG) is
 * not taken for gone.  The client's writes of its presence node take
 * 600 ms each; the server accepts and then blocks in recv, whose
 * presence probe runs every 200 ms: it must receive the client's
 * message, never -EPIPE (the presence node exists, readable by the
 * server, before the client's live byte says up). */
#include <time.h>

#include "ops_wrap.h"

static int slow_presence(const char *path)
{
    if (strstr(path, "/data/ivcom-client/"))
        usleep(600 * 1000);
    return 0;
}

static int slow_write(const char *path, const char *value)
{
    (void)value;
    return slow_presence(path);
}

static int server(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_chan *ch;
    char buf[16];

    (void)arg;
    T_OK(ivcom_listen(plat, "slowxs", t_dom(1), NULL, &ch));
    T_OK(ivcom_accept(ch, 20000));
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 20000), 5);
    T_ASSERT(memcmp(buf, "hello", 5) == 0);
    T_EQ(ivcom_send(ch, "bye", 3, 5000), 3);
    T_OK(ivcom_flush(ch, 5000));
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    char buf[16];
    pid_t pid;

    t_sim_required();
    /* Our domain exists before the server offers to it (xenstored drops
     * permissions that name no domain). */
    plat = t_platform(t_dom(1));
    pid = t_spawn(t_dom(0), server, NULL);
    t_wrap_platform(plat);
    t_xs_write_hook = slow_write;
    t_xs_perms_hook = slow_presence;
    T_OK(ivcom_connect(plat, "slowxs", t_dom(0), NULL, &ch, 20000));
    /* The server's accept and its first blocked recv run meanwhile. */
    usleep(700 * 1000);
    T_EQ(ivcom_send(ch, "hello", 5, 5000), 5);
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 20000), 3);
    ivcom_close(ch);
    T_EQ(t_wait(pid), 0);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
