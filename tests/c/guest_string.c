/* Description: the guest's memory and string routines agree with the
 * host libc, including overlapping memmove and unaligned memcpy. */
#include <string.h>
#include "guest_host.h"

int main(void)
{
    unsigned char a[300], b[300], c[300];
    char s[32];

    for ( int i = 0; i < 300; i++ )
        a[i] = (unsigned char)(i * 13 + 5);

    /* memcpy at every small alignment and length. */
    for ( int off = 0; off < 9; off++ )
        for ( int len = 0; len < 40; len++ )
        {
            memset(b, 0, sizeof(b));
            memset(c, 0, sizeof(c));
            g_memcpy(b + off, a + 3, (size_t)len);
            memcpy(c + off, a + 3, (size_t)len);
            CHECK(memcmp(b, c, sizeof(b)) == 0);
        }

    /* memmove both directions with overlap. */
    memcpy(b, a, 300);
    memcpy(c, a, 300);
    g_memmove(b + 10, b, 200);
    memmove(c + 10, c, 200);
    CHECK(memcmp(b, c, 300) == 0);
    g_memmove(b, b + 7, 200);
    memmove(c, c + 7, 200);
    CHECK(memcmp(b, c, 300) == 0);

    CHECK(g_memset(b, 0xab, 50) == b && b[0] == 0xab && b[49] == 0xab);
    CHECK(g_memcmp("abc", "abd", 3) < 0 && g_memcmp("abd", "abc", 3) > 0);
    CHECK(g_memcmp("abc", "abc", 3) == 0 && g_memcmp("x", "y", 0) == 0);
    CHECK(g_memchr("hello", 'l', 5) == NULL || *(char *)g_memchr("hello", 'l', 5) == 'l');

    CHECK(g_strlen("") == 0 && g_strlen("four") == 4);
    CHECK(g_strnlen("four", 2) == 2 && g_strnlen("four", 10) == 4);
    CHECK(g_strcmp("a", "b") < 0 && g_strcmp("b", "a") > 0 && g_strcmp("x", "x") == 0);
    CHECK(g_strcmp("ab", "abc") < 0);
    CHECK(g_strncmp("abcX", "abcY", 3) == 0 && g_strncmp("abcX", "abcY", 4) < 0);
    CHECK(g_strchr("path/to", '/') != NULL && g_strchr("path", '/') == NULL);
    CHECK(g_strrchr("a/b/c", '/') != NULL && *(g_strrchr("a/b/c", '/') + 1) == 'c');

    /* strlcpy truncates, terminates and reports the source length. */
    CHECK(g_strlcpy(s, "short", sizeof(s)) == 5);
    CHECK_STR(s, "short");
    CHECK(g_strlcpy(s, "0123456789", 4) == 10);
    CHECK_STR(s, "012");

    return test_result();
}
