/* sampler.c - the generator in eval mode, for sampling outside the trainer.
 *
 * A gan_sampler owns just the buffers an eval-mode forward pass needs for up
 * to max_batch images and reads the parameters it is handed (a copy the
 * trainer published), so any thread may sample while training goes on.
 * It runs net.h's forward pass over the tables of gan.c in eval mode:
 * BatchNorm uses the running statistics, and each layer's convolution,
 * BN and activation share one buffer (in place), since nothing here is kept
 * for a backward pass. With spectral normalisation, D's verdicts use W / sigma
 * by the power-iteration vectors stored in D's buffers, which stay as they are.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gan.h"

struct gan_sampler {
    gan_config cfg;
    net g, d;       /* the networks (gan_nets) */
    int max_batch;
    float *mem;     /* one block for everything below */
    float *z;       /* [g_in][B] noise rows, then one-hot label rows */
    float *h[2];    /* layer i's output (in place through BN and activation) in
                       h[i % 2], for G and D alike (net_eval_acts) */
    float *col;     /* largest im2col scratch of G or D */
    float *dx;      /* [d_in][B][28][28] D's input */
    float *dlogits; /* [B] */
    uint8_t *labels;  /* [B] default labels of a chunk */
    float *wsn;     /* spectral_norm: [d param count] D's weights / sigma, else NULL */
};

static size_t max2(size_t a, size_t b) { return a > b ? a : b; }

gan_sampler *gan_sampler_new(const gan_config *c, int max_batch) {
    if (max_batch < 1) return NULL;
    nn_blas_tune();
    gan_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cfg = *c;
    s->max_batch = max_batch;
    if (gan_nets(c, &s->g, &s->d) < 0) { free(s); return NULL; }
    /* D's passes (gan_sampler_judge) reuse G's buffers, each sized for both */
    const int B = max_batch;
    const size_t nz = net_in_floats(&s->g, B), nx = net_in_floats(&s->d, B);
    const size_t n0 = max2(net_eval_floats(&s->g, 0, B), net_eval_floats(&s->d, 0, B));
    const size_t n1 = max2(net_eval_floats(&s->g, 1, B), net_eval_floats(&s->d, 1, B));
    const size_t ncol = max2(net_scratch_floats(&s->g, B), net_scratch_floats(&s->d, B));
    s->mem = malloc((nz + n0 + n1 + ncol + nx + (size_t)B) * sizeof(float));
    s->labels = malloc((size_t)B);
    if (c->spectral_norm) s->wsn = malloc(gan_dparam_count(c) * sizeof(float));
    if (!s->mem || !s->labels || (c->spectral_norm && !s->wsn)) { gan_sampler_free(s); return NULL; }
    s->z = s->mem;
    s->h[0] = s->z + nz;
    s->h[1] = s->h[0] + n0;
    s->col = s->h[1] + n1;
    s->dx = s->col + ncol;
    s->dlogits = s->dx + nx;
    return s;
}

void gan_sampler_free(gan_sampler *s) {
    if (!s) return;
    free(s->mem);
    free(s->labels);
    free(s->wsn);
    free(s);
}

/* One chunk of at most max_batch images, G's last layer straight into
 * images ([1][B][28][28] is already [B][784]). */
static void generate_chunk(gan_sampler *s, float *const *p, float *const *stats,
                           const float *z, const uint8_t *labels, int B, float *images) {
    float *acts[NET_MAX_ACTS];
    gan_g_input(s->z, z, labels, &s->cfg, B);
    net_eval_acts(&s->g, acts, s->z, s->h, images);
    net_forward(&s->g, acts, p, stats, s->col, NULL, B, 0, NULL);
}

void gan_sampler_generate(gan_sampler *s, const float *gparams, const float *gbuf,
                          const float *z, const uint8_t *labels, int n, float *images) {
    float *p[NET_MAX_PARAMS], *st[NET_MAX_STATS];
    /* the passes only read through these */
    net_params_point(&s->g, p, (float *)gparams);
    net_stats_point(&s->g, st, (float *)gbuf);
    for (int done = 0; done < n; done += s->max_batch) {
        const int B = n - done < s->max_batch ? n - done : s->max_batch;
        /* labels NULL: i % 10 over the whole request, not per chunk */
        const uint8_t *lab = labels ? labels + done : s->labels;
        if (!labels)
            for (int i = 0; i < B; i++) s->labels[i] = (uint8_t)((done + i) % GAN_CLASSES);
        generate_chunk(s, p, st, z + (size_t)done * s->cfg.nz, lab, B, images + (size_t)done * GAN_PIX);
    }
}

/* ---- discriminator verdicts ------------------------------------------------ */

void gan_sampler_judge(gan_sampler *s, const float *dparams, const float *dbuf,
                       const float *images, const uint8_t *labels, int n, float *prob) {
    float *p[NET_MAX_PARAMS], *use[NET_MAX_PARAMS], *st[NET_MAX_STATS], *acts[NET_MAX_ACTS];
    net_params_point(&s->d, p, (float *)dparams);
    net_stats_point(&s->d, st, (float *)dbuf);
    for (int i = 0; i < s->d.nparams; i++) use[i] = p[i];
    if (s->cfg.spectral_norm) {   /* W / sigma by the stored u, v (eval: they do not move) */
        gan_dbuffers b;
        float sigma[GAN_D_LAYERS];
        gan_dbuffers_point(&b, (float *)dbuf, &s->cfg);
        gan_d_spectral_lists(&s->d, use, p, s->wsn);
        gan_d_spectral(&s->cfg, &s->d, use, p, &b, sigma, 0);
    }
    net_eval_acts(&s->d, acts, s->dx, s->h, s->dlogits);
    for (int done = 0; done < n; done += s->max_batch) {
        const int B = n - done < s->max_batch ? n - done : s->max_batch;
        const uint8_t *lab = labels ? labels + done : s->labels;
        if (!labels)
            for (int i = 0; i < B; i++) s->labels[i] = (uint8_t)((done + i) % GAN_CLASSES);
        gan_d_input(s->dx, images + (size_t)done * GAN_PIX, lab, &s->cfg, B);
        net_forward(&s->d, acts, use, st, s->col, lab, B, 0, NULL);
        for (int i = 0; i < B; i++) prob[done + i] = 1.0f / (1.0f + expf(-s->dlogits[i]));
    }
}
