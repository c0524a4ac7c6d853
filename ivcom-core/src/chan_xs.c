/* SPDX-License-Identifier: MIT */
/*
 * The XenStore half of a channel: the server's offer, the client's
 * presence, states, and the liveness probe.  Kept apart from the data
 * path; every value read back is parsed strictly (hostile peer).
 *
 *   /local/domain/<server>/data/ivcom/<name>/      {server: none} {client: r}
 *       version mode s2c-order c2s-order ctrl-ref event-channel
 *       nonce (16 hex digits, also in the control page) client-domid state
 *       owner (the server's process id, where it has one: chan_sweep.c)
 *       client/state client/event-channel          {server: none} {client: rw}
 *   /local/domain/<client>/data/ivcom-client/<server>/<name>
 *       "connected <pid>" (or "connected")         {client: none} {server: r}
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define OFFER_TX_RETRIES 16
#define OFFER_POLL_MS    20

static int node(char *buf, size_t len, const char *dir, const char *leaf)
{
    int n = snprintf(buf, len, "%s/%s", dir, leaf);

    return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

static int presence_path(struct ivcom_chan *ch, int client, int server)
{
    int n = snprintf(ch->xs_presence, sizeof(ch->xs_presence),
                     "/local/domain/%d/data/ivcom-client/%d/%s",
                     client, server, ch->name);

    return (n < 0 || (size_t)n >= sizeof(ch->xs_presence)) ? -ENAMETOOLONG : 0;
}

static int offer_dir(struct ivcom_chan *ch, int server)
{
    int n = snprintf(ch->xs_dir, sizeof(ch->xs_dir), "/local/domain/%d/%s/%s",
                     server, IVCOM_XS_BASE, ch->name);

    return (n < 0 || (size_t)n >= sizeof(ch->xs_dir)) ? -ENAMETOOLONG : 0;
}

/* Strict unsigned decimal: digits only, no sign, at most `max`. */
int ivcom_parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;

    if (!*s)
        return -EPROTO;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EPROTO;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > max)
            return -EPROTO;
    }
    *out = (uint32_t)v;
    return 0;
}

static int write_node(struct ivcom_chan *ch, uint32_t tx, const char *leaf,
                      const char *value, const struct ivcom_xs_perm *perms)
{
    const struct ivcom_platform_ops *ops = ch->plat->ops;
    char path[IVCOM_PATH_MAX];
    int err = node(path, sizeof(path), ch->xs_dir, leaf);

    if (!err)
        err = ops->xs_write(ch->plat, tx, path, value);
    if (!err)
        err = ops->xs_set_perms(ch->plat, tx, path, perms, 2);
    return err;
}

static int write_u32(struct ivcom_chan *ch, uint32_t tx, const char *leaf,
                     uint32_t v, const struct ivcom_xs_perm *perms)
{
    char buf[16];

    snprintf(buf, sizeof(buf), "%u", v);
    return write_node(ch, tx, leaf, buf, perms);
}

static const char *mode_name(uint8_t mode)
{
    return mode == IVCOM_MODE_STREAM ? "stream" : "message";
}

