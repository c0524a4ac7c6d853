/* SPDX-License-Identifier: MIT */
/* Description: notification hold-off on a live channel -- 1000 messages
 * sent while the receiver is not waiting cost no event; a receiver that
 * armed costs its sender exactly one event for the next message; a sender
 * waiting for space gets exactly one event for a whole drain. */
#include "chan_helpers.h"

static int receiver(struct ivcom_platform *plat, void *arg)
{
    int *s = arg;
    struct ivcom_chan *ch;
    struct ivcom_stats st;
    char buf[64];
    int i;

    T_OK(ivcom_connect(plat, "notify", t_dom(0), NULL, &ch, 5000));
    t_step_set(s, 1);
    t_step_wait(s, 2);                        /* 1000 queued */
    for (i = 0; i < 1000; i++)
        T_EQ(ivcom_try_recv(ch, buf, sizeof(buf)), 16);
    T_EQ(ivcom_try_recv(ch, buf, sizeof(buf)), -EAGAIN);   /* arms */
    t_step_set(s, 3);
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 16);
    t_step_set(s, 4);
    t_step_wait(s, 5);                        /* the sender filled the ring */
    ivcom_get_stats(ch, &st);
    T_EQ(st.notifies_sent, 0);
    while (ivcom_try_recv(ch, buf, sizeof(buf)) == 16)
        ;
    ivcom_get_stats(ch, &st);
    T_EQ(st.notifies_sent, 1);              /* one event for the whole drain */
    t_step_set(s, 6);
    t_step_wait(s, 7);
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    int *s;
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    struct ivcom_stats st;
    char msg[16] = "0123456789abcde";
    pid_t pid;
    int i;

    t_sim_required();
    s = t_shared(sizeof(*s));
    plat = t_platform(t_dom(0));
    pid = t_spawn(t_dom(1), receiver, s);
    T_OK(ivcom_listen(plat, "notify", t_dom(1), NULL, &ch));   /* 64 KiB rings */
    T_OK(ivcom_accept(ch, 5000));
    t_step_wait(s, 1);
    for (i = 0; i < 1000; i++)
        T_EQ(ivcom_try_send(ch, msg, 16), 16);
    ivcom_get_stats(ch, &st);
    T_EQ(st.notifies_sent, 0);
    T_EQ(st.notifies_suppressed, 1000);
    t_step_set(s, 2);
    t_step_wait(s, 3);                        /* the receiver armed */
    T_EQ(ivcom_send(ch, msg, 16, 5000), 16);
    ivcom_get_stats(ch, &st);
    T_EQ(st.notifies_sent, 1);
    t_step_wait(s, 4);                        /* it arrived */
    /* fill the ring until try_send says -EAGAIN: that arms for space */
    while (ivcom_try_send(ch, msg, 16) == 16)
        ;
    T_EQ(ivcom_try_send(ch, msg, 16), -EAGAIN);
    t_step_set(s, 5);
    t_step_wait(s, 6);
    T_EQ(ivcom_send(ch, msg, 16, 0), 16);   /* space is back */
    t_step_set(s, 7);
    T_EQ(t_wait(pid), 0);
    ivcom_close(ch);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
