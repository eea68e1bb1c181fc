/* reply.c - how every handler answers: JSON (no-store), errors as
 * {"error": "..."}, PNG, and generated answers through the render cache
 * (render.h) with their ETag, 304 and the budget's 503/429 with
 * Retry-After; plus the client address.
 *
 * Handlers (api*.c, events.c) call these; the dispatcher (http.c) calls the
 * handlers. Nothing here calls back up, so the HTTP side has no circle.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "api.h"
#include "http.h"

/* ---- replies --------------------------------------------------------------- */

void srv_http_common_headers(struct MHD_Response *r) {
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

enum MHD_Result srv_reply(struct MHD_Connection *conn, unsigned status,
                          struct MHD_Response *r) {
    if (!r) return MHD_NO;
    srv_http_common_headers(r);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Queue malloc'd JSON text (taken), with one extra header unless hname is
 * NULL (Allow, WWW-Authenticate, Retry-After). */
static enum MHD_Result reply_text_json(struct MHD_Connection *conn, unsigned status,
                                       char *text, const char *hname, const char *hvalue) {
    struct MHD_Response *r =
        text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!r) {
        free(text);
        return MHD_NO;
    }
    if (hname) MHD_add_response_header(r, hname, hvalue);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    return srv_reply(conn, status, r);
}

enum MHD_Result srv_reply_error_header(struct MHD_Connection *conn, unsigned status, const char *msg,
                                       const char *hname, const char *hvalue) {
    cJSON *o = cJSON_CreateObject();
    char *text = o && cJSON_AddStringToObject(o, "error", msg) ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return reply_text_json(conn, status, text, hname, hvalue);
}

enum MHD_Result srv_reply_json(struct MHD_Connection *conn, unsigned status, cJSON *obj) {
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        text = strdup(oom);
        if (!text) return MHD_NO;
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    return reply_text_json(conn, status, text, NULL, NULL);
}

enum MHD_Result srv_reply_error(struct MHD_Connection *conn, unsigned status,
                                const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddStringToObject(o, "error", msg)) {
        cJSON_Delete(o);
        o = NULL;
    }
    return srv_reply_json(conn, status, o);
}

enum MHD_Result srv_reply_png(struct MHD_Connection *conn, unsigned char *png, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, png, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(png);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "image/png");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    return srv_reply(conn, MHD_HTTP_OK, r);
}

void srv_client_addr(struct MHD_Connection *conn, char *out, size_t len) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    snprintf(out, len, "?");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)len);
}

enum MHD_Result srv_reply_render_error(srv_call *c, int status, int retry_s, const char *err) {
    if (status != SRV_RENDER_BUSY && status != SRV_RENDER_UNFAIR)
        return srv_reply_error(c->conn, (unsigned)status, "%s", err);
    cJSON *o = cJSON_CreateObject();
    char *text = o && cJSON_AddStringToObject(o, "error", err) &&
                 cJSON_AddNumberToObject(o, "retry_after_s", retry_s)
                     ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    char secs[16];
    snprintf(secs, sizeof secs, "%d", retry_s);
    return reply_text_json(c->conn, (unsigned)status, text, "Retry-After", secs);
}

/* Generated answers may be kept by the browser but are checked each time
 * (no-cache): the ETag names the run, the model snapshot and the query. */
enum MHD_Result srv_reply_rendered(srv_call *c, const char *key, srv_render_fn fn, void *arg) {
    char client[48], etag[64] = "", err[200] = "";
    int retry_s = 1;
    srv_rendered *e = NULL;
    srv_client_addr(c->conn, client, sizeof client);
    const char *inm = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "If-None-Match");
    int rc = srv_render_cached(c->h->render, client, key, inm, fn, arg, &e, etag, sizeof etag,
                               &retry_s, err, sizeof err);
    struct MHD_Response *r = NULL;
    if (rc == SRV_RENDER_NOT_MODIFIED) {
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (!r) return MHD_NO;
        MHD_add_response_header(r, "ETag", etag);
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        return srv_reply(c->conn, MHD_HTTP_NOT_MODIFIED, r);
    }
    if (rc != 0) return srv_reply_render_error(c, rc, retry_s, err);
    size_t len;
    const char *type;
    const unsigned char *data = srv_rendered_data(e, &len, &type);
    r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (r) {
        char it[24];
        snprintf(it, sizeof it, "%ld", srv_rendered_iteration(e));
        MHD_add_response_header(r, "Content-Type", type);
        MHD_add_response_header(r, "ETag", srv_rendered_etag(e));
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        MHD_add_response_header(r, "X-Ganlive-Iteration", it);
    }
    srv_rendered_release(c->h->render, e);
    return r ? srv_reply(c->conn, MHD_HTTP_OK, r) : MHD_NO;
}

/* Numbers go out rounded to the digits they carry (a float's 7, a double's
 * 10), so JSON stays short: cJSON prints the shortest text that reads back. */


