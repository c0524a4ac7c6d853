/* SPDX-License-Identifier: MIT */
/*
 * ivcom-sockbench: the baselines IVCOM is measured against, with the same
 * shape of output as ivcom-pingpong / ivcom-stream.
 *
 *   ivcom-sockbench tcp|uds|pipe pingpong|stream [-s SIZE] [-c COUNT]
 *                   [--cpus A,B] [-j]
 *   ivcom-sockbench tcp connect [-s SIZE] [-c COUNT] [-g MS] [-j]
 *   ivcom-sockbench tcp pingpong|stream -n CLIENTS -D SECONDS [-s SIZE] [-j]
 *
 * Forks a peer; pingpong echoes SIZE bytes COUNT times one in flight,
 * stream sends COUNT writes of SIZE bytes one way.  --cpus pins the two
 * processes (A = measuring side, B = peer).  connect: COUNT connections
 * one after another (GAP ms apart), each timed from socket() until its
 * first SIZE-byte echo came back.  -n: fan-in, CLIENTS processes against
 * one server (one epoll loop), all measuring the same SECONDS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "ivcom-sockbench";

static void die(int code, const char *what)
{
    fprintf(stderr, "%s: error: %s%s%s\n", prog, what, errno ? ": " : "",
            errno ? strerror(errno) : "");
    exit(code);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
    cpu_set_t set;

    if (cpu < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) < 0)
        die(1, "sched_setaffinity");
}

static void full_io(int fd, void *buf, size_t len, int wr)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = wr ? write(fd, (char *)buf + done, len - done)
                       : read(fd, (char *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EPIPE;
            die(1, wr ? "write" : "read");
        }
        done += (size_t)n;
    }
}

/* fds[0]: measuring side, fds[1]: peer side; for pipes two each way. */
struct conn { int rd[2], wr[2]; };

static void make_conn(const char *kind, struct conn *c)
{
    if (strcmp(kind, "uds") == 0) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
            die(1, "socketpair");
        c->rd[0] = c->wr[0] = sv[0];
        c->rd[1] = c->wr[1] = sv[1];
    } else if (strcmp(kind, "pipe") == 0) {
        int ab[2], ba[2];
        if (pipe(ab) < 0 || pipe(ba) < 0)
            die(1, "pipe");
        c->wr[0] = ab[1];
        c->rd[1] = ab[0];
        c->wr[1] = ba[1];
        c->rd[0] = ba[0];
    } else if (strcmp(kind, "tcp") == 0) {
        struct sockaddr_in a = { .sin_family = AF_INET };
        socklen_t alen = sizeof(a);
        int one = 1, l = socket(AF_INET, SOCK_STREAM, 0), s, t;

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (l < 0 || bind(l, (void *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
            getsockname(l, (void *)&a, &alen) < 0)
            die(1, "tcp listen on 127.0.0.1");
        s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0 || connect(s, (void *)&a, sizeof(a)) < 0)
            die(1, "tcp connect");
        t = accept(l, NULL, NULL);
        if (t < 0)
            die(1, "tcp accept");
        close(l);
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->rd[0] = c->wr[0] = s;
        c->rd[1] = c->wr[1] = t;
    } else {
        errno = 0;
        fprintf(stderr, "%s: error: transport must be tcp, uds or pipe, got '%s'\n", prog, kind);
        exit(2);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void sleep_until(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* A TCP listener on 127.0.0.1 (any port): its address in *a. */
static int tcp_listener(struct sockaddr_in *a, int backlog)
{
    socklen_t alen = sizeof(*a);
    int l = socket(AF_INET, SOCK_STREAM, 0);

    *a = (struct sockaddr_in){ .sin_family = AF_INET };
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (void *)a, sizeof(*a)) < 0 || listen(l, backlog) < 0 ||
        getsockname(l, (void *)a, &alen) < 0)
        die(1, "tcp listen on 127.0.0.1");
    return l;
}

static int tcp_dial(const struct sockaddr_in *a)
{
    int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);

    if (s < 0 || connect(s, (const void *)a, sizeof(*a)) < 0)
        die(1, "tcp connect");
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return s;
}

