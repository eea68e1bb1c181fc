/* api_samples.c - generated digits over HTTP.
 *
 *   GET /api/samples.png    a grid of fresh samples (n, seed, scale, digit,
 *                           digits=all, annotate=1)
 *   GET /api/samples.json   the same samples described: D's verdict, the
 *                           classifier's label and confidence, the label asked
 *   GET /api/samples/fixed.png   the run's fixed noise with the latest weights
 *
 * What is drawn for a query: nn_rng seeded with `seed` gives the n noise
 * vectors first (so seed S means the same noise with or without a label);
 * then, for a conditional model, the labels: `digit=D` asks every sample for
 * D, `digits=all` asks sample i for i % 10 (laid out in ten columns, one per
 * class), and otherwise labels are drawn uniformly from the same stream. An
 * unconditional model refuses digit and digits with 400.
 *
 * Every answer here is a pure function of the render worker's snapshot and
 * the canonical query, so it goes through the render cache (render.h):
 * rendered once per snapshot, shared by every viewer who asks, with an ETag
 * that answers If-None-Match with 304. A request without a seed gets a
 * fresh one and renders on its own (still through the worker's budget).
 * The worker also renders the shared live grid with srv_api_live_grid, the
 * same function a request for its URL would run.
 */
#ifdef _OPENMP
#include <omp.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "api.h"
#include "hash.h"
#include "json_strict.h"
#include "png.h"
#include "render.h"
#include "run.h"

/* ---- the query ----------------------------------------------------------- */

uint64_t srv_api_fresh_seed(srv_http *h) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t k = atomic_fetch_add(&h->seed_counter, 1) + 1;
    return srv_mix64((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^ srv_mix64(k);
}

int srv_api_grid_cols(int n) {
    int cols = (int)ceil(sqrt((double)n));
    while (cols * cols < n) cols++;
    while (cols > 1 && (cols - 1) * (cols - 1) >= n) cols--;
    return cols;
}

int srv_api_sample_query(srv_call *c, const char *const *allowed, srv_sample_query *q,
                         enum MHD_Result *reply) {
    const char *bad = srv_query_unknown(c->conn, allowed);
    memset(q, 0, sizeof *q);
    q->n = 64;
    q->scale = 1;
    q->digit = -1;
    if (bad) {
        *reply = srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "unknown or repeated query parameter: %.64s", bad);
        return -1;
    }
    const char *digits = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "digits");
    long digit = -1, annotate = 0;
    int n_given = srv_query_long(c->conn, "n", 1, SRV_SAMPLES_MAX, &q->n);
    if (n_given < 0) {
        *reply = srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "n: must be an integer in 1..%d", SRV_SAMPLES_MAX);
        return -1;
    }
    if (srv_query_long(c->conn, "scale", 1, 8, &q->scale) < 0) {
        *reply = srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "scale: must be an integer in 1..8");
        return -1;
    }
    if (srv_query_long(c->conn, "digit", 0, GAN_CLASSES - 1, &digit) < 0) {
        *reply = srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "digit: must be an integer in 0..%d", GAN_CLASSES - 1);
        return -1;
    }
    if (digits && strcmp(digits, "all") != 0) {
        *reply = srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "digits: the only value is \"all\"");
        return -1;
    }
    if (srv_query_long(c->conn, "annotate", 0, 1, &annotate) < 0) {
        *reply = srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "annotate: must be 0 or 1");
        return -1;
    }
    if ((digit >= 0 || digits) && !c->h->cfg.model.conditional) {
        *reply = srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST,
                                 "%s: the model is not conditional, so it cannot be asked for a class "
                                 "(start a run with --preset fast or model.conditional true)",
                                 digit >= 0 ? "digit" : "digits");
        return -1;
    }
    if (digit >= 0 && digits) {
        *reply = srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "digit and digits: give one of them");
        return -1;
    }
    int rc = srv_query_u64(c->conn, "seed", &q->seed);
    if (rc < 0) {
        *reply = srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "seed: must be an unsigned 64-bit decimal integer");
        return -1;
    }
    if (rc == 1) q->seed = srv_api_fresh_seed(c->h);  /* no seed: fresh noise */
    q->digit = (int)digit;
    q->all_digits = digits != NULL;
    q->annotate = (int)annotate;
    if (q->all_digits) {            /* whole rows of one sample per class */
        if (n_given == 1) q->n = 8 * GAN_CLASSES;
        q->n = (q->n + GAN_CLASSES - 1) / GAN_CLASSES * GAN_CLASSES;
        if (q->n > SRV_SAMPLES_MAX) q->n = SRV_SAMPLES_MAX / GAN_CLASSES * GAN_CLASSES;
    }
    return 0;
}

