/* SPDX-License-Identifier: MIT */
/* Description: the vchan page as our server writes it, at rest in three
 * states (no client yet; in-page rings after traffic both ways; multi-page
 * rings with their grants), agrees with our own view of it.  With
 * IVCOM_VCHAN_DUMP=<dir> each state is also written out (<n>.page: the
 * 4096 bytes; <n>.json: our view) for tests/py/test_vchan.py to decode
 * with the toolkit's construct layout (layouts/vchan.py). */
#include "vchan_helpers.h"

static int *step;

static int client(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_vchan *v;
    char path[128], buf[5000];
    int round;

    (void)arg;
    for (round = 0; round < 2; round++) {
        t_vchan_path(path, sizeof(path), t_dom(0), t_dom(1), round ? "big" : "small", 1);
        /* not before the server's page was looked at with no client */
        t_step_wait(step, 3 * round + 1);
        T_OK(ivcom_vchan_client_open(plat, t_dom(0), path, &v, T_VCHAN_TIMEOUT));
        memset(buf, 'c', sizeof(buf));
        T_EQ(ivcom_vchan_send(v, buf, 1000, T_VCHAN_TIMEOUT), 1000);
        T_EQ(ivcom_vchan_recv(v, buf, 700, T_VCHAN_TIMEOUT), 700);
        t_step_set(step, 3 * round + 2);
        t_step_wait(step, 3 * round + 3);
        ivcom_vchan_close(v);
    }
    return 0;
}

static void dump(struct ivcom_vchan *v, int n)
{
    const struct ivcom_vchan_page *pg = ivcom_vchan_page(v);
    const char *dir = getenv("IVCOM_VCHAN_DUMP");
    struct ivcom_vchan_info in;
    uint32_t grants[512];
    unsigned i, ng;
    char name[512];
    FILE *f;

    ivcom_vchan_get_info(v, &in);
    ng = ivcom_vchan_grants(v, grants, 512);
    /* our view and the page agree (server: we read left, write right) */
    T_EQ(pg->left_order, in.read_order);
    T_EQ(pg->right_order, in.write_order);
    T_EQ(pg->right.prod, in.write_prod);
    T_EQ(pg->left.cons, in.read_cons);
    T_EQ(pg->srv_live, 1);
    for (i = 0; i < ng; i++)
        T_EQ(pg->grants[i], grants[i]);
    if (!dir)
        return;
    snprintf(name, sizeof(name), "%s/%d.page", dir, n);
    f = fopen(name, "wb");
    T_ASSERT(f);
    T_EQ(fwrite(pg, 1, IVCOM_PAGE_SIZE, f), IVCOM_PAGE_SIZE);
    fclose(f);
    snprintf(name, sizeof(name), "%s/%d.json", dir, n);
    f = fopen(name, "w");
    T_ASSERT(f);
    fprintf(f, "{\"left_order\": %u, \"right_order\": %u, \"left_prod\": %u, "
            "\"left_cons\": %u, \"right_prod\": %u, \"right_cons\": %u, "
            "\"cli_live\": %d, \"srv_live\": 1, \"grants\": [",
            in.read_order, in.write_order, in.read_prod, in.read_cons, in.write_prod,
            in.write_cons, ivcom_vchan_state(v));
    for (i = 0; i < ng; i++)
        fprintf(f, "%s%u", i ? ", " : "", grants[i]);
    fprintf(f, "]}\n");
    fclose(f);
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_vchan *v;
    char path[128], buf[5000];
    pid_t pid;
    int round;

    t_sim_required();
    step = t_shared(sizeof(*step));
    plat = t_platform(t_dom(0));
    pid = t_spawn(t_dom(1), client, NULL);
    for (round = 0; round < 2; round++) {
        t_vchan_path(path, sizeof(path), t_dom(0), t_dom(1), round ? "big" : "small", 0);
        if (round)
            T_OK(ivcom_vchan_server_open(plat, t_dom(1), path, 65536, 1u << 20, &v));
        else
            T_OK(ivcom_vchan_server_open(plat, t_dom(1), path, 0, 0, &v));
        if (!round)
            dump(v, 0);             /* no client yet: cli_live 2 */
        t_step_set(step, 3 * round + 1);
        memset(buf, 's', sizeof(buf));
        /* more than the client reads; all of it fits the smallest ring */
        T_EQ(ivcom_vchan_send(v, buf, 1500, T_VCHAN_TIMEOUT), 1500);
        T_EQ(ivcom_vchan_recv(v, buf, 600, T_VCHAN_TIMEOUT), 600);
        t_step_wait(step, 3 * round + 2);
        T_EQ(ivcom_vchan_data_ready(v), 400);
        T_EQ(ivcom_vchan_buffer_space(v), (1 << (round ? 20 : 11)) - 800);
        dump(v, round + 1);
        t_step_set(step, 3 * round + 3);
        T_EQ(ivcom_vchan_read(v, buf, sizeof(buf), T_VCHAN_TIMEOUT), 400);
        T_EQ(ivcom_vchan_read(v, buf, sizeof(buf), T_VCHAN_TIMEOUT), -EPIPE);
        ivcom_vchan_close(v);
    }
    T_EQ(t_wait(pid), 0);
    ivcom_platform_close(plat);
    return 0;
}
