/* Description: xs_ring.c against a hostile ring page (no sim needed): a
 * well-formed reply is read; an impossible response index, an oversized
 * message header and a mismatched reply id are -EPROTO and leave the
 * client broken; the perms codec rejects garbage. */
#include "sim_test.h"

#include <xen/io/xs_wire.h>

static void nop_notify(void *arg)
{
    (void)arg;
}

static int nop_wait(void *arg, int timeout_ms)
{
    (void)arg; (void)timeout_ms;
    return -ETIMEDOUT;
}

static struct xenstore_domain_interface intf;
static struct ivcom_xs_ring ring = { &intf, nop_notify, nop_wait, NULL };
static struct ivcom_xs_client xs;

static void reset(void)
{
    struct ivcom_xs_transport t;

    memset(&intf, 0, sizeof(intf));
    ivcom_xs_ring_transport(&ring, &t);
    ivcom_xs_init(&xs, &t);
}

static void put_reply(uint32_t type, uint32_t req_id, uint32_t len,
                      const char *body)
{
    struct xsd_sockmsg m = { type, req_id, 0, len };
    uint32_t n = (uint32_t)strlen(body);

    memcpy(intf.rsp + intf.rsp_prod, &m, sizeof(m));
    memcpy(intf.rsp + intf.rsp_prod + sizeof(m), body, n);
    intf.rsp_prod += (uint32_t)sizeof(m) + n;
}

int main(void)
{
    struct ivcom_xs_perm perms[4];
    char buf[64];
    int r;

    reset();
    put_reply(XS_READ, 1, 5, "value");
    r = ivcom_xs_read(&xs, 0, "/a", buf, sizeof(buf));
    CHECK(r == 5 && strcmp(buf, "value") == 0, "good reply: %d", r);
    CHECK(intf.req_prod == sizeof(struct xsd_sockmsg) + 3, "request %u",
          intf.req_prod);

    reset();
    intf.rsp_cons = 100;
    intf.rsp_prod = 100 + XENSTORE_RING_SIZE + 1;
    r = ivcom_xs_read(&xs, 0, "/a", buf, sizeof(buf));
    CHECK(r == -EPROTO, "impossible rsp index: %d", r);
    r = ivcom_xs_read(&xs, 0, "/a", buf, sizeof(buf));
    CHECK(r == -EPROTO, "stays broken: %d", r);

    reset();
    intf.req_cons = 0;
    intf.req_prod = 0u - 8u;        /* our own index corrupted */
    r = ivcom_xs_write(&xs, 0, "/a", "v", 1);
    CHECK(r == -EPROTO, "impossible req index: %d", r);

    reset();
    put_reply(XS_READ, 1, XENSTORE_PAYLOAD_MAX + 1, "");
    r = ivcom_xs_read(&xs, 0, "/a", buf, sizeof(buf));
    CHECK(r == -EPROTO, "oversized reply: %d", r);

    reset();
    put_reply(XS_READ, 7, 1, "x");
    r = ivcom_xs_read(&xs, 0, "/a", buf, sizeof(buf));
    CHECK(r == -EPROTO, "reply to another request: %d", r);

    reset();
    put_reply(XS_ERROR, 1, 7, "EACCES");
    intf.rsp[intf.rsp_prod++] = '\0';
    r = ivcom_xs_read(&xs, 0, "/a", buf, sizeof(buf));
    CHECK(r == -EACCES, "error reply: %d", r);

    r = ivcom_xs_perms_decode("n5\0r7\0", 6, perms, 4);
    CHECK(r == 2 && perms[0].domid == 5 && perms[1].perms == 1, "decode %d", r);
    CHECK(ivcom_xs_perms_decode("x5\0", 3, perms, 4) == -EPROTO, "bad letter");
    CHECK(ivcom_xs_perms_decode("r\0", 2, perms, 4) == -EPROTO, "no domid");
    CHECK(ivcom_xs_perms_decode("r5", 2, perms, 4) == -EPROTO, "no NUL");
    CHECK(ivcom_xs_perms_decode("r99999999999\0", 13, perms, 4) == -EPROTO,
          "domid overflow");
    return T_PASS;
}
