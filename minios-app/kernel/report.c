/* SPDX-License-Identifier: MIT */
/* The single result line. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <kernel/report.h>

int report_format(char *buf, unsigned long len, int success,
                  const char *details)
{
    int n = snprintf(buf, len, REPORT_PREFIX "%s%s%s",
                     success ? "SUCCESS" : "FAILURE",
                     details && *details ? " " : "",
                     details ? details : "");

    for ( char *p = buf; *p; p++ )
        if ( *p == '\n' || *p == '\r' )
            *p = ' ';
    return n;
}

#ifndef GUEST_HOST_TEST
#include <kernel/console.h>

static int reported;

static void report(int success, const char *fmt, va_list ap)
{
    char details[256], line[320];

    if ( reported )
        return;
    reported = 1;
    vsnprintf(details, sizeof(details), fmt, ap);
    report_format(line, sizeof(line), success, details);
    printk("%s\n", line);
}

void report_success(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(1, fmt, ap);
    va_end(ap);
}

void report_failure(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(0, fmt, ap);
    va_end(ap);
}

int report_done(void)
{
    return reported;
}
#endif
