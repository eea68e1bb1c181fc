/* gan.c - the DCGAN: parameter blocks, forward and backward passes of G and
 * D, the D and G training steps, and an eval-mode sampler.
 *
 * Every buffer is allocated once in gan_model_new; the training steps only
 * compute. Shapes follow gan.h; activations are channel-major [C][B][H][W].
 * The D step runs D on the real batch and backpropagates, then on the fakes
 * and backpropagates into the same gradient block (two sets of batch
 * statistics, as in PyTorch's DCGAN example), then takes one Adam step.
 * The G step runs D on the fakes, takes dL/dfake through D without
 * computing D's weight gradients, and backpropagates through G.
 *
 * Conditional model (cfg.conditional): G's 1x1 input image has the one-hot
 * label as GAN_CLASSES extra channels after the noise, and D's input has
 * GAN_CLASSES constant label planes (1 on the label's plane, 0 elsewhere)
 * stacked after the image channel, so both first layers are ordinary
 * convolutions with more input channels and everything else is unchanged.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "gan.h"

void gan_config_default(gan_config *c) {
    memset(c, 0, sizeof *c);
    c->nz = 100; c->ngf = 128; c->ndf = 64;
    c->g_output = GAN_OUT_TANH;
    c->batch = 64;
    c->lr_d = 2e-4f; c->lr_g = 2e-4f;
    c->beta1 = 0.5f; c->beta2 = 0.999f; c->adam_eps = 1e-8f;
    c->d_steps = 1; c->g_steps = 1;
    c->bn_eps = 1e-5f; c->bn_momentum = 0.1f;
    c->lrelu_slope = 0.2f; c->init_std = 0.02f;
}

/* ---- parameter blocks ---------------------------------------------------- */

int gan_g_in(const gan_config *c) { return c->nz + (c->conditional ? GAN_CLASSES : 0); }
int gan_d_in(const gan_config *c) { return 1 + (c->conditional ? GAN_CLASSES : 0); }

void gan_gparam_sizes(const gan_config *c, size_t s[GAN_G_NTENSORS]) {
    const size_t g2 = 2 * (size_t)c->ngf, g1 = (size_t)c->ngf;
    s[0] = (size_t)gan_g_in(c) * g2 * 7 * 7;   /* w1 */
    s[1] = g2; s[2] = g2;                /* bn1 gamma, beta */
    s[3] = g2 * g1 * 4 * 4;              /* w2 */
    s[4] = g1; s[5] = g1;                /* bn2 gamma, beta */
    s[6] = g1 * 1 * 4 * 4;               /* w3 */
}

void gan_dparam_sizes(const gan_config *c, size_t s[GAN_D_NTENSORS]) {
    const size_t d1 = (size_t)c->ndf, d2 = 2 * (size_t)c->ndf;
    s[0] = d1 * (size_t)gan_d_in(c) * 4 * 4;   /* w1 */
    s[1] = d2 * d1 * 4 * 4;              /* w2 */
    s[2] = d2; s[3] = d2;                /* bn2 gamma, beta */
    s[4] = 1 * d2 * 7 * 7;               /* w3 */
}

static size_t sum_sizes(const size_t *s, int n) {
    size_t t = 0;
    for (int i = 0; i < n; i++) t += s[i];
    return t;
}

size_t gan_gparam_count(const gan_config *c) {
    size_t s[GAN_G_NTENSORS];
    gan_gparam_sizes(c, s);
    return sum_sizes(s, GAN_G_NTENSORS);
}

size_t gan_dparam_count(const gan_config *c) {
    size_t s[GAN_D_NTENSORS];
    gan_dparam_sizes(c, s);
    return sum_sizes(s, GAN_D_NTENSORS);
}

size_t gan_gbuffer_count(const gan_config *c) { return 2 * (2 * (size_t)c->ngf) + 2 * (size_t)c->ngf; }
size_t gan_dbuffer_count(const gan_config *c) { return 2 * (2 * (size_t)c->ndf); }

