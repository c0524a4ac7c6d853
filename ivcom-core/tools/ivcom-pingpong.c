/* SPDX-License-Identifier: MIT */
/*
 * ivcom-pingpong: round-trip latency over one channel.
 *   server: echoes every message back (zero-copy: peek -> reserve -> copy
 *           -> commit -> release) until the client closes.
 *   client: sends --count messages of --size bytes (or for --duration
 *           seconds), one in flight, and reports the round-trip times
 *           (median, spread) and the events.
 *   --reconnect N: N connections one after another instead, each set up,
 *           answered once and closed; the client reports the set-up times
 *           (before connect until its first echo came back).
 */
#include "tool_service.h"

static const char usage[] =
    "usage: ivcom-pingpong [options] server|client\n"
    "  -p, --peer DOMID     the other domain (client: required; server: serve\n"
    "                       that domain alone, else a service for many)\n"
    "  -A, --allow D1,D2    service: only these domains (default: any)\n"
    "  -C, --clients N      service: exit once N clients have ended\n"
    "  -n, --name NAME      channel name (default ivcom-test)\n"
    "  -s, --size BYTES     message size (default 64)\n"
    "  -c, --count N        round trips (default 10000; client)\n"
    "  -D, --duration S     stop after S seconds (or at --count; client)\n"
    "  -w, --spin US        spin before blocking (default 30)\n"
    "  -l, --poll           never block: spin only\n"
    "  -o, --order N        ring order, log2 bytes (server; default 16)\n"
    "  -t, --timeout MS     set-up and per-message timeout (default 10000)\n"
    "  -P, --platform NAME  sim | xen-linux (default: auto)\n"
    "  -j, --json           one JSON object on stdout\n"
    "  --reconnect N        N connections one after another, one round trip\n"
    "                       each; the client reports each set-up time (server:\n"
    "                       with -p, offer again after each)\n"
    "  --gap MS             client: pause between those connections\n"
    "  --at T               client: start the measured round trips at\n"
    "                       CLOCK_MONOTONIC T seconds (after the warm-up);\n"
    "                       --at -: say ready on stderr, then read T from stdin\n";

static int serve(struct ivcom_chan *ch, int timeout_ms)
{
    long long n = 0;

    for (;;) {
        const void *in;
        void *out;
        size_t len;
        int err = ivcom_msg_peek(ch, &in, &len, -1);

        if (err == -EPIPE)
            break;
        if (err)
            tool_die(1, "receive: %s", ivcom_strerror(err));
        err = ivcom_msg_reserve(ch, len, &out, timeout_ms);
        if (err)
            tool_die(1, "reply: %s", ivcom_strerror(err));
        memcpy(out, in, len);
        ivcom_msg_commit(ch);
        ivcom_msg_release(ch);
        n++;
    }
    fprintf(stderr, "ivcom-pingpong: server echoed %lld messages\n", n);
    return 0;
}

/* A service's turn for one client: echo what is there, without waiting
 * for more (the reply may wait for room). */
static int echo_turn(struct tool_client *c, const struct tool_opts *o)
{
    for (;;) {
        const void *in;
        void *out;
        size_t len;
        int err = ivcom_msg_try_peek(c->ch, &in, &len);

        if (err == -EAGAIN)
            return 0;
        if (err)
            return err;
        err = ivcom_msg_reserve(c->ch, len, &out, o->timeout_ms);
        if (err)
            return err;
        memcpy(out, in, len);
        ivcom_msg_commit(c->ch);
        ivcom_msg_release(c->ch);
        c->count++;
    }
}

/* --reconnect on the client: connect, one round trip, close, N times;
 * each set-up time runs from before ivcom_connect until the echo is back. */
