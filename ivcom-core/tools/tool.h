/* SPDX-License-Identifier: MIT */
/* Shared bits of the command-line tools: option parsing, errors, clocks. */
#ifndef IVCOM_TOOL_H
#define IVCOM_TOOL_H

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ivcom/ivcom.h"

struct tool_opts {
    const char *role;           /* "server" or "client" */
    const char *name;
    const char *platform;
    int peer;
    size_t size;
    long long count;
    int count_set;              /* --count was given */
    unsigned duration_s;        /* --duration: stop after this long (0: count only) */
    int timeout_ms;
    int json;
    struct ivcom_params params;
    /* A server without --peer runs a service (tool_service.h): */
    int allow[64];              /* --allow D1,D2,...: the policy */
    unsigned nallow;
    long long clients;          /* --clients N: exit once N clients ended */
    /* Benchmark timing (ivcom bench's services section): */
    long long reconnect;        /* --reconnect N: N connections one after another */
    unsigned gap_ms;            /* --gap MS: pause between those connections */
    uint64_t at_ns;             /* --at T: start the measured loop at CLOCK_MONOTONIC T s */
    int at_stdin;               /* --at -: say "ready" on stderr, then read T from stdin */
};

enum { TOOL_OPT_RECONNECT = 256, TOOL_OPT_GAP, TOOL_OPT_AT };


static const char *tool_prog = "ivcom-tool";

static inline void tool_die(int code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: error: ", tool_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

static inline long long tool_num(const char *opt, const char *s, long long lo, long long hi)
{
    char *end;
    long long v;
    long long mult = 1;

    errno = 0;
    v = strtoll(s, &end, 0);
    if (*end == 'K' || *end == 'k')
        mult = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mult = 1024 * 1024, end++;
    if (errno || end == s || *end || v < lo / mult || v > hi / mult)
        tool_die(2, "%s: expected a number in [%lld, %lld], got '%s'", opt, lo, hi, s);
    return v * mult;
}

static inline uint64_t tool_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The time-stamp counter on x86 (0 elsewhere).  Xen stamps its trace
 * records with it, so the tsc_begin/tsc_end a tool prints cut a xentrace
 * recording to the measured loop. */
static inline uint64_t tool_tsc(void)
{
#if defined(__x86_64__) || defined(__i386__)
    uint32_t lo, hi;

    __asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
    return ((uint64_t)hi << 32) | lo;
#else
    return 0;
#endif
}

/* --at T: a CLOCK_MONOTONIC time in seconds (fractions allowed), as ns. */
static inline uint64_t tool_at(const char *s)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 1e9)
        tool_die(2, "--at: expected CLOCK_MONOTONIC seconds, got '%s'", s);
    return (uint64_t)(v * 1e9);
}

