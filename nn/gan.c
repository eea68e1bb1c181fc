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
 * With cfg.projection D sees the image alone and its last layer gets a
 * class head instead (net.h): the logit of image b is conv3(h_b) +
 * <embed[y_b], h_b>, the projection discriminator of Miyato and Koyama.
 *
 * Recipe beyond the DCGAN's: the hinge loss, one-sided label smoothing, a
 * warm-up and half-life learning-rate schedule, a G EMA (cfg.ema) that
 * every sample is drawn from while the raw G trains, and spectral
 * normalisation of D's convolutions (cfg.spectral_norm): D's passes read
 * W / sigma from d_use, written before each train pass with one power
 * iteration, and the weight gradients go through W / sigma back to W
 * (gan_pass.c, nn_sn_*). The projection head's embedding is not normalised.
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
    c->ema = 0.0f; c->loss = GAN_LOSS_BCE; c->real_label = 1.0f;
    c->lr_warmup = 0; c->lr_half_life = 0;
    c->bn_eps = 1e-5f; c->bn_momentum = 0.1f;
    c->lrelu_slope = 0.2f; c->init_std = 0.02f;
}

/* ---- the two networks ----------------------------------------------------- */

/* G: a noise image (g_in x 1 x 1) up to 28 x 28 (widths x ngf). */
static const net_spec g_spec = {3, {
    /* op        width  k  s  p  BN  activation */
    {NET_CONVT,  2,     7, 1, 0, 1,  NET_RELU},     /* [2ngf][B][7][7] */
    {NET_CONVT,  1,     4, 2, 1, 1,  NET_RELU},     /* [ngf][B][14][14] */
    {NET_CONVT,  0,     4, 2, 1, 0,  NET_OUTPUT},   /* [1][B][28][28] tanh or ReLU */
}};

/* D: 28 x 28 down to one logit (widths x ndf). */
static const net_spec d_spec = {3, {
    {NET_CONV,   1,     4, 2, 1, 0,  NET_LRELU},    /* [ndf][B][14][14] */
    {NET_CONV,   2,     4, 2, 1, 1,  NET_LRELU},    /* [2ndf][B][7][7] */
    {NET_CONV,   0,     7, 1, 0, 0,  NET_NONE},     /* [1][B] logits */
}};

/* A conditional D sees its labels as input planes, unless it has a
 * projection head. */
static int label_planes(const gan_config *c) { return c->conditional && !c->projection; }

int gan_g_in(const gan_config *c) { return c->nz + (c->conditional ? GAN_CLASSES : 0); }
int gan_d_in(const gan_config *c) { return 1 + (label_planes(c) ? GAN_CLASSES : 0); }

int gan_nets(const gan_config *c, net *g, net *d) {
    const net_act out = c->g_output == GAN_OUT_RELU ? NET_RELU : NET_TANH;
    if (net_init(g, &g_spec, gan_g_in(c), 1, c->ngf, 1, out, c->lrelu_slope,
                 c->bn_eps, c->bn_momentum) < 0 ||
        net_init(d, &d_spec, gan_d_in(c), GAN_IMG, c->ndf, 1, NET_NONE, c->lrelu_slope,
                 c->bn_eps, c->bn_momentum) < 0 ||
        net_class_head(d, c->conditional && c->projection ? GAN_CLASSES : 0) < 0)
        return -1;
    /* the named structs of gan.h are views of these lists */
    if (g->nparams != GAN_G_NTENSORS || d->nparams != GAN_D_NTENSORS ||
        g->nstats != (int)(sizeof(gan_gbuffers) / sizeof(float *)) ||
        d->nstats != (int)(sizeof(((gan_dbuffers *)0)->t) / sizeof(float *)) || d->n != GAN_D_LAYERS ||
        g->nacts != (int)(sizeof(gan_gacts) / sizeof(float *)) ||
        d->nacts != (int)(sizeof(gan_dacts) / sizeof(float *)) ||
        g->L[g->n - 1].OH != GAN_IMG || d->L[d->n - 1].OH != 1)
        return -1;
    return 0;
}

/* ---- parameter blocks ---------------------------------------------------- */

/* G (which 0) or D (1) of config c; no layers when c gives no valid shapes
 * (gan_model_new refuses such a config, the other callers pass a model's). */
static net net_of(const gan_config *c, int which) {
    net g, d;
    if (gan_nets(c, &g, &d) < 0) memset(&g, 0, sizeof g), memset(&d, 0, sizeof d);
    return which ? d : g;
}

