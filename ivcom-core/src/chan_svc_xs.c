/* SPDX-License-Identifier: MIT */
/*
 * The XenStore half of services: a client's request and the server's
 * answer in ONE node, which the client creates and so owns -- xenstored
 * records the owner, so the server learns who asks from something the
 * client cannot forge, and the node counts against the client's quota,
 * not the server's.
 *
 *   /local/domain/<S>/data/ivcom-svc/<name>/           {S: r}  (anyone reads)
 *       state = "listening"                             {S: r}
 *       req/                                            {S: w}  (anyone may create,
 *                                                                nobody else lists)
 *       req/<token>  created by client C, one transaction {C: n} {S: b}
 *           C: "request 1"
 *           S: "offer 1 <mode> <s2c-order> <c2s-order> <ctrl-ref> <port> <nonce>"
 *              | "refused" (policy) | "busy" (the domain's limit)
 *           C: "connected <client-port> <ctrl-ref> <nonce>"     either side: "closed"
 *              (the offer's ref and nonce, so that the node still names the
 *              channel's control page once the offer is overwritten; the
 *              server takes it only if both are its offer's, and a reader
 *              checks the nonce against the page's own)
 *   /local/domain/<C>/data/ivcom-svc-client/<S>/<name>/<token>   {C: n} {S: r}
 *       the client's presence (its domain directory goes when it dies)
 *
 * The token is 16 random hex digits; the offer's nonce is also in the
 * control page (a stale offer cannot attach a client to another page).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define SVC_TX_RETRIES  16
#define SVC_TOKEN_TRIES 4

static int fits(int n, size_t len)
{
    return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

int ivcom_xs_svc_dir(char *buf, size_t len, int server, const char *name, const char *leaf)
{
    return fits(snprintf(buf, len, "/local/domain/%d/" IVCOM_XS_SVC_BASE "/%s%s", server, name,
                         leaf), len);
}

static int presence_of(char *buf, size_t len, int client, int server, const char *name,
                       const char *token)
{
    return fits(snprintf(buf, len, "/local/domain/%d/" IVCOM_XS_SVC_CLIENT "/%d/%s/%s", client,
                         server, name, token), len);
}

int ivcom_xs_svc_present(struct ivcom_chan *ch, int server_domid)
{
    char path[IVCOM_PATH_MAX], val[32];
    int err = ivcom_xs_svc_dir(path, sizeof(path), server_domid, ch->name, "/state");

    if (!err)
        err = ch->plat->ops->xs_read(ch->plat, IVCOM_XS_NO_TX, path, val, sizeof(val));
    if (err == -ENOENT || err == -EACCES)
        return 0;
    return err ? err : strcmp(val, IVCOM_XS_SVC_LISTENING) == 0;
}

/* ---- the server's side ---------------------------------------------------- */

int ivcom_xs_svc_offer(struct ivcom_chan *ch, const char *req_path, const char *token)
{
    char offer[128];
    int err;

    if (strlen(req_path) >= sizeof(ch->xs_dir))
        return -ENAMETOOLONG;
    err = presence_of(ch->xs_presence, sizeof(ch->xs_presence), ch->peer, ch->plat->domid,
                      ch->name, token);
    if (err)
        return err;
    ch->svc = 1;
    strcpy(ch->xs_dir, req_path);
    snprintf(offer, sizeof(offer), "offer %u %s %u %u %u %u %016llx", IVCOM_WIRE_VERSION,
             ch->params.mode == IVCOM_MODE_STREAM ? "stream" : "message",
             ch->params.tx_order, ch->params.rx_order, ch->ctrl_ref, ch->port,
             (unsigned long long)ch->nonce);
    return ch->plat->ops->xs_write(ch->plat, IVCOM_XS_NO_TX, req_path, offer);
}

/* ---- the client's side ---------------------------------------------------- */

int ivcom_xs_svc_connected_value(const struct ivcom_chan *ch, char *buf, size_t len)
{
    return fits(snprintf(buf, len, "%s %u %u %016llx", IVCOM_XS_STATE_CONNECTED, ch->port,
                         ch->ctrl_ref, (unsigned long long)ch->nonce), len);
}

/* Next space-separated word of *s into word (at most len-1 chars). */
static int next_word(const char **s, char *word, size_t len)
{
    size_t n = 0;

    while ((*s)[n] && (*s)[n] != ' ')
        n++;

    if (n == 0 || n >= len)
        return -EPROTO;
    memcpy(word, *s, n);
    word[n] = '\0';
    *s += n;
    if (**s == ' ')
        (*s)++;
    return 0;
}

static int word_u32(const char **s, uint32_t max, uint32_t *out)
{
    char w[16];

    return next_word(s, w, sizeof(w)) ? -EPROTO : ivcom_parse_u32(w, max, out);
}

static int word_nonce(const char **s, uint64_t *out)
{
    char w[24];

    return next_word(s, w, sizeof(w)) ? -EPROTO : ivcom_parse_nonce(w, out);
}

/* Server, while ch is on offer: what the client's request node says.  1 it
 * came ("connected <port> <ctrl-ref> <nonce>" naming our offer, or
 * "closed"), 0 not yet (our offer, or no node), -EPROTO anything else --
 * no honest client writes it. */
