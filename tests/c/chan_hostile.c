/* SPDX-License-Identifier: MIT */
/* Description: a hostile peer rewrites what it may write in shared memory
 * -- its producer index, its consumer index, message headers, its live
 * byte, the control page's orders, magic and grant count, and the offer's
 * XenStore values.  Each time the victim reports -EPROTO (the channel is
 * broken and stays broken), never crashes or reads out of bounds (ASan),
 * and goes on to serve an honest peer afterwards. */
#include "chan_helpers.h"
#include "internal.h"

enum attack {
    PROD_BEYOND, PROD_BACKWARDS, HDR_LEN, HDR_TYPE, CONS_BEYOND, LIVE_BYTE,
    RANDOM_REWRITES, NR_CLIENT_ATTACKS
};
static const char *const names[] = {
    "producer index beyond the ring", "producer index backwards",
    "header length beyond the ring", "bad header type",
    "consumer index past the producer", "bad live byte", "random rewrites",
};

struct shared { int step; int attack; };

/* The hostile client: connect honestly, send one message, then attack. */
static int hostile_client(struct ivcom_platform *plat, void *arg)
{
    struct shared *s = arg;
    struct ivcom_chan *ch;
    struct ivcom_ctrl *c;
    uint32_t seed = 12345;
    int i;

    T_OK(ivcom_connect(plat, "hostile", t_dom(0), NULL, &ch, 5000));
    c = ch->ctrl;
    T_EQ(ivcom_send(ch, "honest", 6, 5000), 6);
    t_step_wait(&s->step, 1);                        /* the victim read it */
    switch (s->attack) {
    case PROD_BEYOND:
        c->c2s_prod.prod += ch->tx.size + 8;
        break;
    case PROD_BACKWARDS:
        c->c2s_prod.prod -= 16;
        break;
    case HDR_LEN: {
        struct ivcom_msg_hdr *h = (void *)(ch->tx.data + (ch->tx.pvt & ch->tx.mask));
        h->len = 0x7ffffff0u;
        h->type = IVCOM_MSG_DATA;
        c->c2s_prod.prod += 64;
        break;
    }
    case HDR_TYPE: {
        struct ivcom_msg_hdr *h = (void *)(ch->tx.data + (ch->tx.pvt & ch->tx.mask));
        h->len = 8;
        h->type = 0x4242;
        c->c2s_prod.prod += 16;
        break;
    }
    case CONS_BEYOND:
        c->s2c_cons.cons += 1u << 20;
        break;
    case LIVE_BYTE:
        c->client_live = 0x77;
        break;
    case RANDOM_REWRITES:
        for (i = 0; i < 20000; i++) {
            seed = seed * 1103515245u + 12345u;
            switch (seed >> 30) {
            case 0: c->c2s_prod.prod = seed; break;
            case 1: c->s2c_cons.cons = seed * 7; break;
            case 2: ch->tx.data[(seed >> 8) & ch->tx.mask] = (uint8_t)seed; break;
            default: c->c2s_prod.prod += seed & 0xff; break;
            }
        }
        break;
    }
    plat->ops->evtchn_notify(ch->ev, ch->port);
    t_step_set(&s->step, 2);
    t_step_wait(&s->step, 3);
    return 0;
}

static int honest_client(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_chan *ch;
    char buf[16];

    (void)arg;
    T_OK(ivcom_connect(plat, "after", t_dom(0), NULL, &ch, 5000));
    T_EQ(ivcom_send(ch, "still-up", 8, 5000), 8);
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 2);
    ivcom_close(ch);
    return 0;
}

