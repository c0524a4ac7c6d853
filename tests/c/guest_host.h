/* SPDX-License-Identifier: MIT */
/*
 * Host harness for the guest's freestanding .c files.  The guest objects
 * are bundled with every symbol renamed g_<name> (see minios-app/Makefile
 * test-host), so they never collide with the host libc; this header maps
 * the guest names onto the renamed ones and includes the guest headers.
 * Exit codes: 0 pass, 1 fail, 77 skip.
 */
#ifndef GUEST_HOST_H
#define GUEST_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Guest lib (prototypes spelled here: the guest's own libc headers would
 * clash with the host's). */
void  *g_memcpy(void *dst, const void *src, size_t n);
void  *g_memmove(void *dst, const void *src, size_t n);
void  *g_memset(void *dst, int c, size_t n);
int    g_memcmp(const void *a, const void *b, size_t n);
void  *g_memchr(const void *s, int c, size_t n);
size_t g_strlen(const char *s);
size_t g_strnlen(const char *s, size_t max);
int    g_strcmp(const char *a, const char *b);
int    g_strncmp(const char *a, const char *b, size_t n);
char  *g_strchr(const char *s, int c);
char  *g_strrchr(const char *s, int c);
size_t g_strlcpy(char *dst, const char *src, size_t size);
int    g_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int    g_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
unsigned long g_strtoul(const char *s, char **end, int base);
long   g_strtol(const char *s, char **end, int base);
int    g_parse_ulong(const char *s, unsigned long *out);

/* Guest kernel pure parts. */
#define pa_init            g_pa_init
#define pa_alloc           g_pa_alloc
#define pa_free            g_pa_free
#define pa_alloc_run       g_pa_alloc_run
#define pa_free_run        g_pa_free_run
#define cmdline_get        g_cmdline_get
#define cmdline_get_ulong  g_cmdline_get_ulong
#define cmdline_has        g_cmdline_has
#define cmdline_check      g_cmdline_check
#define report_format      g_report_format
#define pvclock_scale      g_pvclock_scale
#include "kernel/page_alloc.h"
#include "kernel/cmdline.h"
#include "kernel/report.h"
uint64_t g_pvclock_scale(uint64_t delta, uint32_t mul, int8_t shift);

static int failures;

#define CHECK(cond)                                                      \
    do {                                                                 \
        if ( !(cond) )                                                   \
        {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,       \
                    __LINE__, #cond);                                    \
            failures++;                                                  \
        }                                                                \
    } while ( 0 )

#define CHECK_STR(got, want)                                             \
    do {                                                                 \
        const char *g_ = (got), *w_ = (want);                            \
        if ( strcmp(g_, w_) != 0 )                                       \
        {                                                                \
            fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n",          \
                    __FILE__, __LINE__, g_, w_);                         \
            failures++;                                                  \
        }                                                                \
    } while ( 0 )

static inline int test_result(void)
{
    if ( failures )
    {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    return 0;
}

#endif
