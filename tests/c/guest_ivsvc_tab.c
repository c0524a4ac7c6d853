/* Description: the service kit's bookkeeping (minios-app/apps/common/
 * ivsvc_tab.c): the client table stays dense and bounded as clients come
 * and go in any order (peak kept), the port set for one SCHEDOP_poll
 * holds the store's port and every client's within the cap, the loop's
 * sleep never passes the next scan nor, with clients, the 200 ms presence
 * probe, the allow= list parses strictly, and a client's memory cost
 * grows with its rings. */
#include <errno.h>
#include <string.h>
#include "guest_host.h"

#define ivsvc_tab_init      g_ivsvc_tab_init
#define ivsvc_tab_add       g_ivsvc_tab_add
#define ivsvc_tab_remove    g_ivsvc_tab_remove
#define ivsvc_tab_ports     g_ivsvc_tab_ports
#define ivsvc_wait_ns       g_ivsvc_wait_ns
#define ivsvc_parse_domids  g_ivsvc_parse_domids
#define ivsvc_client_cost   g_ivsvc_client_cost
#include "ivsvc_tab.h"

#define MS 1000000ull

static void check_table(void)
{
    struct ivsvc_client slots[4];
    struct ivsvc_tab t;
    uint32_t ports[8];
    struct ivsvc_client *c;
    unsigned i, n;

    memset(slots, 0xa5, sizeof(slots));
    ivsvc_tab_init(&t, slots, 4);
    CHECK(t.n == 0 && t.max == 4 && t.peak == 0);
    CHECK(slots[3].domid == 0 && slots[3].held == NULL);

    /* Four clients, then the table is full. */
    for ( i = 0; i < 4; i++ )
    {
        c = ivsvc_tab_add(&t);
        CHECK(c == &slots[i]);
        CHECK(c->ch == NULL && c->priv == NULL && c->held == NULL && !c->holding);
        CHECK(c->port == IVSVC_NO_PORT);
        c->domid = 10 + (int)i;
        c->port = 100 + i;
    }
    CHECK(ivsvc_tab_add(&t) == NULL);
    CHECK(t.n == 4 && t.peak == 4);

    /* Ports: the store's first, then each client's; capped. */
    n = ivsvc_tab_ports(&t, 7, ports, 8);
    CHECK(n == 5 && ports[0] == 7 && ports[1] == 100 && ports[4] == 103);
    n = ivsvc_tab_ports(&t, IVSVC_NO_PORT, ports, 8);
    CHECK(n == 4 && ports[0] == 100);
    n = ivsvc_tab_ports(&t, 7, ports, 3);
    CHECK(n == 3 && ports[2] == 101);

    /* Removing the middle: the last moves in, its slot is cleared. */
    ivsvc_tab_remove(&t, 1);
    CHECK(t.n == 3 && slots[1].domid == 13 && slots[1].port == 103);
    CHECK(slots[3].domid == 0 && slots[3].port == 0);
    /* Removing the last, and out of range (nothing happens). */
    ivsvc_tab_remove(&t, 2);
    CHECK(t.n == 2 && slots[0].domid == 10 && slots[1].domid == 13);
    ivsvc_tab_remove(&t, 5);
    CHECK(t.n == 2);
    /* A client without a port is left out of the poll set. */
    c = ivsvc_tab_add(&t);
    CHECK(c == &slots[2] && c->port == IVSVC_NO_PORT);
    n = ivsvc_tab_ports(&t, 7, ports, 8);
    CHECK(n == 3 && ports[1] == 100 && ports[2] == 103);
    /* Everyone leaves; peak stays. */
    while ( t.n )
        ivsvc_tab_remove(&t, 0);
    CHECK(t.peak == 4);
    CHECK(ivsvc_tab_ports(&t, IVSVC_NO_PORT, ports, 8) == 0);

    /* Churn: 1000 arrivals and departures never exceed the bound. */
    for ( i = 0; i < 1000; i++ )
    {
        if ( (i * 7) % 3 != 0 && t.n )
            ivsvc_tab_remove(&t, (i * 5) % t.n);
        c = ivsvc_tab_add(&t);
        if ( c )
            c->domid = (int)i;
        CHECK(t.n <= 4);
    }
    for ( i = 0; i < t.n; i++ )
        CHECK(slots[i].domid >= 0);

    /* The most clients one poll can carry, with the store's port. */
    CHECK(IVSVC_MAX_CLIENTS + 1 <= IVSVC_POLL_PORTS);
}