int ivcom_xs_svc_came(struct ivcom_chan *ch)
{
    char val[80], word[16];
    const char *s = val;
    uint32_t port, ref;
    uint64_t nonce;

    if (ch->plat->ops->xs_read(ch->plat, IVCOM_XS_NO_TX, ch->xs_dir, val, sizeof(val)))
        return 0;
    if (strncmp(val, "offer ", 6) == 0)
        return 0;
    if (strcmp(val, IVCOM_XS_STATE_CLOSED) == 0)
        return 1;
    if (next_word(&s, word, sizeof(word)) || strcmp(word, IVCOM_XS_STATE_CONNECTED) ||
        word_u32(&s, UINT32_MAX, &port) || word_u32(&s, UINT32_MAX, &ref) ||
        word_nonce(&s, &nonce) || *s || ref != ch->ctrl_ref || nonce != ch->nonce)
        return -EPROTO;
    return 1;
}

/* "offer 1 <mode> <s2c> <c2s> <ctrl-ref> <port> <nonce>", strictly. */
static int parse_offer(struct ivcom_chan *ch, const char *s, uint32_t *ctrl_ref, uint32_t *port)
{
    char word[16];
    uint32_t version, s2c, c2s;

    if (next_word(&s, word, sizeof(word)) || strcmp(word, "offer") ||
        word_u32(&s, UINT32_MAX, &version))
        return -EPROTO;
    if (version != IVCOM_WIRE_VERSION)
        return -EPROTONOSUPPORT;
    if (next_word(&s, word, sizeof(word)))
        return -EPROTO;
    if (strcmp(word, "message") == 0)
        ch->params.mode = IVCOM_MODE_MESSAGE;
    else if (strcmp(word, "stream") == 0)
        ch->params.mode = IVCOM_MODE_STREAM;
    else
        return -EPROTO;
    if (word_u32(&s, IVCOM_RING_ORDER_MAX, &s2c) || word_u32(&s, IVCOM_RING_ORDER_MAX, &c2s) ||
        s2c < IVCOM_RING_ORDER_MIN || c2s < IVCOM_RING_ORDER_MIN ||
        word_u32(&s, UINT32_MAX, ctrl_ref) || word_u32(&s, UINT32_MAX, port) ||
        word_nonce(&s, &ch->nonce) || *s)
        return -EPROTO;
    ch->params.rx_order = (uint8_t)s2c;
    ch->params.tx_order = (uint8_t)c2s;
    return 0;
}

/* Create our request node, readable and writable by the server alone. */
static int create_request(struct ivcom_chan *ch, int server)
{
    const struct ivcom_platform_ops *ops = ch->plat->ops;
    const struct ivcom_xs_perm perms[2] = {
        { (uint32_t)ch->plat->domid, IVCOM_XS_PERM_NONE },
        { (uint32_t)server, IVCOM_XS_PERM_BOTH } };
    uint32_t tx;
    int i, err = -EAGAIN;

    for (i = 0; i < SVC_TX_RETRIES && err == -EAGAIN; i++) {
        err = ops->xs_tx_start(ch->plat, &tx);
        if (err)
            return err;
        /* A token another domain holds refuses our write (-EACCES): the
         * caller then draws another. */
        err = ops->xs_write(ch->plat, tx, ch->xs_dir, IVCOM_XS_SVC_REQUEST);
        if (!err)
            err = ops->xs_set_perms(ch->plat, tx, ch->xs_dir, perms, 2);
        if (err) {
            ops->xs_tx_end(ch->plat, tx, 1);
            return err;
        }
        err = ops->xs_tx_end(ch->plat, tx, 0);
    }
    return err;
}

int ivcom_xs_svc_request_start(struct ivcom_chan *ch, int server_domid)
{
    char token[IVCOM_SVC_TOKEN_LEN + 1], leaf[IVCOM_SVC_TOKEN_LEN + 8];
    int i, err = -EEXIST;

    /* A token another domain holds refuses our write (-EACCES), a full
     * request directory (a flood, until the service clears it) -ENOSPC:
     * another token, a few times, then the caller tries again later. */
    for (i = 0; i < SVC_TOKEN_TRIES && (err == -EEXIST || err == -EACCES); i++) {
        snprintf(token, sizeof(token), "%016llx", (unsigned long long)ivcom_os_nonce());
        snprintf(leaf, sizeof(leaf), "/req/%s", token);
        err = ivcom_xs_svc_dir(ch->xs_dir, sizeof(ch->xs_dir), server_domid, ch->name, leaf);
        if (!err)
            err = create_request(ch, server_domid);
    }
    if (!err)
        err = presence_of(ch->xs_presence, sizeof(ch->xs_presence), ch->plat->domid,
                          server_domid, ch->name, token);
    if (err) {
        ch->xs_dir[0] = '\0';
        return err;
    }
    ch->svc = 1;
    return 0;
}

int ivcom_xs_svc_request_answer(struct ivcom_chan *ch, uint32_t *ctrl_ref, uint32_t *port)
{
    const struct ivcom_platform_ops *ops = ch->plat->ops;
    char val[128];
    int err = ops->xs_read(ch->plat, IVCOM_XS_NO_TX, ch->xs_dir, val, sizeof(val));

    /* Gone: the service went or restarted.  We own the node, so a read
     * refused can only mean that (xenstored answers EACCES, not ENOENT,
     * for a missing node under a directory we may not read). */
    if (err == -ENOENT || err == -EACCES)
        return -ECONNRESET;
    if (!err && strcmp(val, IVCOM_XS_SVC_REQUEST) == 0)
        return -EAGAIN;
    if (!err)
        err = strcmp(val, IVCOM_XS_SVC_REFUSED) == 0 ? -EACCES
            : strcmp(val, IVCOM_XS_SVC_BUSY) == 0 ? -EBUSY
            : parse_offer(ch, val, ctrl_ref, port);
    if (err)
        ops->xs_rm(ch->plat, IVCOM_XS_NO_TX, ch->xs_dir);   /* our request goes */
    return err;
}
