/* SPDX-License-Identifier: MIT */
/*
 * ivcom-stream: bulk throughput over one channel.
 *   client (source): sends --count messages of --size bytes (message mode,
 *           zero-copy reserve/commit) or --count x --size bytes (stream mode).
 *   server (sink):   receives until the client closes and verifies a
 *           running checksum; reports bytes, seconds, and events.
 */
#include "tool.h"

static const char usage[] =
    "usage: ivcom-stream [options] server|client\n"
    "  the client sends, the server receives and reports\n"
    "  -p, --peer DOMID     the other domain (required)\n"
    "  -n, --name NAME      channel name (default ivcom-test)\n"
    "  -s, --size BYTES     message (or write) size (default 64)\n"
    "  -c, --count N        messages to send (default 10000)\n"
    "  -S, --stream         stream mode instead of message mode\n"
    "  -o, --order N        ring order, log2 bytes (server; default 16)\n"
    "  -w, --spin US / -l, --poll / -t, --timeout MS / -P, --platform / -j\n";

static uint64_t fold(uint64_t h, const unsigned char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void source(struct ivcom_chan *ch, const struct tool_opts *o)
{
    unsigned char *buf = malloc(o->size ? o->size : 1);
    long long i;

    if (!buf)
        tool_die(1, "out of memory");
    for (i = 0; i < (long long)o->size; i++)
        buf[i] = (unsigned char)(i * 7 + 1);
    for (i = 0; i < o->count; i++) {
        ssize_t r;

        buf[0] = (unsigned char)i;
        if (o->params.mode == IVCOM_MODE_MESSAGE) {
            void *dst;
            int err = ivcom_msg_reserve(ch, o->size, &dst, o->timeout_ms);
            if (err)
                tool_die(1, "send %lld: %s", i, ivcom_strerror(err));
            memcpy(dst, buf, o->size);
            ivcom_msg_commit(ch);
        } else {
            r = ivcom_write_all(ch, buf, o->size, o->timeout_ms);
            if (r < 0 || (size_t)r != o->size)
                tool_die(1, "write %lld: %s", i, ivcom_strerror(r < 0 ? (int)r : -EIO));
        }
    }
    free(buf);
}

static void sink(struct ivcom_chan *ch, const struct tool_opts *o, struct ivcom_platform *plat)
{
    uint64_t t0 = 0, t1, h = 0xcbf29ce484222325ull, bytes = 0, msgs = 0;
    struct ivcom_stats st;
    int err;

    for (;;) {
        const void *p;
        size_t n;

        if (o->params.mode == IVCOM_MODE_MESSAGE) {
            err = ivcom_msg_peek(ch, &p, &n, -1);
            if (!err) {
                h = fold(h, p, n);
                ivcom_msg_release(ch);
            }
        } else {
            err = ivcom_wait_readable(ch, -1);
            if (!err)
                err = ivcom_stream_try_peek(ch, &p, &n);
            if (!err) {
                h = fold(h, p, n);
                ivcom_stream_release(ch, n);
            }
        }
        if (err == -EPIPE)
            break;
        if (err == -EAGAIN)
            continue;
        if (err)
            tool_die(1, "receive: %s", ivcom_strerror(err));
        if (!t0)
            t0 = tool_now_ns();
        bytes += n;
        msgs++;
    }
    t1 = tool_now_ns();
    ivcom_get_stats(ch, &st);
    if (o->json)
        printf("{\"tool\": \"ivcom-stream\", \"platform\": \"%s\", \"mode\": \"%s\", "
               "\"size\": %zu, \"bytes\": %llu, \"receives\": %llu, \"seconds\": %.6f, "
               "\"bytes_per_s\": %.0f, \"checksum\": \"%016llx\", "
               "\"notifies_sent\": %llu, \"notifies_suppressed\": %llu, "
               "\"wakeups\": %llu, \"blocks\": %llu}\n",
               ivcom_platform_name(plat),
               o->params.mode == IVCOM_MODE_STREAM ? "stream" : "message", o->size,
               (unsigned long long)bytes, (unsigned long long)msgs,
               t0 ? (t1 - t0) / 1e9 : 0.0, t0 && t1 > t0 ? bytes * 1e9 / (double)(t1 - t0) : 0.0,
               (unsigned long long)h, (unsigned long long)st.notifies_sent,
               (unsigned long long)st.notifies_suppressed, (unsigned long long)st.wakeups,
               (unsigned long long)st.blocks);
    else
        printf("received %llu bytes in %llu receives, %.3f s, %.1f MB/s, checksum %016llx\n",
               (unsigned long long)bytes, (unsigned long long)msgs,
               t0 ? (t1 - t0) / 1e9 : 0.0,
               t0 && t1 > t0 ? bytes * 1e3 / (double)(t1 - t0) : 0.0, (unsigned long long)h);
}

int main(int argc, char **argv)
{
    struct tool_opts o;
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;

    tool_prog = "ivcom-stream";
    tool_parse(argc, argv, &o, usage, NULL);
    ch = tool_channel(&o, &plat);
    if (strcmp(o.role, "client") == 0) {
        if (o.params.mode == IVCOM_MODE_MESSAGE && o.size > ivcom_max_msg(ch))
            tool_die(2, "--size %zu exceeds the largest message %zu", o.size,
                     ivcom_max_msg(ch));
        source(ch, &o);
    } else {
        sink(ch, &o, plat);
    }
    ivcom_close(ch);
    ivcom_platform_close(plat);
    return 0;
}