/* The victim's view of one attack. */
static void victim_case(struct ivcom_platform *plat, struct shared *s, int attack)
{
    static char big[4000];
    struct ivcom_chan *ch;
    char buf[64];
    ssize_t r = 0;
    int i;

    memset(s, 0, sizeof(*s));
    s->attack = attack;
    pid_t pid = t_spawn(t_dom(1 + attack), hostile_client, s);
    T_OK(ivcom_listen(plat, "hostile", t_dom(1 + attack), NULL, &ch));
    T_OK(ivcom_accept(ch, 5000));
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 6);
    t_step_set(&s->step, 1);
    t_step_wait(&s->step, 2);
    /* Use the channel both ways until the violation is seen.  Indexes the
     * victim already validated are trusted until it needs more than they
     * promise, so it sends big messages: within 17 of them (64 KiB ring)
     * it must look at the consumer index again. */
    for (i = 0; i < 100 && r >= 0; i++) {
        r = ivcom_try_recv(ch, buf, sizeof(buf));
        if (r == -EAGAIN || r == -EMSGSIZE)
            r = 0;
        if (r >= 0)
            r = ivcom_send(ch, big, sizeof(big), 50);
        if (r == -ETIMEDOUT)
            r = 0;
    }
    if (r != -EPROTO)
        T_FAIL("%s: victim saw %zd (%s), expected -EPROTO", names[attack], r,
               ivcom_strerror((int)r));
    T_EQ(ivcom_is_broken(ch), -EPROTO);
    T_EQ(ivcom_try_send(ch, "y", 1), -EPROTO);         /* stays broken */
    T_EQ(ivcom_try_recv(ch, buf, sizeof(buf)), -EPROTO);
    t_step_set(&s->step, 3);
    ivcom_close(ch);
    T_EQ(t_wait(pid), 0);
}

/* A hostile SERVER: its control page or XenStore offer lies. */
enum srv_attack { BAD_MAGIC, BAD_ORDER, BAD_NR_GREFS, BAD_VERSION, XS_GARBAGE,
                  XS_ORDER, NR_SERVER_ATTACKS };

static int victim_client(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_chan *ch;
    int err;

    t_step_wait(&((struct shared *)arg)->step, 1);                      /* the server has lied */
    err = ivcom_connect(plat, "liar", t_dom(0), NULL, &ch, 5000);
    if (err != -EPROTO && err != -EPROTONOSUPPORT)
        T_FAIL("connect to a lying server gave %d (%s)", err, ivcom_strerror(err));
    return 0;
}

static void server_case(struct ivcom_platform *plat, struct shared *s, int attack)
{
    struct ivcom_chan *ch;
    char path[IVCOM_PATH_MAX + 16];
    int peer = t_dom(20 + attack);
    pid_t pid;

    memset(s, 0, sizeof(*s));
    pid = t_spawn(peer, victim_client, s);
    T_OK(ivcom_listen(plat, "liar", peer, NULL, &ch));
    switch (attack) {
    case BAD_MAGIC: ch->ctrl->magic ^= 1; break;
    case BAD_ORDER: ch->ctrl->s2c_order = 40; break;
    case BAD_NR_GREFS: ch->ctrl->nr_grefs = 100000; break;
    case BAD_VERSION: ch->ctrl->version = 9; break;
    case XS_GARBAGE:
        snprintf(path, sizeof(path), "%s/ctrl-ref", ch->xs_dir);
        T_OK(plat->ops->xs_write(plat, IVCOM_XS_NO_TX, path, "12x"));
        break;
    case XS_ORDER:
        snprintf(path, sizeof(path), "%s/c2s-order", ch->xs_dir);
        T_OK(plat->ops->xs_write(plat, IVCOM_XS_NO_TX, path, "99"));
        break;
    }
    t_step_set(&s->step, 1);
    T_EQ(t_wait(pid), 0);
    ivcom_close(ch);
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    struct shared *s;
    char buf[16];
    int a;
    pid_t pid;

    t_sim_required();
    s = t_shared(sizeof(*s));
    plat = t_platform(t_dom(0));
    for (a = 0; a < NR_CLIENT_ATTACKS; a++)
        victim_case(plat, s, a);
    for (a = 0; a < NR_SERVER_ATTACKS; a++)
        server_case(plat, s, a);
    /* still up: an honest peer is served normally */
    pid = t_spawn(t_dom(40), honest_client, NULL);
    T_OK(ivcom_listen(plat, "after", t_dom(40), NULL, &ch));
    T_OK(ivcom_accept(ch, 5000));
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 8);
    T_EQ(ivcom_send(ch, "ok", 2, 5000), 2);
    T_EQ(t_wait(pid), 0);
    ivcom_close(ch);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
