/* render.h - every piece of generator and classifier work the HTTP side
 * does, done once and shared: one render worker, a bounded job queue, a CPU
 * budget that protects training, and a cache of rendered answers.
 *
 * The worker owns the HTTP side's models: a snapshot of the published
 * generator and discriminator, a sampler and the classifier. The snapshot
 * is the "version" every rendered answer belongs to; it moves to the newest
 * published weights at most every live_every_ms while training runs (at
 * once when paused, stepped or restored), so a class of a hundred viewers
 * asking for the same picture between two moves gets one render.
 *
 * Every answer is a pure function of (version, key), where key is the
 * canonical query ("samples.png?n=64&scale=2&seed=5"): samples, fixed.png,
 * samples.json (D's verdicts, the classifier's labels), nearest neighbours,
 * latent walks. Rendered bytes are kept in an LRU cache (server.cache_mb);
 * requests that arrive while the same key renders wait for it and share its
 * bytes (single flight). The ETag names the run, the version and the key,
 * so If-None-Match answers 304 without any work.
 * The worker runs one job at a time on one thread (results are bit-identical
 * for a given version and query). While training runs it spends at most
 * render_share of the machine (CPU time of the worker over wall time, a
 * token bucket), paused it runs freely. A full queue answers 503 and an
 * address with more than its share of the queue 429, both with Retry-After.
 *
 * While viewers are connected the worker renders, at each move of the
 * version, the shared live grid (64 digits of rotating noise) and announces
 * it on the SSE stream ("samples" event), so every dashboard shows the same
 * cached picture.
 */
#ifndef GANLIVE_RENDER_H
#define GANLIVE_RENDER_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "state.h"
#include "../nn/classifier.h"
#include "../nn/gan.h"

typedef struct srv_render srv_render;

/* Who watches the shared live grid: the SSE hub (events.h), reached only
 * through these so that the worker depends on nothing above it. */
typedef struct {
    void *ctx;
    int (*viewers)(void *ctx);            /* streams open now */
    void (*announce)(void *ctx, long version, long iteration, uint64_t seed, const char *key);
} srv_render_audience;

#define SRV_RENDER_KEY_MAX 208    /* canonical keys are shorter than this */

/* What the worker hands a job: the snapshot it renders with. Valid only
 * inside the job's function, on the worker thread. */
typedef struct {
    const srv_config *cfg;       /* the run's config at start (architecture) */
    long version;                /* snapshot number, 1, 2, ... */
    long iteration;              /* training iteration of the snapshot */
    srv_state *st;               /* read-only use: dataset, quality info */
    cls_model *classifier;       /* NULL when none could be loaded */
    /* private to render.c */
    srv_render *r;
} srv_render_ctx;

/* Generate n images [n][784] from z [n][nz] and labels [n] (NULL: i % 10)
 * with the snapshot; verdict [n] (may be NULL) gets sigmoid(D(x)).
 * one_by_one: batches of one (as samples.png?n=1 draws each image). */
void srv_render_generate(srv_render_ctx *x, const float *z, const uint8_t *labels, int n,
                         float *images, float *verdict, int one_by_one);

/* A rendered answer (cached jobs). */
typedef struct {
    unsigned char *data;         /* malloc'd by the job; owned by the cache */
    size_t len;
    const char *type;            /* static string: "image/png", "application/json" */
} srv_render_out;

/* A job: returns 0 with *out filled; else an HTTP status with a message in
 * err (e.g. 500 "out of memory"). */
typedef int (*srv_render_fn)(srv_render_ctx *x, void *arg, srv_render_out *out,
                             char *err, size_t errlen);

/* A reference to a cached answer, held by one reply. */
typedef struct srv_rendered srv_rendered;
const unsigned char *srv_rendered_data(const srv_rendered *e, size_t *len, const char **type);
const char *srv_rendered_etag(const srv_rendered *e);    /* "\"...\"" */
long srv_rendered_iteration(const srv_rendered *e);
void srv_rendered_release(srv_render *r, srv_rendered *e);

/* Counters for /api/status and /metrics. */
typedef struct {
    long renders;                /* jobs run (cache misses and live grids) */
    long split;                  /* of them, drawn on two threads (training not running) */
    long cache_hits;             /* answered from a ready cache entry */
    long coalesced;              /* waited for an identical render in flight */
    long not_modified;           /* 304 answers */
    long rejected_busy;          /* 503: queue full */
    long rejected_unfair;        /* 429: address over its share */
    int queue_len;               /* jobs waiting now */
    size_t cache_bytes;          /* held by the cache now */
    int cache_entries;
    long version, iteration;     /* the snapshot */
    double cpu_s;                /* worker CPU time spent on jobs */
    double share;                /* render_share in force */
} srv_render_stats;

/* Render the live grid of noise `seed`: its canonical key into key and the
 * answer into out (as a cached job would). Supplied by the samples API, so
 * the broadcast is byte for byte what a request for that key gets. */
typedef int (*srv_live_fn)(srv_render_ctx *x, uint64_t seed, char *key, size_t keylen,
                           srv_render_out *out, char *err, size_t errlen);

/* Start the worker. cfg is the run's config (copied); audience may be NULL
 * (no live broadcast; copied otherwise). NULL with a message on failure. */
srv_render *srv_render_start(srv_state *st, const srv_config *cfg, const srv_render_audience *audience,
                             srv_live_fn live_fn, char *err, size_t errlen);
void srv_render_stop(srv_render *r);

/* The outcome of a request for work. */
enum {
    SRV_RENDER_OK = 0,
    SRV_RENDER_NOT_MODIFIED = 304,
    SRV_RENDER_UNFAIR = 429,
    SRV_RENDER_BUSY = 503,
};

/* A cached answer for key (at most 200 bytes, canonical). client names the
 * requesting address (fairness). if_none_match: the request's header or
 * NULL. On 0, *out holds a reference (srv_rendered_release). Else the HTTP
 * status: 304 (nothing to send but the ETag, copied to etag_out), 429/503
 * (retry after *retry_s seconds) or the job's own error status with err. */
int srv_render_cached(srv_render *r, const char *client, const char *key,
                      const char *if_none_match, srv_render_fn fn, void *arg,
                      srv_rendered **out, char *etag_out, size_t etag_len, int *retry_s,
                      char *err, size_t errlen);

/* The newest live grid: 0 with its query (canonical key), seed and
 * iteration, -1 when none was rendered yet. */
int srv_render_live(srv_render *r, char *key, size_t keylen, uint64_t *seed, long *iteration);

void srv_render_get_stats(srv_render *r, srv_render_stats *s);

/* The canonical key of a samples.png query. */
void srv_render_samples_key(char *key, size_t len, const char *endpoint, long n, long scale,
                            uint64_t seed, int digit, int all_digits, int annotate);

/* The live grid's query: 64 digits at scale 2 of the given seed. */
#define SRV_LIVE_N 64
#define SRV_LIVE_SCALE 2

#endif