static void sizes_of(const gan_config *c, int which, size_t *s, int n) {
    const net k = net_of(c, which);
    for (int i = 0; i < n; i++) s[i] = 0;
    net_param_sizes(&k, s);
}

void gan_gparam_sizes(const gan_config *c, size_t s[GAN_G_NTENSORS]) { sizes_of(c, 0, s, GAN_G_NTENSORS); }
void gan_dparam_sizes(const gan_config *c, size_t s[GAN_D_NTENSORS]) { sizes_of(c, 1, s, GAN_D_NTENSORS); }
size_t gan_gparam_count(const gan_config *c) { const net n = net_of(c, 0); return net_param_count(&n); }
size_t gan_dparam_count(const gan_config *c) { const net n = net_of(c, 1); return net_param_count(&n); }
size_t gan_gbuffer_count(const gan_config *c) { const net n = net_of(c, 0); return net_stat_count(&n); }
/* Columns of a conv weight read as a matrix [OC][C*K*K] (spectral norm's v). */
static int sn_cols(const net_lay *l) { return l->C * l->K * l->K; }

/* Floats of the spectral norm's vectors u and v of every conv layer of d. */
static size_t sn_count(const gan_config *c, const net *d) {
    size_t t = 0;
    for (int i = 0; c->spectral_norm && i < d->n; i++) t += (size_t)d->L[i].OC + (size_t)sn_cols(&d->L[i]);
    return t;
}

size_t gan_dbuffer_count(const gan_config *c) {
    const net n = net_of(c, 1);
    return net_stat_count(&n) + sn_count(c, &n);
}

void gan_gparams_point(gan_gparams *p, float *block, const gan_config *c) {
    const net n = net_of(c, 0);
    net_params_point(&n, p->t, block);
}

void gan_dparams_point(gan_dparams *p, float *block, const gan_config *c) {
    const net n = net_of(c, 1);
    net_params_point(&n, p->t, block);
}

void gan_gbuffers_point(gan_gbuffers *b, float *block, const gan_config *c) {
    const net n = net_of(c, 0);
    net_stats_point(&n, b->t, block);
}

void gan_dbuffers_point(gan_dbuffers *b, float *block, const gan_config *c) {
    const net n = net_of(c, 1);
    net_stats_point(&n, b->t, block);
    block += net_stat_count(&n);
    for (int i = 0; i < GAN_D_LAYERS; i++) {
        const net_lay *l = &n.L[i];
        b->sn_u[i] = c->spectral_norm ? block : NULL;
        b->sn_v[i] = c->spectral_norm ? block + l->OC : NULL;
        if (c->spectral_norm) block += (size_t)l->OC + (size_t)sn_cols(l);
    }
}

void gan_d_spectral_lists(const net *d, float **use, float *const *params, float *block) {
    float *at[NET_MAX_PARAMS];
    net_params_point(d, at, block);
    for (int i = 0; i < d->nparams; i++) use[i] = params[i];
    for (int i = 0; i < d->n; i++) use[d->L[i].w_at] = at[d->L[i].w_at];
}

void gan_d_spectral(const gan_config *c, const net *d, float *const *use, float *const *params,
                    const gan_dbuffers *buf, float sigma[GAN_D_LAYERS], int train) {
    for (int i = 0; c->spectral_norm && i < d->n; i++) {
        const net_lay *l = &d->L[i];
        sigma[i] = nn_sn_forward(use[l->w_at], buf->sn_u[i], buf->sn_v[i], params[l->w_at],
                                 l->OC, sn_cols(l), train);
    }
}

void gan_d_spectral_backward(const gan_config *c, const net *d, float *const *grad,
                             float *const *use_grad, float *const *use, const gan_dbuffers *buf,
                             const float sigma[GAN_D_LAYERS]) {
    for (int i = 0; c->spectral_norm && i < d->n; i++) {
        const net_lay *l = &d->L[i];
        nn_sn_backward(grad[l->w_at], use_grad[l->w_at], use[l->w_at], buf->sn_u[i], buf->sn_v[i],
                       sigma[i], l->OC, sn_cols(l));
    }
}

/* ---- activations --------------------------------------------------------- */

/* Activations (net.h's layout): G's gradient twin has no z, batch
 * statistics or out, and dL/da1, dL/dc1 reuse dL/da2, dL/dc2's memory
 * (saves 2*ngf*B*49*2 floats, 6.4 MB for the default model); D's has
 * dL/dx (the G step's dL/dfake) and no im2col buffers. */
static size_t gacts_layout(const gan_model *m, gan_gacts *a, float *base, int grad) {
    return net_acts_layout(&m->gnet, a->t, base, m->cfg.batch, grad ? NET_GRAD : 0);
}

