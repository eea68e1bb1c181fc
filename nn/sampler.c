/* sampler.c - the generator in eval mode, for sampling outside the trainer.
 *
 * A gan_sampler owns just the buffers an eval-mode forward pass needs for up
 * to max_batch images and reads the parameters it is handed (a copy the
 * trainer published), so any thread may sample while training goes on.
 * BatchNorm uses the running statistics; BN and ReLU run in place, since
 * nothing here is kept for a backward pass.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gan.h"

struct gan_sampler {
    gan_config cfg;
    int max_batch;
    float *mem;     /* one block for everything below */
    float *z;       /* [g_in][B] noise rows, then one-hot label rows */
    float *h1;      /* [2ngf][B][7][7]   (D: [2ndf][B][7][7]) */
    float *h2;      /* [ngf][B][14][14]  (D: [ndf][B][14][14]) */
    float *h3;      /* [1][B][28][28] */
    float *col;     /* largest im2col scratch of G or D */
    float *dx;      /* [d_in][B][28][28] D's input */
    float *dlogits; /* [B] */
    uint8_t *labels;  /* [B] default labels of a chunk */
};

static size_t max2(size_t a, size_t b) { return a > b ? a : b; }

gan_sampler *gan_sampler_new(const gan_config *c, int max_batch) {
    if (max_batch < 1) return NULL;
    nn_blas_tune();
    gan_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cfg = *c;
    s->max_batch = max_batch;
    /* D's passes (gan_sampler_judge) reuse G's buffers, each sized for both */
    const size_t B = (size_t)max_batch, g2 = 2 * (size_t)c->ngf, g1 = (size_t)c->ngf;
    const size_t d1 = (size_t)c->ndf, d2 = 2 * (size_t)c->ndf, din = (size_t)gan_d_in(c);
    const size_t nz = (size_t)gan_g_in(c) * B, n3 = B * GAN_PIX, nx = din * B * GAN_PIX;
    const size_t n1 = max2(g2 * B * 49, d2 * B * 49), n2 = max2(g1 * B * 196, d1 * B * 196);
    size_t ncol = max2(max2(g2 * 49 * B, g1 * 16 * B * 49), 16 * B * 196);   /* ConvT 1, 2, 3 */
    ncol = max2(ncol, max2(max2(din * 16 * B * 196, d1 * 16 * B * 49), d2 * 49 * B));   /* Conv 1, 2, 3 */
    s->mem = malloc((nz + n1 + n2 + n3 + ncol + nx + B) * sizeof(float));
    s->labels = malloc(B);
    if (!s->mem || !s->labels) { gan_sampler_free(s); return NULL; }
    s->z = s->mem;
    s->h1 = s->z + nz;
    s->h2 = s->h1 + n1;
    s->h3 = s->h2 + n2;
    s->col = s->h3 + n3;
    s->dx = s->col + ncol;
    s->dlogits = s->dx + nx;
    return s;
}

void gan_sampler_free(gan_sampler *s) {
    if (!s) return;
    free(s->mem);
    free(s->labels);
    free(s);
}

/* One chunk of at most max_batch images. */
static void generate_chunk(gan_sampler *s, const gan_gparams *p, const gan_gbuffers *b,
                           const float *z, const uint8_t *labels, int B, float *images) {
    const gan_config *c = &s->cfg;
    const int g2 = 2 * c->ngf, g1 = c->ngf;
    gan_g_input(s->z, z, labels, c, B);
    nn_convt2d_forward(s->h1, s->col, s->z, p->w1, B, gan_g_in(c), 1, 1, g2, 7, 1, 0);
    nn_batchnorm_act_forward_eval(s->h1, s->h1, p->bn1_g, p->bn1_b, b->bn1_mean, b->bn1_var,
                                  c->bn_eps, 0.0f, g2, B * 49);
    nn_convt2d_forward(s->h2, s->col, s->h1, p->w2, B, g2, 7, 7, g1, 4, 2, 1);
    nn_batchnorm_act_forward_eval(s->h2, s->h2, p->bn2_g, p->bn2_b, b->bn2_mean, b->bn2_var,
                                  c->bn_eps, 0.0f, g1, B * 196);
    nn_convt2d_forward(s->h3, s->col, s->h2, p->w3, B, g1, 14, 14, 1, 4, 2, 1);
    /* [1][B][28][28] is already [B][784] */
    if (c->g_output == GAN_OUT_TANH) nn_tanh_forward(images, s->h3, (size_t)B * GAN_PIX);
    else nn_relu_forward(images, s->h3, (size_t)B * GAN_PIX);
}

void gan_sampler_generate(gan_sampler *s, const float *gparams, const float *gbuf,
                          const float *z, const uint8_t *labels, int n, float *images) {
    gan_gparams p;
    gan_gbuffers b;
    /* the pointer structs only read through these */
    gan_gparams_point(&p, (float *)gparams, &s->cfg);
    gan_gbuffers_point(&b, (float *)gbuf, &s->cfg);
    for (int done = 0; done < n; done += s->max_batch) {
        const int B = n - done < s->max_batch ? n - done : s->max_batch;
        /* labels NULL: i % 10 over the whole request, not per chunk */
        const uint8_t *lab = labels ? labels + done : s->labels;
        if (!labels)
            for (int i = 0; i < B; i++) s->labels[i] = (uint8_t)((done + i) % GAN_CLASSES);
        generate_chunk(s, &p, &b, z + (size_t)done * s->cfg.nz, lab, B, images + (size_t)done * GAN_PIX);
    }
}

/* ---- discriminator verdicts ------------------------------------------------ */

void gan_sampler_judge(gan_sampler *s, const float *dparams, const float *dbuf,
                       const float *images, const uint8_t *labels, int n, float *prob) {
    const gan_config *c = &s->cfg;
    const int d1 = c->ndf, d2 = 2 * c->ndf;
    gan_dparams p;
    gan_dbuffers b;
    gan_dparams_point(&p, (float *)dparams, c);
    gan_dbuffers_point(&b, (float *)dbuf, c);
    for (int done = 0; done < n; done += s->max_batch) {
        const int B = n - done < s->max_batch ? n - done : s->max_batch;
        const uint8_t *lab = labels ? labels + done : s->labels;
        if (!labels)
            for (int i = 0; i < B; i++) s->labels[i] = (uint8_t)((done + i) % GAN_CLASSES);
        gan_d_input(s->dx, images + (size_t)done * GAN_PIX, lab, c, B);
        float *a1 = s->h2, *a2 = s->h1;   /* [ndf][B][14][14], [2ndf][B][7][7] */
        nn_conv2d_forward(a1, s->col, s->dx, p.w1, B, gan_d_in(c), 28, 28, d1, 4, 2, 1);
        nn_leaky_relu_forward(a1, a1, c->lrelu_slope, (size_t)d1 * B * 196);
        nn_conv2d_forward(a2, s->col, a1, p.w2, B, d1, 14, 14, d2, 4, 2, 1);
        nn_batchnorm_act_forward_eval(a2, a2, p.bn2_g, p.bn2_b, b.bn2_mean, b.bn2_var,
                                      c->bn_eps, c->lrelu_slope, d2, B * 49);
        nn_conv_full_forward(s->dlogits, a2, p.w3, B, d2, 49, 1);
        for (int i = 0; i < B; i++) prob[done + i] = 1.0f / (1.0f + expf(-s->dlogits[i]));
    }
}
