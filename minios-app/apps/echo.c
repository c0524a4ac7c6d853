/* SPDX-License-Identifier: MIT */
/*
 * echo: sends every message back.
 *
 *   role=service name=NAME [allow=D1,D2] [max=16] [clients=N] [order=14]
 *       an echo service domain: every allowed client domain at once, each
 *       on its own channel, on the service kit (common/ivsvc.h); with
 *       clients=N it ends after N clients left: "SUCCESS echo: service
 *       NAME: clients=N failed=F peak=P ... msgs=M bytes=B ...".
 *   [role=server] peer=N [name=ivcom-test] [order=16] [spin=30] [poll]
 *   role=client peer=SERVER ...
 *       one peer (the server side of ivcom-pingpong in the tiny guest),
 *       until it closes: "SUCCESS echo: echoed N messages (B bytes) with
 *       domP".  A peer that breaks the protocol gives "FAILURE echo:
 *       receive: -EPROTO (...)".
 */
#include <string.h>
#include <kernel/app.h>
#include <kernel/cmdline.h>
#include <kernel/report.h>

#include "common/ivapp.h"
#include "common/ivsvc.h"

static int echo_message(struct ivsvc *s, struct ivsvc_client *c, const void *msg, size_t len)
{
    (void)s;
    return ivsvc_reply(c, msg, len);
}

static const struct ivsvc_ops echo_ops = {
    .app = "echo",
    .on_message = echo_message,
};

int app_main(const char *args)
{
    struct ivapp a;
    uint64_t bytes;
    char role[16];
    long n;
    int rc;

    if ( cmdline_get(args, "role", role, sizeof(role)) >= 0 && strcmp(role, "service") == 0 )
        return ivsvc_run(&echo_ops, args);

    /* One peer: blocking calls and the channel's own adaptive wait. */
    rc = ivapp_start(&a, "echo", args, "server", 0);
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