int srv_api_grid_query(srv_call *c, long *n, uint64_t *seed, long *scale, enum MHD_Result *reply) {
    static const char *const allowed[] = {"n", "seed", "scale", NULL};
    srv_sample_query q;
    if (srv_api_sample_query(c, allowed, &q, reply) < 0) return -1;
    *n = q.n;
    *seed = q.seed;
    *scale = q.scale;
    return 0;
}

int srv_api_sample_cols(const srv_sample_query *q) {
    return q->all_digits ? GAN_CLASSES : srv_api_grid_cols((int)q->n);
}

void srv_api_draw(const gan_config *mc, const srv_sample_query *q, float *z, uint8_t *labels) {
    nn_rng rng;
    nn_rng_seed(&rng, q->seed);
    nn_rng_fill_normal(&rng, z, (size_t)q->n * (size_t)mc->nz, 0.0f, 1.0f);
    for (long i = 0; i < q->n; i++) {
        if (!mc->conditional) labels[i] = 0;
        else if (q->digit >= 0) labels[i] = (uint8_t)q->digit;
        else if (q->all_digits) labels[i] = (uint8_t)(i % GAN_CLASSES);
        else labels[i] = (uint8_t)nn_rng_below(&rng, GAN_CLASSES);
    }
}

/* ---- rendering (on the render worker) ------------------------------------------ */

/* What a samples job needs: the query, and the fixed noise for fixed.png. */
typedef struct {
    srv_sample_query q;
    const float *fixed;              /* fixed.png: [n][nz] noise, labels i % 10 */
    int fixed_n;
} samples_job;

/* Noise, labels and images of a job: 0, or 500 with err. */
static int generate(srv_render_ctx *x, const samples_job *j, float **images, uint8_t **labels,
                    float **verdict, char *err, size_t errlen) {
    const gan_config *mc = &x->cfg->model;
    const int n = j->fixed ? j->fixed_n : (int)j->q.n;
    float *z = j->fixed ? NULL : malloc((size_t)n * (size_t)mc->nz * sizeof(float));
    *images = malloc((size_t)n * GAN_PIX * sizeof(float));
    *labels = malloc((size_t)n);
    if (verdict) *verdict = malloc((size_t)n * sizeof(float));
    if ((!j->fixed && !z) || !*images || !*labels || (verdict && !*verdict)) {
        free(z);
        snprintf(err, errlen, "out of memory");
        return 500;
    }
    if (j->fixed) {
        for (int i = 0; i < n; i++) (*labels)[i] = mc->conditional ? (uint8_t)(i % GAN_CLASSES) : 0;
    } else {
        srv_api_draw(mc, &j->q, z, *labels);
    }
    srv_render_generate(x, j->fixed ? j->fixed : z, *labels, n, *images, verdict ? *verdict : NULL, 0);
    free(z);
    return 0;
}

/* samples.png and fixed.png: a PNG grid (framed by D's verdict with annotate). */
static int render_grid(srv_render_ctx *x, void *arg, srv_render_out *out, char *err, size_t errlen) {
    const samples_job *j = arg;
    float *images = NULL, *verdict = NULL;
    uint8_t *labels = NULL;
    const int annotate = !j->fixed && j->q.annotate;
    int rc = generate(x, j, &images, &labels, annotate ? &verdict : NULL, err, errlen);
    if (rc == 0) {
        const int n = j->fixed ? j->fixed_n : (int)j->q.n;
        const int cols = j->fixed ? srv_fixed_cols(&x->cfg->model) : srv_api_sample_cols(&j->q);
        const int scale = j->fixed ? 1 : (int)j->q.scale;
        float lo, hi;
        srv_output_range(&x->cfg->model, &lo, &hi);
        rc = annotate ? srv_grid_png_framed(images, verdict, n, cols, scale, lo, hi, &out->data, &out->len)
                      : srv_grid_png(images, n, cols, scale, lo, hi, &out->data, &out->len);
        if (rc != 0) {
            rc = 500;
            snprintf(err, errlen, "out of memory");
        }
        out->type = "image/png";
    }
    free(images);
    free(labels);
    free(verdict);
    return rc;
}

int srv_api_live_grid(srv_render_ctx *x, uint64_t seed, char *key, size_t keylen,
                      srv_render_out *out, char *err, size_t errlen) {
    samples_job j = {.q = {.n = SRV_LIVE_N, .scale = SRV_LIVE_SCALE, .seed = seed, .digit = -1}};
    srv_render_samples_key(key, keylen, "samples.png", j.q.n, j.q.scale, seed, -1, 0, 0);
    return render_grid(x, &j, out, err, errlen);
}

/* The samples.json object, or NULL on no memory. probs is read only when a
 * classifier is loaded. */