static int offer_once(struct ivcom_chan *ch, uint32_t ctrl_ref)
{
    const struct ivcom_platform_ops *ops = ch->plat->ops;
    const int self = ch->plat->domid, peer = ch->peer;
    const struct ivcom_xs_perm ro[2] = {
        { (uint32_t)self, IVCOM_XS_PERM_NONE }, { (uint32_t)peer, IVCOM_XS_PERM_READ } };
    const struct ivcom_xs_perm rw[2] = {
        { (uint32_t)self, IVCOM_XS_PERM_NONE }, { (uint32_t)peer, IVCOM_XS_PERM_BOTH } };
    uint32_t tx;
    int err;

    err = ops->xs_tx_start(ch->plat, &tx);
    if (err)
        return err;
    err = ops->xs_write(ch->plat, tx, ch->xs_dir, "");
    if (!err)
        err = ops->xs_set_perms(ch->plat, tx, ch->xs_dir, ro, 2);
    if (!err)
        err = write_u32(ch, tx, "version", IVCOM_WIRE_VERSION, ro);
    if (!err)
        err = write_node(ch, tx, "mode", mode_name(ch->params.mode), ro);
    if (!err)
        err = write_u32(ch, tx, "s2c-order", ch->params.tx_order, ro);
    if (!err)
        err = write_u32(ch, tx, "c2s-order", ch->params.rx_order, ro);
    if (!err)
        err = write_u32(ch, tx, "ctrl-ref", ctrl_ref, ro);
    if (!err)
        err = write_u32(ch, tx, "event-channel", ch->port, ro);
    if (!err) {
        char nonce[17];

        snprintf(nonce, sizeof(nonce), "%016llx", (unsigned long long)ch->nonce);
        err = write_node(ch, tx, "nonce", nonce, ro);
    }
    if (!err)
        err = write_u32(ch, tx, "client-domid", (uint32_t)peer, ro);
    if (!err && ivcom_os_pid())
        err = write_u32(ch, tx, IVCOM_XS_OWNER, ivcom_os_pid(), ro);
    if (!err)
        err = write_node(ch, tx, "client", "", rw);
    if (!err)
        err = write_node(ch, tx, "client/state", "", rw);
    if (!err)
        err = write_node(ch, tx, "client/event-channel", "", rw);
    if (!err)
        err = write_node(ch, tx, "state", IVCOM_XS_STATE_OFFERED, ro);
    if (err) {
        ops->xs_tx_end(ch->plat, tx, 1);
        return err;
    }
    return ops->xs_tx_end(ch->plat, tx, 0);
}

int ivcom_xs_offer(struct ivcom_chan *ch, uint32_t ctrl_ref)
{
    int i, err = offer_dir(ch, ch->plat->domid);

    if (!err)
        err = presence_path(ch, ch->peer, ch->plat->domid);
    if (err)
        return err;
    /* A stale offer of ours under the same name is replaced. */
    ch->plat->ops->xs_rm(ch->plat, IVCOM_XS_NO_TX, ch->xs_dir);
    for (i = 0; i < OFFER_TX_RETRIES; i++) {
        err = offer_once(ch, ctrl_ref);
        if (err != -EAGAIN)
            return err;
    }
    return -EAGAIN;
}

static int read_leaf(struct ivcom_chan *ch, const char *leaf, char *buf, size_t len)
{
    char path[IVCOM_PATH_MAX];
    int err = node(path, sizeof(path), ch->xs_dir, leaf);

    if (err)
        return err;
    return ch->plat->ops->xs_read(ch->plat, IVCOM_XS_NO_TX, path, buf, len);
}

static int read_u32(struct ivcom_chan *ch, const char *leaf, uint32_t max, uint32_t *out)
{
    char buf[32];
    int err = read_leaf(ch, leaf, buf, sizeof(buf));

    return err ? err : ivcom_parse_u32(buf, max, out);
}

/* Exactly 16 lower-case hex digits. */
int ivcom_parse_nonce(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 16; i++) {
        char c = s[i];

        if (c >= '0' && c <= '9')
            v = v << 4 | (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint64_t)(c - 'a' + 10);
        else
            return -EPROTO;
    }
    if (s[16])
        return -EPROTO;
    *out = v;
    return 0;
}