static size_t dacts_layout(const gan_model *m, gan_dacts *a, float *base, int grad) {
    return net_acts_layout(&m->dnet, a->t, base, m->cfg.batch, grad ? NET_GRAD | NET_GRAD_INPUT : 0);
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
    if (gan_nets(c, &m->gnet, &m->dnet) < 0) { free(m); return NULL; }
    m->g_count = net_param_count(&m->gnet);
    m->d_count = net_param_count(&m->dnet);
    const int B = c->batch;
    const size_t ga = gacts_layout(m, &m->ga, NULL, 0);
    const size_t dga = gacts_layout(m, &m->dga, NULL, 1);
    const size_t da = dacts_layout(m, &m->da, NULL, 0);
    const size_t dda = dacts_layout(m, &m->dda, NULL, 1);
    m->act_floats = ga + da;
    const size_t gs = net_scratch_floats(&m->gnet, B), ds = net_scratch_floats(&m->dnet, B);
    m->scratch_floats = gs > ds ? gs : ds;   /* shared col / dcol scratch */
    float **blocks[] = {&m->g_mem, &m->g_grad_mem, &m->g_m_mem, &m->g_v_mem, &m->g_buf_mem,
                        &m->d_mem, &m->d_grad_mem, &m->d_m_mem, &m->d_v_mem, &m->d_buf_mem,
                        &m->act_mem, &m->dact_mem, &m->scratch, &m->g_ema_mem, &m->d_sn_mem};
    const size_t counts[] = {m->g_count, m->g_count, m->g_count, m->g_count, net_stat_count(&m->gnet),
                             m->d_count, m->d_count, m->d_count, m->d_count, gan_dbuffer_count(c),
                             ga + da, dga + dda, m->scratch_floats,
                             m->g_count + net_stat_count(&m->gnet),
                             c->spectral_norm ? 2 * m->d_count : 1};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        *blocks[i] = calloc(counts[i], sizeof(float));
        if (!*blocks[i]) { gan_model_free(m); return NULL; }
    }
    m->fake_labels = calloc((size_t)B, 1);
    m->d_labels = calloc((size_t)B, 1);
    if (!m->fake_labels || !m->d_labels) { gan_model_free(m); return NULL; }
    gan_gparams *gp[] = {&m->g, &m->g_grad, &m->g_m, &m->g_v};
    gan_dparams *dp[] = {&m->d, &m->d_grad, &m->d_m, &m->d_v};
    float *gmem[] = {m->g_mem, m->g_grad_mem, m->g_m_mem, m->g_v_mem};
    float *dmem[] = {m->d_mem, m->d_grad_mem, m->d_m_mem, m->d_v_mem};
    for (int i = 0; i < 4; i++) {
        net_params_point(&m->gnet, gp[i]->t, gmem[i]);
        net_params_point(&m->dnet, dp[i]->t, dmem[i]);
    }
    net_stats_point(&m->gnet, m->g_buf.t, m->g_buf_mem);
    gan_dbuffers_point(&m->d_buf, m->d_buf_mem, c);
    /* what D's passes read and write: the weights themselves, or W / sigma */
    m->d_use = m->d;
    m->d_use_grad = m->d_grad;
    if (c->spectral_norm) {
        gan_d_spectral_lists(&m->dnet, m->d_use.t, m->d.t, m->d_sn_mem);
        gan_d_spectral_lists(&m->dnet, m->d_use_grad.t, m->d_grad.t, m->d_sn_mem + m->d_count);
    }
    gacts_layout(m, &m->ga, m->act_mem, 0);
    dacts_layout(m, &m->da, m->act_mem + ga, 0);
    gacts_layout(m, &m->dga, m->dact_mem, 1);
    dacts_layout(m, &m->dda, m->dact_mem + dga, 1);
    return m;
}

void gan_model_free(gan_model *m) {
    if (!m) return;
    free(m->g_mem); free(m->g_grad_mem); free(m->g_m_mem); free(m->g_v_mem); free(m->g_buf_mem);
    free(m->d_mem); free(m->d_grad_mem); free(m->d_m_mem); free(m->d_v_mem); free(m->d_buf_mem);
    free(m->act_mem); free(m->dact_mem); free(m->scratch); free(m->fake_labels); free(m->g_ema_mem);
    free(m->d_labels); free(m->d_sn_mem);
    free(m);
}

static void fill_const(float *x, size_t n, float v) { for (size_t i = 0; i < n; i++) x[i] = v; }

