/* SPDX-License-Identifier: MIT */
/*
 * ivcom-selfbench: both ends of one sim channel in one process, for
 * instruction counting (valgrind --tool=callgrind --toggle-collect=ivcom_send --toggle-collect=ivcom_recv):
 * every iteration is one non-blocking ivcom_send + ivcom_recv of SIZE bytes,
 * so instructions / iterations is the cost of a send+recv pair.
 *
 *   ivcom-selfbench [-s SIZE] [-c COUNT] DOMID_A DOMID_B
 */
#include "tool.h"

static struct ivcom_platform *open_as(int domid)
{
    struct ivcom_platform *plat;
    char buf[16];
    int err;

    snprintf(buf, sizeof(buf), "%d", domid);
    setenv("IVCOM_SIM_DOMID", buf, 1);
    err = ivcom_platform_open("sim", &plat);
    if (err)
        tool_die(1, "open the sim platform as domain %d: %s", domid, ivcom_strerror(err));
    return plat;
}

__attribute__((noinline)) static long long bench_loop(struct ivcom_chan *tx,
                                                      struct ivcom_chan *rx,
                                                      void *buf, size_t size,
                                                      long long count)
{
    long long i, ok = 0;

    for (i = 0; i < count; i++) {
        ok += ivcom_send(tx, buf, size, 0) == (ssize_t)size;
        ok += ivcom_recv(rx, buf, size, 0) == (ssize_t)size;
    }
    return ok;
}

int main(int argc, char **argv)
{
    struct ivcom_platform *pa, *pb;
    struct ivcom_chan *a, *b;
    size_t size = 64;
    long long count = 100000, ok;
    int opt, da, db;
    char buf[4096] = { 0 };

    tool_prog = "ivcom-selfbench";
    while ((opt = getopt(argc, argv, "s:c:")) != -1) {
        if (opt == 's')
            size = (size_t)tool_num("-s", optarg, 0, sizeof(buf));
        else if (opt == 'c')
            count = tool_num("-c", optarg, 1, 1ll << 40);
        else
            tool_die(2, "usage: ivcom-selfbench [-s SIZE] [-c COUNT] DOMID_A DOMID_B");
    }
    if (optind + 2 != argc)
        tool_die(2, "usage: ivcom-selfbench [-s SIZE] [-c COUNT] DOMID_A DOMID_B");
    da = (int)tool_num("DOMID_A", argv[optind], 1, 32767);
    db = (int)tool_num("DOMID_B", argv[optind + 1], 1, 32767);
    pa = open_as(da);
    pb = open_as(db);
    if ((opt = ivcom_listen(pa, "selfbench", db, NULL, &a)) ||
        (opt = ivcom_connect(pb, "selfbench", da, NULL, &b, 5000)) ||
        (opt = ivcom_accept(a, 5000)))
        tool_die(1, "set-up: %s", ivcom_strerror(opt));
    ok = bench_loop(a, b, buf, size, count);
    if (ok != 2 * count)
        tool_die(1, "%lld of %lld operations failed", 2 * count - ok, 2 * count);
    printf("{\"tool\": \"ivcom-selfbench\", \"size\": %zu, \"count\": %lld}\n", size, count);
    ivcom_close(b);
    ivcom_close(a);
    ivcom_platform_close(pb);
    ivcom_platform_close(pa);
    return 0;
}
