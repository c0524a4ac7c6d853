/* SPDX-License-Identifier: MIT */
/*
 * ivcom-stream: bulk throughput over one channel.
 *   client (source): sends --count messages of --size bytes (message mode,
 *           zero-copy reserve/commit) or --count x --size bytes (stream mode),
 *           then waits until the sink has read it all (ivcom_flush); with
 *           --json it reports bytes, seconds and its TSC span too.
 *   server (sink):   receives into a buffer until the client closes,
 *           checks the sequence number at both ends of every message (or
 *           write); with --count it expects exactly that many and a stream
 *           that ends short is an error; reports bytes, seconds, events.
 * The payload convention (shared with the tiny guest's source and sink)
 * is seqcheck.h's.
 */
#include "seqcheck.h"
#include "tool_service.h"

static const char usage[] =
    "usage: ivcom-stream [options] server|client\n"
    "  the client sends, the server receives and reports\n"
    "  -p, --peer DOMID     the other domain (client: required; server: serve\n"
    "                       that domain alone, else a service for many)\n"
    "  -A, --allow D1,D2    service: only these domains (default: any)\n"
    "  -C, --clients N      service: exit once N clients have ended\n"
    "  -n, --name NAME      channel name (default ivcom-test)\n"
    "  -s, --size BYTES     message (or write) size (default 64)\n"
    "  -c, --count N        messages to send (default 10000); the server: expect\n"
    "                       exactly N (default: any number)\n"
    "  -D, --duration S     stop sending after S seconds (or at --count)\n"
    "  -S, --stream         stream mode instead of message mode\n"
    "  -o, --order N        ring order, log2 bytes (server; default 16)\n"
    "  -w, --spin US / -l, --poll / -t, --timeout MS / -P, --platform / -j\n"
    "  --at T               client: start sending at CLOCK_MONOTONIC T seconds\n"
    "                       (--at -: say ready on stderr, then read T from stdin)\n";

/* Each message (or write) carries its sequence number at both ends
 * (seqcheck.h); the sink checks them, so reordering, loss, duplication or
 * a torn payload fails. */
static void source(struct ivcom_chan *ch, const struct tool_opts *o)
{
    unsigned char *buf = malloc(o->size > 8 ? o->size : 8);
    unsigned long long i;
    struct tool_deadline dl;
    struct ivcom_stats st;
    uint64_t t0, tsc0, t1, tsc1;
    int flushed;

    if (!buf)
        tool_die(1, "out of memory");
    seq_fill(buf, o->size);
    tool_start(o);
    t0 = tool_now_ns();
    tsc0 = tool_tsc();
    tool_deadline_start(&dl, o);
    for (i = 0; i < (unsigned long long)o->count && !tool_deadline_passed(&dl); i++) {
        seq_stamp(buf, o->size, i);
        if (o->params.mode == IVCOM_MODE_MESSAGE) {
            void *dst;
            int err = ivcom_msg_reserve(ch, o->size, &dst, o->timeout_ms);
            if (err)
                tool_die(1, "send %llu: %s", i, ivcom_strerror(err));
            memcpy(dst, buf, o->size);
            ivcom_msg_commit(ch);
        } else {
            ssize_t r = ivcom_write_all(ch, buf, o->size, o->timeout_ms);
            if (r < 0 || (size_t)r != o->size)
                tool_die(1, "write %llu: %s", i, ivcom_strerror(r < 0 ? (int)r : -EIO));
        }
    }
    free(buf);
    flushed = ivcom_flush(ch, o->timeout_ms);
    if (flushed)
        tool_die(1, "flush after %llu: %s", i, ivcom_strerror(flushed));
    t1 = tool_now_ns();
    tsc1 = tool_tsc();
    ivcom_get_stats(ch, &st);
    if (o->json)
        printf("{\"tool\": \"ivcom-stream\", \"role\": \"source\", \"mode\": \"%s\", "
               "\"size\": %zu, \"count\": %llu, \"bytes\": %llu, \"seconds\": %.6f, "
               "\"bytes_per_s\": %.0f, \"notifies_sent\": %llu, \"wakeups\": %llu, "
               "\"blocks\": %llu, \"tsc_begin\": %llu, \"tsc_end\": %llu, "
               "\"mono_begin_ns\": %llu, \"mono_end_ns\": %llu}\n",
               o->params.mode == IVCOM_MODE_STREAM ? "stream" : "message", o->size, i,
               (unsigned long long)st.tx_bytes, (t1 - t0) / 1e9,
               t1 > t0 ? (double)st.tx_bytes * 1e9 / (double)(t1 - t0) : 0.0,
               (unsigned long long)st.notifies_sent, (unsigned long long)st.wakeups,
               (unsigned long long)st.blocks, (unsigned long long)tsc0,
               (unsigned long long)tsc1, (unsigned long long)t0, (unsigned long long)t1);
}

/* A payload that failed its sequence check: the one line that says what
 * it held and where it lay in the ring (seq_describe), then exit 1. */
static void out_of_sequence(struct ivcom_chan *ch, const struct tool_opts *o, uint64_t seq,
                            const unsigned char *buf, size_t n)
{
    int msg = o->params.mode == IVCOM_MODE_MESSAGE;
    struct ivcom_ring_debug d;
    int derr = ivcom_debug_ring(ch, 1, &d);
    char line[512];

    seq_describe(line, sizeof(line), msg ? "message" : "write", seq, buf, n, msg, &d, derr);
    tool_die(1, "%s", line);
}