/* DCGAN init of one network: conv weights N(0, sd), BN gamma N(1, sd),
 * beta 0, running mean 0 / var 1, in tensor order. */
static void init_net(const net *n, float *const *p, float *const *st, nn_rng *rng, float sd) {
    size_t s[NET_MAX_PARAMS];
    net_param_sizes(n, s);
    for (int i = 0; i < n->n; i++) {
        const net_lay *l = &n->L[i];
        nn_rng_fill_normal(rng, p[l->w_at], s[l->w_at], 0.0f, sd);
        if (!l->bn) continue;
        nn_rng_fill_normal(rng, p[l->gamma_at], (size_t)l->OC, 1.0f, sd);
        fill_const(p[l->gamma_at + 1], (size_t)l->OC, 0.0f);
        fill_const(st[l->mean_at], (size_t)l->OC, 0.0f);
        fill_const(st[l->mean_at + 1], (size_t)l->OC, 1.0f);
    }
}

void gan_model_init(gan_model *m, nn_rng *rng) {
    const float sd = m->cfg.init_std;
    init_net(&m->gnet, m->g.t, m->g_buf.t, rng, sd);
    init_net(&m->dnet, m->d.t, m->d_buf.t, rng, sd);
    size_t ds[NET_MAX_PARAMS];              /* the projection head, like a conv weight */
    net_param_sizes(&m->dnet, ds);
    nn_rng_fill_normal(rng, m->d.embed, ds[m->dnet.head_at], 0.0f, sd);
    for (int i = 0; m->cfg.spectral_norm && i < m->dnet.n; i++) {   /* last: the draws
                                                                   above stay as they were */
        const net_lay *l = &m->dnet.L[i];
        nn_sn_init(m->d_buf.sn_u[i], m->d_buf.sn_v[i], l->OC, sn_cols(l), rng);
    }
    memset(m->g_grad_mem, 0, m->g_count * sizeof(float));
    memset(m->g_m_mem, 0, m->g_count * sizeof(float));
    memset(m->g_v_mem, 0, m->g_count * sizeof(float));
    nn_zero(m->d_grad_mem, m->d_count);
    memset(m->d_m_mem, 0, m->d_count * sizeof(float));
    memset(m->d_v_mem, 0, m->d_count * sizeof(float));
    m->g_t = m->d_t = 0;
    gan_ema_reset(m);
}

void gan_ema_reset(gan_model *m) {
    memcpy(m->g_ema_mem, m->g_mem, m->g_count * sizeof(float));
    memcpy(m->g_ema_mem + m->g_count, m->g_buf_mem, net_stat_count(&m->gnet) * sizeof(float));
}

const float *gan_sample_gparams(const gan_model *m) {
    return m->cfg.ema > 0.0f ? m->g_ema_mem : m->g_mem;
}

const float *gan_sample_gbuffers(const gan_model *m) {
    return m->cfg.ema > 0.0f ? m->g_ema_mem + m->g_count : m->g_buf_mem;
}

void gan_ema_update(gan_model *m) {
    const float t = (float)m->g_t;
    float decay = (1.0f + t) / (10.0f + t);
    if (decay > m->cfg.ema) decay = m->cfg.ema;
    nn_ema_update(m->g_ema_mem, m->g_mem, m->g_count, decay);
    nn_ema_update(m->g_ema_mem + m->g_count, m->g_buf_mem, net_stat_count(&m->gnet), decay);
}

