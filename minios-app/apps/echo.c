/* SPDX-License-Identifier: MIT */
/*
 * echo: an IVCOM peer that sends every message back until the other side
 * closes (the server side of ivcom-pingpong, in the tiny guest).
 *
 *   [role=server] peer=N [name=ivcom-test] [order=16] [spin=30] [poll]
 *   role=client peer=SERVER ...        connect, then echo the same way
 *
 * SUCCESS line: "echo: echoed N messages (B bytes) with domP".  A peer
 * that breaks the protocol gives "FAILURE echo: receive: -EPROTO (...)".
 */
#include <kernel/app.h>
#include <kernel/report.h>

#include "common/ivapp.h"

int app_main(const char *args)
{
    struct ivapp a;
    uint64_t bytes;
    long n;
    int rc = ivapp_start(&a, "echo", args, "server", 0);

    if ( rc )
        return rc;
    n = ivapp_echo(&a, &bytes);
    ivapp_finish(&a);
    if ( n < 0 )
        return (int)n;
    report_success("echo: echoed %ld messages (%llu bytes) with dom%d", n,
                   (unsigned long long)bytes, a.peer);
    return 0;
}
