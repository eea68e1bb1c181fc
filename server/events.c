/* events.c - GET /api/events, the Server-Sent Events stream, and its hub.
 *
 * The design is simple, after redis's pub/sub: one hub thread encodes each
 * event once into a ring of frames, and every stream hands the same bytes
 * to its client. A stream is a response whose content comes from a reader
 * callback (MHD_create_response_from_callback); with one thread per
 * connection the callback may block, so it copies the frames it has not
 * sent yet out of the ring, and when there are none waits on the hub's
 * condition variable. A client that stops reading holds up only its own
 * connection thread; once the ring has moved more than RING frames past it
 * (about a minute of events) the stream ends, and libmicrohttpd's
 * inactivity timeout (30 s) ends it even sooner if nothing can be written.
 *
 * Frames, as the hub makes them from srv_state:
 *
 *   event: metrics   the points newer than the last one sent, at most every
 *                    events_interval_ms (read live from the config), at most
 *                    1000 per event; "id:" is the last iteration sent, so a
 *                    reconnecting EventSource resumes through Last-Event-ID;
 *                    "sent" is the unix time the frame was made;
 *   event: state     whenever status.state_seq moved (pause, resume, step
 *                    done, config change, divergence); carries the status
 *                    figures and the flat live config;
 *   event: balance   each balance decision ({"iteration", "action", "d_acc"});
 *   event: samples   a new shared live grid (posted by the render worker):
 *                    {"iteration", "version", "seed", "url"};
 *   ": keepalive"    after 15 s without a frame, which also keeps the
 *                    connection's inactivity timeout (30 s) from firing.
 *
 * Pending metrics are flushed before a state frame, so a client sees the
 * points up to a pause before the pause itself. A new stream first gets its
 * own state event, the points from ?since=I (else Last-Event-ID, else now)
 * up to where the hub stands and the newest samples event, then the shared
 * frames from there on.
 */
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "api.h"
#include "clock.h"
#include "events.h"
#include "json_strict.h"

#define SSE_MAX_POINTS 1000
#define SSE_WAIT_MAX_MS 1000
#define SSE_BLOCK (32 * 1024)
#define RING 256                 /* frames kept: a stream further behind is dropped */

typedef struct {
    long seq;
    char *text;
    size_t len;
} frame;

struct srv_events {
    srv_state *st;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* a new frame, or stopping */
    int stop;
    frame ring[RING];
    long next_seq;               /* seq of the next frame */
    long last_iter;              /* newest point in a metrics frame */
    char *last_samples;          /* the newest samples frame, for new streams */
    atomic_int viewers;
    atomic_long dropped;
};

typedef struct {
    srv_events *ev;
    srv_http *h;
    long next_seq;               /* next shared frame to send */
    char *buf;
    size_t len, off, cap;
} sse_stream;

/* ---- encoding -------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
} text;

static int append(text *t, const char *s, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1) cap *= 2;
        char *p = realloc(t->buf, cap);
        if (!p) return -1;
        t->buf = p;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';            /* always a C string too */
    return 0;
}

/* Append "[id: ID\n]event: NAME\ndata: JSON\n\n"; takes ownership of data. */
static int append_event(text *t, const char *name, long id, cJSON *data) {
    char *json = data ? cJSON_PrintUnformatted(data) : NULL;   /* one line */
    cJSON_Delete(data);
    if (!json) return -1;
    char head[96];
    if (id >= 0) snprintf(head, sizeof head, "id: %ld\nevent: %s\ndata: ", id, name);
    else snprintf(head, sizeof head, "event: %s\ndata: ", name);
    int rc = append(t, head, strlen(head)) || append(t, json, strlen(json)) ||
             append(t, "\n\n", 2) ? -1 : 0;
    free(json);
    return rc;
}

static cJSON *state_json(srv_state *st) {
    srv_status s;
    srv_config cfg;
    srv_state_status(st, &s);
    srv_state_config(st, &cfg);
    cJSON *o = srv_api_status_json(&s);
    cJSON *live = srv_config_live_to_json(&cfg);
    if (!o || !live || !cJSON_AddItemToObject(o, "config", live)) {
        cJSON_Delete(o);
        cJSON_Delete(live);
        return NULL;
    }
    return o;
}

/* Metrics events for the points in (since, upto] (all of them when upto is
 * LONG_MAX); returns the last iteration added, since when none. */