void gan_gparams_point(gan_gparams *p, float *block, const gan_config *c) {
    size_t s[GAN_G_NTENSORS];
    gan_gparam_sizes(c, s);
    float **ptrs[GAN_G_NTENSORS] = {&p->w1, &p->bn1_g, &p->bn1_b, &p->w2,
                                    &p->bn2_g, &p->bn2_b, &p->w3};
    for (int i = 0; i < GAN_G_NTENSORS; i++) { *ptrs[i] = block; block += s[i]; }
}

void gan_dparams_point(gan_dparams *p, float *block, const gan_config *c) {
    size_t s[GAN_D_NTENSORS];
    gan_dparam_sizes(c, s);
    float **ptrs[GAN_D_NTENSORS] = {&p->w1, &p->w2, &p->bn2_g, &p->bn2_b, &p->w3};
    for (int i = 0; i < GAN_D_NTENSORS; i++) { *ptrs[i] = block; block += s[i]; }
}

void gan_gbuffers_point(gan_gbuffers *b, float *block, const gan_config *c) {
    const size_t g2 = 2 * (size_t)c->ngf, g1 = (size_t)c->ngf;
    b->bn1_mean = block; b->bn1_var = block + g2;
    b->bn2_mean = block + 2 * g2; b->bn2_var = block + 2 * g2 + g1;
}

void gan_dbuffers_point(gan_dbuffers *b, float *block, const gan_config *c) {
    const size_t d2 = 2 * (size_t)c->ndf;
    b->bn2_mean = block; b->bn2_var = block + d2;
}

/* ---- activations --------------------------------------------------------- */

/* Lay out G's activations for batch B from base (or just count them when
 * base is NULL). Returns the number of floats.
 * grad: the gradient twin, which gan_g_backward fills from the top down
 * (c3, a2, c2, a1, c1), so dL/da1 reuses dL/da2's memory and dL/dc1 reuses
 * dL/dc2's (each is dead by then, and the layer-1 tensors are the smaller);
 * z, the BatchNorm statistics and out have no gradient. Saves 2*ngf*B*49*2
 * floats (6.4 MB for the default model). */
static size_t gacts_layout(gan_gacts *a, float *base, const gan_config *c, int B, int grad) {
    const size_t g2 = 2 * (size_t)c->ngf, g1 = (size_t)c->ngf;
    const size_t n1 = g2 * B * 49, n2 = g1 * B * 196, n3 = (size_t)B * GAN_PIX;
    const size_t own = grad ? 0 : 1;            /* 0: no block of its own */
    struct { float **p; size_t n; } t[] = {
        {&a->z, own * gan_g_in(c) * B},
        {&a->c1, own * n1}, {&a->bn1_mean, own * g2}, {&a->bn1_rstd, own * g2}, {&a->a1, own * n1},
        {&a->c2, n2}, {&a->bn2_mean, own * g1}, {&a->bn2_rstd, own * g1}, {&a->a2, n2},
        {&a->c3, n3}, {&a->out, own * n3},
    };
    size_t off = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        *t[i].p = (base && t[i].n) ? base + off : NULL;
        off += t[i].n;
    }
    if (grad) {
        a->a1 = a->a2;
        a->c1 = a->c2;
    }
    return off;
}

/* Same for D; the im2col buffers are laid out only when with_cols (the
 * gradient twin of the activations needs none). */
static size_t dacts_layout(gan_dacts *a, float *base, const gan_config *c, int B, int with_cols) {
    const size_t d1 = (size_t)c->ndf, d2 = 2 * (size_t)c->ndf;
    const size_t din = (size_t)gan_d_in(c);
    const size_t n0 = din * B * GAN_PIX, n1 = d1 * B * 196, n2 = d2 * B * 49;
    struct { float **p; size_t n; } t[] = {
        {&a->x, n0}, {&a->col1, with_cols ? din * 16 * B * 196 : 0},
        {&a->c1, n1}, {&a->a1, n1},
        {&a->col2, with_cols ? d1 * 16 * B * 49 : 0},
        {&a->c2, n2}, {&a->bn2_mean, d2}, {&a->bn2_rstd, d2}, {&a->a2, n2},
        {&a->col3, 0}, {&a->logits, (size_t)B},   /* conv 3 is direct: no col */
    };
    size_t off = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        *t[i].p = (base && t[i].n) ? base + off : NULL;
        off += t[i].n;
    }
    return off;
}

