/* SPDX-License-Identifier: MIT */
/* Description: clients that die cost a service nothing.  100 cycles of a
 * client domain that connects and is killed (SIGKILL) before, during or
 * after its handshake, or closes cleanly; the service keeps serving the
 * others all along.  Afterwards the server's event channels and granted
 * pages (its open files and shared mappings) and the service's XenStore
 * nodes are back at their starting counts. */
#include <dirent.h>
#include <poll.h>
#include <time.h>

#include "chan_helpers.h"
#include "platform.h"

#define CYCLES  100
#define IDS     60
#define MAXCH   64

static int client(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_chan *ch;
    int mode = *(int *)arg, v = 7;

    if (ivcom_connect(plat, "cycles", t_dom(0), NULL, &ch, 20000))
        return mode == 0 ? 0 : 1;           /* killed mid-way is fine */
    T_EQ(ivcom_send(ch, &v, sizeof(v), 5000), sizeof(v));
    if (mode == 2) {
        T_OK(ivcom_flush(ch, 5000));
        ivcom_close(ch);
        return 0;
    }
    pause();                                /* killed while connected */
    return 0;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

/* Shared mappings: granted and mapped pages (the allocator's own private
 * mappings come and go). */
static int count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512], perms[8];
    int n = 0;

    while (f && fgets(line, sizeof(line), f))
        n += sscanf(line, "%*s %7s", perms) == 1 && perms[3] == 's';
    if (f)
        fclose(f);
    return n;
}

static int count_nodes(struct ivcom_platform *plat, const char *dir)
{
    static char buf[8192];
    char path[256], names[8192];
    const char *name;
    int i, n, total = 1;

    n = plat->ops->xs_directory(plat, 0, dir, buf, sizeof(buf));
    if (n < 0)
        return n == -ENOENT ? 0 : 1;
    memcpy(names, buf, sizeof(names));
    for (i = 0, name = names; i < n; i++, name += strlen(name) + 1) {
        snprintf(path, sizeof(path), "%.200s/%.40s", dir, name);
        total += count_nodes(plat, path);
    }
    return total;
}

struct server {
    struct ivcom_service *svc;
    struct ivcom_chan *ch[MAXCH];
    int nch;
};

/* One turn of the server: accept, drain, close what ended. */
static void serve(struct server *s, int wait_ms)
{
    struct pollfd pfd[MAXCH + 1];
    struct ivcom_chan *ch;
    int i, n = 0;

    pfd[n++] = (struct pollfd){ .fd = ivcom_service_fd(s->svc), .events = POLLIN };
    for (i = 0; i < s->nch; i++)
        pfd[n++] = (struct pollfd){ .fd = ivcom_fd(s->ch[i]), .events = POLLIN };
    T_ASSERT(poll(pfd, (nfds_t)n, wait_ms) >= 0);
    while (s->nch < MAXCH && ivcom_service_accept(s->svc, &ch, 0) == 0)
        s->ch[s->nch++] = ch;
    for (i = 0; i < s->nch; i++) {
        int v;
        ssize_t r;

        ivcom_ack(s->ch[i]);
        while ((r = ivcom_try_recv(s->ch[i], &v, sizeof(v))) == sizeof(v))
            T_EQ(v, 7);
        if (r == -EAGAIN)
            continue;
        T_ASSERT(r == -EPIPE);
        ivcom_close(s->ch[i]);
        s->ch[i--] = s->ch[--s->nch];
    }
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_service_stats st;
    struct server s = { 0 };
    char dir[128];
    int i, fds0, maps0, nodes0, turns;

    t_sim_required();
    srand((unsigned)getpid());
    plat = t_platform(t_dom(0));
    T_OK(ivcom_service_open(plat, "cycles", NULL, NULL, &s.svc));
    snprintf(dir, sizeof(dir), "/local/domain/%d/data/ivcom-svc/cycles", t_dom(0));
    serve(&s, 0);
    fds0 = count_fds();
    maps0 = count_maps();
    nodes0 = count_nodes(plat, dir);

    for (i = 0; i < CYCLES; i++) {
        int mode = i % 3, delay_ms = rand() % 40;
        uint64_t t0 = (uint64_t)time(NULL);
        pid_t pid = t_spawn(t_dom(1 + i % IDS), client, &mode);

        /* mode 0: killed somewhere in its handshake; 1: killed once
         * connected (after its message); 2: closes by itself. */
        for (turns = 0; turns < delay_ms / 5; turns++)
            serve(&s, 5);
        if (mode == 1)
            while (s.nch == 0 && (uint64_t)time(NULL) - t0 < 20)
                serve(&s, 20);
        if (mode != 2)
            kill(pid, SIGKILL);
        while (waitpid(pid, NULL, WNOHANG) == 0)
            serve(&s, 5);
    }
    /* Everything that ended is noticed and released. */
    for (turns = 0; turns < 3000; turns++) {
        ivcom_service_get_stats(s.svc, &st);
        if (s.nch == 0 && st.pending == 0 && count_nodes(plat, dir) == nodes0)
            break;
        serve(&s, 10);
    }
    ivcom_service_get_stats(s.svc, &st);
    fprintf(stderr, "accepted %llu abandoned %llu pending %u channels %d\n",
            (unsigned long long)st.accepted, (unsigned long long)st.abandoned, st.pending, s.nch);
    T_EQ(s.nch, 0);
    T_EQ(st.pending, 0);
    T_ASSERT(st.accepted >= 2 * CYCLES / 3);
    T_EQ(count_nodes(plat, dir), nodes0);
    T_EQ(count_fds(), fds0);
    T_EQ(count_maps(), maps0);
    ivcom_service_close(s.svc);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