/* The server of connect and fan-in runs: one epoll loop over the listener
 * and every connection; echoes (pingpong) or takes in (stream: one byte
 * back at the end of each client's stream) until `clients` connections
 * have ended. */
static void tcp_serve(int l, long long clients, int echo, size_t size)
{
    struct epoll_event ev = { .events = EPOLLIN }, evs[64];
    unsigned char *buf = malloc(size > 65536 ? size : 65536);
    int ep = epoll_create1(0), one = 1;
    long long ended = 0;

    if (!buf || ep < 0)
        die(1, "epoll");
    ev.data.fd = l;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) < 0)
        die(1, "epoll_ctl");
    while (ended < clients) {
        int n = epoll_wait(ep, evs, 64, -1), i;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die(1, "epoll_wait");
        for (i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            ssize_t r;

            if (fd == l) {
                int c = accept(l, NULL, NULL);
                if (c < 0)
                    die(1, "tcp accept");
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                ev.data.fd = c;
                if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) < 0)
                    die(1, "epoll_ctl");
                continue;
            }
            r = read(fd, buf, size > 65536 ? size : 65536);
            if (r < 0 && errno == EINTR)
                continue;
            if (r > 0 && echo) {
                full_io(fd, buf, (size_t)r, 1);     /* at most one message in flight */
            } else if (r <= 0) {
                if (r < 0 && errno != ECONNRESET)
                    die(1, "read");
                if (!echo)
                    (void)!write(fd, buf, 1);       /* done: all of it was read */
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                close(fd);
                ended++;
            }
        }
    }
    free(buf);
    close(ep);
}