/* Largest col/dcol scratch any G or D layer needs at batch B. */
static size_t scratch_floats(const gan_config *c, int B) {
    const size_t g2 = 2 * (size_t)c->ngf, g1 = (size_t)c->ngf, d1 = (size_t)c->ndf;
    const size_t din = (size_t)gan_d_in(c);
    size_t need[] = {
        g2 * 49 * B,               /* ConvT 1: [2ngf*7*7][B*1*1] */
        g1 * 16 * B * 49,          /* ConvT 2: [ngf*4*4][B*7*7] */
        16 * (size_t)B * 196,      /* ConvT 3: [1*4*4][B*14*14] */
        d1 * 16 * B * 49,          /* D conv 2 dcol */
        din * 16 * B * 196,        /* D conv 1 dcol */
        2 * d1 * 49 * B,           /* D conv 3 dcol */
    };
    size_t m = 0;
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) if (need[i] > m) m = need[i];
    return m;
}

static int config_ok(const gan_config *c) {
    return c->nz >= 1 && c->nz <= GAN_NZ_MAX && c->ngf >= 1 && c->ngf <= GAN_WIDTH_MAX &&
           c->ndf >= 1 && c->ndf <= GAN_WIDTH_MAX && c->batch >= 1 && c->batch <= GAN_BATCH_MAX;
}

gan_model *gan_model_new(const gan_config *c) {
    if (!config_ok(c)) return NULL;
    nn_blas_tune();
    gan_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cfg = *c;
    m->g_count = gan_gparam_count(c);
    m->d_count = gan_dparam_count(c);
    const int B = c->batch;
    const size_t ga = gacts_layout(&m->ga, NULL, c, B, 0);
    const size_t dga = gacts_layout(&m->dga, NULL, c, B, 1);
    const size_t da = dacts_layout(&m->da, NULL, c, B, 1);
    const size_t dda = dacts_layout(&m->dda, NULL, c, B, 0);
    m->act_floats = ga + da;
    m->scratch_floats = scratch_floats(c, B);
    float **blocks[] = {&m->g_mem, &m->g_grad_mem, &m->g_m_mem, &m->g_v_mem, &m->g_buf_mem,
                        &m->d_mem, &m->d_grad_mem, &m->d_m_mem, &m->d_v_mem, &m->d_buf_mem,
                        &m->act_mem, &m->dact_mem, &m->scratch};
    const size_t counts[] = {m->g_count, m->g_count, m->g_count, m->g_count, gan_gbuffer_count(c),
                             m->d_count, m->d_count, m->d_count, m->d_count, gan_dbuffer_count(c),
                             ga + da, dga + dda, m->scratch_floats};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        *blocks[i] = calloc(counts[i], sizeof(float));
        if (!*blocks[i]) { gan_model_free(m); return NULL; }
    }
    m->fake_labels = calloc((size_t)B, 1);
    if (!m->fake_labels) { gan_model_free(m); return NULL; }
    gan_gparams_point(&m->g, m->g_mem, c);
    gan_gparams_point(&m->g_grad, m->g_grad_mem, c);
    gan_gparams_point(&m->g_m, m->g_m_mem, c);
    gan_gparams_point(&m->g_v, m->g_v_mem, c);
    gan_gbuffers_point(&m->g_buf, m->g_buf_mem, c);
    gan_dparams_point(&m->d, m->d_mem, c);
    gan_dparams_point(&m->d_grad, m->d_grad_mem, c);
    gan_dparams_point(&m->d_m, m->d_m_mem, c);
    gan_dparams_point(&m->d_v, m->d_v_mem, c);
    gan_dbuffers_point(&m->d_buf, m->d_buf_mem, c);
    gacts_layout(&m->ga, m->act_mem, c, B, 0);
    dacts_layout(&m->da, m->act_mem + ga, c, B, 1);
    gacts_layout(&m->dga, m->dact_mem, c, B, 1);
    dacts_layout(&m->dda, m->dact_mem + dga, c, B, 0);
    return m;
}

