/* SPDX-License-Identifier: MIT */
/*
 * ivcom-kv: the kv service and its command-line client.
 *
 *   serve NAME   the service as a Linux process: every allowed domain, many
 *                at once, each on its own channel, one request handler
 *                (minios-app/apps/kv, the tiny guest's engine) over one
 *                store bounded by --memory
 *   get|put|del|list|stats   one request each (list: as many as it takes)
 *   bench        a checked mix of GET/PUT/DEL on keys of its own: ops/s,
 *                p50/p99 latency; every reply is checked against what the
 *                client wrote
 *
 * The wire format is kv_proto.h's.
 */
#include <signal.h>
#include <unistd.h>

#include "kv_serve.h"
#include "tool_service.h"

static const char usage[] =
    "usage: ivcom-kv serve NAME [--allow D1,D2] [--clients N] [--memory BYTES]\n"
    "       ivcom-kv [-d DOMID] [-n NAME] get KEY | put KEY VALUE | del KEY\n"
    "       ivcom-kv [-d DOMID] [-n NAME] list [PREFIX] | stats\n"
    "       ivcom-kv [-d DOMID] [-n NAME] bench [-c N | -D S] [--keys K] [--size B]\n"
    "  -d, --domain DOMID   the service's domain (default 0)\n"
    "  -n, --name NAME      the service's name (default kv)\n"
    "  -t, --timeout MS     set-up and per-request timeout (default 10000)\n"
    "  -P, --platform NAME  sim | xen-linux (default: auto)\n"
    "  -j, --json           JSON output (stats, list, bench, serve reports)\n"
    " serve:\n"
    "  -A, --allow D1,D2    only these domains (default: any)\n"
    "  -C, --clients N      exit once N clients have ended\n"
    "  -m, --memory BYTES   the store's byte budget (default 16M; K/M suffixes)\n"
    "  -V, --value-max B    largest value (default: what one reply carries)\n"
    "  -o, --order N        ring order of every channel, log2 bytes (default 16)\n"
    "  -w, --spin US        look again this long after a request before\n"
    "                       sleeping in poll (default 30; 0: sleep at once)\n"
    " put: VALUE - reads the value from stdin\n"
    " bench:\n"
    "  -c, --count N        requests (default 10000)\n"
    "  -D, --duration S     stop after S seconds (or at --count)\n"
    "  -k, --keys K         keys of its own (default 100)\n"
    "  -s, --size BYTES     value size (default 64)\n"
    "  --prefix P           key prefix (default bench/DOMID/PID/)\n"
    "  --reconnect          when the service goes away, connect again (within\n"
    "                       --timeout) and carry on: a restarted service's\n"
    "                       store is empty, which the checks allow\n"
    "  --at T|-             start the measured loop at CLOCK_MONOTONIC T s\n"
    "                       (-: say ready on stderr, then read T from stdin)\n"
    "exit status: 0 ok, 1 error (a key not found included), 2 bad arguments\n";

enum { OPT_PREFIX = 300, OPT_RECONNECT, OPT_AT };

struct kv_opts {
    const char *cmd;
    char **args;
    int nargs;
    int domain;
    const char *name;
    const char *platform;
    int timeout_ms;
    int json;
    /* serve */
    int allow[64];
    unsigned nallow;
    long long clients;
    long long memory;
    long long value_max;
    int order;
    long long spin_us;
    /* bench */
    long long count;
    int count_set;
    unsigned duration_s;
    long long keys;
    size_t size;
    const char *prefix;
    int reconnect;
    uint64_t at_ns;
    int at_stdin;
    unsigned char given[512];   /* options seen, by getopt code */
};

static const struct {
    const char *name;
    int argmin, argmax;
} cmds[] = {
    { "serve", 1, 1 }, { "get", 1, 1 }, { "put", 2, 2 }, { "del", 1, 1 },
    { "list", 0, 1 }, { "stats", 0, 0 }, { "bench", 0, 0 },
};

/* Options that belong to one command only. */
static void only_for(const struct kv_opts *o, int opt, const char *spelled, const char *cmd)
{
    if (o->given[opt] && strcmp(o->cmd, cmd))
        tool_die(2, "%s is for %s", spelled, cmd);
}

