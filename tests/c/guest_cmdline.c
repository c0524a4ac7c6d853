/* Description: the guest command line parser finds key=value words and
 * bare flags exactly (no prefix matches), reports missing keys, bad
 * numbers and values too long for the buffer. */
#include <errno.h>
#include <string.h>
#include "guest_host.h"

int main(void)
{
    const char *cl = "  peer=3 name=chan0 verbose  size=0x1000 peerx=9 big=99999999999999999999";
    char buf[8];
    unsigned long v;

    CHECK(cmdline_get(cl, "peer", buf, sizeof(buf)) == 1);
    CHECK_STR(buf, "3");
    CHECK(cmdline_get(cl, "name", buf, sizeof(buf)) == 5);
    CHECK_STR(buf, "chan0");
    CHECK(cmdline_get(cl, "verbose", buf, sizeof(buf)) == 0);
    CHECK_STR(buf, "");
    CHECK(cmdline_has(cl, "verbose") == 1);
    CHECK(cmdline_has(cl, "verb") == 0);
    CHECK(cmdline_has(cl, "quiet") == 0);
    CHECK(cmdline_get(cl, "pee", buf, sizeof(buf)) == -ENOENT);
    CHECK(cmdline_get(cl, "missing", buf, sizeof(buf)) == -ENOENT);

    /* Value longer than the buffer: truncated copy, -ENAMETOOLONG. */
    CHECK(cmdline_get("k=abcdefghij", "k", buf, sizeof(buf)) == -ENAMETOOLONG);
    CHECK_STR(buf, "abcdefg");

    CHECK(cmdline_get_ulong(cl, "size", &v) == 0 && v == 4096);
    CHECK(cmdline_get_ulong(cl, "peerx", &v) == 0 && v == 9);
    CHECK(cmdline_get_ulong(cl, "name", &v) == -EINVAL);
    CHECK(cmdline_get_ulong(cl, "big", &v) == -ERANGE);
    CHECK(cmdline_get_ulong(cl, "nope", &v) == -ENOENT);

    /* Degenerate inputs. */
    CHECK(cmdline_get("", "a", buf, sizeof(buf)) == -ENOENT);
    CHECK(cmdline_get(NULL, "a", buf, sizeof(buf)) == -ENOENT);
    CHECK(cmdline_get("a=1", "", buf, sizeof(buf)) == -ENOENT);
    CHECK(cmdline_get("a=1", "a", buf, 0) == -ENAMETOOLONG);
    CHECK(cmdline_get("=x", "a", buf, sizeof(buf)) == -ENOENT);

    return test_result();
}
