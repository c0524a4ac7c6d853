/* SPDX-License-Identifier: MIT */
/*
 * ivcom-kv: the kv service and its command-line client.
 *
 *   serve NAME   the service as a Linux process: every allowed domain, many
 *                at once, each on its own channel, one request handler
 *                (minios-app/apps/kv, the tiny guest's engine) over one
 *                store bounded by --memory; with --tcp ADDR:PORT the same
 *                handler serves TCP clients instead (kv_tcp.h)
 *   get|put|del|list|stats   one request each (list: as many as it takes)
 *   bench        a checked mix of GET/PUT/DEL on keys of its own: ops/s,
 *                p50/p99 latency; every reply is checked against what the
 *                client wrote (kv_bench.h)
 *
 * The wire format is kv_proto.h's; over TCP each message is prefixed by
 * its length.  The client's transport is kv_client.h.
 */
#include <signal.h>
#include <unistd.h>

#include "kv_bench.h"

static const char usage[] =
    "usage: ivcom-kv serve NAME [--allow D1,D2] [--clients N] [--memory BYTES]\n"
    "       ivcom-kv serve NAME --tcp ADDR:PORT [--clients N] [--memory BYTES]\n"
    "       ivcom-kv [-d DOMID] [-n NAME] get KEY | put KEY VALUE | del KEY\n"
    "       ivcom-kv [-d DOMID] [-n NAME] list [PREFIX] | stats\n"
    "       ivcom-kv [-d DOMID] [-n NAME] bench [-c N | -D S] [--keys K] [--size B]\n"
    "       ivcom-kv --tcp HOST:PORT get|put|del|list|stats|bench ...\n"
    "  -d, --domain DOMID   the service's domain (default 0)\n"
    "  -n, --name NAME      the service's name (default kv)\n"
    "  -T, --tcp HOST:PORT  over TCP instead of IVCOM: the same requests and\n"
    "                       replies, each message prefixed by its length (u32\n"
    "                       LE, at most what a channel of --order carries);\n"
    "                       serve: listen there ([::]:P, 0.0.0.0:P; port 0: any)\n"
    "  -t, --timeout MS     set-up and per-request timeout (default 10000)\n"
    "  -P, --platform NAME  sim | xen-linux (default: auto)\n"
    "  -j, --json           JSON output (stats, list, bench, serve reports)\n"
    " serve:\n"
    "  -A, --allow D1,D2    only these domains (default: any)\n"
    "  -C, --clients N      exit once N clients have ended\n"
    "  -m, --memory BYTES   the store's byte budget (default 16M; K/M suffixes)\n"
    "  -V, --value-max B    largest value (default: what one reply carries)\n"
    "  -o, --order N        ring order of every channel, log2 bytes (default 16);\n"
    "                       with --tcp (serve or client): the largest message\n"
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
    "  --at-wall T          start it at CLOCK_REALTIME T s (one clock for every\n"
    "                       domain of a host: clients in many domains at once)\n"
    "exit status: 0 ok, 1 error (a key not found included), 2 bad arguments\n";

enum { OPT_PREFIX = 300, OPT_RECONNECT, OPT_AT, OPT_AT_WALL };

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
        { "at-wall", required_argument, 0, OPT_AT_WALL },
        { "tcp", required_argument, 0, 'T' },
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
    while ((c = getopt_long(argc, argv, ":d:n:t:P:jA:C:m:V:o:w:c:D:k:s:T:h", longopts, NULL)) != -1) {
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
        case OPT_AT_WALL: {
            char *end;

            errno = 0;
            o->at_wall = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(o->at_wall > 0) || o->at_wall > 1e11)
                tool_die(2, "--at-wall: expected CLOCK_REALTIME seconds, got '%s'", optarg);
            break;
        }
        case 'T': {
            char host[256], port[8];

            kv_tcp_split("--tcp", optarg, host, sizeof(host), port, sizeof(port));
            o->tcp = optarg;
            break;
        }
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
    if (o->given['o'] && strcmp(o->cmd, "serve") && !o->tcp)
        tool_die(2, "--order is for serve, and for a client with --tcp");
    only_for(o, 'w', "--spin", "serve");
    only_for(o, 'c', "--count", "bench");
    only_for(o, 'D', "--duration", "bench");
    only_for(o, 'k', "--keys", "bench");
    only_for(o, 's', "--size", "bench");
    only_for(o, OPT_PREFIX, "--prefix", "bench");
    only_for(o, OPT_RECONNECT, "--reconnect", "bench");
    only_for(o, OPT_AT, "--at", "bench");
    only_for(o, OPT_AT_WALL, "--at-wall", "bench");
    if (o->tcp && o->given['A'])
        tool_die(2, "--allow is for IVCOM: a TCP service takes any client that reaches it");
    if (o->tcp && (o->given['d'] || o->given['n'] || o->given['P']))
        tool_die(2, "--tcp names the service: --domain, --name and --platform are for IVCOM");
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
    if (o->tcp) {
        struct kv_tcp_serve ts = {
            .name = o->args[0], .addr = o->tcp, .store = &store,
            .cap = kv_tcp_max_msg(o->order), .clients = o->clients, .spin_ns = spin_ns,
            .json = o->json,
        };

        err = kv_tcp_serve(&ts) ? 1 : 0;
    } else {
        err = tool_run_service(&to, kv_turn, "requests");
    }
    kv_store_fini(&store);
    free(scratch);
    return err;
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