static void check_wait(void)
{
    /* No clients: until the next scan. */
    CHECK(ivsvc_wait_ns(0, 1000 * MS, 1900 * MS) == 900 * MS);
    /* With clients: never beyond the presence probe's 200 ms... */
    CHECK(ivsvc_wait_ns(3, 1000 * MS, 1900 * MS) == IVSVC_PROBE_NS);
    CHECK(IVSVC_PROBE_NS == 200 * MS);
    /* ...nor beyond the scan. */
    CHECK(ivsvc_wait_ns(3, 1000 * MS, 1050 * MS) == 50 * MS);
    /* A scan due or overdue: do not sleep. */
    CHECK(ivsvc_wait_ns(0, 1000 * MS, 1000 * MS) == 0);
    CHECK(ivsvc_wait_ns(2, 1000 * MS, 10 * MS) == 0);
    /* One peer, no scans: the probe bounds it. */
    CHECK(ivsvc_wait_ns(1, 5, UINT64_MAX) == IVSVC_PROBE_NS);
    CHECK(IVSVC_SCAN_NS >= IVSVC_PROBE_NS && IVSVC_SCAN_NS <= 1000 * MS);
}

static void check_domids(void)
{
    int d[4];

    CHECK(ivsvc_parse_domids("1,2,3", d, 4) == 3 && d[0] == 1 && d[1] == 2 && d[2] == 3);
    CHECK(ivsvc_parse_domids("0", d, 4) == 1 && d[0] == 0);
    CHECK(ivsvc_parse_domids("32751", d, 4) == 1 && d[0] == 32751);
    CHECK(ivsvc_parse_domids("32752", d, 4) == -EINVAL);     /* DOMID_FIRST_RESERVED */
    CHECK(ivsvc_parse_domids("99999999999999999999999", d, 4) == -EINVAL);
    CHECK(ivsvc_parse_domids("", d, 4) == -EINVAL);
    CHECK(ivsvc_parse_domids(NULL, d, 4) == -EINVAL);
    CHECK(ivsvc_parse_domids(",", d, 4) == -EINVAL);
    CHECK(ivsvc_parse_domids("1,", d, 4) == -EINVAL);
    CHECK(ivsvc_parse_domids(",1", d, 4) == -EINVAL);
    CHECK(ivsvc_parse_domids("1,,2", d, 4) == -EINVAL);
    CHECK(ivsvc_parse_domids("1;2", d, 4) == -EINVAL);
    CHECK(ivsvc_parse_domids("-1", d, 4) == -EINVAL);
    CHECK(ivsvc_parse_domids("0x5", d, 4) == -EINVAL);
    CHECK(ivsvc_parse_domids("1 2", d, 4) == -EINVAL);
    CHECK(ivsvc_parse_domids("1,2,3,4", d, 4) == 4);
    CHECK(ivsvc_parse_domids("1,2,3,4,5", d, 4) == -E2BIG);
}

static void check_cost(void)
{
    size_t c12 = ivsvc_client_cost(12), c14 = ivsvc_client_cost(14);
    size_t c16 = ivsvc_client_cost(16);

    /* control page + 2 rings + one reply kept aside, at least */
    CHECK(c12 >= 4096 + 2 * 4096 + 4096);
    CHECK(c14 >= 4096 + 2 * 16384 + 16384);
    CHECK(c16 >= 4096 + 2 * 65536 + 65536);
    CHECK(c12 < c14 && c14 < c16);
    /* 16 clients at the default order fit a 4 MiB domain with room left. */
    CHECK(16 * c14 < 1024 * 1024);
}

int main(void)
{
    check_table();
    check_wait();
    check_domids();
    check_cost();
    return test_result();
}