static int read_offer_values(struct ivcom_chan *ch, uint32_t *ctrl_ref, uint32_t *port)
{
    char mode[16], nonce[32];
    uint32_t version, s2c, c2s, client;
    int err;

    if ((err = read_u32(ch, "version", UINT32_MAX, &version)) ||
        (err = read_leaf(ch, "mode", mode, sizeof(mode))) ||
        (err = read_u32(ch, "s2c-order", IVCOM_RING_ORDER_MAX, &s2c)) ||
        (err = read_u32(ch, "c2s-order", IVCOM_RING_ORDER_MAX, &c2s)) ||
        (err = read_u32(ch, "ctrl-ref", UINT32_MAX, ctrl_ref)) ||
        (err = read_u32(ch, "event-channel", UINT32_MAX, port)) ||
        (err = read_leaf(ch, "nonce", nonce, sizeof(nonce))) ||
        (err = ivcom_parse_nonce(nonce, &ch->nonce)) ||
        (err = read_u32(ch, "client-domid", UINT32_MAX, &client)))
        return err == -ENOENT ? -EPROTO : err;
    if (version != IVCOM_WIRE_VERSION)
        return -EPROTONOSUPPORT;
    if (client != (uint32_t)ch->plat->domid)
        return -EACCES;
    if (s2c < IVCOM_RING_ORDER_MIN || c2s < IVCOM_RING_ORDER_MIN)
        return -EPROTO;
    if (strcmp(mode, "message") == 0)
        ch->params.mode = IVCOM_MODE_MESSAGE;
    else if (strcmp(mode, "stream") == 0)
        ch->params.mode = IVCOM_MODE_STREAM;
    else
        return -EPROTO;
    ch->params.rx_order = (uint8_t)s2c;
    ch->params.tx_order = (uint8_t)c2s;
    return 0;
}

int ivcom_xs_read_offer(struct ivcom_chan *ch, int server_domid, uint32_t *ctrl_ref,
                        uint32_t *port, int timeout_ms)
{
    const struct ivcom_platform_ops *ops = ch->plat->ops;
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX
                        : ivcom_now_ns() + (uint64_t)timeout_ms * 1000000u;
    char state_path[IVCOM_PATH_MAX], state[32];
    int err, watching;

    if ((err = offer_dir(ch, server_domid)) ||
        (err = presence_path(ch, ch->plat->domid, server_domid)) ||
        (err = node(state_path, sizeof(state_path), ch->xs_dir, "state")))
        return err;
    /* A look without waiting (the stepwise connect, which holds a watch
     * of its own) registers none: each registration fires at once. */
    watching = timeout_ms != 0 && ops->xs_watch(ch->plat, state_path, "ivcom-offer") == 0;
    for (;;) {
        uint64_t now;

        err = ops->xs_read(ch->plat, IVCOM_XS_NO_TX, state_path, state, sizeof(state));
        if (!err && strcmp(state, IVCOM_XS_STATE_OFFERED) == 0)
            break;
        /* Not a one-peer offer but a service of that name: say so. */
        if ((err == -ENOENT || err == -EACCES) && ivcom_xs_svc_present(ch, server_domid) == 1) {
            err = IVCOM_XS_IS_SERVICE;
            goto out;
        }
        if (err && err != -ENOENT && err != -EACCES)
            goto out;
        /* Not offered yet, or not (yet) readable by us: wait for it. */
        if (!err)
            err = -EBUSY;       /* offered to someone and taken, or closing */
        now = ivcom_now_ns();
        if (now >= deadline)
            goto out;
        ops->xs_wait_watch(ch->plat, OFFER_POLL_MS);
    }
    err = read_offer_values(ch, ctrl_ref, port);
out:
    if (watching)
        ops->xs_unwatch(ch->plat, state_path, "ivcom-offer");
    if (err == -ENOENT)
        err = -ETIMEDOUT;
    return err;
}

/* Client of a one-peer offer: take it, before mapping anything, by
 * turning an empty client/state into "connecting" in one transaction: of
 * two connects racing for one offer, one wins and the other gets -EBUSY
 * (never a second mapping that would reset the winner's ring lines). */