void gan_model_free(gan_model *m) {
    if (!m) return;
    free(m->g_mem); free(m->g_grad_mem); free(m->g_m_mem); free(m->g_v_mem); free(m->g_buf_mem);
    free(m->d_mem); free(m->d_grad_mem); free(m->d_m_mem); free(m->d_v_mem); free(m->d_buf_mem);
    free(m->act_mem); free(m->dact_mem); free(m->scratch); free(m->fake_labels);
    free(m);
}

static void fill_const(float *x, size_t n, float v) { for (size_t i = 0; i < n; i++) x[i] = v; }

void gan_model_init(gan_model *m, nn_rng *rng) {
    const gan_config *c = &m->cfg;
    size_t gs[GAN_G_NTENSORS], ds[GAN_D_NTENSORS];
    gan_gparam_sizes(c, gs);
    gan_dparam_sizes(c, ds);
    const float sd = c->init_std;
    nn_rng_fill_normal(rng, m->g.w1, gs[0], 0.0f, sd);
    nn_rng_fill_normal(rng, m->g.bn1_g, gs[1], 1.0f, sd);
    fill_const(m->g.bn1_b, gs[2], 0.0f);
    nn_rng_fill_normal(rng, m->g.w2, gs[3], 0.0f, sd);
    nn_rng_fill_normal(rng, m->g.bn2_g, gs[4], 1.0f, sd);
    fill_const(m->g.bn2_b, gs[5], 0.0f);
    nn_rng_fill_normal(rng, m->g.w3, gs[6], 0.0f, sd);
    nn_rng_fill_normal(rng, m->d.w1, ds[0], 0.0f, sd);
    nn_rng_fill_normal(rng, m->d.w2, ds[1], 0.0f, sd);
    nn_rng_fill_normal(rng, m->d.bn2_g, ds[2], 1.0f, sd);
    fill_const(m->d.bn2_b, ds[3], 0.0f);
    nn_rng_fill_normal(rng, m->d.w3, ds[4], 0.0f, sd);
    const size_t g2 = 2 * (size_t)c->ngf, g1 = (size_t)c->ngf, d2 = 2 * (size_t)c->ndf;
    fill_const(m->g_buf.bn1_mean, g2, 0.0f); fill_const(m->g_buf.bn1_var, g2, 1.0f);
    fill_const(m->g_buf.bn2_mean, g1, 0.0f); fill_const(m->g_buf.bn2_var, g1, 1.0f);
    fill_const(m->d_buf.bn2_mean, d2, 0.0f); fill_const(m->d_buf.bn2_var, d2, 1.0f);
    memset(m->g_grad_mem, 0, m->g_count * sizeof(float));
    memset(m->g_m_mem, 0, m->g_count * sizeof(float));
    memset(m->g_v_mem, 0, m->g_count * sizeof(float));
    nn_zero(m->d_grad_mem, m->d_count);
    memset(m->d_m_mem, 0, m->d_count * sizeof(float));
    memset(m->d_v_mem, 0, m->d_count * sizeof(float));
    m->g_t = m->d_t = 0;
}

/* ---- forward and backward passes ---------------------------------------- */

/* Label of sample b: labels[b], or b % GAN_CLASSES when labels is NULL. */
static int label_of(const uint8_t *labels, int b) {
    return labels ? labels[b] % GAN_CLASSES : b % GAN_CLASSES;
}

void gan_g_input(float *zin, const float *z, const uint8_t *labels, const gan_config *c, int B) {
    const int nz = c->nz;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < nz; i++) zin[(size_t)i * B + b] = z[(size_t)b * nz + i];
    if (!c->conditional) return;
    for (int k = 0; k < GAN_CLASSES; k++)
        for (int b = 0; b < B; b++)
            zin[(size_t)(nz + k) * B + b] = label_of(labels, b) == k ? 1.0f : 0.0f;
}