static int reconnect_client(const struct tool_opts *o, struct ivcom_platform *plat)
{
    uint64_t *t = calloc((size_t)o->reconnect, sizeof(*t)), sum = 0;
    unsigned char *buf = calloc(1, o->size ? o->size : 1);
    long long k, n = o->reconnect;

    if (!t || !buf)
        tool_die(1, "out of memory");
    for (k = 0; k < n; k++) {
        uint64_t t0 = tool_now_ns();
        struct ivcom_chan *ch = tool_chan_open(o, plat);
        ssize_t r;

        memcpy(buf, &k, o->size < sizeof(k) ? o->size : sizeof(k));
        r = ivcom_send(ch, buf, o->size, o->timeout_ms);
        if (r < 0)
            tool_die(1, "connection %lld: send: %s", k, ivcom_strerror((int)r));
        r = ivcom_recv(ch, buf, o->size, o->timeout_ms);
        if (r < 0)
            tool_die(1, "connection %lld: receive: %s", k, ivcom_strerror((int)r));
        if ((size_t)r != o->size || (o->size >= sizeof(k) && memcmp(buf, &k, sizeof(k))))
            tool_die(1, "connection %lld: the echo came back wrong", k);
        t[k] = tool_now_ns() - t0;
        sum += t[k];
        ivcom_close(ch);
        if (o->gap_ms && k + 1 < n)
            tool_sleep_until(tool_now_ns() + (uint64_t)o->gap_ms * 1000000u);
    }
    if (o->json) {
        printf("{\"tool\": \"ivcom-pingpong\", \"role\": \"reconnect\", \"platform\": \"%s\", "
               "\"size\": %zu, \"count\": %lld, \"gap_ms\": %u, \"setup_us\": [",
               ivcom_platform_name(plat), o->size, n, o->gap_ms);
        for (k = 0; k < n; k++)
            printf("%s%.1f", k ? ", " : "", t[k] / 1e3);
        printf("]}\n");
    }
    qsort(t, (size_t)n, sizeof(*t), cmp_u64);
    if (!o->json)
        printf("%lld connections: set-up to first echo median %.1f us (min %.1f, max %.1f, "
               "mean %.1f)\n", n, t[(n - 1) / 2] / 1e3, t[0] / 1e3, t[n - 1] / 1e3,
               (double)sum / (double)n / 1e3);
    free(t);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    struct tool_opts o;
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    struct ivcom_stats st;
    uint64_t *rtt, sum = 0, tsc0 = 0, tsc1, mono0 = 0, mono1;
    unsigned char *buf;
    long long i, warm, n, cap;
    struct tool_deadline dl = { 0, 0 };

    tool_prog = "ivcom-pingpong";
    tool_parse(argc, argv, &o, usage, NULL);
    if (o.params.mode != IVCOM_MODE_MESSAGE)
        tool_die(2, "ivcom-pingpong uses message mode");
    if (strcmp(o.role, "server") == 0 && o.peer < 0)
        return tool_run_service(&o, echo_turn, "echoed");
    if (o.reconnect) {
        int err = ivcom_platform_open(o.platform, &plat);

        if (err)
            tool_die(1, "platform: %s", ivcom_strerror(err));
        if (strcmp(o.role, "client") == 0) {
            reconnect_client(&o, plat);
        } else {
            for (i = 0; i < o.reconnect; i++) {
                ch = tool_chan_open(&o, plat);
                serve(ch, o.timeout_ms);
                ivcom_close(ch);
            }
        }
        ivcom_platform_close(plat);
        return 0;
    }
    ch = tool_channel(&o, &plat);
    if (strcmp(o.role, "server") == 0) {
        serve(ch, o.timeout_ms);
        ivcom_close(ch);
        ivcom_platform_close(plat);
        return 0;
    }

    if (o.size > ivcom_max_msg(ch))
        tool_die(2, "--size %zu exceeds the largest message %zu", o.size, ivcom_max_msg(ch));
    /* the times array grows as needed: a --duration run may stop long
     * before a large --count */
    cap = o.count < 65536 ? o.count : 65536;
    buf = calloc(1, o.size ? o.size : 1);
    rtt = calloc((size_t)cap, sizeof(*rtt));
    if (!buf || !rtt)
        tool_die(1, "out of memory");
    warm = o.count / 10 < 1000 ? o.count / 10 : 1000;
    if ((o.at_ns || o.at_stdin) && warm > 100)
        warm = 100;     /* many clients start together: keep their warm-up short */
    for (i = -warm; i < o.count; i++) {
        uint64_t t0 = tool_now_ns();
        ssize_t r;

        if (i == 0) {
            tool_start(&o);
            tool_deadline_start(&dl, &o);
            tsc0 = tool_tsc();
            mono0 = tool_now_ns();
            t0 = mono0;
        }
        else if (i > 0 && tool_deadline_passed(&dl))
            break;
        if (i == cap) {
            cap = cap * 2 < o.count ? cap * 2 : o.count;
            rtt = realloc(rtt, (size_t)cap * sizeof(*rtt));
            if (!rtt)
                tool_die(1, "out of memory");
        }

        memcpy(buf, &i, o.size < sizeof(i) ? o.size : sizeof(i));
        r = ivcom_send(ch, buf, o.size, o.timeout_ms);
        if (r < 0)
            tool_die(1, "send: %s", ivcom_strerror((int)r));
        r = ivcom_recv(ch, buf, o.size, o.timeout_ms);
        if (r < 0)
            tool_die(1, "receive: %s", ivcom_strerror((int)r));
        if ((size_t)r != o.size || (o.size >= sizeof(i) && memcmp(buf, &i, sizeof(i))))
            tool_die(1, "echo %lld came back wrong", i);
        if (i >= 0) {
            rtt[i] = tool_now_ns() - t0;
            sum += rtt[i];
        }
    }
    tsc1 = tool_tsc();
    mono1 = tool_now_ns();
    n = i;
    ivcom_get_stats(ch, &st);
    qsort(rtt, (size_t)n, sizeof(*rtt), cmp_u64);
#define PCT(p) (rtt[(size_t)((n - 1) * (p) / 100)])
    if (o.json)
        printf("{\"tool\": \"ivcom-pingpong\", \"platform\": \"%s\", \"size\": %zu, "
               "\"count\": %lld, \"poll\": %d, \"spin_us\": %u, "
               "\"rtt_ns\": {\"min\": %llu, \"p10\": %llu, \"median\": %llu, "
               "\"p90\": %llu, \"p99\": %llu, \"mean\": %llu}, "
               "\"notifies_sent\": %llu, \"notifies_suppressed\": %llu, "
               "\"wakeups\": %llu, \"spins\": %llu, \"blocks\": %llu, "
               "\"tsc_begin\": %llu, \"tsc_end\": %llu, "
               "\"mono_begin_ns\": %llu, \"mono_end_ns\": %llu}\n",
               ivcom_platform_name(plat), o.size, n, o.params.poll_only,
               o.params.spin_us, (unsigned long long)rtt[0], (unsigned long long)PCT(10),
               (unsigned long long)PCT(50), (unsigned long long)PCT(90),
               (unsigned long long)PCT(99), (unsigned long long)(sum / (uint64_t)n),
               (unsigned long long)st.notifies_sent,
               (unsigned long long)st.notifies_suppressed,
               (unsigned long long)st.wakeups, (unsigned long long)st.spins,
               (unsigned long long)st.blocks, (unsigned long long)tsc0,
               (unsigned long long)tsc1, (unsigned long long)mono0,
               (unsigned long long)mono1);
    else
        printf("%lld round trips of %zu B: median %.2f us (p10 %.2f, p90 %.2f, p99 %.2f); "
               "events sent %llu, suppressed %llu\n",
               n, o.size, PCT(50) / 1e3, PCT(10) / 1e3, PCT(90) / 1e3,
               PCT(99) / 1e3, (unsigned long long)st.notifies_sent,
               (unsigned long long)st.notifies_suppressed);
    free(buf);
    free(rtt);
    ivcom_close(ch);
    ivcom_platform_close(plat);
    return 0;
}
