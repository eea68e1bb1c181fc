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
 * One gan_sampler, one classifier and one set of parameter buffers serve
 * every request, guarded by h->sampler_mu (never the state mutex): the
 * generator and discriminator are copied out of srv_state under it, the
 * forward passes run, and the PNG or JSON is built after it is released.
 */
#ifdef _OPENMP
#include <omp.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "png.h"
#include "trainer.h"

/* ---- the query ----------------------------------------------------------- */

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

void srv_api_draw(const srv_http *h, const srv_sample_query *q, float *z, uint8_t *labels) {
    const gan_config *mc = &h->cfg.model;
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

/* ---- generation ------------------------------------------------------------ */

long srv_api_generate(srv_http *h, const float *z, const uint8_t *labels, int n, float *images,
                      float *verdict) {
#ifdef _OPENMP
    /* One thread per request: the trainer's two-thread team keeps both cores,
     * and a viewer costs it about one core's share only while sampling. */
    omp_set_num_threads(1);
#endif
    pthread_mutex_lock(&h->sampler_mu);
    long it = srv_state_copy_generator(h->st, h->gparams, h->gbuf);
    if (it >= 0) gan_sampler_generate(h->sampler, h->gparams, h->gbuf, z, labels, n, images);
    if (it >= 0 && verdict) {
        if (srv_state_copy_discriminator(h->st, h->dparams, h->dbuf) >= 0)
            gan_sampler_judge(h->sampler, h->dparams, h->dbuf, images, labels, n, verdict);
        else
            for (int i = 0; i < n; i++) verdict[i] = NAN;
    }
    pthread_mutex_unlock(&h->sampler_mu);
    return it;
}

/* Generate from z and labels and answer with a PNG grid in `cols` columns;
 * annotate: each cell framed by D's verdict. */
static enum MHD_Result reply_grid(srv_call *c, const float *z, const uint8_t *labels, int n,
                                  int cols, int scale, int annotate) {
    enum MHD_Result ret;
    float *images = malloc((size_t)n * GAN_PIX * sizeof(float));
    float *verdict = annotate ? malloc((size_t)n * sizeof(float)) : NULL;
    unsigned char *png = NULL;
    size_t len = 0;
    if (!images || (annotate && !verdict)) {
        ret = srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        goto done;
    }
    if (srv_api_generate(c->h, z, labels, n, images, verdict) < 0) {
        ret = srv_reply_error(c->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no generator published yet");
        goto done;
    }
    float lo = c->h->cfg.model.g_output == GAN_OUT_TANH ? -1.0f : 0.0f;
    int rc = annotate ? srv_grid_png_framed(images, verdict, n, cols, scale, lo, 1.0f, &png, &len)
                      : srv_grid_png(images, n, cols, scale, lo, 1.0f, &png, &len);
    if (rc != 0) {
        ret = srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        goto done;
    }
    ret = srv_reply_png(c->conn, png, len);
done:
    free(images);
    free(verdict);
    return ret;
}

enum MHD_Result srv_api_samples(srv_call *c) {
    static const char *const allowed[] = {"n", "seed", "scale", "digit", "digits", "annotate", NULL};
    srv_sample_query q;
    enum MHD_Result reply;
    if (srv_api_sample_query(c, allowed, &q, &reply) < 0) return reply;
    float *z = malloc((size_t)q.n * (size_t)c->h->cfg.model.nz * sizeof(float));
    uint8_t *labels = malloc((size_t)q.n);
    if (!z || !labels) reply = srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    else {
        srv_api_draw(c->h, &q, z, labels);
        reply = reply_grid(c, z, labels, (int)q.n, srv_api_sample_cols(&q), (int)q.scale, q.annotate);
    }
    free(z);
    free(labels);
    return reply;
}

/* The samples.json object, or NULL on no memory. probs is read only when a
 * classifier is loaded. */
static cJSON *samples_json(const srv_http *h, const srv_sample_query *q, long it,
                           const uint8_t *labels, const float *verdict, const float *probs) {
    const int n = (int)q->n, conditional = h->cfg.model.conditional;
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "samples") : NULL;
    if (!arr) goto fail;
    cJSON_AddNumberToObject(o, "iteration", (double)it);
    cJSON_AddNumberToObject(o, "seed", (double)q->seed);
    cJSON_AddNumberToObject(o, "n", n);
    cJSON_AddBoolToObject(o, "conditional", conditional);
    cJSON_AddBoolToObject(o, "classifier", h->classifier != NULL);
    for (int i = 0; i < n; i++) {
        cJSON *s = cJSON_CreateObject();
        if (!s) goto fail;
        cJSON_AddItemToArray(arr, s);
        cJSON_AddNumberToObject(s, "index", i);
        srv_json_float(s, "d_fake", verdict[i]);
        if (h->classifier) {
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

enum MHD_Result srv_api_samples_json(srv_call *c) {
    static const char *const allowed[] = {"n", "seed", "digit", "digits", NULL};
    srv_sample_query q;
    enum MHD_Result reply;
    if (srv_api_sample_query(c, allowed, &q, &reply) < 0) return reply;
    const gan_config *mc = &c->h->cfg.model;
    const int n = (int)q.n;
    float *z = malloc((size_t)n * (size_t)mc->nz * sizeof(float));
    uint8_t *labels = malloc((size_t)n);
    float *images = malloc((size_t)n * GAN_PIX * sizeof(float));
    float *verdict = malloc((size_t)n * sizeof(float));
    float *probs = malloc((size_t)n * GAN_CLASSES * sizeof(float));
    if (!z || !labels || !images || !verdict || !probs) {
        reply = srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        goto done;
    }
    srv_api_draw(c->h, &q, z, labels);
    long it = srv_api_generate(c->h, z, labels, n, images, verdict);
    if (it < 0) {
        reply = srv_reply_error(c->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no generator published yet");
        goto done;
    }
    if (c->h->classifier) {   /* the classifier reads [-1, 1] */
        srv_images_to_classifier(mc, images, (size_t)n * GAN_PIX);
        pthread_mutex_lock(&c->h->sampler_mu);
        cls_classify(c->h->classifier, images, n, probs, NULL);
        pthread_mutex_unlock(&c->h->sampler_mu);
    }
    reply = srv_reply_json(c->conn, MHD_HTTP_OK,   /* NULL (no memory): 500 */
                           samples_json(c->h, &q, it, labels, verdict, probs));
done:
    free(z); free(labels); free(images); free(verdict); free(probs);
    return reply;
}

enum MHD_Result srv_api_samples_fixed(srv_call *c) {
    const gan_config *mc = &c->h->cfg.model;
    const size_t nz = (size_t)mc->nz;
    float *z = malloc((size_t)SRV_FIXED_MAX * nz * sizeof(float));
    if (!z) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    enum MHD_Result ret;
    int n = srv_state_copy_fixed_noise(c->h->st, z, SRV_FIXED_MAX);
    /* labels NULL: i % 10, the trainer's timeline layout (one column per class) */
    if (n <= 0) ret = srv_reply_error(c->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no fixed noise yet");
    else ret = reply_grid(c, z, NULL, n, srv_fixed_cols(mc), 1, 0);
    free(z);
    return ret;
}
