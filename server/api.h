/* api.h - internal to the HTTP server: what http.c (daemon, request
 * lifecycle, routing, static files), api.c (JSON and PNG endpoints),
 * api_checkpoint.c, api_insight.c (CSV, Prometheus, real digits, latent
 * walks) and events.c (Server-Sent Events) share. Not part of the module
 * contract; everything outside server/http*.c, api*.c and events.c uses
 * http.h.
 */
#ifndef GANLIVE_API_H
#define GANLIVE_API_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <microhttpd.h>
#include <cJSON.h>
#include "config.h"
#include "events.h"
#include "guard.h"
#include "http.h"
#include "query.h"
#include "render.h"
#include "state.h"
#include "views.h"
#include "../nn/classifier.h"

#define SRV_BODY_MAX (16 * 1024)          /* default server.max_body (413 above) */
#define SRV_SAMPLES_MAX 256
#define SRV_SSE_KEEPALIVE_S 15.0

/* One static file, loaded once at start. */
typedef struct {
    const char *url;                      /* "/" or "/app.js" ... */
    const char *file;                     /* relative to web_dir */
    const char *type;                     /* Content-Type */
    char *data;
    size_t len;
} srv_asset;

#define SRV_NASSETS 22

struct srv_http {
    struct MHD_Daemon *daemon;
    srv_state *st;
    srv_config cfg;                       /* config at start (architecture) */
    int port;
    srv_guard guard;                      /* Host, Origin and token policy */
    atomic_int stopping;                  /* set by srv_http_stop; SSE streams end */
    srv_asset assets[SRV_NASSETS];
    srv_events *events;                   /* the SSE hub (events.c) */
    srv_render *render;                   /* all generator/classifier work (render.c) */
    atomic_ullong seed_counter;           /* fresh seeds */
};

/* What a sample request asks for (see api_samples.c). */
typedef struct {
    long n, scale;
    uint64_t seed;
    int digit;                            /* 0..9, or -1: any label */
    int all_digits;                       /* digits=all: label i % 10, 10 columns */
    int annotate;                         /* frame each digit by D's verdict */
} srv_sample_query;

/* What a handler gets: the connection, the url, and the parsed JSON body
 * (NULL when the request had none). The body belongs to the caller. */
typedef struct {
    srv_http *h;
    struct MHD_Connection *conn;
    const char *url;
    const cJSON *body;
    int arg;                              /* route argument (asset index) */
} srv_call;

typedef enum MHD_Result (*srv_handler)(srv_call *c);

/* ---- replies (reply.c). Each queues the response and says how it went. ---- */

/* Add the headers every response carries (nosniff). */
void srv_http_common_headers(struct MHD_Response *r);
/* Queue and release r. */
enum MHD_Result srv_reply(struct MHD_Connection *conn, unsigned status,
                          struct MHD_Response *r);
