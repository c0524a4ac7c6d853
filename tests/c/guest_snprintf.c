/* Description: the guest's vsnprintf formats like the host's printf for
 * every conversion the guest uses, truncates safely and returns the full
 * length. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include "guest_host.h"

/* Format with both implementations and compare output and length. */
#define SAME(...)                                                        \
    do {                                                                 \
        char a_[256], b_[256];                                           \
        int na_ = g_snprintf(a_, sizeof(a_), __VA_ARGS__);               \
        int nb_ = snprintf(b_, sizeof(b_), __VA_ARGS__);                 \
        CHECK_STR(a_, b_);                                               \
        CHECK(na_ == nb_);                                               \
    } while ( 0 )

/* Unchecked alias: lets the test pass formats the compiler would flag. */
static int (*raw_snprintf)(char *, size_t, const char *, ...) = g_snprintf;

int main(void)
{
    char buf[16];
    int n;

    SAME("plain text");
    SAME("%d %i %u", -42, 17, 3000000000u);
    SAME("%ld %lu %lx", LONG_MIN, ULONG_MAX, 0xdeadbeefcafeul);
    SAME("%lld %llu", -1ll, 18446744073709551615ull);
    SAME("%zu %zd", (size_t)12345, (ssize_t)-6);
    SAME("%hhu %hd %hu", 300, 70000, 70000);
    SAME("%x %X %#x %#X %o %#o", 255, 255, 255, 255, 8, 8);
    SAME("[%5d] [%-5d] [%05d] [%+d] [% d]", 42, 42, 42, 42, 42);
    SAME("[%8.3d] [%.5d] [%.0d]", 7, -7, 0);
    SAME("[%*d] [%-*d] [%.*s]", 6, 1, 6, 2, 3, "abcdef");
    SAME("[%s] [%10s] [%-10s] [%.2s]", "str", "right", "left", "trunc");
    SAME("[%c] [%3c] [%-3c]", 'a', 'b', 'c');
    SAME("%%literal%% %d", 100);
    SAME("%p", (void *)0x1234);
    SAME("%.32s", "xen-3.0-x86_64");
    SAME("%-20s|%08lx|%3u%%", "name", 0xabcul, 99u);

    /* Truncation: NUL-terminated, full length returned. */
    n = g_snprintf(buf, sizeof(buf), "%s", "0123456789abcdefghij");
    CHECK(n == 20);
    CHECK(strlen(buf) == sizeof(buf) - 1);
    CHECK(memcmp(buf, "0123456789abcde", 16) == 0);

    /* size 0 writes nothing. */
    buf[0] = 'X';
    n = g_snprintf(buf, 0, "%d", 12345);
    CHECK(n == 5 && buf[0] == 'X');

    /* NULL string and a lone trailing '%' do not crash. */
    {
        const char *volatile nothing = NULL;

        g_snprintf(buf, sizeof(buf), "%s", nothing);
    }
    CHECK_STR(buf, "(null)");
    n = raw_snprintf(buf, sizeof(buf), "100%");
    CHECK_STR(buf, "100%");
    CHECK(n == 4);
    /* '0' with a precision is ignored, as in C99. */
    g_snprintf(buf, sizeof(buf), "[%5.3d]", 7);
    CHECK_STR(buf, "[  007]");
    raw_snprintf(buf, sizeof(buf), "[%05.3d]", 7);
    CHECK_STR(buf, "[  007]");
    n = raw_snprintf(buf, sizeof(buf), "100%");
    CHECK_STR(buf, "100%");
    CHECK(n == 4);

    return test_result();
}