static void parse(int argc, char **argv, struct kv_opts *o)
{
    static const struct option longopts[] = {
        { "domain", required_argument, 0, 'd' },
        { "name", required_argument, 0, 'n' },
        { "timeout", required_argument, 0, 't' },
        { "platform", required_argument, 0, 'P' },
        { "json", no_argument, 0, 'j' },
        { "allow", required_argument, 0, 'A' },
        { "clients", required_argument, 0, 'C' },
        { "memory", required_argument, 0, 'm' },
        { "value-max", required_argument, 0, 'V' },
        { "order", required_argument, 0, 'o' },
        { "spin", required_argument, 0, 'w' },
        { "count", required_argument, 0, 'c' },
        { "duration", required_argument, 0, 'D' },
        { "keys", required_argument, 0, 'k' },
        { "size", required_argument, 0, 's' },
        { "prefix", required_argument, 0, OPT_PREFIX },
        { "reconnect", no_argument, 0, OPT_RECONNECT },
        { "at", required_argument, 0, OPT_AT },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 }
    };
    struct tool_opts allow;
    size_t i;
    int c;

    memset(o, 0, sizeof(*o));
    o->name = "kv";
    o->timeout_ms = 10000;
    o->memory = 16ll << 20;
    o->order = 16;
    o->spin_us = 30;
    o->count = 10000;
    o->keys = 100;
    o->size = 64;
    opterr = 0;                 /* our own one-line messages */
    while ((c = getopt_long(argc, argv, ":d:n:t:P:jA:C:m:V:o:w:c:D:k:s:h", longopts, NULL)) != -1) {
        if (c >= 0 && c < (int)sizeof(o->given))
            o->given[c] = 1;
        switch (c) {
        case 'd': o->domain = (int)tool_num("--domain", optarg, 0, 32751); break;
        case 'n': o->name = optarg; break;
        case 't': o->timeout_ms = (int)tool_num("--timeout", optarg, 1, 1 << 30); break;
        case 'P': o->platform = optarg; break;
        case 'j': o->json = 1; break;
        case 'A':
            tool_parse_allow(&allow, optarg);
            memcpy(o->allow, allow.allow, sizeof(o->allow));
            o->nallow = allow.nallow;
            break;
        case 'C': o->clients = tool_num("--clients", optarg, 1, 1ll << 40); break;
        case 'm': o->memory = tool_num("--memory", optarg, KV_STORE_MIN_BUDGET, 1ll << 40); break;
        case 'V': o->value_max = tool_num("--value-max", optarg, 1, 1 << 30); break;
        case 'o':
            o->order = (int)tool_num("--order", optarg, IVCOM_RING_ORDER_MIN, IVCOM_RING_ORDER_MAX);
            break;
        case 'w': o->spin_us = tool_num("--spin", optarg, 0, 1000000); break;
        case 'c':
            o->count = tool_num("--count", optarg, 1, 1ll << 40);
            o->count_set = 1;
            break;
        case 'D': o->duration_s = (unsigned)tool_num("--duration", optarg, 1, 86400); break;
        case 'k': o->keys = tool_num("--keys", optarg, 1, 1 << 20); break;
        case 's': o->size = (size_t)tool_num("--size", optarg, 0, 1 << 20); break;
        case OPT_PREFIX: o->prefix = optarg; break;
        case OPT_RECONNECT: o->reconnect = 1; break;
        case OPT_AT:
            if (strcmp(optarg, "-") == 0)
                o->at_stdin = 1;
            else
                o->at_ns = tool_at(optarg);
            break;
        case 'h': printf("%s", usage); exit(0);
        case ':':
            tool_die(2, "%s needs an argument (see --help)", argv[optind - 1]);
            break;
        default:
            if (optopt)
                tool_die(2, "unknown option '-%c' (see --help)", optopt);
            tool_die(2, "unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        tool_die(2, "expected a command: serve, get, put, del, list, stats or bench (see --help)");
    o->cmd = argv[optind];
    o->args = argv + optind + 1;
    o->nargs = argc - optind - 1;
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(cmds[i].name, o->cmd) == 0)
            break;
    if (i == sizeof(cmds) / sizeof(cmds[0]))
        tool_die(2, "unknown command '%s' (see --help)", o->cmd);
    if (o->nargs < cmds[i].argmin || o->nargs > cmds[i].argmax)
        tool_die(2, "%s takes %d%s argument%s (see --help)", o->cmd, cmds[i].argmin,
                 cmds[i].argmax > cmds[i].argmin ? " or 1" : "",
                 cmds[i].argmax == 1 ? "" : "s");
    only_for(o, 'A', "--allow", "serve");
    only_for(o, 'C', "--clients", "serve");
    only_for(o, 'm', "--memory", "serve");
    only_for(o, 'V', "--value-max", "serve");
    only_for(o, 'o', "--order", "serve");
    only_for(o, 'w', "--spin", "serve");
    only_for(o, 'c', "--count", "bench");
    only_for(o, 'D', "--duration", "bench");
    only_for(o, 'k', "--keys", "bench");
    only_for(o, 's', "--size", "bench");
    only_for(o, OPT_PREFIX, "--prefix", "bench");
    only_for(o, OPT_RECONNECT, "--reconnect", "bench");
    only_for(o, OPT_AT, "--at", "bench");
    if (strcmp(o->cmd, "serve") == 0 && (o->given['d'] || o->given['n']))
        tool_die(2, "serve takes the name as its argument and serves in its own domain");
    if (strcmp(o->cmd, "serve") == 0 && (!o->args[0][0] || strlen(o->args[0]) > 64))
        tool_die(2, "serve: NAME must be 1..64 characters");
    for (i = 0; i < (size_t)o->nargs && strcmp(o->cmd, "serve") && strcmp(o->cmd, "list"); i++)
        if (i == 0 && (!o->args[0][0] || strlen(o->args[0]) > KV_KEY_MAX))
            tool_die(2, "KEY must be 1..%u bytes", KV_KEY_MAX);
    if (strcmp(o->cmd, "list") == 0 && o->nargs && strlen(o->args[0]) > KV_KEY_MAX)
        tool_die(2, "PREFIX must be at most %u bytes", KV_KEY_MAX);
}

/* ---- serve ------------------------------------------------------------- */

static struct kv_store store;
static uint8_t *scratch;                /* one reply, built before it is sent */
static size_t scratch_cap;
static const int turn_max = 256;        /* requests per client per turn */
static uint64_t spin_ns;                /* --spin: keep looking this long after work */
static uint64_t last_work_ns;

/* A client's turn: its pending reply first, then its requests, each
 * answered at once -- or kept (one reply per client, c->buf) when its
 * reply ring is full: then its requests wait in its ring until it reads,
 * and the other clients are served meanwhile. */
static int kv_turn(struct tool_client *c, const struct tool_opts *to)
{
    size_t cap = ivcom_max_msg(c->ch);
    uint64_t now;
    int k;

    (void)to;
    if (cap > scratch_cap)
        cap = scratch_cap;
    for (k = 0; k < turn_max; k++) {
        const void *in;
        void *out;
        size_t len, n;
        int err;

        if (c->have) {
            ssize_t r = ivcom_try_send(c->ch, c->buf, c->have);

            if (r == -EAGAIN)
                return 0;
            if (r < 0)
                return (int)r;
            c->have = 0;
        }
        err = ivcom_msg_try_peek(c->ch, &in, &len);
        if (err == -EAGAIN)
            break;
        if (err)
            return err;
        n = kv_serve(&store, in, len, scratch, cap);
        err = ivcom_msg_try_reserve(c->ch, n, &out);
        if (err == 0) {
            memcpy(out, scratch, n);
            err = ivcom_msg_commit(c->ch);
        } else if (err == -EAGAIN) {
            if (!c->buf && !(c->buf = malloc(scratch_cap)))
                return -ENOMEM;
            memcpy(c->buf, scratch, n);
            c->have = n;
            err = 0;
        }
        if (err)
            return err;
        err = ivcom_msg_release(c->ch);
        if (err)
            return err;
        c->count++;
        c->bytes += len;
    }
    if (k == turn_max)
        return 1;
    /* Adaptive wait, as a channel's own: a client that just sent is likely
     * to send again within a round trip, so look again for spin_ns before
     * sleeping in poll() (a wake-up across CPUs costs ~50 us here). */
    if (!spin_ns)
        return 0;
    now = tool_now_ns();
    if (k)
        last_work_ns = now;
    return now - last_work_ns < spin_ns;
}

static int cmd_serve(const struct kv_opts *o)
{
    struct tool_opts to;
    int err;

    memset(&to, 0, sizeof(to));
    to.name = o->args[0];
    to.platform = o->platform;
    to.json = o->json;
    to.timeout_ms = o->timeout_ms;
    memcpy(to.allow, o->allow, sizeof(to.allow));
    to.nallow = o->nallow;
    to.clients = o->clients;
    to.peer = -1;
    ivcom_params_init(&to.params);
    to.params.tx_order = to.params.rx_order = (uint8_t)o->order;
    spin_ns = (uint64_t)o->spin_us * 1000u;
    scratch_cap = ((size_t)1 << o->order);
    scratch = malloc(scratch_cap);
    if (!scratch)
        tool_die(1, "out of memory");
    err = kv_store_init(&store, (size_t)o->memory,
                        o->value_max ? (uint32_t)o->value_max : UINT32_MAX);
    if (err)
        tool_die(1, "store: %s", strerror(-err));
    signal(SIGPIPE, SIG_IGN);
    err = tool_run_service(&to, kv_turn, "requests");
    kv_store_fini(&store);
    free(scratch);
    return err;
}

/* ---- client ------------------------------------------------------------ */

struct kv_client {
    const struct kv_opts *o;
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    uint8_t *req, *rep;
    size_t cap;                 /* of req and rep: the channel's largest message */
    uint32_t id;
    /* the last reply */
    uint8_t status;
    uint16_t flags;
    const uint8_t *payload;
    uint32_t plen;
    long long reconnects;
};

static const char *status_text(uint8_t st)
{
    static const char *const text[] = {
        [KV_OK] = "ok", [KV_ENOTFOUND] = "not found", [KV_ETOOLARGE] = "too large",
        [KV_EFULL] = "store full", [KV_EBADFRAME] = "bad frame", [KV_EBADOP] = "bad op",
        [KV_EBADKEY] = "bad key",
    };

    return st < sizeof(text) / sizeof(text[0]) ? text[st] : "unknown status";
}

static int kv_connect(struct kv_client *k)
{
    int err = ivcom_connect(k->plat, k->o->name, k->o->domain, NULL, &k->ch, k->o->timeout_ms);
    size_t cap;

    if (err)
        return err;
    cap = ivcom_max_msg(k->ch);
    if (cap > k->cap) {
        free(k->req);
        free(k->rep);
        k->req = malloc(cap);
        k->rep = malloc(cap);
        if (!k->req || !k->rep)
            tool_die(1, "out of memory");
        k->cap = cap;
    }
    return 0;
}

static void kv_open(struct kv_client *k, const struct kv_opts *o)
{
    int err;

    memset(k, 0, sizeof(*k));
    k->o = o;
    err = ivcom_platform_open(o->platform, &k->plat);
    if (err)
        tool_die(1, "platform %s: %s", o->platform ? o->platform : "(default)",
                 ivcom_strerror(err));
    err = kv_connect(k);
    if (err)
        tool_die(1, "connect %s on domain %d: %s", o->name, o->domain, ivcom_strerror(err));
}

static void kv_end(struct kv_client *k)
{
    if (k->ch)
        ivcom_close(k->ch);
    ivcom_platform_close(k->plat);
    free(k->req);
    free(k->rep);
}

/* One request, its reply checked for framing: 0 (then k->status...) or
 * the channel's -errno; a reply that does not frame is fatal. */
static int kv_call(struct kv_client *k, uint8_t op, const void *key, size_t klen,
                   const void *val, size_t vlen)
{
    size_t n;
    ssize_t r;

    if (KV_REQ_HDR + klen + vlen > k->cap)
        tool_die(1, "request of %zu bytes over the channel's largest message %zu",
                 KV_REQ_HDR + klen + vlen, k->cap);
    n = kv_req_header(k->req, op, ++k->id, (uint16_t)klen, (uint32_t)vlen);
    if (klen)
        memcpy(k->req + KV_REQ_HDR, key, klen);
    if (vlen)
        memcpy(k->req + KV_REQ_HDR + klen, val, vlen);
    r = ivcom_send(k->ch, k->req, n, k->o->timeout_ms);
    if (r < 0)
        return (int)r;
    r = ivcom_recv(k->ch, k->rep, k->cap, k->o->timeout_ms);
    if (r < 0)
        return (int)r;
    if ((size_t)r < KV_REPLY_HDR || k->rep[0] != op || kv_get32(k->rep + 4) != k->id ||
        kv_get32(k->rep + 8) != (size_t)r - KV_REPLY_HDR)
        tool_die(1, "malformed reply to request %u (%zd bytes)", k->id, r);
    k->status = k->rep[1];
    k->flags = kv_get16(k->rep + 2);
    k->payload = k->rep + KV_REPLY_HDR;
    k->plen = kv_get32(k->rep + 8);
    if (k->status != KV_OK && k->plen)
        tool_die(1, "error reply with a payload to request %u", k->id);
    return 0;
}

/* kv_call for the one-shot commands: any failure is fatal. */
static void kv_call1(struct kv_client *k, const char *what, uint8_t op, const void *key,
                     size_t klen, const void *val, size_t vlen)
{
    int err = kv_call(k, op, key, klen, val, vlen);

    if (err)
        tool_die(1, "%s: %s", what, ivcom_strerror(err));
    if (k->status != KV_OK)
        tool_die(1, "%s: %s", what, status_text(k->status));
}

static void json_string(const uint8_t *s, size_t n)
{
    size_t i;

    putchar('"');
    for (i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            printf("\\%c", s[i]);
        else if (s[i] < 0x20 || s[i] >= 0x7f)
            printf("\\u%04x", s[i]);
        else
            putchar(s[i]);
    }
    putchar('"');
}

static const char *const stat_names[KV_STAT_COUNT] = {
    "keys", "bytes_used", "bytes_budget", "key_max", "value_max", "gets", "hits",
    "puts", "dels", "lists", "errors", "bad_frames",
};

static int cmd_stats(struct kv_client *k)
{
    unsigned i, n;

    kv_call1(k, "stats", KV_OP_STATS, NULL, 0, NULL, 0);
    n = k->plen / 8;
    if (n > KV_STAT_COUNT)
        n = KV_STAT_COUNT;
    if (k->o->json)
        putchar('{');
    for (i = 0; i < n; i++) {
        unsigned long long v = (unsigned long long)kv_get64(k->payload + 8 * i);

        if (k->o->json)
            printf("%s\"%s\": %llu", i ? ", " : "", stat_names[i], v);
        else
            printf("%-13s %llu\n", stat_names[i], v);
    }
    if (k->o->json)
        printf("}\n");
    return 0;
}

static int cmd_list(struct kv_client *k, const char *prefix)
{
    uint8_t cursor[KV_KEY_MAX];
    size_t clen = 0, plen = strlen(prefix);
    long long total = 0;

    if (k->o->json)
        printf("[");
    for (;;) {
        size_t off = 0;

        kv_call1(k, "list", KV_OP_LIST, prefix, plen, cursor, clen);
        while (off < k->plen) {
            size_t kl;

            if (off + KV_LIST_ENTRY_HDR > k->plen)
                tool_die(1, "list: malformed reply");
            kl = kv_get16(k->payload + off);
            off += KV_LIST_ENTRY_HDR;
            if (kl == 0 || kl > KV_KEY_MAX || off + kl > k->plen)
                tool_die(1, "list: malformed reply");
            if (k->o->json) {
                printf("%s", total ? ", " : "");
                json_string(k->payload + off, kl);
            } else {
                fwrite(k->payload + off, 1, kl, stdout);
                putchar('\n');
            }
            memcpy(cursor, k->payload + off, kl);
            clen = kl;
            off += kl;
            total++;
        }
        if (!(k->flags & KV_REPLY_MORE))
            break;
        if (!clen)
            tool_die(1, "list: the service said more but sent no key");
    }
    if (k->o->json)
        printf("]\n");
    return 0;
}

static int cmd_put(struct kv_client *k, const char *key, const char *val)
{
    size_t vlen = strlen(val);
    uint8_t *buf = NULL;

    if (strcmp(val, "-") == 0) {
        size_t cap = k->cap;

        buf = malloc(cap);
        if (!buf)
            tool_die(1, "out of memory");
        vlen = fread(buf, 1, cap, stdin);
        if (ferror(stdin))
            tool_die(1, "put: reading stdin: %s", strerror(errno));
        if (vlen + KV_REQ_HDR + strlen(key) > k->cap)
            tool_die(1, "put: value too large for one message (%zu bytes)", k->cap);
        val = (const char *)buf;
    }
    kv_call1(k, "put", KV_OP_PUT, key, strlen(key), val, vlen);
    free(buf);
    return 0;
}

/* ---- bench ------------------------------------------------------------- */

/* What the client knows of each of its keys. */
enum { KEY_ABSENT = -1, KEY_UNKNOWN = -2 };

struct bench {
    struct kv_client *k;
    char prefix[128];
    size_t plen;
    long long nkeys;
    long long *ver;             /* per key: version stored, KEY_ABSENT, KEY_UNKNOWN */
    uint8_t *key, *val, *want;
    long long gets, puts, dels, lists, hits;
};

static size_t bench_key(struct bench *b, long long i)
{
    int n = snprintf((char *)b->key + b->plen, 24, "%08lld", i);

    return b->plen + (size_t)n;
}

/* The value of key i at version v: i and v, then a pattern of both. */
static void bench_value(uint8_t *out, size_t size, long long i, long long v)
{
    size_t j;

    for (j = 0; j < size; j++)
        out[j] = (uint8_t)(i * 31 + v * 7 + (long long)j);
    if (size >= 16) {
        memcpy(out, &i, 8);
        memcpy(out + 8, &v, 8);
    }
}

static int channel_gone(int err)
{
    return err == -EPIPE || err == -ECONNRESET || err == -ETIMEDOUT || err == -EPROTO ||
           err == -ENOTCONN || err == -ESTALE;
}

/* After the service went away: connect again (within --timeout); what it
 * stored is unknown now (a restarted service starts empty). */
static void bench_reconnect(struct bench *b, int why)
{
    struct kv_client *k = b->k;
    uint64_t end = tool_now_ns() + (uint64_t)k->o->timeout_ms * 1000000u;
    long long i;
    int err = why;

    if (!k->o->reconnect || !channel_gone(why))
        tool_die(1, "request %u: %s", k->id, ivcom_strerror(why));
    ivcom_close(k->ch);
    k->ch = NULL;
    while (tool_now_ns() < end) {
        err = kv_connect(k);
        if (err == 0)
            break;
        k->ch = NULL;
        tool_sleep_until(tool_now_ns() + 50000000u);
    }
    if (err)
        tool_die(1, "reconnect to %s on domain %d: %s", k->o->name, k->o->domain,
                 ivcom_strerror(err));
    k->reconnects++;
    fprintf(stderr, "ivcom-kv: reconnected (%s)\n", ivcom_strerror(why));
    /* a request that got no reply may or may not have been carried out */
    for (i = 0; i < b->nkeys; i++)
        b->ver[i] = KEY_UNKNOWN;
}

/* One checked operation on key i: 0, or the channel's error (the
 * operation did not complete: repeat it after reconnecting). */
static int bench_op(struct bench *b, int op, long long i, long long *next_ver)
{
    struct kv_client *k = b->k;
    size_t klen = bench_key(b, i), size = k->o->size;
    long long v = b->ver[i];
    int err;

    switch (op) {
    case KV_OP_GET:
        err = kv_call(k, KV_OP_GET, b->key, klen, NULL, 0);
        if (err)
            return err;
        b->gets++;
        if (k->status == KV_ENOTFOUND) {
            if (v >= 0)
                tool_die(1, "GET %.*s: not found, but version %lld was stored",
                         (int)klen, b->key, v);
            b->ver[i] = KEY_ABSENT;
            return 0;
        }
        if (k->status != KV_OK)
            tool_die(1, "GET %.*s: %s", (int)klen, b->key, status_text(k->status));
        if (v == KEY_ABSENT)
            tool_die(1, "GET %.*s: found a value, but the key was deleted", (int)klen, b->key);
        if (v == KEY_UNKNOWN) {
            /* before the reconnect: whichever version it was, it is ours */
            if (k->plen != size)
                tool_die(1, "GET %.*s: %u bytes, want %zu", (int)klen, b->key, k->plen, size);
            b->hits++;
            if (size >= 16) {
                long long got_i, got_v;

                memcpy(&got_i, k->payload, 8);
                memcpy(&got_v, k->payload + 8, 8);
                if (got_i != i || got_v < 0)
                    tool_die(1, "GET %.*s: not a value of this key", (int)klen, b->key);
                b->ver[i] = got_v;
                bench_value(b->want, size, i, got_v);
                if (memcmp(b->want, k->payload, size))
                    tool_die(1, "GET %.*s: value corrupted", (int)klen, b->key);
            }
            return 0;
        }
        bench_value(b->want, size, i, v);
        if (k->plen != size || memcmp(b->want, k->payload, size))
            tool_die(1, "GET %.*s: the value is not version %lld", (int)klen, b->key, v);
        b->hits++;
        return 0;
    case KV_OP_PUT:
        bench_value(b->val, size, i, *next_ver);
        err = kv_call(k, KV_OP_PUT, b->key, klen, b->val, size);
        if (err)
            return err;
        b->puts++;
        if (k->status != KV_OK)
            tool_die(1, "PUT %.*s: %s", (int)klen, b->key, status_text(k->status));
        b->ver[i] = (*next_ver)++;
        return 0;
    default:
        err = kv_call(k, KV_OP_DEL, b->key, klen, NULL, 0);
        if (err)
            return err;
        b->dels++;
        if (k->status == KV_OK && v == KEY_ABSENT)
            tool_die(1, "DEL %.*s: deleted a key that was not there", (int)klen, b->key);
        if (k->status == KV_ENOTFOUND && v >= 0)
            tool_die(1, "DEL %.*s: not found, but version %lld was stored", (int)klen,
                     b->key, v);
        if (k->status != KV_OK && k->status != KV_ENOTFOUND)
            tool_die(1, "DEL %.*s: %s", (int)klen, b->key, status_text(k->status));
        b->ver[i] = KEY_ABSENT;
        return 0;
    }
}

/* Bytewise, shorter first on a common prefix: the store's order. */
static int key_less(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    return c < 0 || (c == 0 && alen < blen);
}

/* LIST our prefix page by page; the keys must be exactly those we know
 * are there (keys of unknown state may or may not be).  0 or the
 * channel's error. */
static int bench_list_check(struct bench *b)
{
    struct kv_client *k = b->k;
    uint8_t cursor[KV_KEY_MAX];
    size_t clen = 0;
    long long seen = 0, want = 0, i;
    int err;

    for (i = 0; i < b->nkeys; i++)
        want += b->ver[i] >= 0;
    for (;;) {
        size_t off = 0;

        err = kv_call(k, KV_OP_LIST, b->prefix, b->plen, cursor, clen);
        if (err)
            return err;
        b->lists++;
        if (k->status != KV_OK)
            tool_die(1, "LIST: %s", status_text(k->status));
        while (off < k->plen) {
            size_t kl = kv_get16(k->payload + off);
            char *end;
            long long idx;
            char num[16];

            off += KV_LIST_ENTRY_HDR;
            if (kl <= b->plen || kl - b->plen >= sizeof(num) || off + kl > k->plen ||
                memcmp(k->payload + off, b->prefix, b->plen))
                tool_die(1, "LIST: a key that is not ours");
            memcpy(num, k->payload + off + b->plen, kl - b->plen);
            num[kl - b->plen] = 0;
            idx = strtoll(num, &end, 10);
            if (*end || idx < 0 || idx >= b->nkeys || b->ver[idx] == KEY_ABSENT)
                tool_die(1, "LIST: key %.*s should not be there", (int)kl, k->payload + off);
            if (clen && !key_less(cursor, clen, k->payload + off, kl))
                tool_die(1, "LIST: keys out of order");
            seen += b->ver[idx] >= 0;
            memcpy(cursor, k->payload + off, kl);
            clen = kl;
            off += kl;
        }
        if (!(k->flags & KV_REPLY_MORE))
            break;
    }
    if (seen != want)
        tool_die(1, "LIST: %lld of our %lld keys", seen, want);
    return 0;
}

static int cmd_bench(struct kv_client *k)
{
    const struct kv_opts *o = k->o;
    struct bench b;
    struct tool_opts at;
    struct tool_deadline dl;
    uint64_t *lat, t_begin, t_end, rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    long long i, n, cap, next_ver = 1;
    double secs;
    int err;

    memset(&b, 0, sizeof(b));
    b.k = k;
    if (o->prefix)
        snprintf(b.prefix, sizeof(b.prefix), "%s", o->prefix);
    else
        snprintf(b.prefix, sizeof(b.prefix), "bench/%d/%d/",
                 ivcom_platform_domid(k->plat), (int)getpid());
    b.plen = strlen(b.prefix);
    if (b.plen + 8 > KV_KEY_MAX)
        tool_die(2, "--prefix too long");
    if (o->size + KV_REQ_HDR + b.plen + 16 > k->cap)
        tool_die(2, "--size %zu exceeds what one message carries", o->size);
    b.nkeys = o->keys;
    b.ver = malloc((size_t)b.nkeys * sizeof(*b.ver));
    b.key = malloc(KV_KEY_MAX + 32);
    b.val = malloc(o->size + 1);
    b.want = malloc(o->size + 1);
    cap = o->count < 65536 ? o->count : 65536;
    lat = malloc((size_t)cap * sizeof(*lat));
    if (!b.ver || !b.key || !b.val || !b.want || !lat)
        tool_die(1, "out of memory");
    memcpy(b.key, b.prefix, b.plen);
    for (i = 0; i < b.nkeys; i++)
        b.ver[i] = KEY_UNKNOWN;         /* a --prefix given may hold old keys */

    /* populate: every key at a first version (not measured) */
    for (i = 0; i < b.nkeys; i++)
        while ((err = bench_op(&b, KV_OP_PUT, i, &next_ver)))
            bench_reconnect(&b, err);
    memset(&at, 0, sizeof(at));
    at.at_ns = o->at_ns;
    at.at_stdin = o->at_stdin;
    tool_start(&at);
    memset(&dl, 0, sizeof(dl));
    if (o->duration_s)
        dl.end_ns = tool_now_ns() + (uint64_t)o->duration_s * 1000000000u;
    b.gets = b.puts = b.dels = b.hits = 0;

    t_begin = tool_now_ns();
    for (i = 0; i < o->count; i++) {
        uint64_t t0, r;
        int op, pct;
        long long key;

        if (tool_deadline_passed(&dl))
            break;
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        r = rng >> 33;
        key = (long long)(r % (uint64_t)b.nkeys);
        pct = (int)((r >> 20) % 100);
        op = pct < 70 ? KV_OP_GET : pct < 90 ? KV_OP_PUT : KV_OP_DEL;
        if (i == cap) {
            cap = cap * 2 < o->count ? cap * 2 : o->count;
            lat = realloc(lat, (size_t)cap * sizeof(*lat));
            if (!lat)
                tool_die(1, "out of memory");
        }
        t0 = tool_now_ns();
        while ((err = bench_op(&b, op, key, &next_ver))) {
            bench_reconnect(&b, err);
            t0 = tool_now_ns();
        }
        lat[i] = tool_now_ns() - t0;
    }
    t_end = tool_now_ns();
    n = i;
    while ((err = bench_list_check(&b)))
        bench_reconnect(&b, err);

    qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
    secs = (double)(t_end - t_begin) / 1e9;
#define PCT(p) (n ? lat[(size_t)((n - 1) * (p) / 100)] : 0)
    if (o->json)
        printf("{\"tool\": \"ivcom-kv\", \"role\": \"bench\", \"platform\": \"%s\", "
               "\"domid\": %d, \"service\": \"%s\", \"server\": %d, \"count\": %lld, "
               "\"keys\": %lld, \"size\": %zu, \"seconds\": %.6f, \"ops_per_s\": %.1f, "
               "\"lat_ns\": {\"min\": %llu, \"p50\": %llu, \"p90\": %llu, \"p99\": %llu, "
               "\"max\": %llu}, \"gets\": %lld, \"hits\": %lld, \"puts\": %lld, "
               "\"dels\": %lld, \"lists\": %lld, \"reconnects\": %lld, "
               "\"begin_ns\": %llu, \"end_ns\": %llu}\n",
               ivcom_platform_name(k->plat), ivcom_platform_domid(k->plat), o->name,
               o->domain, n, b.nkeys, o->size, secs, n / (secs > 0 ? secs : 1e-9),
               (unsigned long long)PCT(0), (unsigned long long)PCT(50),
               (unsigned long long)PCT(90), (unsigned long long)PCT(99),
               (unsigned long long)PCT(100), b.gets, b.hits, b.puts, b.dels, b.lists,
               k->reconnects, (unsigned long long)t_begin, (unsigned long long)t_end);
    else
        printf("%lld requests in %.3f s: %.0f ops/s, latency p50 %.2f us, p99 %.2f us "
               "(get %lld, put %lld, del %lld; every reply checked; reconnects %lld)\n",
               n, secs, n / (secs > 0 ? secs : 1e-9), PCT(50) / 1e3, PCT(99) / 1e3,
               b.gets, b.puts, b.dels, k->reconnects);
#undef PCT
    free(lat);
    free(b.ver);
    free(b.key);
    free(b.val);
    free(b.want);
    return 0;
}

int main(int argc, char **argv)
{
    struct kv_opts o;
    struct kv_client k;
    int rc = 0;

    tool_prog = "ivcom-kv";
    parse(argc, argv, &o);
    if (strcmp(o.cmd, "serve") == 0)
        return cmd_serve(&o);
    kv_open(&k, &o);
    if (strcmp(o.cmd, "get") == 0) {
        kv_call1(&k, "get", KV_OP_GET, o.args[0], strlen(o.args[0]), NULL, 0);
        fwrite(k.payload, 1, k.plen, stdout);
        if (isatty(STDOUT_FILENO))
            putchar('\n');
    } else if (strcmp(o.cmd, "put") == 0) {
        rc = cmd_put(&k, o.args[0], o.args[1]);
    } else if (strcmp(o.cmd, "del") == 0) {
        kv_call1(&k, "del", KV_OP_DEL, o.args[0], strlen(o.args[0]), NULL, 0);
    } else if (strcmp(o.cmd, "list") == 0) {
        rc = cmd_list(&k, o.nargs ? o.args[0] : "");
    } else if (strcmp(o.cmd, "stats") == 0) {
        rc = cmd_stats(&k);
    } else {
        rc = cmd_bench(&k);
    }
    fflush(stdout);
    kv_end(&k);
    return rc;
}
