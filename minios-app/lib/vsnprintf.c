/* SPDX-License-Identifier: MIT */
/*
 * vsnprintf for the guest: %d %i %u %x %X %o %p %s %c %%, flags '-' '0'
 * '+' ' ' '#', width and precision (numbers and '*'), length hh h l ll z t j.
 * Always NUL-terminates when size > 0 and returns the length the full
 * output would have had, like C99.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct out {
    char *buf;
    size_t size;
    size_t len;         /* bytes the full output needs */
};

static void put(struct out *o, char c)
{
    if ( o->len + 1 < o->size )
        o->buf[o->len] = c;
    o->len++;
}

static void pad(struct out *o, char c, int n)
{
    while ( n-- > 0 )
        put(o, c);
}

#define F_LEFT  1u
#define F_ZERO  2u
#define F_PLUS  4u
#define F_SPACE 8u
#define F_ALT   16u

static void put_num(struct out *o, uint64_t v, int neg, unsigned base,
                    int upper, unsigned flags, int width, int prec)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0, zeros, total;
    char sign = 0;
    const char *prefix = "";

    if ( neg )
        sign = '-';
    else if ( flags & F_PLUS )
        sign = '+';
    else if ( flags & F_SPACE )
        sign = ' ';

    if ( v == 0 && prec == 0 )
        n = 0;                          /* "%.0d" of 0 prints nothing */
    else
        do {
            tmp[n++] = digits[v % base];
            v /= base;
        } while ( v );

    if ( (flags & F_ALT) && base == 16 && n )
        prefix = upper ? "0X" : "0x";
    else if ( (flags & F_ALT) && base == 8 && (n == 0 || tmp[n - 1] != '0') )
        prefix = "0";

    zeros = prec > n ? prec - n : 0;
    total = n + zeros + (sign ? 1 : 0) + (int)strlen(prefix);
    if ( prec < 0 && (flags & F_ZERO) && !(flags & F_LEFT) && width > total )
    {
        zeros += width - total;
        total = width;
    }

    if ( !(flags & F_LEFT) )
        pad(o, ' ', width - total);
    if ( sign )
        put(o, sign);
    while ( *prefix )
        put(o, *prefix++);
    pad(o, '0', zeros);
    while ( n )
        put(o, tmp[--n]);
    if ( flags & F_LEFT )
        pad(o, ' ', width - total);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };

    for ( ; *fmt; fmt++ )
    {
        unsigned flags = 0;
        int width = 0, prec = -1, lng = 0;
        uint64_t uv;
        int64_t sv;

        if ( *fmt != '%' )
        {
            put(&o, *fmt);
            continue;
        }
        fmt++;

        for ( ;; fmt++ )
        {
            if ( *fmt == '-' ) flags |= F_LEFT;
            else if ( *fmt == '0' ) flags |= F_ZERO;
            else if ( *fmt == '+' ) flags |= F_PLUS;
            else if ( *fmt == ' ' ) flags |= F_SPACE;
            else if ( *fmt == '#' ) flags |= F_ALT;
            else break;
        }

        if ( *fmt == '*' )
        {
            width = va_arg(ap, int);
            if ( width < 0 )
            {
                flags |= F_LEFT;
                width = -width;
            }
            fmt++;
        }
        else
            for ( ; *fmt >= '0' && *fmt <= '9'; fmt++ )
                width = width * 10 + (*fmt - '0');

        if ( *fmt == '.' )
        {
            fmt++;
            prec = 0;
            if ( *fmt == '*' )
            {
                prec = va_arg(ap, int);
                if ( prec < 0 )
                    prec = -1;
                fmt++;
            }
            else
                for ( ; *fmt >= '0' && *fmt <= '9'; fmt++ )
                    prec = prec * 10 + (*fmt - '0');
        }

        /* lng: -2 hh, -1 h, 0 int, 1 long (l, ll, z, t, j are all 64-bit) */
        for ( ;; fmt++ )
        {
            if ( *fmt == 'h' ) lng--;
            else if ( *fmt == 'l' || *fmt == 'z' || *fmt == 't' ||
                      *fmt == 'j' ) lng = 1;
            else break;
        }

        switch ( *fmt )
        {
        case 'd':
        case 'i':
            if ( lng > 0 )
                sv = va_arg(ap, long);
            else
            {
                sv = va_arg(ap, int);
                if ( lng == -1 )
                    sv = (short)sv;
                else if ( lng <= -2 )
                    sv = (signed char)sv;
            }
            uv = sv < 0 ? (uint64_t)0 - (uint64_t)sv : (uint64_t)sv;
            put_num(&o, uv, sv < 0, 10, 0, flags, width, prec);
            break;

        case 'u':
        case 'x':
        case 'X':
        case 'o':
            if ( lng > 0 )
                uv = va_arg(ap, unsigned long);
            else
            {
                uv = va_arg(ap, unsigned int);
                if ( lng == -1 )
                    uv = (unsigned short)uv;
                else if ( lng <= -2 )
                    uv = (unsigned char)uv;
            }
            put_num(&o, uv, 0, *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16,
                    *fmt == 'X', flags & ~(F_PLUS | F_SPACE), width, prec);
            break;

        case 'p':
            uv = (uintptr_t)va_arg(ap, void *);
            put_num(&o, uv, 0, 16, 0, F_ALT | (flags & F_LEFT), width, -1);
            break;

        case 'c':
            if ( !(flags & F_LEFT) )
                pad(&o, ' ', width - 1);
            put(&o, (char)va_arg(ap, int));
            if ( flags & F_LEFT )
                pad(&o, ' ', width - 1);
            break;

        case 's':
        {
            const char *s = va_arg(ap, const char *);
            int n;

            if ( !s )
                s = "(null)";
            n = (int)(prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s));
            if ( !(flags & F_LEFT) )
                pad(&o, ' ', width - n);
            for ( int i = 0; i < n; i++ )
                put(&o, s[i]);
            if ( flags & F_LEFT )
                pad(&o, ' ', width - n);
            break;
        }

        case '%':
            put(&o, '%');
            break;

        case '\0':
            /* A lone '%' at the end: print it and stop. */
            put(&o, '%');
            fmt--;
            break;

        default:
            /* Unknown conversion: print it literally so the bug shows. */
            put(&o, '%');
            put(&o, *fmt);
            break;
        }
    }

    if ( size )
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
