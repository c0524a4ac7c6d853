/* SPDX-License-Identifier: MIT */
/*
 * A hostile vchan server for tests/py/test_vchan.py (libivcom, sim):
 *
 *   vchan_evil CLIENT_DOMID PATH BYTES prod|live|back
 *
 * Serves PATH, reads BYTES from the client, writes the first 100 bytes
 * of vchan_echo's reply back, then
 * breaks the page and goes quiet (no event): `prod` puts its producer
 * index 5000 past the ring, `live` writes 9 into its live byte, `back`
 * moves its producer index 80 bytes back.  Prints "broken" when done and
 * waits up to 10 s for the client to leave.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ivcom/ivcom.h"
#include "ivcom/vchan.h"

int main(int argc, char **argv)
{
    struct ivcom_platform *plat;
    struct ivcom_vchan_page *pg;
    struct ivcom_vchan *v;
    static char buf[1 << 16];
    size_t want, got = 0;
    int err, i;

    if (argc != 5)
        return 2;
    want = strtoul(argv[3], NULL, 0);
    err = ivcom_platform_open(NULL, &plat);
    if (!err)
        err = ivcom_vchan_server_open(plat, atoi(argv[1]), argv[2], 0, 0, &v);
    if (!err)
        err = ivcom_vchan_accept(v, 10000);
    while (!err && got < want) {
        ssize_t r = ivcom_vchan_read(v, buf, sizeof(buf), 10000);

        if (r < 0)
            err = (int)r;
        else
            got += (size_t)r;
    }
    /* what vchan_echo's server would send first (its pattern) */
    for (i = 0; i < 100; i++)
        buf[i] = (char)((unsigned char)(((size_t)i * 2654435761u) >> 13) ^ 0x5a);
    if (!err && ivcom_vchan_send(v, buf, 100, 10000) != 100)
        err = -1;
    if (err) {
        fprintf(stderr, "vchan_evil: %s\n", ivcom_strerror(err));
        return 1;
    }
    usleep(200000);             /* the client has taken the 100 bytes */
    pg = (struct ivcom_vchan_page *)(uintptr_t)ivcom_vchan_page(v);
    if (strcmp(argv[4], "prod") == 0)
        __atomic_store_n(&pg->right.prod, pg->right.prod + 5000u, __ATOMIC_RELEASE);
    else if (strcmp(argv[4], "live") == 0)
        __atomic_store_n(&pg->srv_live, 9, __ATOMIC_RELEASE);
    else
        __atomic_store_n(&pg->right.prod, pg->right.prod - 80u, __ATOMIC_RELEASE);
    printf("broken\n");
    fflush(stdout);
    for (i = 0; i < 100 && ivcom_vchan_state(v) == 1; i++)
        usleep(100000);
    /* Not ivcom_vchan_close: that would say "gone" over our garbage. */
    return 0;
}
