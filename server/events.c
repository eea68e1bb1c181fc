/* events.c - GET /api/events, the Server-Sent Events stream.
 *
 * The design is simple: each stream is a response whose content comes from a
 * reader callback (MHD_create_response_from_callback). With one thread per
 * connection the callback may block, so it loops: build whatever is due into
 * the stream's buffer, hand it out, and when nothing is due sleep in
 * srv_state_wait until the state's seq moves or a timeout passes. Due are:
 *
 *   event: state     first, and whenever status.state_seq moved (pause,
 *                    resume, step done, config change, divergence); carries
 *                    the status figures and the flat live config;
 *   event: metrics   the points newer than the last one sent, at most every
 *                    events_interval_ms (read live from the config), at most
 *                    1000 per event; "id:" is the last iteration sent, so a
 *                    reconnecting EventSource resumes through Last-Event-ID;
 *   event: balance   each balance decision made since the stream opened
 *                    ({"iteration", "action", "d_acc"}; GET /api/balance has
 *                    the earlier ones);
 *   ": keepalive"    after 15 s without output, which also keeps the
 *                    connection's inactivity timeout (30 s) from firing.
 *
 * Pending metrics are flushed before a state event, so a client sees the
 * points up to a pause before the pause itself. Waits are at most a second,
 * so streams end promptly when the server stops (srv_http_stop) or the state
 * quits. A client that goes away makes the next write fail; libmicrohttpd
 * then calls sse_free, which releases everything the stream held.
 * The first iteration streamed is ?since=I, else Last-Event-ID, else now.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "api.h"

#define SSE_MAX_POINTS 1000
#define SSE_WAIT_MAX_MS 1000
#define SSE_BLOCK (32 * 1024)

typedef struct {
    srv_http *h;
    long state_seq_sent;     /* -1 until the first state event */
    long since;              /* last iteration streamed */
    long seen;               /* state seq at the last look */
    long bal_seen;           /* balance decisions already streamed */
    int pending;             /* points wait for their interval */
    double next_metrics, next_keepalive;
    char *buf;
    size_t len, off, cap;
    srv_point *pts;
} sse_stream;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int append(sse_stream *e, const char *s, size_t n) {
    if (e->len + n > e->cap) {
        size_t cap = e->cap ? e->cap : 4096;
        while (cap < e->len + n) cap *= 2;
        char *p = realloc(e->buf, cap);
        if (!p) return -1;
        e->buf = p;
        e->cap = cap;
    }
    memcpy(e->buf + e->len, s, n);
    e->len += n;
    return 0;
}

/* Append "[id: ID\n]event: NAME\ndata: JSON\n\n"; takes ownership of data. */
static int append_event(sse_stream *e, const char *name, long id, cJSON *data) {
    char *text = data ? cJSON_PrintUnformatted(data) : NULL;   /* one line */
    cJSON_Delete(data);
    if (!text) return -1;
    char head[96];
    if (id >= 0) snprintf(head, sizeof head, "id: %ld\nevent: %s\ndata: ", id, name);
    else snprintf(head, sizeof head, "event: %s\ndata: ", name);
    int rc = append(e, head, strlen(head)) || append(e, text, strlen(text)) ||
             append(e, "\n\n", 2) ? -1 : 0;
    free(text);
    return rc;
}

static int state_event(sse_stream *e, const srv_status *s, const srv_config *cfg) {
    cJSON *o = srv_api_status_json(s);
    cJSON *live = srv_config_live_to_json(cfg);
    if (!o || !live || !cJSON_AddItemToObject(o, "config", live)) {
        cJSON_Delete(o);
        cJSON_Delete(live);
        return -1;
    }
    e->state_seq_sent = s->state_seq;
    return append_event(e, "state", -1, o);
}

