/* SPDX-License-Identifier: MIT */
/* Description: ours against ours over libxenvchan's protocol: in-page
 * rings (orders 10/11 and 11/10) and multi-page rings up to order 20;
 * patterned streams and packets byte-exact both ways, the orders stock
 * libxenvchan would pick, the nodes' permissions as stock writes them,
 * and an orderly close reaching the client as -EPIPE once it drained. */
#include "vchan_helpers.h"
#include "internal.h"

struct vcase {
    size_t read_min, write_min;     /* the server's */
    unsigned left, right;           /* the orders that must result */
    size_t stream;                  /* bytes each way */
};

static const struct vcase cases[] = {
    { 0, 0, 10, 11, 200000 },
    { 2048, 1024, 11, 10, 200000 },
    { 4096, 2000, 12, 11, 300000 },
    { 65536, 65536, 16, 16, 2000000 },
    { 1u << 20, 5000, 20, 13, 4000000 },
    { 100, 1u << 20, 11, 20, 4000000 },
};

static int client(struct ivcom_platform *plat, void *arg)
{
    const struct vcase *c = arg;
    struct ivcom_vchan_info info;
    struct ivcom_vchan *v;
    char path[128];
    char buf[8];
    size_t psize;

    t_vchan_path(path, sizeof(path), t_dom(0), t_dom(1), "basic", 1);
    T_OK(ivcom_vchan_client_open(plat, t_dom(0), path, &v, T_VCHAN_TIMEOUT));
    ivcom_vchan_get_info(v, &info);
    T_EQ(info.write_order, c->left);
    T_EQ(info.read_order, c->right);
    T_EQ(ivcom_vchan_state(v), 1);
    t_vchan_write_pattern(v, c->stream);
    t_vchan_read_pattern(v, c->stream);
    /* packets: as big as the ring we send on, then small ones */
    psize = (size_t)1 << c->left;
    t_vchan_send_packets(v, psize, 5);
    t_vchan_recv_packets(v, (size_t)1 << c->right, 5);
    t_vchan_recv_packets(v, 3, 1000);
    /* the server closed after its last packet */
    T_EQ(ivcom_vchan_read(v, buf, sizeof(buf), T_VCHAN_TIMEOUT), -EPIPE);
    T_EQ(ivcom_vchan_write(v, "x", 1, 1000), -EPIPE);
    T_EQ(ivcom_vchan_state(v), 0);
    ivcom_vchan_close(v);
    return 0;
}

static void run_case(struct ivcom_platform *plat, const struct vcase *c)
{
    const struct ivcom_vchan_page *pg;
    struct ivcom_vchan_info info;
    struct ivcom_xs_perm perms[4];
    struct ivcom_vchan *v;
    char path[128], node[160], val[32];
    pid_t pid;

    pid = t_spawn(t_dom(1), client, (void *)c);
    t_vchan_path(path, sizeof(path), t_dom(0), t_dom(1), "basic", 0);
    T_OK(ivcom_vchan_server_open(plat, t_dom(1), path, c->read_min, c->write_min, &v));
    ivcom_vchan_get_info(v, &info);
    T_EQ(info.read_order, c->left);
    T_EQ(info.write_order, c->right);
    T_EQ(info.ngrants, (c->left >= 12 ? 1u << (c->left - 12) : 0) + (c->right >= 12 ? 1u << (c->right - 12) : 0));
    pg = ivcom_vchan_page(v);
    T_EQ(pg->left_order, c->left);
    T_EQ(pg->right_order, c->right);
    /* the nodes, as stock writes them: owner us (no access for others),
     * the client may read */
    t_vchan_path(path, sizeof(path), t_dom(0), t_dom(1), "basic", 1);
    snprintf(node, sizeof(node), "%s/ring-ref", path);
    T_OK(plat->ops->xs_read(plat, IVCOM_XS_NO_TX, node, val, sizeof(val)));
    T_EQ(strtoul(val, NULL, 10), info.ring_ref);
    T_EQ(plat->ops->xs_get_perms(plat, IVCOM_XS_NO_TX, node, perms, 4), 2);
    T_EQ(perms[0].domid, t_dom(0));
    T_EQ(perms[0].perms, IVCOM_XS_PERM_NONE);
    T_EQ(perms[1].domid, t_dom(1));
    T_EQ(perms[1].perms, IVCOM_XS_PERM_READ);
    snprintf(node, sizeof(node), "%s/event-channel", path);
    T_OK(plat->ops->xs_read(plat, IVCOM_XS_NO_TX, node, val, sizeof(val)));
    T_EQ(strtoul(val, NULL, 10), info.port);

    T_OK(ivcom_vchan_accept(v, T_VCHAN_TIMEOUT));
    T_EQ(ivcom_vchan_state(v), 1);
    t_vchan_read_pattern(v, c->stream);
    t_vchan_write_pattern(v, c->stream);
    t_vchan_recv_packets(v, (size_t)1 << c->left, 5);
    t_vchan_send_packets(v, (size_t)1 << c->right, 5);
    t_vchan_send_packets(v, 3, 1000);
    ivcom_vchan_close(v);
    /* the server's close removed its directory */
    T_EQ(plat->ops->xs_read(plat, IVCOM_XS_NO_TX, path, val, sizeof(val)), -ENOENT);
    T_EQ(t_wait(pid), 0);
}

int main(void)
{
    struct ivcom_platform *plat;
    size_t i;

    t_sim_required();
    plat = t_platform(t_dom(0));
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fprintf(stderr, "case %zu: read_min %zu write_min %zu\n", i, cases[i].read_min,
                cases[i].write_min);
        run_case(plat, &cases[i]);
    }
    ivcom_platform_close(plat);
    return 0;
}
