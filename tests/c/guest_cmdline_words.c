/* Description: the xl extra= word check an app runs before anything else:
 * every word's key must be one of the app's (key=value or a bare flag, no
 * prefix matches), given once; the first word that is not is copied out
 * (truncated to the buffer) with -ENOENT (unknown, empty key) or -EEXIST
 * (repeated). */
#include <errno.h>
#include <string.h>
#include "guest_host.h"

static const char *const known[] = { "role", "name", "allow", "max", "poll", NULL };

int main(void)
{
    char bad[16];

    /* All known, any spacing, flags and empty values. */
    CHECK(cmdline_check("", known, bad, sizeof(bad)) == 0);
    CHECK(cmdline_check(NULL, known, bad, sizeof(bad)) == 0);
    CHECK(cmdline_check("   ", known, bad, sizeof(bad)) == 0);
    CHECK(cmdline_check("role=service name=kv allow=1,2 max=4 poll", known, bad,
                        sizeof(bad)) == 0);
    CHECK(cmdline_check(" \tname=kv\t\tpoll  ", known, bad, sizeof(bad)) == 0);
    CHECK(cmdline_check("name= poll=1", known, bad, sizeof(bad)) == 0);

    /* Unknown words, named in full. */
    CHECK(cmdline_check("name=kv colour=blue", known, bad, sizeof(bad)) == -ENOENT);
    CHECK_STR(bad, "colour=blue");
    CHECK(cmdline_check("name=kv verbose max=3", known, bad, sizeof(bad)) == -ENOENT);
    CHECK_STR(bad, "verbose");
    /* A key that is a prefix or an extension of a known one is unknown. */
    CHECK(cmdline_check("nam=kv", known, bad, sizeof(bad)) == -ENOENT);
    CHECK_STR(bad, "nam=kv");
    CHECK(cmdline_check("names=kv", known, bad, sizeof(bad)) == -ENOENT);
    CHECK_STR(bad, "names=kv");
    CHECK(cmdline_check("max=1 maxx=2", known, bad, sizeof(bad)) == -ENOENT);
    CHECK_STR(bad, "maxx=2");
    /* An empty key, or '=' alone. */
    CHECK(cmdline_check("=kv", known, bad, sizeof(bad)) == -ENOENT);
    CHECK_STR(bad, "=kv");
    CHECK(cmdline_check("name=a =", known, bad, sizeof(bad)) == -ENOENT);
    CHECK_STR(bad, "=");
    /* Case matters (the parser's lookups are exact). */
    CHECK(cmdline_check("Name=kv", known, bad, sizeof(bad)) == -ENOENT);
    CHECK_STR(bad, "Name=kv");
    /* The first offender is the one named. */
    CHECK(cmdline_check("a=1 b=2", known, bad, sizeof(bad)) == -ENOENT);
    CHECK_STR(bad, "a=1");

    /* Repeated keys, with or without values. */
    CHECK(cmdline_check("name=a max=2 name=b", known, bad, sizeof(bad)) == -EEXIST);
    CHECK_STR(bad, "name=b");
    CHECK(cmdline_check("poll poll", known, bad, sizeof(bad)) == -EEXIST);
    CHECK_STR(bad, "poll");
    CHECK(cmdline_check("poll=1 poll", known, bad, sizeof(bad)) == -EEXIST);
    CHECK_STR(bad, "poll");
    /* A key seen before only as a longer word is not a repeat... */
    CHECK(cmdline_check("maxx=1 max=2", known, bad, sizeof(bad)) == -ENOENT);
    CHECK_STR(bad, "maxx=1");
    /* ...nor is a value that looks like a key. */
    CHECK(cmdline_check("name=max max=1", known, bad, sizeof(bad)) == 0);

    /* Long words are cut to the buffer; a zero-length buffer is left alone. */
    CHECK(cmdline_check("a_very_long_unknown_word=1", known, bad, sizeof(bad)) == -ENOENT);
    CHECK(strlen(bad) == sizeof(bad) - 1);
    CHECK(strncmp(bad, "a_very_long_unknown_word", sizeof(bad) - 1) == 0);
    bad[0] = 'x';
    CHECK(cmdline_check("zz", known, bad, 0) == -ENOENT);
    CHECK(bad[0] == 'x');

    /* No list: every word is unknown; no words: nothing is. */
    CHECK(cmdline_check("name=kv", NULL, bad, sizeof(bad)) == -ENOENT);
    CHECK(cmdline_check("", NULL, bad, sizeof(bad)) == 0);

    return test_result();
}