static long metrics_events(srv_state *st, text *t, long since, long upto, srv_point *pts) {
    for (;;) {
        long current = 0;
        int n = srv_state_metrics(st, since, SSE_MAX_POINTS, pts, &current);
        while (n > 0 && pts[n - 1].iteration > upto) n--;
        if (n <= 0) return since;
        cJSON *o = srv_api_points_json(current, pts, n);
        if (o) cJSON_AddNumberToObject(o, "sent", floor(srv_unix_s() * 1000.0) / 1000.0);
        if (append_event(t, "metrics", pts[n - 1].iteration, o) != 0) return since;
        since = pts[n - 1].iteration;
        if (n < SSE_MAX_POINTS) return since;
    }
}

/* ---- the hub ---------------------------------------------------------------- */

/* Add one encoded frame (takes the text). Mutex held. */
static void publish(srv_events *ev, char *s, size_t len) {
    frame *f = &ev->ring[ev->next_seq % RING];
    free(f->text);
    f->seq = ev->next_seq++;
    f->text = s;
    f->len = len;
    pthread_cond_broadcast(&ev->cv);
}

static void *hub(void *arg) {
    srv_events *ev = arg;
    srv_state *st = ev->st;
    srv_point *pts = malloc(SSE_MAX_POINTS * sizeof *pts);
    srv_status s;
    srv_state_status(st, &s);
    long since = s.iteration, state_seq = s.state_seq, seen = -1, bal_seen = 0;
    double next_metrics = 0, next_keepalive = srv_now_s() + SRV_SSE_KEEPALIVE_S;
    srv_state_balance_since(st, LONG_MAX, NULL, 0, &bal_seen);   /* from now on */
    pthread_mutex_lock(&ev->mu);
    ev->last_iter = since;
    while (!ev->stop && pts) {
        pthread_mutex_unlock(&ev->mu);
        srv_config cfg;
        srv_state_status(st, &s);
        srv_state_config(st, &cfg);
        seen = s.seq;
        double now = srv_now_s();
        int state_changed = s.state_seq != state_seq;
        text t = {0};
        if (state_changed || now >= next_metrics) {
            long last = metrics_events(st, &t, since, LONG_MAX, pts);
            if (last != since) {
                since = last;
                next_metrics = now + cfg.events_interval_ms / 1000.0;
            }
        }
        srv_balance_event be[16];
        int nb = srv_state_balance_since(st, bal_seen, be, 16, &bal_seen);
        for (int i = 0; i < nb; i++) append_event(&t, "balance", -1, srv_api_balance_event_json(&be[i]));
        if (state_changed) {
            state_seq = s.state_seq;
            append_event(&t, "state", -1, state_json(st));
        }
        if (t.len == 0 && now >= next_keepalive) append(&t, ": keepalive\n\n", 13);
        if (t.len > 0) next_keepalive = now + SRV_SSE_KEEPALIVE_S;
        pthread_mutex_lock(&ev->mu);
        ev->last_iter = since;
        if (t.len > 0) publish(ev, t.buf, t.len);
        else free(t.buf);
        pthread_mutex_unlock(&ev->mu);
        /* sleep until the state moves, the next metrics are due or a keepalive */
        double until = next_keepalive;
        if (s.iteration > since && next_metrics < until) until = next_metrics;
        int ms = (int)((until - srv_now_s()) * 1000.0);
        if (ms < 1) ms = 1;
        if (ms > SSE_WAIT_MAX_MS) ms = SSE_WAIT_MAX_MS;
        if (s.iteration > since && srv_now_s() < next_metrics) {
            /* points are waiting for their interval: no need to wake earlier */
            struct timespec ts = {0, (long)ms * 1000000L};
            nanosleep(&ts, NULL);
        } else {
            srv_state_wait(st, seen, ms);
        }
        pthread_mutex_lock(&ev->mu);
    }
    ev->stop = 1;
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
    free(pts);
    return NULL;
}

void srv_events_samples(srv_events *ev, long version, long iteration, uint64_t seed,
                        const char *key) {
    cJSON *o = cJSON_CreateObject();
    char url[256];
    snprintf(url, sizeof url, "/api/%s", key);
    if (o) {
        cJSON_AddNumberToObject(o, "iteration", (double)iteration);
        cJSON_AddNumberToObject(o, "version", (double)version);
        srv_json_seed(o, "seed", seed);           /* < 2^53 by construction: a number */
        cJSON_AddStringToObject(o, "url", url);
    }
    text t = {0};
    if (append_event(&t, "samples", -1, o) != 0) {
        free(t.buf);
        return;
    }
    char *copy = strdup(t.buf);
    pthread_mutex_lock(&ev->mu);
    if (copy) {
        free(ev->last_samples);
        ev->last_samples = copy;
    }
    publish(ev, t.buf, t.len);
    pthread_mutex_unlock(&ev->mu);
}

