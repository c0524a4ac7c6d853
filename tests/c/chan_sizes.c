/* SPDX-License-Identifier: MIT */
/* Description: over a live channel with 4 KiB rings, every message size
 * from 0 to the largest (4088) goes both ways intact (echo), and a stream
 * channel moves 8 MiB with odd write sizes intact. */
#include "chan_helpers.h"

static int echo(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_chan *ch;
    const void *in;
    void *out;
    size_t n;
    int err;

    (void)arg;
    T_OK(ivcom_connect(plat, "sizes", t_dom(0), NULL, &ch, 5000));
    while ((err = ivcom_msg_peek(ch, &in, &n, 10000)) == 0) {
        T_OK(ivcom_msg_reserve(ch, n, &out, 10000));
        memcpy(out, in, n);
        T_OK(ivcom_msg_commit(ch));
        T_OK(ivcom_msg_release(ch));
    }
    T_EQ(err, -EPIPE);
    ivcom_close(ch);
    return 0;
}

static int stream_sink(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_chan *ch;
    unsigned long long pos = 0;
    unsigned char buf[3001];
    ssize_t n, i;

    (void)arg;
    T_OK(ivcom_connect(plat, "stream", t_dom(0), NULL, &ch, 5000));
    while ((n = ivcom_read(ch, buf, sizeof(buf), 10000)) > 0)
        for (i = 0; i < n; i++, pos++)
            if (buf[i] != t_pattern(pos))
                T_FAIL("stream byte %llu differs", pos);
    T_EQ(n, -EPIPE);
    T_EQ(pos, 8u << 20);
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    struct ivcom_params p;
    unsigned char *out, *in;
    unsigned long long pos = 0;
    size_t len, i;
    pid_t pid;

    t_sim_required();
    plat = t_platform(t_dom(0));
    ivcom_params_init(&p);
    p.tx_order = p.rx_order = 12;
    pid = t_spawn(t_dom(1), echo, NULL);
    T_OK(ivcom_listen(plat, "sizes", t_dom(1), &p, &ch));
    T_OK(ivcom_accept(ch, 5000));
    T_EQ(ivcom_max_msg(ch), 4088);
    out = malloc(4096);
    in = malloc(4096);
    for (len = 0; len <= 4088; len++) {
        for (i = 0; i < len; i++)
            out[i] = t_pattern(pos + i);
        pos += len;
        T_EQ(ivcom_send(ch, out, len, 10000), len);
        T_EQ(ivcom_recv(ch, in, 4096, 10000), len);
        if (memcmp(in, out, len))
            T_FAIL("echo of %zu bytes differs", len);
    }
    ivcom_close(ch);
    T_EQ(t_wait(pid), 0);

    p.mode = IVCOM_MODE_STREAM;
    pid = t_spawn(t_dom(2), stream_sink, NULL);
    T_OK(ivcom_listen(plat, "stream", t_dom(2), &p, &ch));
    T_OK(ivcom_accept(ch, 5000));
    for (pos = 0; pos < (8u << 20);) {
        size_t chunk = 1 + (pos * 31) % 4000;
        if (chunk > (8u << 20) - pos)
            chunk = (8u << 20) - pos;
        for (i = 0; i < chunk; i++)
            out[i] = t_pattern(pos + i);
        T_EQ(ivcom_write_all(ch, out, chunk, 10000), chunk);
        pos += chunk;
    }
    ivcom_close(ch);
    T_EQ(t_wait(pid), 0);
    free(out);
    free(in);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