int ivcom_xs_claim(struct ivcom_chan *ch)
{
    const struct ivcom_platform_ops *ops = ch->plat->ops;
    char path[IVCOM_PATH_MAX], val[32];
    int i, err = node(path, sizeof(path), ch->xs_dir, "client/state");

    for (i = 0; !err && i < OFFER_TX_RETRIES; i++) {
        uint32_t tx;

        err = ops->xs_tx_start(ch->plat, &tx);
        if (err)
            break;
        err = ops->xs_read(ch->plat, tx, path, val, sizeof(val));
        if (!err && val[0])
            err = -EBUSY;
        if (!err)
            err = ops->xs_write(ch->plat, tx, path, IVCOM_XS_STATE_CONNECTING);
        if (err) {
            ops->xs_tx_end(ch->plat, tx, 1);
            break;
        }
        err = ops->xs_tx_end(ch->plat, tx, 0);
        if (err != -EAGAIN)
            break;
    }
    if (!err)
        ch->xs_state_written = 1;
    return err;
}

/* The presence node is readable by the server alone. */
static int presence_perms(struct ivcom_chan *ch, uint32_t tx)
{
    const struct ivcom_xs_perm ro[2] = {
        { (uint32_t)ch->plat->domid, IVCOM_XS_PERM_NONE },
        { (uint32_t)ch->peer, IVCOM_XS_PERM_READ } };

    return ch->plat->ops->xs_set_perms(ch->plat, tx, ch->xs_presence, ro, 2);
}

static int announce_once(struct ivcom_chan *ch)
{
    const struct ivcom_platform_ops *ops = ch->plat->ops;
    char val[32];
    uint32_t tx;
    int err;

    ivcom_xs_presence_value(val, sizeof(val));
    err = ops->xs_tx_start(ch->plat, &tx);
    if (err)
        return err;
    err = ops->xs_write(ch->plat, tx, ch->xs_presence, val);
    if (!err)
        err = presence_perms(ch, tx);
    if (err) {
        ops->xs_tx_end(ch->plat, tx, 1);
        return err;
    }
    return ops->xs_tx_end(ch->plat, tx, 0);
}

int ivcom_xs_announce(struct ivcom_chan *ch)
{
    int i, err = -EAGAIN;

    for (i = 0; i < OFFER_TX_RETRIES && err == -EAGAIN; i++)
        err = announce_once(ch);
    if (!err)
        ch->xs_announced = 1;
    return err;
}

/* A service channel's one node is the client's request: the client says
 * "connected <its port> <ctrl-ref> <nonce>" there, either side "closed". */
static int svc_set_state(struct ivcom_chan *ch, const char *state)
{
    const struct ivcom_platform_ops *ops = ch->plat->ops;
    char val[80];
    int err;

    if (strcmp(state, IVCOM_XS_STATE_CONNECTED) == 0) {
        if (ch->is_server)
            return 0;
        err = ivcom_xs_svc_connected_value(ch, val, sizeof(val));
        if (err)
            return err;
        ch->xs_state_written = 1;
        return ops->xs_write(ch->plat, IVCOM_XS_NO_TX, ch->xs_dir, val);
    }
    err = ops->xs_write(ch->plat, IVCOM_XS_NO_TX, ch->xs_dir, state);
    if (!err && ch->xs_announced)
        err = ops->xs_write(ch->plat, IVCOM_XS_NO_TX, ch->xs_presence, state);
    return err;
}

int ivcom_xs_set_state(struct ivcom_chan *ch, const char *state)
{
    const struct ivcom_platform_ops *ops = ch->plat->ops;
    char path[IVCOM_PATH_MAX];
    int err;

    if (ch->svc)
        return svc_set_state(ch, state);
    if (ch->is_server) {
        err = node(path, sizeof(path), ch->xs_dir, "state");
        return err ? err : ops->xs_write(ch->plat, IVCOM_XS_NO_TX, path, state);
    }
    if (strcmp(state, IVCOM_XS_STATE_CONNECTED) == 0) {
        /* Our end of the event channel, for tracers that attribute events
         * to channels (the server's end is event-channel). */
        char port[16];
        snprintf(port, sizeof(port), "%u", ch->port);
        err = node(path, sizeof(path), ch->xs_dir, "client/event-channel");
        if (!err)
            err = ops->xs_write(ch->plat, IVCOM_XS_NO_TX, path, port);
        if (err)
            return err;
    }
    ch->xs_state_written = 1;
    err = node(path, sizeof(path), ch->xs_dir, "client/state");
    if (!err)
        err = ops->xs_write(ch->plat, IVCOM_XS_NO_TX, path, state);
    /* announce wrote "connected" with its permissions; any later state
     * goes to the same node (and withdraw removes it). */
    if (!err && ch->xs_announced && strcmp(state, IVCOM_XS_STATE_CONNECTED) != 0)
        err = ops->xs_write(ch->plat, IVCOM_XS_NO_TX, ch->xs_presence, state);
    return err;
}

