/* SPDX-License-Identifier: MIT */
/* Guest command line parsing (no hypercalls: host-tested). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/cmdline.h>

/* Find word `key` or `key=...`: the value start, or NULL. */
static const char *find_value(const char *cmdline, const char *key,
                              size_t *vlen)
{
    size_t klen = strlen(key);
    const char *p = cmdline;

    if ( !cmdline || klen == 0 )
        return NULL;
    while ( *p )
    {
        const char *w, *e;

        while ( *p == ' ' || *p == '\t' )
            p++;
        w = p;
        while ( *p && *p != ' ' && *p != '\t' )
            p++;
        e = p;
        if ( (size_t)(e - w) >= klen && strncmp(w, key, klen) == 0 )
        {
            if ( w + klen == e )
            {
                *vlen = 0;
                return e;
            }
            if ( w[klen] == '=' )
            {
                *vlen = (size_t)(e - (w + klen + 1));
                return w + klen + 1;
            }
        }
    }
    return NULL;
}

int cmdline_get(const char *cmdline, const char *key, char *buf, size_t len)
{
    size_t vlen, n;
    const char *v = find_value(cmdline, key, &vlen);

    if ( !v )
        return -ENOENT;
    if ( len == 0 )
        return -ENAMETOOLONG;
    n = vlen < len - 1 ? vlen : len - 1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return vlen > n ? -ENAMETOOLONG : (int)n;
}

int cmdline_get_ulong(const char *cmdline, const char *key,
                      unsigned long *out)
{
    char buf[32];
    int rc = cmdline_get(cmdline, key, buf, sizeof(buf));

    if ( rc == -ENAMETOOLONG )
        return -ERANGE;
    if ( rc < 0 )
        return rc;
    return parse_ulong(buf, out);
}

int cmdline_has(const char *cmdline, const char *key)
{
    size_t vlen;

    return find_value(cmdline, key, &vlen) != NULL;
}

/* Is [w, w + klen) the key of a word before `end`? */
static int key_seen_before(const char *cmdline, const char *end, const char *w,
                           size_t klen)
{
    const char *p = cmdline;

    while ( p < end )
    {
        const char *v;

        while ( p < end && (*p == ' ' || *p == '\t') )
            p++;
        v = p;
        while ( p < end && *p && *p != ' ' && *p != '\t' )
            p++;
        if ( v < p && (size_t)(p - v) >= klen && strncmp(v, w, klen) == 0 &&
             (v + klen == p || v[klen] == '=') )
            return 1;
    }
    return 0;
}

int cmdline_check(const char *cmdline, const char *const *known, char *bad,
                  size_t len)
{
    const char *p = cmdline;

    if ( !cmdline )
        return 0;
    for ( ;; )
    {
        const char *w, *e, *k;
        size_t klen, n;
        int rc = -ENOENT;

        while ( *p == ' ' || *p == '\t' )
            p++;
        if ( !*p )
            return 0;
        w = p;
        while ( *p && *p != ' ' && *p != '\t' )
            p++;
        e = p;
        for ( k = w; k < e && *k != '='; k++ )
            ;
        klen = (size_t)(k - w);
        for ( unsigned int i = 0; klen && known && known[i]; i++ )
            if ( strlen(known[i]) == klen && strncmp(known[i], w, klen) == 0 )
            {
                rc = key_seen_before(cmdline, w, w, klen) ? -EEXIST : 0;
                break;
            }
        if ( rc == 0 )
            continue;
        if ( len )
        {
            n = (size_t)(e - w) < len - 1 ? (size_t)(e - w) : len - 1;
            memcpy(bad, w, n);
            bad[n] = '\0';
        }
        return rc;
    }
}