static cJSON *samples_json(const srv_render_ctx *x, const srv_sample_query *q,
                           const uint8_t *labels, const float *verdict, const float *probs) {
    const int n = (int)q->n, conditional = x->cfg->model.conditional;
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "samples") : NULL;
    if (!arr) goto fail;
    cJSON_AddNumberToObject(o, "iteration", (double)x->iteration);
    srv_json_seed(o, "seed", q->seed);
    cJSON_AddNumberToObject(o, "n", n);
    cJSON_AddBoolToObject(o, "conditional", conditional);
    cJSON_AddBoolToObject(o, "classifier", x->classifier != NULL);
    for (int i = 0; i < n; i++) {
        cJSON *s = cJSON_CreateObject();
        if (!s) goto fail;
        cJSON_AddItemToArray(arr, s);
        cJSON_AddNumberToObject(s, "index", i);
        srv_json_float(s, "d_fake", verdict[i]);
        if (x->classifier) {
            int label;
            cls_argmax(probs + (size_t)i * GAN_CLASSES, 1, &label);
            cJSON_AddNumberToObject(s, "label", label);
            srv_json_float(s, "confidence", probs[(size_t)i * GAN_CLASSES + label]);
        } else {
            cJSON_AddNullToObject(s, "label");
            cJSON_AddNullToObject(s, "confidence");
        }
        if (conditional) cJSON_AddNumberToObject(s, "requested", labels[i]);
        else cJSON_AddNullToObject(s, "requested");
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static int render_json(srv_render_ctx *x, void *arg, srv_render_out *out, char *err, size_t errlen) {
    const samples_job *j = arg;
    const int n = (int)j->q.n;
    float *images = NULL, *verdict = NULL;
    uint8_t *labels = NULL;
    float *probs = malloc((size_t)n * GAN_CLASSES * sizeof(float));
    int rc = probs ? generate(x, j, &images, &labels, &verdict, err, errlen) : 500;
    if (rc == 0 && x->classifier) {   /* the classifier reads [-1, 1] */
        srv_images_to_classifier(&x->cfg->model, images, (size_t)n * GAN_PIX);
        cls_classify(x->classifier, images, n, probs, NULL);
    }
    cJSON *o = rc == 0 ? samples_json(x, &j->q, labels, verdict, probs) : NULL;
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (rc == 0 && !text) rc = 500;
    if (rc == 500) snprintf(err, errlen, "out of memory");
    out->data = (unsigned char *)text;
    out->len = text ? strlen(text) : 0;
    out->type = "application/json";
    free(probs);
    free(images);
    free(labels);
    free(verdict);
    return rc;
}

/* ---- the endpoints ------------------------------------------------------------ */

enum MHD_Result srv_api_samples(srv_call *c) {
    static const char *const allowed[] = {"n", "seed", "scale", "digit", "digits", "annotate", NULL};
    samples_job j = {0};
    enum MHD_Result reply;
    if (srv_api_sample_query(c, allowed, &j.q, &reply) < 0) return reply;
    char key[SRV_RENDER_KEY_MAX];
    srv_render_samples_key(key, sizeof key, "samples.png", j.q.n, j.q.scale, j.q.seed, j.q.digit,
                           j.q.all_digits, j.q.annotate);
    return srv_reply_rendered(c, key, render_grid, &j);
}

enum MHD_Result srv_api_samples_json(srv_call *c) {
    static const char *const allowed[] = {"n", "seed", "digit", "digits", NULL};
    samples_job j = {0};
    enum MHD_Result reply;
    if (srv_api_sample_query(c, allowed, &j.q, &reply) < 0) return reply;
    char key[SRV_RENDER_KEY_MAX];
    srv_render_samples_key(key, sizeof key, "samples.json", j.q.n, 1, j.q.seed, j.q.digit,
                           j.q.all_digits, 0);
    return srv_reply_rendered(c, key, render_json, &j);
}

enum MHD_Result srv_api_samples_fixed(srv_call *c) {
    static const char *const allowed[] = {NULL};
    const char *bad = srv_query_unknown(c->conn, allowed);
    if (bad)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST,
                               "unknown or repeated query parameter: %.64s", bad);
    const size_t nz = (size_t)c->h->cfg.model.nz;
    float *z = malloc((size_t)SRV_FIXED_MAX * nz * sizeof(float));
    if (!z) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    enum MHD_Result ret;
    samples_job j = {.fixed = z, .fixed_n = srv_state_copy_fixed_noise(c->h->st, z, SRV_FIXED_MAX)};
    if (j.fixed_n <= 0) ret = srv_reply_error(c->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no fixed noise yet");
    else ret = srv_reply_rendered(c, "samples/fixed.png", render_grid, &j);
    free(z);
    return ret;
}