void gan_d_input(float *xin, const float *x, const uint8_t *labels, const gan_config *c, int B) {
    if (x != xin) memcpy(xin, x, (size_t)B * GAN_PIX * sizeof(float));
    if (!c->conditional) return;
    for (int k = 0; k < GAN_CLASSES; k++)     /* label planes [10][B][28][28] */
        for (int b = 0; b < B; b++) {
            float *plane = xin + ((size_t)(1 + k) * B + b) * GAN_PIX;
            const float v = label_of(labels, b) == k ? 1.0f : 0.0f;
            for (int i = 0; i < GAN_PIX; i++) plane[i] = v;
        }
}

/* Copy z [B][nz] and the labels into G's input and remember the labels for
 * D's passes over the fakes. */
static void set_g_input(gan_model *m, const float *z, const uint8_t *labels, int B) {
    gan_g_input(m->ga.z, z, labels, &m->cfg, B);
    for (int b = 0; b < B; b++) m->fake_labels[b] = (uint8_t)label_of(labels, b);
}

/* ---- training steps ------------------------------------------------------ */

/* Phase timing: tick() returns a timestamp only when profiling, and tock()
 * adds the time since it to a phase and returns the new timestamp. */
static double tick(const gan_model *m) {
    if (!m->profile) return 0.0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double tock(gan_model *m, gan_phase phase, double since) {
    if (!m->profile) return 0.0;
    const double now = tick(m);
    m->phase_s[phase] += now - since;
    return now;
}

static float mean_sigmoid(const float *x, int B) {
    double s = 0.0;
    for (int i = 0; i < B; i++) s += 1.0 / (1.0 + exp(-(double)x[i]));
    return (float)(s / B);
}

static float share_positive(const float *x, int B, int want_positive) {
    int n = 0;
    for (int i = 0; i < B; i++) n += want_positive ? (x[i] > 0.0f) : (x[i] < 0.0f);
    return (float)n / (float)B;
}

int gan_d_step(gan_model *m, const float *real, const uint8_t *real_labels, const float *z,
               const uint8_t *fake_labels, gan_metrics *out) {
    const gan_config *c = &m->cfg;
    const int B = c->batch;
    float *dlogits = m->dda.logits;
    double t = tick(m);
    nn_zero(m->d_grad_mem, m->d_count);

    /* real batch: target 1 */
    gan_d_forward(m, real, real_labels, B);
    const float loss_real = nn_bce_logits_forward(m->da.logits, 1.0f, B);
    out->d_acc_real = share_positive(m->da.logits, B, 1);
    out->d_real = mean_sigmoid(m->da.logits, B);
    memset(dlogits, 0, (size_t)B * sizeof(float));
    nn_bce_logits_backward(dlogits, m->da.logits, 1.0f, 1.0f, B);
    gan_d_backward(m, dlogits, NULL, 1, B);

    /* fake batch: target 0 (G's output is an input here, no gradient to G) */
    t = tock(m, GAN_PHASE_D, t);
    set_g_input(m, z, fake_labels, B);
    gan_g_forward(m, B);
    t = tock(m, GAN_PHASE_G_FORWARD, t);
    gan_d_forward(m, m->ga.out, m->fake_labels, B);
    const float loss_fake = nn_bce_logits_forward(m->da.logits, 0.0f, B);
    out->d_acc_fake = share_positive(m->da.logits, B, 0);
    out->d_fake = mean_sigmoid(m->da.logits, B);
    memset(dlogits, 0, (size_t)B * sizeof(float));
    nn_bce_logits_backward(dlogits, m->da.logits, 0.0f, 1.0f, B);
    gan_d_backward(m, dlogits, NULL, 1, B);

    out->d_loss = loss_real + loss_fake;
    out->d_acc = 0.5f * (out->d_acc_real + out->d_acc_fake);
    t = tock(m, GAN_PHASE_D, t);
    if (!isfinite(out->d_loss) || !nn_all_finite(m->d_grad_mem, m->d_count)) return -1;
    if (m->freeze_d) return 0;
    m->d_t++;
    const double ta = gan_prof_clock(m);
    nn_adam_update(m->d_mem, m->d_grad_mem, m->d_m_mem, m->d_v_mem, m->d_count,
                   c->lr_d, c->beta1, c->beta2, c->adam_eps, m->d_t);
    gan_prof_layer(m, GAN_L_ADAM, 0, 0.0, ta);
    tock(m, GAN_PHASE_OPTIMISER, t);
    return 0;
}

int gan_g_step(gan_model *m, const float *z, const uint8_t *labels, gan_metrics *out) {
    const gan_config *c = &m->cfg;
    const int B = c->batch;
    /* dL/d(D's input) [d_in][B][28][28]; its first channel is dL/dfake */
    float *dlogits = m->dda.logits, *dfake = m->dda.x;
    double t = tick(m);
    nn_zero(m->g_grad_mem, m->g_count);
    if (z) {
        set_g_input(m, z, labels, B);
        gan_g_forward(m, B);
    }
    t = tock(m, GAN_PHASE_G_FORWARD, t);
    /* non-saturating loss: G wants D to say "real" */
    gan_d_forward(m, m->ga.out, m->fake_labels, B);
    out->g_loss = nn_bce_logits_forward(m->da.logits, 1.0f, B);
    memset(dlogits, 0, (size_t)B * sizeof(float));
    nn_bce_logits_backward(dlogits, m->da.logits, 1.0f, 1.0f, B);
    nn_zero(dfake, (size_t)gan_d_in(c) * B * GAN_PIX);
    gan_d_backward(m, dlogits, dfake, 0, B);
    t = tock(m, GAN_PHASE_D, t);
    gan_g_backward(m, dfake, B);
    t = tock(m, GAN_PHASE_G_BACKWARD, t);
    if (!isfinite(out->g_loss) || !nn_all_finite(m->g_grad_mem, m->g_count)) return -1;
    if (m->freeze_g) return 0;
    m->g_t++;
    const double ta = gan_prof_clock(m);
    nn_adam_update(m->g_mem, m->g_grad_mem, m->g_m_mem, m->g_v_mem, m->g_count,
                   c->lr_g, c->beta1, c->beta2, c->adam_eps, m->g_t);
    gan_prof_layer(m, GAN_L_ADAM, 0, 0.0, ta);
    tock(m, GAN_PHASE_OPTIMISER, t);
    return 0;
}

/* ---- cost model ---------------------------------------------------------- */

double gan_iteration_flops(const gan_config *c) {
    const double B = c->batch, nz = gan_g_in(c), din = gan_d_in(c), g2 = 2.0 * c->ngf, g1 = c->ngf;
    const double d1 = c->ndf, d2 = 2.0 * c->ndf;
    /* one GEMM pass of each layer (forward, dW and dX all cost the same) */
    const double g_l1 = 2 * (g2 * 49) * B * nz, g_l2 = 2 * (g1 * 16) * (B * 49) * g2,
                 g_l3 = 2 * 16 * (B * 196) * g1;
    const double d_l1 = 2 * d1 * (B * 196) * (din * 16), d_l2 = 2 * d2 * (B * 49) * (d1 * 16),
                 d_l3 = 2 * 1 * B * (d2 * 49);
    const double g_fwd = g_l1 + g_l2 + g_l3, d_fwd = d_l1 + d_l2 + d_l3;
    const double g_bwd = g_fwd + g_l2 + g_l3;            /* dW all, dX of layers 2, 3 */
    const double d_bwd_params = d_fwd + d_l2 + d_l3;     /* dW all, dX of layers 2, 3 */
    const double d_bwd_input = d_fwd;                    /* dX all, no dW */
    const double d_step = g_fwd + 2 * d_fwd + 2 * d_bwd_params;
    const double g_step = d_fwd + d_bwd_input + g_bwd;   /* + a G forward after the first */
    return c->d_steps * d_step + c->g_steps * g_step + (c->g_steps - 1) * g_fwd;
}
