/* api_invite.c - who is the presenter, and how students join.
 *
 *   GET /api/invite       the join URLs of this server: one per interface
 *                         address of the machine on a wildcard bind, the
 *                         bound address otherwise, none on loopback (with a
 *                         hint); each with the URL of its QR code. Join URLs
 *                         never carry the token.
 *   GET /api/invite.png   ?i=K&scale=S: the QR code of join URL K (libqrencode,
 *                         error correction M, a 4-module quiet zone, S pixels
 *                         per module, 10 by default: about 330 px, big enough
 *                         to scan off a projector).
 *
 * The access object of /api/status says whether mutations need the token
 * and whether this request carried it: the page of whoever holds it is the
 * presenter's, every other page is a read-only viewer's.
 */
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "netif.h"
#include "png.h"

#define QR_QUIET 4                         /* modules of white around the code */

int srv_http_join_urls(const srv_http *h, char (*urls)[128], int max) {
    if (!srv_guard_is_lan(&h->guard) || max < 1) return 0;
    if (h->guard.bind_host[0]) {           /* one interface address */
        snprintf(urls[0], 128, "http://%s:%d/", h->guard.bind_host, h->port);
        return 1;
    }
    srv_netif_list ifs;
    int n = srv_netif_addresses(&ifs);
    if (n > max) n = max;
    for (int i = 0; i < n; i++) snprintf(urls[i], 128, "http://%s:%d/", ifs.host[i], h->port);
    return n;
}

cJSON *srv_api_access_json(srv_http *h, struct MHD_Connection *conn) {
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddBoolToObject(o, "lan", srv_guard_is_lan(&h->guard));
    cJSON_AddBoolToObject(o, "token_required", h->guard.token[0] != '\0');
    cJSON_AddStringToObject(o, "role", srv_guard_is_presenter(&h->guard, auth) ? "presenter" : "viewer");
    return o;
}

enum MHD_Result srv_api_invite(srv_call *c) {
    static const char *const allowed[] = {NULL};
    const char *bad = srv_query_unknown(c->conn, allowed);
    if (bad)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "unknown or repeated query parameter: %.64s", bad);
    char urls[SRV_NETIF_MAX][128];
    int n = srv_http_join_urls(c->h, urls, SRV_NETIF_MAX);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "invites") : NULL;
    if (!arr) goto fail;
    cJSON_AddBoolToObject(o, "lan", srv_guard_is_lan(&c->h->guard));
    if (!srv_guard_is_lan(&c->h->guard))
        cJSON_AddStringToObject(o, "hint", "this server listens on loopback only: start it with "
                                           "--bind 0.0.0.0 to let others on the network join");
    for (int i = 0; i < n; i++) {
        char qr[48];
        snprintf(qr, sizeof qr, "/api/invite.png?i=%d", i);
        cJSON *it = cJSON_CreateObject();
        if (!it || !cJSON_AddItemToArray(arr, it)) { cJSON_Delete(it); goto fail; }
        if (!cJSON_AddStringToObject(it, "url", urls[i]) || !cJSON_AddStringToObject(it, "qr", qr))
            goto fail;
    }
    return srv_reply_json(c->conn, MHD_HTTP_OK, o);
fail:
    cJSON_Delete(o);
    return srv_reply_json(c->conn, MHD_HTTP_OK, NULL);   /* 500 out of memory */
}

/* The QR code of text as grey pixels, black modules on white. */
static int qr_png(const char *text, int scale, unsigned char **png, size_t *len) {
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q) return -1;
    const int side = (q->width + 2 * QR_QUIET) * scale;
    uint8_t *px = malloc((size_t)side * (size_t)side);
    int rc = -1;
    if (px) {
        memset(px, 255, (size_t)side * (size_t)side);
        for (int y = 0; y < q->width; y++)
            for (int x = 0; x < q->width; x++) {
                if (!(q->data[y * q->width + x] & 1)) continue;   /* bit 0: dark module */
                for (int dy = 0; dy < scale; dy++)
                    memset(px + (size_t)((y + QR_QUIET) * scale + dy) * side + (size_t)(x + QR_QUIET) * scale,
                           0, (size_t)scale);
            }
        rc = srv_png_encode_gray(px, side, side, png, len);
    }
    free(px);
    QRcode_free(q);
    return rc;
}

enum MHD_Result srv_api_invite_png(srv_call *c) {
    static const char *const allowed[] = {"i", "scale", NULL};
    const char *bad = srv_query_unknown(c->conn, allowed);
    if (bad)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "unknown or repeated query parameter: %.64s", bad);
    long i = 0, scale = 10;
    if (srv_query_long(c->conn, "i", 0, SRV_NETIF_MAX - 1, &i) < 0)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "i: must be an integer in 0..%d", SRV_NETIF_MAX - 1);
    if (srv_query_long(c->conn, "scale", 2, 32, &scale) < 0)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "scale: must be an integer in 2..32");
    char urls[SRV_NETIF_MAX][128];
    int n = srv_http_join_urls(c->h, urls, SRV_NETIF_MAX);
    if (i >= n)
        return srv_reply_error(c->conn, MHD_HTTP_NOT_FOUND,
                               n ? "no join URL %ld (there are %d)" : "no join URL: the server listens on loopback only",
                               i, n);
    unsigned char *png = NULL;
    size_t len = 0;
    if (qr_png(urls[i], (int)scale, &png, &len) != 0)
        return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot make the QR code");
    return srv_reply_png(c->conn, png, len);
}
