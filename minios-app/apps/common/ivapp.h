/* SPDX-License-Identifier: MIT */
/*
 * Shared plumbing of the IVCOM service apps (echo, pingpong, source,
 * sink): command-line parameters, channel set-up over the minios platform,
 * the echo loop, and errors spelled the way the result line wants them.
 *
 * Parameters (the xl `extra=` words):
 *   role=server|client  peer=N  name=NAME (ivcom-test)  size=BYTES (64)
 *   count=N  mode=message|stream  order=LOG2 (16)  spin=US (30)  poll
 *   timeout=MS (60000: set-up and per-operation)
 * Without peer=, the app waits for data/ivcom-peer in its own XenStore
 * directory (written by dom0 once both domains exist).  Any other word
 * (unless the app adds it, ivapp_start_words) or a word given twice is a
 * FAILURE line naming it.
 */
#ifndef APPS_IVAPP_H
#define APPS_IVAPP_H

#include <stdint.h>
#include <ivcom/ivcom.h>

struct ivapp {
    const char *app;            /* "echo", "pingpong", ... */
    int server;                 /* role */
    int self;                   /* our domid */
    int peer;
    char name[64];
    unsigned long size;
    unsigned long count;        /* 0 when not given */
    int timeout_ms;
    struct ivcom_params params;
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
};

/* Parse the command line (defaults: role default_role, count
 * default_count), open the platform, print the "ready" line, find the
 * peer and set the channel up.  0, or -errno after reporting FAILURE. */
int ivapp_start(struct ivapp *a, const char *app, const char *args,
                const char *default_role, unsigned long default_count);
/* The same for an app with words of its own besides the common ones
 * (NULL-terminated): any other word is a FAILURE naming it. */
int ivapp_start_words(struct ivapp *a, const char *app, const char *args,
                      const char *default_role, unsigned long default_count,
                      const char *const *words);
void ivapp_finish(struct ivapp *a);

/* Every word of args is one of words[] or more[] (NULL-terminated lists,
 * either may be NULL) and given once: 0.  Else the FAILURE line names the
 * word ("unknown word \"x=1\" (known: ...)" or "word \"x=1\" given
 * twice") and -EINVAL is returned. */
int ivapp_check_words(const char *app, const char *args, const char *const *words,
                      const char *const *more);

/* Echo every message until the peer closes (-EPIPE): the number echoed,
 * or -errno (the FAILURE line already printed). */
long ivapp_echo(struct ivapp *a, uint64_t *bytes);

/* "EPROTO" for -EPROTO (any sign), "E<n>" for the unnamed. */
const char *ivapp_errname(int err);

/* The one FAILURE line: "<app>: <what>: -ENAME (<text>)<tail>". */
int ivapp_fail(const struct ivapp *a, const char *what, int err, const char *tail);

/* Integer rates (the guest has no floating point). */
uint64_t ivapp_per_s(uint64_t n, uint64_t ns);

/* Sort n values ascending, in place. */
void ivapp_sort_u64(uint64_t *v, unsigned long n);

#endif