/* Receive into a buffer (the copy API: what a socket reader gets). */
static void sink(struct ivcom_chan *ch, const struct tool_opts *o, struct ivcom_platform *plat)
{
    const int msg = o->params.mode == IVCOM_MODE_MESSAGE;
    const char *unit = msg ? "message" : "write";
    /* message mode: any message the ring can carry; stream mode: the
     * write size, which both sides are given (-s). */
    size_t cap = msg ? ivcom_max_msg(ch) : o->size;
    unsigned char *buf = malloc(cap > 8 ? cap : 8);
    uint64_t t0 = 0, t1, bytes = 0, recvs = 0, seq = 0;
    struct ivcom_stats st;
    ssize_t n;

    if (!buf)
        tool_die(1, "out of memory");
    for (;;) {
        int whole = 1;

        if (msg) {
            n = ivcom_recv(ch, buf, cap, -1);
        } else {
            /* whole writes: read exactly one write's worth */
            size_t have = 0;
            n = 0;
            while (have < o->size) {
                n = ivcom_read(ch, buf + have, o->size - have, -1);
                if (n < 0)
                    break;
                have += (size_t)n;
            }
            if (have) {
                if (have < o->size && o->count_set)
                    tool_die(1, "got %llu of %lld writes and %zu bytes of the next: %s",
                             (unsigned long long)seq, o->count, have,
                             ivcom_strerror(n < 0 ? (int)n : -EIO));
                whole = have == o->size;
                n = (ssize_t)have;
            }
        }
        if (n == -EPIPE)
            break;
        if (n < 0)
            tool_die(1, "receive: %s", ivcom_strerror((int)n));
        if (o->count_set && seq == (unsigned long long)o->count)
            tool_die(1, "got more than the %lld %ss expected", o->count, unit);
        if (whole && !seq_ok(buf, (size_t)n, seq))
            out_of_sequence(ch, o, seq, buf, (size_t)n);
        if (!t0)
            t0 = tool_now_ns();
        bytes += (uint64_t)n;
        recvs++;
        seq++;
    }
    if (o->count_set && seq != (unsigned long long)o->count)
        tool_die(1, "got %llu of %lld %ss: %s", (unsigned long long)seq, o->count, unit,
                 ivcom_strerror(-EPIPE));
    t1 = tool_now_ns();
    ivcom_get_stats(ch, &st);
    if (o->json)
        printf("{\"tool\": \"ivcom-stream\", \"platform\": \"%s\", \"mode\": \"%s\", "
               "\"size\": %zu, \"bytes\": %llu, \"receives\": %llu, \"seconds\": %.6f, "
               "\"bytes_per_s\": %.0f, \"notifies_sent\": %llu, "
               "\"notifies_suppressed\": %llu, \"wakeups\": %llu, \"blocks\": %llu}\n",
               ivcom_platform_name(plat),
               o->params.mode == IVCOM_MODE_STREAM ? "stream" : "message", o->size,
               (unsigned long long)bytes, (unsigned long long)recvs,
               t0 ? (t1 - t0) / 1e9 : 0.0,
               t0 && t1 > t0 ? (double)bytes * 1e9 / (double)(t1 - t0) : 0.0,
               (unsigned long long)st.notifies_sent, (unsigned long long)st.notifies_suppressed,
               (unsigned long long)st.wakeups, (unsigned long long)st.blocks);
    else
        printf("received %llu bytes in %llu receives, %.3f s, %.1f MB/s\n",
               (unsigned long long)bytes, (unsigned long long)recvs,
               t0 ? (t1 - t0) / 1e9 : 0.0,
               t0 && t1 > t0 ? (double)bytes * 1e3 / (double)(t1 - t0) : 0.0);
    free(buf);
}

/* A service's turn for one client: take in what is there, each message
 * (or whole write) checked as in sink(); -EPIPE once a complete stream
 * ended, -ENODATA for one that ended short of --count, -EBADMSG for a
 * payload out of sequence (its line printed first). */
static int sink_turn(struct tool_client *c, const struct tool_opts *o)
{
    const int msg = o->params.mode == IVCOM_MODE_MESSAGE;
    size_t cap = msg ? ivcom_max_msg(c->ch) : o->size;

    if (!c->buf && !(c->buf = malloc(cap > 8 ? cap : 8)))
        return -ENOMEM;
    for (;;) {
        ssize_t n;

        if (msg) {
            n = ivcom_try_recv(c->ch, c->buf, cap);
        } else {
            n = ivcom_try_read(c->ch, c->buf + c->have, o->size - c->have);
            if (n > 0) {
                c->have += (size_t)n;
                if (c->have < o->size)
                    continue;
                n = (ssize_t)c->have;
                c->have = 0;
            }
        }
        if (n == -EAGAIN)
            return 0;
        if (n == -EPIPE)
            return o->count_set && (c->count != o->count || c->have) ? -ENODATA : -EPIPE;
        if (n < 0)
            return (int)n;
        if (o->count_set && c->count == o->count)
            return -E2BIG;
        if (!seq_ok(c->buf, (size_t)n, (uint64_t)c->count)) {
            struct ivcom_ring_debug d;
            int derr = ivcom_debug_ring(c->ch, 1, &d);
            char line[512];

            seq_describe(line, sizeof(line), msg ? "message" : "write", (uint64_t)c->count,
                         c->buf, (size_t)n, msg, &d, derr);
            fprintf(stderr, "ivcom-stream: client dom %d: %s\n", c->domid, line);
            return -EBADMSG;
        }
        c->count++;
        c->bytes += (uint64_t)n;
    }
}

int main(int argc, char **argv)
{
    struct tool_opts o;
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;

    tool_prog = "ivcom-stream";
    tool_parse(argc, argv, &o, usage, NULL);
    if (o.reconnect || o.gap_ms)
        tool_die(2, "--reconnect and --gap are ivcom-pingpong's");
    if (strcmp(o.role, "server") == 0 && o.peer < 0)
        return tool_run_service(&o, sink_turn, "received");
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