/* connect: COUNT connections one after another; prints the set-up times. */
static int run_connect(size_t size, long long count, unsigned gap_ms, int json)
{
    struct sockaddr_in a;
    int l = tcp_listener(&a, 16), st;
    uint64_t *t = calloc((size_t)count, sizeof(*t)), sum = 0;
    unsigned char *buf = calloc(1, size);
    long long k;
    pid_t pid;

    if (!t || !buf)
        die(1, "malloc");
    pid = fork();
    if (pid < 0)
        die(1, "fork");
    if (pid == 0) {
        tcp_serve(l, count, 1, size);
        _exit(0);
    }
    close(l);
    for (k = 0; k < count; k++) {
        uint64_t t0 = now_ns();
        int s = tcp_dial(&a);

        memcpy(buf, &k, size < sizeof(k) ? size : sizeof(k));
        full_io(s, buf, size, 1);
        full_io(s, buf, size, 0);
        t[k] = now_ns() - t0;
        sum += t[k];
        if (size >= sizeof(k) && memcmp(buf, &k, sizeof(k)))
            errno = 0, die(1, "an echo came back wrong");
        close(s);
        if (gap_ms && k + 1 < count)
            sleep_until(now_ns() + (uint64_t)gap_ms * 1000000u);
    }
    if (json) {
        printf("{\"tool\": \"ivcom-sockbench\", \"transport\": \"tcp\", \"mode\": \"connect\", "
               "\"size\": %zu, \"count\": %lld, \"gap_ms\": %u, \"setup_us\": [",
               size, count, gap_ms);
        for (k = 0; k < count; k++)
            printf("%s%.1f", k ? ", " : "", t[k] / 1e3);
        printf("]}\n");
    } else {
        qsort(t, (size_t)count, sizeof(*t), cmp_u64);
        printf("tcp: %lld connections: set-up to first echo median %.1f us (min %.1f, "
               "max %.1f, mean %.1f)\n", count, t[(count - 1) / 2] / 1e3, t[0] / 1e3,
               t[count - 1] / 1e3, (double)sum / (double)count / 1e3);
    }
    free(t);
    free(buf);
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

/* What one fan-in client tells the parent (one pipe write, < PIPE_BUF). */
struct fanin_result {
    long long ops;              /* round trips, or writes */
    uint64_t bytes, begin_ns, end_ns;
};

/* A client connects, says so on `ready`, reads the common start time from
 * `go`, runs, and writes its result on `out`. */
static void fanin_client(const struct sockaddr_in *a, int echo, size_t size,
                         const int ready[2], const int go[2], unsigned seconds, int out)
{
    struct fanin_result r = { 0, 0, 0, 0 };
    unsigned char *buf = calloc(1, size);
    int s = tcp_dial(a);
    uint64_t end, start_ns;

    if (!buf)
        die(1, "malloc");
    close(ready[0]);
    close(go[1]);
    if (write(ready[1], "r", 1) != 1 || read(go[0], &start_ns, sizeof(start_ns)) !=
        (ssize_t)sizeof(start_ns))
        die(1, "start barrier");
    sleep_until(start_ns);
    r.begin_ns = now_ns();
    end = r.begin_ns + (uint64_t)seconds * 1000000000u;
    do {
        int k;

        for (k = 0; k < 64; k++) {      /* the clock every 64 operations */
            full_io(s, buf, size, 1);
            if (echo)
                full_io(s, buf, size, 0);
        }
        r.ops += 64;
    } while (now_ns() < end);
    if (!echo) {
        shutdown(s, SHUT_WR);
        full_io(s, buf, 1, 0);          /* the server read it all */
    }
    r.end_ns = now_ns();
    r.bytes = (uint64_t)r.ops * size;
    close(s);
    if (write(out, &r, sizeof(r)) != (ssize_t)sizeof(r))
        die(1, "write result");
    _exit(0);
}

/* -n CLIENTS: fan-in against one server; prints the totals over the time
 * from the first client's start to the last one's end, and how far apart
 * the clients started (all connect first, then start at one time). */
static int run_fanin(int echo, size_t size, long long clients, unsigned seconds, int json)
{
    struct sockaddr_in a;
    int l = tcp_listener(&a, (int)clients), fds[2], ready[2], go[2], st, failed = 0;
    uint64_t start;
    uint64_t first = UINT64_MAX, latest = 0, last = 0, bytes = 0;
    long long i, ops = 0, got = 0;
    pid_t srv, *pids = calloc((size_t)clients, sizeof(*pids));
    double secs;

    if (!pids || pipe(fds) < 0 || pipe(ready) < 0 || pipe(go) < 0)
        die(1, "pipe");
    srv = fork();
    if (srv < 0)
        die(1, "fork");
    if (srv == 0) {
        close(fds[0]);
        close(ready[0]);
        close(ready[1]);
        close(go[0]);
        close(go[1]);
        tcp_serve(l, clients, echo, size);
        _exit(0);
    }
    close(l);
    for (i = 0; i < clients; i++) {
        pids[i] = fork();
        if (pids[i] < 0)
            die(1, "fork");
        if (pids[i] == 0) {
            close(fds[0]);
            fanin_client(&a, echo, size, ready, go, seconds, fds[1]);
        }
    }
    close(fds[1]);
    close(ready[1]);
    close(go[0]);
    /* every client connected: all start 50 ms from now */
    for (i = 0; i < clients; i++) {
        struct pollfd p = { .fd = ready[0], .events = POLLIN };
        char c;

        errno = 0;
        if (poll(&p, 1, 60000) != 1 || read(ready[0], &c, 1) != 1)
            die(1, "a client did not connect within 60 s");
    }
    start = now_ns() + 50000000u;
    for (i = 0; i < clients; i++)
        if (write(go[1], &start, sizeof(start)) != (ssize_t)sizeof(start))
            die(1, "start barrier");
    close(ready[0]);
    close(go[1]);
    if (json)
        printf("{\"tool\": \"ivcom-sockbench\", \"transport\": \"tcp\", \"mode\": \"%s\", "
               "\"size\": %zu, \"clients\": %lld, \"per_client\": [",
               echo ? "pingpong" : "stream", size, clients);
    for (;;) {
        struct fanin_result r;
        ssize_t n = read(fds[0], &r, sizeof(r));

        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(r))
            break;
        if (json)
            printf("%s%lld", got ? ", " : "", r.ops);
        got++;
        ops += r.ops;
        bytes += r.bytes;
        first = r.begin_ns < first ? r.begin_ns : first;
        latest = r.begin_ns > latest ? r.begin_ns : latest;
        last = r.end_ns > last ? r.end_ns : last;
    }
    for (i = 0; i < clients; i++) {
        waitpid(pids[i], &st, 0);
        failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    waitpid(srv, &st, 0);
    failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    secs = got && last > first ? (double)(last - first) / 1e9 : 0.0;
    if (json)
        printf("], \"ops\": %lld, \"bytes\": %llu, \"seconds\": %.6f, "
               "\"start_spread_s\": %.6f, \"ops_per_s\": %.1f, \"bytes_per_s\": %.0f}\n",
               ops, (unsigned long long)bytes, secs, got ? (double)(latest - first) / 1e9 : 0.0,
               secs > 0 ? (double)ops / secs : 0.0, secs > 0 ? (double)bytes / secs : 0.0);
    else
        printf("tcp %s, %lld clients: %lld %s in %.3f s: %.0f/s, %.1f MB/s\n",
               echo ? "pingpong" : "stream", got, ops, echo ? "round trips" : "writes", secs,
               secs > 0 ? (double)ops / secs : 0.0, secs > 0 ? (double)bytes / secs / 1e6 : 0.0);
    free(pids);
    if (got != clients)
        fprintf(stderr, "%s: error: %lld of %lld clients reported\n", prog, got, clients);
    return failed || got != clients ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *kind, *what;
    size_t size = 64;
    long long count = 10000, i;
    int cpu_a = -1, cpu_b = -1, json = 0, opt, st;
    long long clients = 0;
    unsigned gap_ms = 0, seconds = 0;
    struct conn c;
    unsigned char *buf;
    pid_t pid;

    opterr = 0;
    while ((opt = getopt(argc, argv, "s:c:C:g:n:D:jh")) != -1) {
        switch (opt) {
        case 's': size = strtoull(optarg, NULL, 0); break;
        case 'c': count = strtoll(optarg, NULL, 0); break;
        case 'C':
            if (sscanf(optarg, "%d,%d", &cpu_a, &cpu_b) != 2)
                errno = 0, die(2, "--cpus wants A,B (-C 0,1)");
            break;
        case 'g': gap_ms = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'n': clients = strtoll(optarg, NULL, 0); break;
        case 'D': seconds = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'j': json = 1; break;
        case 'h':
            printf("usage: %s [-s SIZE] [-c COUNT] [-C A,B] [-j] "
                   "tcp|uds|pipe pingpong|stream\n"
                   "       %s [-s SIZE] [-c COUNT] [-g GAP_MS] [-j] tcp connect\n"
                   "       %s -n CLIENTS -D SECONDS [-s SIZE] [-j] tcp pingpong|stream\n",
                   prog, prog, prog);
            return 0;
        default:
            fprintf(stderr, "%s: error: unknown option -%c (see -h)\n", prog, optopt);
            return 2;
        }
    }
    if (optind + 2 != argc || size == 0 || size > (64u << 20) || count <= 0) {
        fprintf(stderr, "%s: error: expected TRANSPORT MODE with 0 < SIZE <= 64 MiB "
                "and COUNT > 0 (see -h)\n", prog);
        return 2;
    }
    kind = argv[optind];
    what = argv[optind + 1];
    if (strcmp(what, "pingpong") && strcmp(what, "stream") && strcmp(what, "connect")) {
        fprintf(stderr, "%s: error: mode must be pingpong, stream or connect, got '%s'\n",
                prog, what);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(what, "connect") == 0 || clients) {
        if (strcmp(kind, "tcp")) {
            fprintf(stderr, "%s: error: connect and -n are for tcp\n", prog);
            return 2;
        }
        if (strcmp(what, "connect") == 0)
            return run_connect(size, count, gap_ms, json);
        if (clients > 1024 || seconds == 0 || seconds > 3600) {
            fprintf(stderr, "%s: error: -n wants 1..1024 clients and -D 1..3600 seconds\n",
                    prog);
            return 2;
        }
        return run_fanin(what[0] == 'p', size, clients, seconds, json);
    }
    make_conn(kind, &c);
    buf = calloc(1, size);
    if (!buf)
        die(1, "malloc");
    signal(SIGPIPE, SIG_IGN);

    pid = fork();
    if (pid < 0)
        die(1, "fork");
    if (pid == 0) {
        pin(cpu_b);
        for (i = 0; i < count; i++) {
            full_io(c.rd[1], buf, size, 0);
            if (what[0] == 'p')
                full_io(c.wr[1], buf, size, 1);
        }
        if (what[0] == 's')
            full_io(c.wr[1], buf, 1, 1);    /* done */
        _exit(0);
    }
    pin(cpu_a);
    if (what[0] == 'p') {
        uint64_t *rtt = calloc((size_t)count, sizeof(*rtt)), sum = 0;
        for (i = 0; i < count; i++) {
            uint64_t t0 = now_ns();
            full_io(c.wr[0], buf, size, 1);
            full_io(c.rd[0], buf, size, 0);
            rtt[i] = now_ns() - t0;
            sum += rtt[i];
        }
        qsort(rtt, (size_t)count, sizeof(*rtt), cmp_u64);
#define PCT(p) ((unsigned long long)rtt[(size_t)((count - 1) * (p) / 100)])
        if (json)
            printf("{\"tool\": \"ivcom-sockbench\", \"transport\": \"%s\", \"size\": %zu, "
                   "\"count\": %lld, \"rtt_ns\": {\"min\": %llu, \"p10\": %llu, "
                   "\"median\": %llu, \"p90\": %llu, \"p99\": %llu, \"mean\": %llu}}\n",
                   kind, size, count, (unsigned long long)rtt[0], PCT(10), PCT(50),
                   PCT(90), PCT(99), (unsigned long long)(sum / (uint64_t)count));
        else
            printf("%s: %lld round trips of %zu B: median %.2f us (p10 %.2f, p90 %.2f)\n",
                   kind, count, size, PCT(50) / 1e3, PCT(10) / 1e3, PCT(90) / 1e3);
        free(rtt);
    } else {
        uint64_t t0 = now_ns(), t1;
        for (i = 0; i < count; i++)
            full_io(c.wr[0], buf, size, 1);
        full_io(c.rd[0], buf, 1, 0);        /* the peer has read it all */
        t1 = now_ns();
        if (json)
            printf("{\"tool\": \"ivcom-sockbench\", \"transport\": \"%s\", \"size\": %zu, "
                   "\"bytes\": %llu, \"seconds\": %.6f, \"bytes_per_s\": %.0f}\n",
                   kind, size, (unsigned long long)size * (unsigned long long)count,
                   (t1 - t0) / 1e9, (double)size * (double)count * 1e9 / (double)(t1 - t0));
        else
            printf("%s: %lld x %zu B in %.3f s: %.1f MB/s\n", kind, count, size,
                   (t1 - t0) / 1e9, (double)size * (double)count * 1e3 / (double)(t1 - t0));
    }
    waitpid(pid, &st, 0);
    free(buf);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
