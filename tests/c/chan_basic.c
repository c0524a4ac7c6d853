/* SPDX-License-Identifier: MIT */
/* Description: a server and a client domain connect over the real
 * handshake; messages flow both ways with the copy and zero-copy APIs; an
 * orderly close reaches the peer as -EPIPE only after it drained.  The
 * client's end of the event channel is published for tracers. */
#include "chan_helpers.h"
#include "internal.h"

static int client(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_chan *ch;
    char buf[64];
    const void *p;
    void *w;
    size_t n;

    (void)arg;
    T_OK(ivcom_connect(plat, "basic", t_dom(0), NULL, &ch, 5000));
    T_EQ(ivcom_peer_domid(ch), t_dom(0));
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 5);
    T_ASSERT(memcmp(buf, "hello", 5) == 0);
    /* zero-copy reply */
    T_OK(ivcom_msg_reserve(ch, 6, &w, 5000));
    memcpy(w, "world!", 6);
    T_OK(ivcom_msg_commit(ch));
    /* the server sends two more and closes: both arrive, then -EPIPE */
    T_OK(ivcom_msg_peek(ch, &p, &n, 5000));
    T_EQ(n, 3);
    T_ASSERT(memcmp(p, "one", 3) == 0);
    T_OK(ivcom_msg_release(ch));
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 3);
    T_ASSERT(memcmp(buf, "two", 3) == 0);
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), -EPIPE);
    T_EQ(ivcom_send(ch, "x", 1, 1000), -EPIPE);
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    struct ivcom_stats st;
    char buf[64];
    pid_t pid;

    t_sim_required();
    plat = t_platform(t_dom(0));
    pid = t_spawn(t_dom(1), client, NULL);
    T_OK(ivcom_listen(plat, "basic", t_dom(1), NULL, &ch));
    /* before the client connected */
    T_EQ(ivcom_try_send(ch, "x", 1), -ENOTCONN);
    T_OK(ivcom_accept(ch, 5000));
    {
        char path[IVCOM_PATH_MAX + 32], val[16];
        snprintf(path, sizeof(path), "%s/client/event-channel", ch->xs_dir);
        T_OK(plat->ops->xs_read(plat, IVCOM_XS_NO_TX, path, val, sizeof(val)));
        T_ASSERT(strtoul(val, NULL, 10) > 0);
    }
    T_EQ(ivcom_send(ch, "hello", 5, 5000), 5);
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 6);
    T_ASSERT(memcmp(buf, "world!", 6) == 0);
    T_EQ(ivcom_send(ch, "one", 3, 5000), 3);
    T_EQ(ivcom_send(ch, "two", 3, 5000), 3);
    ivcom_get_stats(ch, &st);
    T_EQ(st.tx_msgs, 3);
    T_EQ(st.tx_bytes, 11);
    T_EQ(st.rx_msgs, 1);
    ivcom_close(ch);
    T_EQ(t_wait(pid), 0);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