float gan_lr_factor(const gan_config *c, long t) {
    float f = 1.0f;
    if (c->lr_warmup > 0 && t < c->lr_warmup) f = (float)t / (float)c->lr_warmup;
    if (c->lr_half_life > 0) f *= exp2f(-(float)t / (float)c->lr_half_life);
    return f;
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
    if (!label_planes(c)) return;
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

/* D's loss over the logits in m->da.logits for real (1) or fake (0) images;
 * writes dL/dlogits into dlogits [B]. */
static float d_loss(gan_model *m, float *dlogits, int real) {
    const gan_config *c = &m->cfg;
    const int B = c->batch;
    memset(dlogits, 0, (size_t)B * sizeof(float));
    if (c->loss == GAN_LOSS_HINGE) {          /* relu(1 - x) for real, relu(1 + x) for fake */
        const float sign = real ? 1.0f : -1.0f;
        nn_hinge_backward(dlogits, m->da.logits, sign, 1.0f, B);
        return nn_hinge_forward(m->da.logits, sign, B);
    }
    const float target = real ? c->real_label : 0.0f;
    nn_bce_logits_backward(dlogits, m->da.logits, target, 1.0f, B);
    return nn_bce_logits_forward(m->da.logits, target, B);
}

int gan_d_step(gan_model *m, const float *real, const uint8_t *real_labels, const float *z,
               const uint8_t *fake_labels, gan_metrics *out) {
    const gan_config *c = &m->cfg;
    const int B = c->batch;
    float *dlogits = m->dda.logits;
    double t = tick(m);
    nn_zero(m->d_grad_mem, m->d_count);

    /* real batch: target real_label (BCE) or +1 (hinge) */
    gan_d_forward(m, real, real_labels, B);
    const float loss_real = d_loss(m, dlogits, 1);
    out->d_acc_real = share_positive(m->da.logits, B, 1);
    out->d_real = mean_sigmoid(m->da.logits, B);
    gan_d_backward(m, dlogits, NULL, 1, B);

    /* fake batch: target 0 (G's output is an input here, no gradient to G) */
    t = tock(m, GAN_PHASE_D, t);
    set_g_input(m, z, fake_labels, B);
    gan_g_forward(m, B);
    t = tock(m, GAN_PHASE_G_FORWARD, t);
    gan_d_forward(m, m->ga.out, m->fake_labels, B);
    const float loss_fake = d_loss(m, dlogits, 0);
    out->d_acc_fake = share_positive(m->da.logits, B, 0);
    out->d_fake = mean_sigmoid(m->da.logits, B);
    gan_d_backward(m, dlogits, NULL, 1, B);

    out->d_loss = loss_real + loss_fake;
    out->d_acc = 0.5f * (out->d_acc_real + out->d_acc_fake);
    t = tock(m, GAN_PHASE_D, t);
    if (!isfinite(out->d_loss) || !nn_all_finite(m->d_grad_mem, m->d_count)) return -1;
    if (m->freeze_d) return 0;
    m->d_t++;
    const double ta = gan_prof_clock(m);
    nn_adam_update(m->d_mem, m->d_grad_mem, m->d_m_mem, m->d_v_mem, m->d_count,
                   c->lr_d * gan_lr_factor(c, m->d_t), c->beta1, c->beta2, c->adam_eps, m->d_t);
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
    /* G wants D to say "real": non-saturating BCE, or -D(G(z)) under hinge */
    gan_d_forward(m, m->ga.out, m->fake_labels, B);
    memset(dlogits, 0, (size_t)B * sizeof(float));
    if (c->loss == GAN_LOSS_HINGE) {
        out->g_loss = nn_neg_mean_forward(m->da.logits, B);
        nn_neg_mean_backward(dlogits, 1.0f, B);
    } else {
        out->g_loss = nn_bce_logits_forward(m->da.logits, 1.0f, B);
        nn_bce_logits_backward(dlogits, m->da.logits, 1.0f, 1.0f, B);
    }
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
                   c->lr_g * gan_lr_factor(c, m->g_t), c->beta1, c->beta2, c->adam_eps, m->g_t);
    if (c->ema > 0.0f) gan_ema_update(m);
    gan_prof_layer(m, GAN_L_ADAM, 0, 0.0, ta);
    tock(m, GAN_PHASE_OPTIMISER, t);
    return 0;
}

/* ---- cost model ---------------------------------------------------------- */

double gan_iteration_flops(const gan_config *c) {
    net g, d;
    if (gan_nets(c, &g, &d) < 0) return 0.0;
    /* one GEMM pass of each layer (forward, dW and dX all cost the same) */
    double g_fwd = 0, d_fwd = 0, g_dx = 0, d_dx = 0;   /* dX: all layers but the first */
    for (int i = 0; i < g.n; i++) {
        const double l = net_layer_flop(&g.L[i], c->batch);
        g_fwd += l;
        if (i) g_dx += l;
    }
    for (int i = 0; i < d.n; i++) {
        const double l = net_layer_flop(&d.L[i], c->batch);
        d_fwd += l;
        if (i) d_dx += l;
    }
    const double g_bwd = g_fwd + g_dx;                   /* dW all, dX of layers 2.. */
    const double d_bwd_params = d_fwd + d_dx;            /* dW all, dX of layers 2.. */
    const double d_bwd_input = d_fwd;                    /* dX all, no dW */
    const double d_step = g_fwd + 2 * d_fwd + 2 * d_bwd_params;
    const double g_step = d_fwd + d_bwd_input + g_bwd;   /* + a G forward after the first */
    return c->d_steps * d_step + c->g_steps * g_step + (c->g_steps - 1) * g_fwd;
}
