/* api_insight.c - endpoints for looking at a run from outside the dashboard.
 *
 *   GET /api/metrics.csv        the whole metrics history as CSV (a download)
 *   GET /metrics                Prometheus text exposition format 0.0.4
 *   GET /api/real.png           real training digits, laid out like samples.png
 *   GET /api/interpolate.png    a one-row strip walking the noise space
 *                               between two seeds (spherical interpolation)
 *
 * Same shape as api.c: strict query checks first (unknown or repeated
 * parameters and bad values answer 400 naming the parameter), copies out of
 * srv_state under its mutex, the heavy work outside it. Figures that are NaN
 * or infinite are left out: an empty CSV field, no Prometheus sample.
 *
 * The real digits come from the training set the trainer loaded, reached
 * through srv_state_dataset (a const pointer set once when the trainer thread
 * starts; the pixels never change after load).
 *
 * The strip's noise for seed S is drawn exactly as samples.png draws it
 * (nn_rng seeded with S, the first nz normals), and each image is generated
 * on its own (batch of one) like samples.png?n=1: so the two ends are the
 * same pixels as samples.png?n=1&seed=S with the same weights.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "latent.h"
#include "png.h"
#include "run.h"

#define SRV_STEPS_MAX 32

/* ---- CSV ----------------------------------------------------------------- */

static const char csv_header[] =
    "iteration,count,time_s,d_loss,g_loss,d_acc,d_acc_real,d_acc_fake,d_real,d_fake\n";

/* ",<v>" rounded to `digits` significant digits, or "," when not finite. */
static int csv_field(char *p, size_t room, double v, int digits) {
    if (!isfinite(v)) return snprintf(p, room, ",");
    return snprintf(p, room, ",%.*g", digits, v);
}

/* One row; returns its length (rows are far shorter than room). */
static size_t csv_row(char *p, size_t room, const srv_point *pt) {
    size_t n = (size_t)snprintf(p, room, "%ld,%ld", pt->iteration, pt->count);
    n += (size_t)csv_field(p + n, room - n, pt->time_s, 10);
    const float f[] = {pt->m.d_loss, pt->m.g_loss, pt->m.d_acc, pt->m.d_acc_real,
                       pt->m.d_acc_fake, pt->m.d_real, pt->m.d_fake};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        n += (size_t)csv_field(p + n, room - n, f[i], 7);
    n += (size_t)snprintf(p + n, room - n, "\n");
    return n;
}

enum MHD_Result srv_api_metrics_csv(srv_call *c) {
    static const char *const allowed[] = {NULL};
    const char *bad = srv_query_unknown(c->conn, allowed);
    if (bad) return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "unknown or repeated query parameter: %.64s", bad);
    srv_point *pts;
    int n = srv_state_history_copy(c->h->st, &pts);
    if (n < 0) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    /* a row is at most 2*20 + 10 fields of ~16 characters: 256 is plenty */
    enum { ROW_MAX = 256 };
    size_t cap = sizeof csv_header + (size_t)n * ROW_MAX;
    char *text = malloc(cap);
    if (!text) {
        free(pts);
        return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    size_t len = sizeof csv_header - 1;
    memcpy(text, csv_header, len);
    for (int i = 0; i < n; i++) len += csv_row(text + len, cap - len, &pts[i]);
    free(pts);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/csv; charset=utf-8");
    MHD_add_response_header(r, "Content-Disposition", "attachment; filename=\"ganlive-metrics.csv\"");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    return srv_reply(c->conn, MHD_HTTP_OK, r);
}

/* ---- Prometheus ------------------------------------------------------------ */

/* The exposition grows with every figure the server gains (it passed a
 * fixed 4 KiB once the classroom figures came and lost its last lines, the
 * run state among them), so the text grows as needed. */
typedef struct {
    char *buf;
    size_t len, cap;
    int oom;                              /* a printf did not fit and could not grow */
} text_buf;

__attribute__((format(printf, 2, 3)))
static void tb_printf(text_buf *t, const char *fmt, ...) {
    for (;;) {
        if (t->oom) return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) { t->oom = 1; return; }
        if ((size_t)n < t->cap - t->len) { t->len += (size_t)n; return; }
        size_t cap = t->cap * 2 > t->len + (size_t)n + 1 ? t->cap * 2 : t->len + (size_t)n + 1;
        char *b = realloc(t->buf, cap);
        if (!b) { t->oom = 1; return; }
        t->buf = b;
        t->cap = cap;
    }
}