/* Build whatever is due into e->buf. -1 on no memory. */
static int fill(sse_stream *e) {
    srv_state *st = e->h->st;
    srv_status s;
    srv_config cfg;
    srv_state_status(st, &s);
    srv_state_config(st, &cfg);
    e->seen = s.seq;
    double now = now_s();
    int state_changed = s.state_seq != e->state_seq_sent;
    int first = e->state_seq_sent == -1;

    /* The first event is always the state; later, points go before a state
     * change so a client sees the iterations up to a pause before it. */
    if (first && state_event(e, &s, &cfg) != 0) return -1;
    if (state_changed || now >= e->next_metrics) {
        long current = 0;
        int n = srv_state_metrics(st, e->since, SSE_MAX_POINTS, e->pts, &current);
        e->pending = 0;
        if (n > 0) {
            if (append_event(e, "metrics", e->pts[n - 1].iteration,
                             srv_api_points_json(current, e->pts, n)) != 0)
                return -1;
            e->since = e->pts[n - 1].iteration;
            e->next_metrics = n == SSE_MAX_POINTS ? now : now + cfg.events_interval_ms / 1000.0;
        }
    } else {
        e->pending = s.iteration > e->since;
    }
    srv_balance_event ev[16];
    int nb = srv_state_balance_since(st, e->bal_seen, ev, 16, &e->bal_seen);
    for (int i = 0; i < nb; i++)
        if (append_event(e, "balance", -1, srv_api_balance_event_json(&ev[i])) != 0) return -1;
    if (state_changed && !first && state_event(e, &s, &cfg) != 0) return -1;
    if (e->len == 0 && now >= e->next_keepalive && append(e, ": keepalive\n\n", 13) != 0)
        return -1;
    if (e->len > 0) e->next_keepalive = now + SRV_SSE_KEEPALIVE_S;
    return 0;
}

static int wait_ms(const sse_stream *e) {
    double now = now_s();
    double until = e->next_keepalive;
    if (e->pending && e->next_metrics < until) until = e->next_metrics;
    double ms = (until - now) * 1000.0;
    if (ms < 1) ms = 1;
    if (ms > SSE_WAIT_MAX_MS) ms = SSE_WAIT_MAX_MS;
    return (int)ms;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max) {
    sse_stream *e = cls;
    (void)pos;
    while (e->off == e->len) {
        if (atomic_load(&e->h->stopping) || srv_state_quitting(e->h->st))
            return MHD_CONTENT_READER_END_OF_STREAM;
        e->off = e->len = 0;
        if (fill(e) != 0) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (e->len > 0) break;
        srv_state_wait(e->h->st, e->seen, wait_ms(e));
    }
    size_t n = e->len - e->off < max ? e->len - e->off : max;
    memcpy(out, e->buf + e->off, n);
    e->off += n;
    return (ssize_t)n;
}

static void sse_free(void *cls) {
    sse_stream *e = cls;
    if (!e) return;
    free(e->buf);
    free(e->pts);
    free(e);
}

enum MHD_Result srv_api_events(srv_call *c) {
    static const char *const allowed[] = {"since", NULL};
    const char *bad = srv_query_unknown(c->conn, allowed);
    if (bad)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST,
                               "unknown or repeated query parameter: %.64s", bad);
    long since = -2;
    if (srv_query_long(c->conn, "since", -1, LONG_MAX, &since) < 0)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "since: must be an integer >= -1");
    if (since == -2) {
        const char *last = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "Last-Event-ID");
        uint64_t v;
        if (last && srv_parse_u64(last, strlen(last), &v) == 0 && v <= (uint64_t)LONG_MAX)
            since = (long)v;
    }
    if (since == -2) {
        srv_status s;
        srv_state_status(c->h->st, &s);
        since = s.iteration;
    }
    sse_stream *e = calloc(1, sizeof *e);
    if (e) e->pts = malloc(SSE_MAX_POINTS * sizeof *e->pts);
    if (!e || !e->pts) {
        sse_free(e);
        return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    e->h = c->h;
    e->state_seq_sent = -1;
    e->since = since;
    e->seen = -1;
    srv_state_balance_since(c->h->st, LONG_MAX, NULL, 0, &e->bal_seen);   /* from now on */
    e->next_metrics = 0;
    e->next_keepalive = now_s() + SRV_SSE_KEEPALIVE_S;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, e, sse_free);
    if (!r) {
        sse_free(e);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    return srv_reply(c->conn, MHD_HTTP_OK, r);
}