/* JSON reply; takes ownership of obj (NULL means out of memory: 500). */
enum MHD_Result srv_reply_json(struct MHD_Connection *conn, unsigned status, cJSON *obj);
/* {"error": "..."} with a printf-style message. */
enum MHD_Result srv_reply_error(struct MHD_Connection *conn, unsigned status,
                                const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* {"error": msg} with one extra header (hname NULL: none): 401's
 * WWW-Authenticate, 405's Allow, 503's Retry-After. */
enum MHD_Result srv_reply_error_header(struct MHD_Connection *conn, unsigned status, const char *msg,
                                       const char *hname, const char *hvalue);
/* image/png reply; takes ownership of the malloc'd png. */
enum MHD_Result srv_reply_png(struct MHD_Connection *conn, unsigned char *png, size_t len);


/* ---- query strings (http_query.c, checked by query.c) ----------------- */

/* NULL when every query parameter is in `allowed` (NULL-terminated) and none
 * repeats; else the offending name. */
const char *srv_query_unknown(struct MHD_Connection *conn, const char *const *allowed);
/* Strict decimal parse of parameter `name` into [lo, hi].
 * Returns 0 and *out when present and valid, 1 when absent (out untouched),
 * -1 when malformed or out of range. */
int srv_query_long(struct MHD_Connection *conn, const char *name, long lo, long hi,
                   long *out);
int srv_query_u64(struct MHD_Connection *conn, const char *name, uint64_t *out);
/* (srv_parse_u64, the strict decimal parser, is in query.h.) */

/* ---- handlers (api.c, events.c) ------------------------------------------ */
enum MHD_Result srv_api_status(srv_call *c);
enum MHD_Result srv_api_metrics(srv_call *c);
enum MHD_Result srv_api_samples(srv_call *c);
enum MHD_Result srv_api_samples_fixed(srv_call *c);
enum MHD_Result srv_api_samples_json(srv_call *c);
enum MHD_Result srv_api_quality(srv_call *c);              /* api_quality.c */
/* One quality pass as /api/quality lists it; caller owns the result. */
cJSON *srv_api_quality_pass_json(const srv_quality_pass *p);
enum MHD_Result srv_api_runs(srv_call *c);                 /* api_runs.c */
enum MHD_Result srv_api_runs_item(srv_call *c);
enum MHD_Result srv_api_nearest(srv_call *c);
enum MHD_Result srv_api_nearest_png(srv_call *c);
enum MHD_Result srv_api_balance(srv_call *c);
enum MHD_Result srv_api_run(srv_call *c);
enum MHD_Result srv_api_presets(srv_call *c);
/* Add conditional, classes, preset, quality, warnings and balance to a
 * status object. 0, or -1 on no memory. */
int srv_api_status_insight(srv_http *h, cJSON *o);
/* One balance decision as JSON (GET /api/balance, SSE "balance"). */
cJSON *srv_api_balance_event_json(const srv_balance_event *e);
enum MHD_Result srv_api_timeline(srv_call *c);
enum MHD_Result srv_api_timeline_png(srv_call *c);
enum MHD_Result srv_api_pause(srv_call *c);
enum MHD_Result srv_api_resume(srv_call *c);
enum MHD_Result srv_api_step(srv_call *c);
enum MHD_Result srv_api_config_get(srv_call *c);
enum MHD_Result srv_api_config_patch(srv_call *c);
enum MHD_Result srv_api_events(srv_call *c);
enum MHD_Result srv_api_checkpoint_save(srv_call *c);      /* api_checkpoint.c */
enum MHD_Result srv_api_checkpoint_latest(srv_call *c);
enum MHD_Result srv_api_metrics_csv(srv_call *c);          /* api_insight.c */
enum MHD_Result srv_api_prometheus(srv_call *c);
enum MHD_Result srv_api_real_png(srv_call *c);
enum MHD_Result srv_api_invite(srv_call *c);               /* api_invite.c */
enum MHD_Result srv_api_invite_png(srv_call *c);
/* {"lan", "token_required", "role": "presenter" | "viewer"} of a request. */
cJSON *srv_api_access_json(srv_http *h, struct MHD_Connection *conn);
enum MHD_Result srv_api_interpolate_png(srv_call *c);

/* Columns of the near-square grid of n images that samples.png draws. */
int srv_api_grid_cols(int n);
/* A fresh seed for requests without one (time and a counter, mixed). */
uint64_t srv_api_fresh_seed(srv_http *h);
/* The query of a digit grid (samples.png, real.png): n 1..SRV_SAMPLES_MAX
 * (default 64), scale 1..8 (default 1), seed (fresh when absent). Returns
 * 0, or -1 with the 400 reply already queued in *reply. */
int srv_api_grid_query(srv_call *c, long *n, uint64_t *seed, long *scale, enum MHD_Result *reply);
/* The query of samples.png and friends: every parameter in `allowed`
 * (NULL-terminated, a subset of n seed scale digit digits annotate) is
 * checked; digit / digits on an unconditional model is an error. 0, or -1
 * with the 400 reply already queued in *reply. */
int srv_api_sample_query(srv_call *c, const char *const *allowed, srv_sample_query *q,
                         enum MHD_Result *reply);
/* Columns of a query's grid: 10 for digits=all, else near-square. */
int srv_api_sample_cols(const srv_sample_query *q);
/* The noise z [n][nz] and labels [n] a query stands for. */
void srv_api_draw(const gan_config *mc, const srv_sample_query *q, float *z, uint8_t *labels);
/* Answer with the render cache's bytes for key, rendering them with fn(arg)
 * on the render worker when they are not there yet (render.h): 200 with an
 * ETag, 304 for a matching If-None-Match, 429/503 with Retry-After. */
enum MHD_Result srv_reply_rendered(srv_call *c, const char *key, srv_render_fn fn, void *arg);
/* The reply to a render request that did not run: 429/503 with
 * Retry-After, else status with err. */
enum MHD_Result srv_reply_render_error(srv_call *c, int status, int retry_s, const char *err);
/* The client's address as text (fairness of the render queue). */
void srv_client_addr(struct MHD_Connection *conn, char *out, size_t len);
/* The live grid's renderer (api_samples.c), handed to the render worker. */
int srv_api_live_grid(srv_render_ctx *x, uint64_t seed, char *key, size_t keylen,
                      srv_render_out *out, char *err, size_t errlen);
/* The classroom figures (viewers, renders, cache), described once for
 * /api/status ("classroom") and /metrics (ganlive_<name>). */
typedef struct {
    const char *name, *help;
    int counter;                          /* 1 a running total, 0 a gauge */
    double value;
} srv_figure;
#define SRV_CLASSROOM_FIGURES 13
int srv_api_classroom_figures(srv_http *h, srv_figure out[SRV_CLASSROOM_FIGURES]);

#endif
