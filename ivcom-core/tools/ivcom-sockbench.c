/* SPDX-License-Identifier: MIT */
/*
 * ivcom-sockbench: the baselines IVCOM is measured against, with the same
 * shape of output as ivcom-pingpong / ivcom-stream.
 *
 *   ivcom-sockbench tcp|uds|pipe pingpong|stream [-s SIZE] [-c COUNT]
 *                   [--cpus A,B] [-j]
 *
 * Forks a peer; pingpong echoes SIZE bytes COUNT times one in flight,
 * stream sends COUNT writes of SIZE bytes one way.  --cpus pins the two
 * processes (A = measuring side, B = peer).
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

int main(int argc, char **argv)
{
    const char *kind, *what;
    size_t size = 64;
    long long count = 10000, i;
    int cpu_a = -1, cpu_b = -1, json = 0, opt, st;
    struct conn c;
    unsigned char *buf;
    pid_t pid;

    opterr = 0;
    while ((opt = getopt(argc, argv, "s:c:C:jh")) != -1) {
        switch (opt) {
        case 's': size = strtoull(optarg, NULL, 0); break;
        case 'c': count = strtoll(optarg, NULL, 0); break;
        case 'C':
            if (sscanf(optarg, "%d,%d", &cpu_a, &cpu_b) != 2)
                errno = 0, die(2, "--cpus wants A,B (-C 0,1)");
            break;
        case 'j': json = 1; break;
        case 'h':
            printf("usage: %s [-s SIZE] [-c COUNT] [-C A,B] [-j] "
                   "tcp|uds|pipe pingpong|stream\n", prog);
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
    if (strcmp(what, "pingpong") && strcmp(what, "stream")) {
        fprintf(stderr, "%s: error: mode must be pingpong or stream, got '%s'\n", prog, what);
        return 2;
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
