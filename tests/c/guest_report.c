/* Description: the guest's result line has the exact machine-readable
 * shape the host runners parse, and stays one line. */
#include <string.h>
#include "guest_host.h"

int main(void)
{
    char buf[128];

    report_format(buf, sizeof(buf), 1, "hello: 3 checks");
    CHECK_STR(buf, "ivcom-guest: result: SUCCESS hello: 3 checks");
    report_format(buf, sizeof(buf), 0, "gnttab: map failed: -1");
    CHECK_STR(buf, "ivcom-guest: result: FAILURE gnttab: map failed: -1");
    report_format(buf, sizeof(buf), 1, "");
    CHECK_STR(buf, "ivcom-guest: result: SUCCESS");
    report_format(buf, sizeof(buf), 0, NULL);
    CHECK_STR(buf, "ivcom-guest: result: FAILURE");
    report_format(buf, sizeof(buf), 0, "two\nlines\r");
    CHECK_STR(buf, "ivcom-guest: result: FAILURE two lines ");
    CHECK(report_format(buf, 10, 1, "x") == (int)strlen("ivcom-guest: result: SUCCESS x"));
    CHECK(strlen(buf) == 9);
    return test_result();
}
