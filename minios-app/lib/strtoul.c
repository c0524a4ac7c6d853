/* SPDX-License-Identifier: MIT */
/* Number parsing for command lines and XenStore values. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

static int digit_value(char c)
{
    if ( c >= '0' && c <= '9' )
        return c - '0';
    if ( c >= 'a' && c <= 'z' )
        return c - 'a' + 10;
    if ( c >= 'A' && c <= 'Z' )
        return c - 'A' + 10;
    return 99;
}

/* Saturates at ULONG_MAX on overflow, like the C library's strtoul. */
unsigned long strtoul(const char *s, char **end, int base)
{
    unsigned long v = 0;
    int overflow = 0;

    while ( *s == ' ' || *s == '\t' )
        s++;
    if ( *s == '+' )
        s++;
    if ( (base == 0 || base == 16) && s[0] == '0' &&
         (s[1] == 'x' || s[1] == 'X') && digit_value(s[2]) < 16 )
    {
        s += 2;
        base = 16;
    }
    else if ( base == 0 )
        base = s[0] == '0' ? 8 : 10;

    for ( ; digit_value(*s) < base; s++ )
    {
        unsigned long d = (unsigned long)digit_value(*s);

        if ( v > (ULONG_MAX - d) / (unsigned long)base )
            overflow = 1;
        else
            v = v * (unsigned long)base + d;
    }
    if ( end )
        *end = (char *)s;
    return overflow ? ULONG_MAX : v;
}

long strtol(const char *s, char **end, int base)
{
    int neg = 0;
    unsigned long v;

    while ( *s == ' ' || *s == '\t' )
        s++;
    if ( *s == '-' )
    {
        neg = 1;
        s++;
    }
    v = strtoul(s, end, base);
    if ( neg )
        return v > (unsigned long)LONG_MAX ? LONG_MIN : -(long)v;
    return v > (unsigned long)LONG_MAX ? LONG_MAX : (long)v;
}

/*
 * Whole-string unsigned parse (decimal, or hex with 0x): no sign, no
 * spaces, no trailing junk.  Returns 0, -EINVAL or -ERANGE.
 */
int parse_ulong(const char *s, unsigned long *out)
{
    char *end;
    unsigned long v;
    int base = 10;

    if ( !s || digit_value(*s) >= 10 )
        return -EINVAL;
    if ( s[0] == '0' && (s[1] == 'x' || s[1] == 'X') )
    {
        base = 16;
        if ( digit_value(s[2]) >= 16 )
            return -EINVAL;
    }
    v = strtoul(s, &end, base);
    if ( *end != '\0' )
        return -EINVAL;
    if ( v == ULONG_MAX )
    {
        /* Distinguish a real ULONG_MAX from saturation. */
        const char *p = s + (base == 16 ? 2 : 0);
        unsigned long chk = 0;

        for ( ; *p; p++ )
        {
            unsigned long d = (unsigned long)digit_value(*p);

            if ( chk > (ULONG_MAX - d) / (unsigned long)base )
                return -ERANGE;
            chk = chk * (unsigned long)base + d;
        }
    }
    *out = v;
    return 0;
}
