/* SPDX-License-Identifier: MIT */
/* Description: the bulk tools' payload check (seqcheck.h, used by
 * ivcom-stream and the tiny guest's source and sink): a payload whose
 * tail was overwritten fails it, and the sink's one line names the number
 * due, what the head and the tail say, the length, where the payload lay
 * in the ring (as a zero-copy peek saw it; after the ring wrapped) and
 * the ring's indexes; in message and in stream mode.  Short payloads
 * carry what fits at each end. */
#include "chan_helpers.h"
#include "seqcheck.h"

#define ORDER   12u                 /* 4096-byte rings */
#define SIZE    (1u << ORDER)
#define LEN     200u                /* 208-byte records: wrap at the 20th */
#define COUNT   30u
#define BAD     25u                 /* its tail says 999 */

struct mode {
    const char *name;
    uint8_t mode;
    const char *unit;
};

static int source(struct ivcom_platform *plat, void *arg)
{
    const struct mode *m = arg;
    unsigned char buf[LEN];
    struct ivcom_chan *ch;
    uint64_t i, bogus = 999;

    T_OK(ivcom_connect(plat, m->name, t_dom(0), NULL, &ch, 5000));
    seq_fill(buf, LEN);
    for (i = 0; i < COUNT; i++) {
        seq_stamp(buf, LEN, i);
        if (i == BAD)
            memcpy(buf + LEN - 8, &bogus, 8);
        if (m->mode == IVCOM_MODE_MESSAGE)
            T_EQ(ivcom_send(ch, buf, LEN, 5000), LEN);
        else
            T_EQ(ivcom_write_all(ch, buf, LEN, 5000), LEN);
    }
    T_OK(ivcom_flush(ch, 5000));
    ivcom_close(ch);
    return 0;
}

/* The sink's side: read each payload as the tools do (copy API), check
 * it, and for the bad one compare the report with what we know. */
static void sink(struct ivcom_platform *plat, const struct mode *m, int dom)
{
    struct ivcom_params prm;
    struct ivcom_chan *ch;
    unsigned char buf[LEN];
    const uint8_t *base = NULL;
    uint32_t off = 0;
    uint64_t i;
    pid_t pid = t_spawn(dom, source, (void *)m);

    ivcom_params_init(&prm);
    prm.mode = m->mode;
    prm.tx_order = prm.rx_order = ORDER;
    T_OK(ivcom_listen(plat, m->name, dom, &prm, &ch));
    T_OK(ivcom_accept(ch, 5000));
    for (i = 0; i < COUNT; i++) {
        if (m->mode == IVCOM_MODE_MESSAGE) {
            const void *p;
            size_t n;

            /* Where the payload lies, from a zero-copy look first (the
             * first record's payload follows its header at offset 0). */
            T_OK(ivcom_msg_peek(ch, &p, &n, 5000));
            if (!base)
                base = (const uint8_t *)p - sizeof(struct ivcom_msg_hdr);
            off = (uint32_t)((const uint8_t *)p - base);
            T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), LEN);
        } else {
            size_t have = 0;

            off = (uint32_t)(i * LEN) & (SIZE - 1);
            while (have < LEN) {
                ssize_t r = ivcom_read(ch, buf + have, LEN - have, 5000);

                T_OK(r);
                have += (size_t)r;
            }
        }
        if (i != BAD) {
            T_ASSERT(seq_ok(buf, LEN, i));
        } else {
            struct ivcom_ring_debug d;
            char line[512], want[256];
            int derr = ivcom_debug_ring(ch, 1, &d);

            T_OK(derr);
            T_ASSERT(!seq_ok(buf, LEN, i));
            seq_describe(line, sizeof(line), m->unit, i, buf, LEN,
                         m->mode == IVCOM_MODE_MESSAGE, &d, derr);
            fprintf(stderr, "%s: %s\n", m->name, line);
            T_ASSERT(off > 0 && d.pvt > SIZE);      /* after the ring wrapped */
            snprintf(want, sizeof(want),
                     "%s %u out of sequence: head_seq=%u tail_seq=999 len=%u "
                     "ring_off=0x%x ring_size=0x%x pvt=0x%x published=0x%x peer=0x%x "
                     "pending=0x0 prod=0x%x cons=0x%x fill_not_a5=0/184 first=1900000000000000a5a5",
                     m->unit, BAD, BAD, LEN, off, SIZE, d.pvt, d.published, d.peer, d.prod, d.cons);
            if (strncmp(line, want, strlen(want)) != 0)
                T_FAIL("report\n  %s\nexpected it to start\n  %s", line, want);
            T_ASSERT(!strchr(line, '\n'));
        }
    }
    ivcom_close(ch);
    T_EQ(t_wait(pid), 0);
}

/* Short payloads: the head holds what fits of 8 bytes, the tail what
 * fits after it; either end overwritten fails the check. */
static void short_payloads(void)
{
    unsigned char buf[24];
    size_t len;

    for (len = 0; len <= sizeof(buf); len++) {
        uint64_t seq = 0x0807060504030201ull;

        seq_fill(buf, sizeof(buf));
        seq_stamp(buf, len, seq);
        T_ASSERT(seq_ok(buf, len, seq));
        if (len == 0)
            continue;
        T_ASSERT(!seq_ok(buf, len, seq + 1));
        T_EQ(buf[0], 0x01);
        if (len > 8 && len < 16)     /* the tail: the low bytes after the head */
            T_EQ(seq_read(buf + 8, len - 8), seq & ((1ull << (8 * (len - 8))) - 1));
        if (len < sizeof(buf))
            T_EQ(buf[len], SEQ_FILL);
        buf[len - 1] ^= 0xff;       /* the tail's last byte (or the head's) */
        T_ASSERT(!seq_ok(buf, len, seq));
    }
}

int main(void)
{
    static const struct mode msg = { "seqrep-m", IVCOM_MODE_MESSAGE, "message" };
    static const struct mode str = { "seqrep-s", IVCOM_MODE_STREAM, "write" };
    struct ivcom_platform *plat;

    short_payloads();
    t_sim_required();
    plat = t_platform(t_dom(0));
    sink(plat, &msg, t_dom(1));
    sink(plat, &str, t_dom(2));
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