int srv_events_viewers(srv_events *ev) { return atomic_load(&ev->viewers); }
long srv_events_dropped(srv_events *ev) { return atomic_load(&ev->dropped); }

srv_events *srv_events_start(srv_state *st, char *err, size_t errlen) {
    srv_events *ev = calloc(1, sizeof *ev);
    if (!ev) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ev->st = st;
    pthread_mutex_init(&ev->mu, NULL);
    pthread_cond_init(&ev->cv, NULL);
    atomic_init(&ev->viewers, 0);
    atomic_init(&ev->dropped, 0);
    if (pthread_create(&ev->thread, NULL, hub, ev) != 0) {
        snprintf(err, errlen, "cannot start the event hub");
        srv_events_free(ev);
        return NULL;
    }
    ev->started = 1;
    return ev;
}

void srv_events_stop(srv_events *ev) {
    if (!ev || !ev->started) return;
    pthread_mutex_lock(&ev->mu);
    ev->stop = 1;
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
    pthread_join(ev->thread, NULL);
    ev->started = 0;
}

void srv_events_free(srv_events *ev) {
    if (!ev) return;
    srv_events_stop(ev);
    for (int i = 0; i < RING; i++) free(ev->ring[i].text);
    free(ev->last_samples);
    pthread_cond_destroy(&ev->cv);
    pthread_mutex_destroy(&ev->mu);
    free(ev);
}

/* ---- streams ------------------------------------------------------------------ */

/* Copy the frames not sent yet into e->buf. 1 when there were some, 0 when
 * none (after waiting up to a second), -1 when the stream must end. */
static int take_frames(sse_stream *e) {
    srv_events *ev = e->ev;
    int rc = 0;
    pthread_mutex_lock(&ev->mu);
    if (e->next_seq == ev->next_seq && !ev->stop) {
        struct timespec ts = srv_deadline_ms(SSE_WAIT_MAX_MS);
        pthread_cond_timedwait(&ev->cv, &ev->mu, &ts);
    }
    if (ev->stop) {
        rc = -1;
    } else if (ev->next_seq - e->next_seq > RING) {      /* fell behind: drop it */
        atomic_fetch_add(&ev->dropped, 1);
        rc = -1;
    } else {
        text t = {e->buf, 0, e->cap};
        for (; e->next_seq < ev->next_seq; e->next_seq++) {
            const frame *f = &ev->ring[e->next_seq % RING];
            if (append(&t, f->text, f->len) != 0) { rc = -1; break; }
            rc = 1;
        }
        e->buf = t.buf;
        e->cap = t.cap;
        e->len = t.len;
        e->off = 0;
    }
    pthread_mutex_unlock(&ev->mu);
    return rc;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max) {
    sse_stream *e = cls;
    (void)pos;
    while (e->off == e->len) {
        if (atomic_load(&e->h->stopping) || srv_state_quitting(e->h->st))
            return MHD_CONTENT_READER_END_OF_STREAM;
        int rc = take_frames(e);
        if (rc < 0) return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = e->len - e->off < max ? e->len - e->off : max;
    memcpy(out, e->buf + e->off, n);
    e->off += n;
    return (ssize_t)n;
}

static void sse_free(void *cls) {
    sse_stream *e = cls;
    if (!e) return;
    atomic_fetch_sub(&e->ev->viewers, 1);
    free(e->buf);
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
    srv_events *ev = c->h->events;
    sse_stream *e = calloc(1, sizeof *e);
    srv_point *pts = malloc(SSE_MAX_POINTS * sizeof *pts);
    if (!e || !pts) {
        free(e);
        free(pts);
        return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    e->ev = ev;
    e->h = c->h;
    /* Where the hub stands: shared frames from here on, our own before. */
    text t = {0};
    pthread_mutex_lock(&ev->mu);
    e->next_seq = ev->next_seq;
    long upto = ev->last_iter;
    char *live = ev->last_samples ? strdup(ev->last_samples) : NULL;
    pthread_mutex_unlock(&ev->mu);
    if (since == -2 || since > upto) since = upto;
    int rc = append_event(&t, "state", -1, state_json(c->h->st));
    if (rc == 0) metrics_events(c->h->st, &t, since, upto, pts);
    if (rc == 0 && live) rc = append(&t, live, strlen(live));
    free(live);
    free(pts);
    e->buf = t.buf;
    e->len = t.len;
    e->cap = t.cap;
    if (rc != 0) {
        free(e->buf);
        free(e);
        return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    atomic_fetch_add(&ev->viewers, 1);
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