void ivcom_xs_retract(struct ivcom_chan *ch)
{
    const struct ivcom_platform_ops *ops = ch->plat->ops;
    char path[IVCOM_PATH_MAX];

    if (ch->svc) {
        ops->xs_rm(ch->plat, IVCOM_XS_NO_TX, ch->xs_dir);   /* our request */
        ch->xs_state_written = 0;
    } else if (ch->xs_state_written) {
        if (!node(path, sizeof(path), ch->xs_dir, "client/state"))
            ops->xs_write(ch->plat, IVCOM_XS_NO_TX, path, "");
        if (!node(path, sizeof(path), ch->xs_dir, "client/event-channel"))
            ops->xs_write(ch->plat, IVCOM_XS_NO_TX, path, "");
        ch->xs_state_written = 0;
    }
    if (ch->xs_announced) {
        ops->xs_rm(ch->plat, IVCOM_XS_NO_TX, ch->xs_presence);
        ch->xs_announced = 0;
    }
}

int ivcom_xs_client_came(struct ivcom_chan *ch)
{
    char val[32];

    if (ch->svc)
        return ivcom_xs_svc_came(ch);
    if (read_leaf(ch, "client/state", val, sizeof(val)))
        return 0;
    return strcmp(val, IVCOM_XS_STATE_CONNECTED) == 0 ||
           strcmp(val, IVCOM_XS_STATE_CLOSED) == 0;
}

int ivcom_xs_peer_gone(struct ivcom_chan *ch)
{
    const struct ivcom_platform_ops *ops = ch->plat->ops;
    char path[IVCOM_PATH_MAX], val[80];
    int err;

    if (ch->is_server) {
        /* The client's presence lives in its own domain directory, which
         * the toolstack removes when the domain is destroyed. */
        if (!ch->xs_presence[0])
            return 0;
        strcpy(path, ch->xs_presence);
    } else if (ch->svc) {
        /* Our request node, under the server's domain directory. */
        strcpy(path, ch->xs_dir);
    } else if (node(path, sizeof(path), ch->xs_dir, "state")) {
        return 0;
    }
    err = ops->xs_read(ch->plat, IVCOM_XS_NO_TX, path, val, sizeof(val));
    if (err == -ENOENT || err == -EACCES)
        return 1;
    return !err && strcmp(val, IVCOM_XS_STATE_CLOSED) == 0;
}

void ivcom_xs_withdraw(struct ivcom_chan *ch)
{
    const struct ivcom_platform_ops *ops = ch->plat->ops;

    /* A service channel's request node goes with it, on either side. */
    if ((ch->is_server || ch->svc) && ch->xs_dir[0])
        ops->xs_rm(ch->plat, IVCOM_XS_NO_TX, ch->xs_dir);
    if (!ch->is_server && ch->xs_announced)
        ops->xs_rm(ch->plat, IVCOM_XS_NO_TX, ch->xs_presence);
}

void ivcom_xs_drain_watch(struct ivcom_platform *plat)
{
    int i;

    /* Bounded: a store that always says "fired" must not hold us. */
    for (i = 0; i < IVCOM_XS_DRAIN_MAX && plat->ops->xs_wait_watch(plat, 0) == 0; i++)
        ;
}
