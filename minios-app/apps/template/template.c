/* SPDX-License-Identifier: MIT */
/*
 * A service domain of your own starts here: `make -C minios-app new-app
 * NAME=foo` copies this file to apps/foo.c (APP_NAME becomes "foo") and
 * builds build/guest/ivcom-guest-foo.elf.  It is built as
 * ivcom-guest-template.elf too, so it always compiles.
 *
 * What it does as it stands: every message a client sends is answered
 * with "<greeting> #<n>: <the message>", n counting that client's
 * messages.  Replace on_message (and the rest) with your service.
 *
 *   name=NAME [allow=D1,D2] [max=16] [clients=N] [order=14] [greeting=hi]
 *
 * The service kit (common/ivsvc.h) does the rest: the words, the
 * XenStore service, accepting clients, reading messages, replies that
 * wait while a client's ring is full, clients that leave or whose domain
 * is destroyed, and the result line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/app.h>
#include <kernel/cmdline.h>
#include <kernel/report.h>

#include "common/ivsvc.h"

#define APP_NAME "template"

/* The app's own extra= words; any other word is a FAILURE naming it. */
static const char *const app_words[] = { "greeting", NULL };

static char greeting[32] = "hi";
static uint8_t *reply;          /* one reply, built before it is sent */
static size_t reply_cap;

/* Per client: what on_client allocates and on_gone frees. */
struct per_client {
    unsigned long n;
};

static int on_start(struct ivsvc *s, const char *args)
{
    int rc = cmdline_get(args, "greeting", greeting, sizeof(greeting));

    (void)s;
    if ( rc == -ENAMETOOLONG || rc == 0 )
    {
        report_failure("%s: bad greeting= (1 to %u characters)", APP_NAME,
                       (unsigned)sizeof(greeting) - 1);
        return -EINVAL;
    }
    return 0;
}

static int on_client(struct ivsvc *s, struct ivsvc_client *c)
{
    size_t need = ivcom_max_msg(c->ch);

    (void)s;
    if ( need > reply_cap )
    {
        uint8_t *r = realloc(reply, need);

        if ( !r )
            return -ENOMEM;
        reply = r;
        reply_cap = need;
    }
    c->priv = calloc(1, sizeof(struct per_client));
    return c->priv ? 0 : -ENOMEM;
}

static int on_message(struct ivsvc *s, struct ivsvc_client *c, const void *msg, size_t len)
{
    struct per_client *pc = c->priv;
    size_t cap = ivcom_max_msg(c->ch) < reply_cap ? ivcom_max_msg(c->ch) : reply_cap;
    int n;

    (void)s;
    n = snprintf((char *)reply, cap, "%s #%lu: ", greeting, ++pc->n);
    if ( n < 0 || (size_t)n >= cap )
        return -EMSGSIZE;
    if ( len > cap - (size_t)n )
        len = cap - (size_t)n;          /* the message is cut to fit */
    memcpy(reply + n, msg, len);
    return ivsvc_reply(c, reply, (size_t)n + len);
}

static void on_gone(struct ivsvc *s, struct ivsvc_client *c, int err)
{
    (void)s, (void)err;
    free(c->priv);
    c->priv = NULL;
}

static void on_report(struct ivsvc *s, char *buf, size_t len)
{
    (void)s;
    snprintf(buf, len, " greeting=%s", greeting);
}

static void on_stop(struct ivsvc *s)
{
    (void)s;
    free(reply);
    reply = NULL;
    reply_cap = 0;
}

static const struct ivsvc_ops ops = {
    .app = APP_NAME,
    .words = app_words,
    .on_start = on_start,
    .on_client = on_client,
    .on_message = on_message,
    .on_gone = on_gone,
    .on_report = on_report,
    .on_stop = on_stop,
};

int app_main(const char *args)
{
    return ivsvc_run(&ops, args);
}
