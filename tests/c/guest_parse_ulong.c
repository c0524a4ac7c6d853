/* Description: parse_ulong accepts only whole unsigned decimal or 0x hex
 * numbers, rejects junk with -EINVAL and overflow with -ERANGE; strtoul
 * saturates like the C library's. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include "guest_host.h"

int main(void)
{
    unsigned long v = 7;
    char *end;

    CHECK(g_parse_ulong("0", &v) == 0 && v == 0);
    CHECK(g_parse_ulong("4096", &v) == 0 && v == 4096);
    CHECK(g_parse_ulong("0x1f", &v) == 0 && v == 31);
    CHECK(g_parse_ulong("18446744073709551615", &v) == 0 && v == ULONG_MAX);
    CHECK(g_parse_ulong("18446744073709551616", &v) == -ERANGE);
    CHECK(g_parse_ulong("0x10000000000000000", &v) == -ERANGE);

    v = 7;
    CHECK(g_parse_ulong("", &v) == -EINVAL);
    CHECK(g_parse_ulong("-1", &v) == -EINVAL);
    CHECK(g_parse_ulong(" 1", &v) == -EINVAL);
    CHECK(g_parse_ulong("12abc", &v) == -EINVAL);
    CHECK(g_parse_ulong("0x", &v) == -EINVAL);
    CHECK(g_parse_ulong("0xg", &v) == -EINVAL);
    CHECK(g_parse_ulong(NULL, &v) == -EINVAL);
    CHECK(v == 7);      /* untouched on error */

    CHECK(g_strtoul("123xyz", &end, 10) == 123 && *end == 'x');
    CHECK(g_strtoul("0x10", NULL, 0) == 16);
    CHECK(g_strtoul("010", NULL, 0) == 8);
    CHECK(g_strtoul("99999999999999999999999", NULL, 10) == ULONG_MAX);
    CHECK(g_strtol("-15", NULL, 10) == -15);
    CHECK(g_strtol("-99999999999999999999999", NULL, 10) == LONG_MIN);

    return test_result();
}