/* A gauge with its HELP and TYPE lines; nothing at all when v is not finite. */
static void prom_gauge(text_buf *t, const char *name, const char *help, double v, int digits) {
    if (!isfinite(v)) return;
    tb_printf(t, "# HELP ganlive_%s %s\n# TYPE ganlive_%s gauge\nganlive_%s %.*g\n", name, help,
              name, name, digits, v);
}

enum MHD_Result srv_api_prometheus(srv_call *c) {
    static const char *const allowed[] = {NULL};
    const char *bad = srv_query_unknown(c->conn, allowed);
    if (bad) return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "unknown or repeated query parameter: %.64s", bad);
    srv_status s;
    srv_point p;
    srv_state_status(c->h->st, &s);
    int have = srv_state_latest_point(c->h->st, &p) == 0;
    text_buf tb = {malloc(8192), 0, 8192, 0}, *t = &tb;
    if (!t->buf) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    prom_gauge(t, "iteration", "Completed training iterations.", (double)s.iteration, 17);
    prom_gauge(t, "epoch", "Epochs of training data drawn so far (fractional).", s.epoch, 10);
    prom_gauge(t, "images_per_sec", "Training images per second over the last few seconds.",
               s.images_per_sec, 10);
    prom_gauge(t, "uptime_seconds", "Seconds since the server started.", s.uptime_s, 10);
    if (have) {
        prom_gauge(t, "d_loss", "Discriminator loss of the latest iteration.", p.m.d_loss, 7);
        prom_gauge(t, "g_loss", "Generator loss of the latest iteration.", p.m.g_loss, 7);
        prom_gauge(t, "d_acc", "Discriminator accuracy of the latest iteration (mean of real and fake).",
                   p.m.d_acc, 7);
        prom_gauge(t, "d_acc_real", "Share of real images the discriminator called real.",
                   p.m.d_acc_real, 7);
        prom_gauge(t, "d_acc_fake", "Share of generated images the discriminator called fake.",
                   p.m.d_acc_fake, 7);
        prom_gauge(t, "d_real", "Mean D(x) on real images of the latest iteration.", p.m.d_real, 7);
        prom_gauge(t, "d_fake", "Mean D(G(z)) on generated images of the latest iteration.",
                   p.m.d_fake, 7);
    }
    srv_quality_pass q;
    if (srv_state_quality(c->h->st, NULL, &q, 1) == 1) {    /* the newest quality pass */
        prom_gauge(t, "quality_iteration", "Iteration of the newest quality pass.", (double)q.iteration, 17);
        prom_gauge(t, "quality_inception_score", "Inception-style score of the newest quality pass.",
                   q.inception_score, 7);
        prom_gauge(t, "quality_frechet", "Frechet distance to the test digits' classifier features.",
                   q.frechet, 7);
        prom_gauge(t, "quality_confidence", "Mean classifier confidence on generated digits.",
                   q.confidence, 7);
        prom_gauge(t, "quality_nn_ratio", "Median nearest-training-digit distance, samples over test digits.",
                   q.nn_ratio, 7);
        prom_gauge(t, "quality_mode_collapse", "1 when a class is under 2% or over 30% of samples.",
                   q.mode_collapse, 1);
        prom_gauge(t, "quality_copying", "1 when the nearest-neighbour ratio is under 0.6.", q.copying, 1);
    }
    srv_figure fig[SRV_CLASSROOM_FIGURES];
    int nf = srv_api_classroom_figures(c->h, fig);
    for (int i = 0; i < nf; i++) {               /* counters end in _total */
        const char *sfx = fig[i].counter ? "_total" : "";
        tb_printf(t, "# HELP ganlive_%s%s %s\n# TYPE ganlive_%s%s %s\nganlive_%s%s %.17g\n",
                  fig[i].name, sfx, fig[i].help, fig[i].name, sfx,
                  fig[i].counter ? "counter" : "gauge", fig[i].name, sfx, fig[i].value);
    }
    tb_printf(t, "# HELP ganlive_state Run state: 1 for the current one, 0 for the others.\n"
                 "# TYPE ganlive_state gauge\n");
    static const srv_run_state states[] = {SRV_RUNNING, SRV_PAUSED, SRV_DIVERGED};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        tb_printf(t, "ganlive_state{state=\"%s\"} %d\n", srv_run_state_name(states[i]),
                  s.state == states[i]);
    if (t->oom) {
        free(t->buf);
        return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    char *text = t->buf;                  /* MHD owns it from here */
    struct MHD_Response *r = MHD_create_response_from_buffer(t->len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    return srv_reply(c->conn, MHD_HTTP_OK, r);
}

/* ---- real digits ---------------------------------------------------------------- */

enum MHD_Result srv_api_real_png(srv_call *c) {
    long n, scale;
    uint64_t seed;
    enum MHD_Result reply;
    if (srv_api_grid_query(c, &n, &seed, &scale, &reply) < 0) return reply;
    const gan_dataset *d = srv_state_dataset(c->h->st);
    if (!d || d->n <= 0)
        return srv_reply_error(c->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "training data not loaded yet");

    /* n distinct images (when the set has that many), picked by the seed */
    uint32_t idx[SRV_SAMPLES_MAX];
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    for (int i = 0; i < n; i++) {
        int dup;
        do {
            idx[i] = nn_rng_below(&rng, (uint32_t)d->n);
            dup = 0;
            for (int j = 0; j < i && i < d->n; j++) dup |= idx[j] == idx[i];
        } while (dup);
    }
    float *images = malloc((size_t)n * GAN_PIX * sizeof(float));
    if (!images) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    for (int i = 0; i < n; i++) {
        const uint8_t *src = d->images + (size_t)idx[i] * GAN_PIX;
        for (int k = 0; k < GAN_PIX; k++) images[(size_t)i * GAN_PIX + k] = src[k] / 255.0f;
    }
    unsigned char *png = NULL;
    size_t len = 0;
    int bad_png = srv_grid_png(images, (int)n, srv_api_grid_cols((int)n), (int)scale, 0.0f, 1.0f,
                               &png, &len);
    free(images);
    if (bad_png) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    return srv_reply_png(c->conn, png, len);
}

/* ---- latent walk ------------------------------------------------------------------ */

typedef struct {
    uint64_t seed[2];
    int steps, scale;
} interpolate_job;

/* The walk, on the render worker: the ends drawn as samples.png?n=1&seed=S
 * draws them, slerp between, batches of one like samples.png?n=1. */
static int render_interpolate(srv_render_ctx *x, void *arg, srv_render_out *out, char *err,
                              size_t errlen) {
    const interpolate_job *j = arg;
    const int nz = x->cfg->model.nz, k = j->steps;
    float *ends = malloc(2 * (size_t)nz * sizeof(float));
    float *z = malloc((size_t)k * (size_t)nz * sizeof(float));
    float *images = malloc((size_t)k * GAN_PIX * sizeof(float));
    int rc = 500;
    if (ends && z && images) {
        for (int e = 0; e < 2; e++) {
            nn_rng rng;
            nn_rng_seed(&rng, j->seed[e]);
            nn_rng_fill_normal(&rng, ends + (size_t)e * nz, (size_t)nz, 0.0f, 1.0f);
        }
        for (int i = 0; i < k; i++)
            srv_slerp(ends, ends + nz, nz, (double)i / (k - 1), z + (size_t)i * nz);
        srv_render_generate(x, z, NULL, k, images, NULL, 1);
        float lo, hi;
        srv_output_range(&x->cfg->model, &lo, &hi);
        if (srv_grid_png(images, k, k, j->scale, lo, hi, &out->data, &out->len) == 0) rc = 0;
        out->type = "image/png";
    }
    if (rc != 0) snprintf(err, errlen, "out of memory");
    free(ends);
    free(z);
    free(images);
    return rc;
}

enum MHD_Result srv_api_interpolate_png(srv_call *c) {
    static const char *const allowed[] = {"from", "to", "steps", "scale", NULL};
    const char *bad = srv_query_unknown(c->conn, allowed);
    if (bad) return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "unknown or repeated query parameter: %.64s", bad);
    long steps = 10, scale = 1;
    uint64_t seed[2];
    const char *const names[2] = {"from", "to"};
    for (int e = 0; e < 2; e++) {
        int rc = srv_query_u64(c->conn, names[e], &seed[e]);
        if (rc != 0)
            return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST,
                                   rc > 0 ? "%s: required (an unsigned 64-bit decimal seed)"
                                          : "%s: must be an unsigned 64-bit decimal seed",
                                   names[e]);
    }
    if (srv_query_long(c->conn, "steps", 2, SRV_STEPS_MAX, &steps) < 0)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "steps: must be an integer in 2..%d", SRV_STEPS_MAX);
    if (srv_query_long(c->conn, "scale", 1, 8, &scale) < 0)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "scale: must be an integer in 1..8");

    interpolate_job j = {{seed[0], seed[1]}, (int)steps, (int)scale};
    char key[SRV_RENDER_KEY_MAX];
    snprintf(key, sizeof key, "interpolate.png?from=%llu&to=%llu&steps=%ld&scale=%ld",
             (unsigned long long)seed[0], (unsigned long long)seed[1], steps, scale);
    return srv_reply_rendered(c, key, render_interpolate, &j);
}