/* Sleep until CLOCK_MONOTONIC reaches ns (at once if it has). */
static inline void tool_sleep_until(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* The start of a client's measured loop: at once, at --at T, or (--at -)
 * once we said "ready" on stderr and read T from stdin: many clients,
 * each connected first, start together. */
static inline void tool_start(const struct tool_opts *o)
{
    uint64_t at = o->at_ns;
    char line[64];

    if (o->at_stdin) {
        fprintf(stderr, "%s: ready\n", tool_prog);
        if (!fgets(line, sizeof(line), stdin))
            tool_die(1, "--at -: no start time on stdin");
        line[strcspn(line, "\n")] = 0;
        at = tool_at(line);
    }
    if (at)
        tool_sleep_until(at);
}

/* "1,2,3" into o->allow. */
static inline void tool_parse_allow(struct tool_opts *o, const char *arg)
{
    char *end;

    o->nallow = 0;
    do {
        long v;

        errno = 0;
        v = strtol(arg, &end, 10);
        if (errno || end == arg || v < 0 || v > 32767 || (*end && *end != ','))
            tool_die(2, "--allow takes domain ids separated by commas, got '%s'", arg);
        if (o->nallow == sizeof(o->allow) / sizeof(o->allow[0]))
            tool_die(2, "--allow takes at most %zu domains",
                     sizeof(o->allow) / sizeof(o->allow[0]));
        o->allow[o->nallow++] = (int)v;
        arg = end + 1;
    } while (*end);
}

/* Common options; the tool's own are handled by `extra` (return 0 if the
 * option is not its own).  Positional: ROLE. */
static inline void tool_parse(int argc, char **argv, struct tool_opts *o,
                              const char *usage, int (*extra)(int, const char *))
{
    static const struct option longopts[] = {
        { "name", required_argument, 0, 'n' },
        { "peer", required_argument, 0, 'p' },
        { "size", required_argument, 0, 's' },
        { "count", required_argument, 0, 'c' },
        { "duration", required_argument, 0, 'D' },
        { "timeout", required_argument, 0, 't' },
        { "platform", required_argument, 0, 'P' },
        { "stream", no_argument, 0, 'S' },
        { "order", required_argument, 0, 'o' },
        { "spin", required_argument, 0, 'w' },
        { "poll", no_argument, 0, 'l' },
        { "json", no_argument, 0, 'j' },
        { "mode", required_argument, 0, 'm' },
        { "allow", required_argument, 0, 'A' },
        { "clients", required_argument, 0, 'C' },
        { "reconnect", required_argument, 0, TOOL_OPT_RECONNECT },
        { "gap", required_argument, 0, TOOL_OPT_GAP },
        { "at", required_argument, 0, TOOL_OPT_AT },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 }
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->name = "ivcom-test";
    o->peer = -1;
    o->size = 64;
    o->count = 10000;
    o->timeout_ms = 10000;
    ivcom_params_init(&o->params);
    while ((c = getopt_long(argc, argv, "n:p:s:c:D:t:P:So:w:ljm:A:C:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': o->name = optarg; break;
        case 'p': o->peer = (int)tool_num("--peer", optarg, 0, 32767); break;
        case 's': o->size = (size_t)tool_num("--size", optarg, 0, 1 << 20); break;
        case 'c':
            o->count = tool_num("--count", optarg, 1, 1ll << 40);
            o->count_set = 1;
            break;
        case 'D': o->duration_s = (unsigned)tool_num("--duration", optarg, 1, 86400); break;
        case 't': o->timeout_ms = (int)tool_num("--timeout", optarg, -1, 1 << 30); break;
        case 'P': o->platform = optarg; break;
        case 'S': o->params.mode = IVCOM_MODE_STREAM; break;
        case 'o':
            o->params.tx_order = o->params.rx_order =
                (uint8_t)tool_num("--order", optarg, IVCOM_RING_ORDER_MIN, IVCOM_RING_ORDER_MAX);
            break;
        case 'w': o->params.spin_us = (uint32_t)tool_num("--spin", optarg, 0, 10000000); break;
        case 'l': o->params.poll_only = 1; break;
        case 'j': o->json = 1; break;
        case 'A': tool_parse_allow(o, optarg); break;
        case 'C': o->clients = tool_num("--clients", optarg, 1, 1ll << 40); break;
        case TOOL_OPT_RECONNECT:
            o->reconnect = tool_num("--reconnect", optarg, 1, 1 << 20);
            break;
        case TOOL_OPT_GAP: o->gap_ms = (unsigned)tool_num("--gap", optarg, 0, 60000); break;
        case TOOL_OPT_AT:
            if (strcmp(optarg, "-") == 0)
                o->at_stdin = 1;
            else
                o->at_ns = tool_at(optarg);
            break;
        case 'h': printf("%s", usage); exit(0);
        default:
            if (extra && extra(c, optarg))
                break;
            tool_die(2, "bad option (see --help)");
        }
    }
    if (optind != argc - 1)
        tool_die(2, "expected one ROLE argument: server or client (see --help)");
    o->role = argv[optind];
    if (strcmp(o->role, "server") && strcmp(o->role, "client"))
        tool_die(2, "ROLE must be server or client, got '%s'", o->role);
    if (o->peer < 0 && strcmp(o->role, "client") == 0)
        tool_die(2, "--peer DOMID (the server's domain) is required");
    if (o->peer >= 0 && (o->nallow || o->clients))
        tool_die(2, "--allow and --clients are for a server without --peer (a service)");
    if (o->reconnect && o->peer < 0)
        tool_die(2, "--reconnect is for a client or a server with --peer");
    if ((o->at_ns || o->at_stdin) && strcmp(o->role, "client"))
        tool_die(2, "--at is for a client");
}

/* Set up the channel for our role on an open platform. */
static inline struct ivcom_chan *tool_chan_open(const struct tool_opts *o,
                                                struct ivcom_platform *plat)
{
    struct ivcom_chan *ch;
    int err;

    if (strcmp(o->role, "server") == 0) {
        err = ivcom_listen(plat, o->name, o->peer, &o->params, &ch);
        if (err)
            tool_die(1, "listen %s: %s", o->name, ivcom_strerror(err));
        err = ivcom_accept(ch, o->timeout_ms);
        if (err)
            tool_die(1, "accept %s: %s", o->name, ivcom_strerror(err));
    } else {
        err = ivcom_connect(plat, o->name, o->peer, &o->params, &ch, o->timeout_ms);
        if (err)
            tool_die(1, "connect %s on domain %d: %s", o->name, o->peer, ivcom_strerror(err));
    }
    return ch;
}

/* Open the platform and set up the channel for our role. */
static inline struct ivcom_chan *tool_channel(const struct tool_opts *o,
                                              struct ivcom_platform **plat)
{
    int err = ivcom_platform_open(o->platform, plat);

    if (err)
        tool_die(1, "platform %s: %s", o->platform ? o->platform : "(default)",
                 ivcom_strerror(err));
    return tool_chan_open(o, *plat);
}

/* The --duration deadline: a clock read every 64 calls only (in a PV
 * guest a clock read may cost a hypercall).  0 = no deadline. */
struct tool_deadline {
    uint64_t end_ns;
    unsigned calls;
};

static inline void tool_deadline_start(struct tool_deadline *d, const struct tool_opts *o)
{
    d->end_ns = o->duration_s ? tool_now_ns() + (uint64_t)o->duration_s * 1000000000u : 0;
    d->calls = 0;
}

static inline int tool_deadline_passed(struct tool_deadline *d)
{
    return d->end_ns && (++d->calls & 63) == 0 && tool_now_ns() >= d->end_ns;
}

static inline int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

#endif
