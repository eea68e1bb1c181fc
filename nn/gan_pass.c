/* gan_pass.c - the forward and backward passes of G and D, layer by layer.
 *
 * Each pass is the layers of gan.h called in order on the model's buffers
 * (activations channel-major [C][B][H][W]). When m->profile is set, every
 * layer call is timed and its GEMM FLOPs counted per direction
 * (m->layer_s, m->layer_flop), which is how `ganlive bench` shows where an
 * iteration goes; otherwise the timers cost one branch per layer.
 */
#include <time.h>
#include "gan.h"

static const char *const layer_names[GAN_LAYER_COUNT] = {
    [GAN_L_G1] = "G convT1 z->7x7",  [GAN_L_G_BN1] = "G BN1+ReLU",
    [GAN_L_G2] = "G convT2 7->14",   [GAN_L_G_BN2] = "G BN2+ReLU",
    [GAN_L_G3] = "G convT3 14->28",  [GAN_L_G_OUT] = "G tanh",
    [GAN_L_D1] = "D conv1 28->14",   [GAN_L_D_ACT1] = "D LeakyReLU1",
    [GAN_L_D2] = "D conv2 14->7",    [GAN_L_D_BN2] = "D BN2+LeakyReLU",
    [GAN_L_D3] = "D conv3 7->1",     [GAN_L_ADAM] = "Adam (G and D)",
};

const char *gan_layer_name(gan_layer l) {
    return l >= 0 && l < GAN_LAYER_COUNT ? layer_names[l] : "?";
}

/* Timestamp when profiling, else 0. */
double gan_prof_clock(const gan_model *m) {
    if (!m->profile) return 0.0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Book the time since t0 and `flop` GEMM FLOPs to a layer and direction
 * (0 forward, 1 backward); returns the new timestamp. */
double gan_prof_layer(gan_model *m, gan_layer l, int dir, double flop, double t0) {
    if (!m->profile) return 0.0;
    const double now = gan_prof_clock(m);
    m->layer_s[l][dir] += now - t0;
    m->layer_flop[l][dir] += flop;
    return now;
}

/* GEMM FLOPs of one pass of a (transposed) convolution: 2 * out * in * K*K
 * per pixel of the smaller grid, times the batch. */
static double conv_flop(int B, int C, int OC, int K, int pixels) {
    return 2.0 * B * pixels * (double)C * OC * K * K;
}

void gan_g_forward(gan_model *m, int B) {
    const gan_config *c = &m->cfg;
    const int g2 = 2 * c->ngf, g1 = c->ngf, gin = gan_g_in(c);
    gan_gacts *a = &m->ga;
    float *col = m->scratch;
    double t = gan_prof_clock(m);
    nn_convt2d_forward(a->c1, col, a->z, m->g.w1, B, gin, 1, 1, g2, 7, 1, 0);
    t = gan_prof_layer(m, GAN_L_G1, 0, conv_flop(B, gin, g2, 7, 1), t);
    nn_batchnorm_act_forward(a->a1, a->bn1_mean, a->bn1_rstd, a->c1, m->g.bn1_g, m->g.bn1_b,
                             m->g_buf.bn1_mean, m->g_buf.bn1_var, c->bn_momentum, c->bn_eps,
                             0.0f, g2, B * 49);
    t = gan_prof_layer(m, GAN_L_G_BN1, 0, 0.0, t);
    nn_convt2d_forward(a->c2, col, a->a1, m->g.w2, B, g2, 7, 7, g1, 4, 2, 1);
    t = gan_prof_layer(m, GAN_L_G2, 0, conv_flop(B, g2, g1, 4, 49), t);
    nn_batchnorm_act_forward(a->a2, a->bn2_mean, a->bn2_rstd, a->c2, m->g.bn2_g, m->g.bn2_b,
                             m->g_buf.bn2_mean, m->g_buf.bn2_var, c->bn_momentum, c->bn_eps,
                             0.0f, g1, B * 196);
    t = gan_prof_layer(m, GAN_L_G_BN2, 0, 0.0, t);
    nn_convt2d_forward(a->c3, col, a->a2, m->g.w3, B, g1, 14, 14, 1, 4, 2, 1);
    t = gan_prof_layer(m, GAN_L_G3, 0, conv_flop(B, g1, 1, 4, 196), t);
    if (c->g_output == GAN_OUT_TANH) nn_tanh_forward(a->out, a->c3, (size_t)B * GAN_PIX);
    else nn_relu_forward(a->out, a->c3, (size_t)B * GAN_PIX);
    gan_prof_layer(m, GAN_L_G_OUT, 0, 0.0, t);
}

void gan_d_forward(gan_model *m, const float *x, const uint8_t *labels, int B) {
    const gan_config *c = &m->cfg;
    const int d1 = c->ndf, d2 = 2 * c->ndf, din = gan_d_in(c);
    gan_dacts *a = &m->da;
    double t = gan_prof_clock(m);
    gan_d_input(a->x, x, labels, c, B);
    nn_conv2d_forward(a->c1, a->col1, a->x, m->d.w1, B, din, 28, 28, d1, 4, 2, 1);
    t = gan_prof_layer(m, GAN_L_D1, 0, conv_flop(B, din, d1, 4, 196), t);
    nn_leaky_relu_forward(a->a1, a->c1, c->lrelu_slope, (size_t)d1 * B * 196);
    t = gan_prof_layer(m, GAN_L_D_ACT1, 0, 0.0, t);
    nn_conv2d_forward(a->c2, a->col2, a->a1, m->d.w2, B, d1, 14, 14, d2, 4, 2, 1);
    t = gan_prof_layer(m, GAN_L_D2, 0, conv_flop(B, d1, d2, 4, 49), t);
    nn_batchnorm_act_forward(a->a2, a->bn2_mean, a->bn2_rstd, a->c2, m->d.bn2_g, m->d.bn2_b,
                             m->d_buf.bn2_mean, m->d_buf.bn2_var, c->bn_momentum, c->bn_eps,
                             c->lrelu_slope, d2, B * 49);
    t = gan_prof_layer(m, GAN_L_D_BN2, 0, 0.0, t);
    nn_conv_full_forward(a->logits, a->a2, m->d.w3, B, d2, 49, 1);
    gan_prof_layer(m, GAN_L_D3, 0, conv_flop(B, d2, 1, 7, 1), t);
}

void gan_d_backward(gan_model *m, const float *dlogits, float *dx, int want_dparams, int B) {
    const gan_config *c = &m->cfg;
    const int d1 = c->ndf, d2 = 2 * c->ndf, din = gan_d_in(c);
    const gan_dacts *a = &m->da;
    gan_dacts *g = &m->dda;
    gan_dparams *dp = want_dparams ? &m->d_grad : NULL;
    float *dcol = m->scratch;
    const size_t n1 = (size_t)d1 * B * 196, n2 = (size_t)d2 * B * 49;
    const double passes = want_dparams ? 2.0 : 1.0;   /* dX (and dW) */
    double t = gan_prof_clock(m);
    nn_zero(g->a2, n2);
    nn_conv_full_backward(g->a2, dp ? dp->w3 : NULL, a->a2, m->d.w3, dlogits, B, d2, 49, 1);
    t = gan_prof_layer(m, GAN_L_D3, 1, passes * conv_flop(B, d2, 1, 7, 1), t);
    nn_zero(g->c2, n2);
    nn_batchnorm_act_backward(g->c2, dp ? dp->bn2_g : NULL, dp ? dp->bn2_b : NULL, g->a2,
                              a->a2, a->c2, a->bn2_mean, a->bn2_rstd, m->d.bn2_g,
                              c->lrelu_slope, d2, B * 49);
    t = gan_prof_layer(m, GAN_L_D_BN2, 1, 0.0, t);
    nn_zero(g->a1, n1);
    nn_conv2d_backward(g->a1, dp ? dp->w2 : NULL, dcol, a->col2, m->d.w2, g->c2,
                       B, d1, 14, 14, d2, 4, 2, 1);
    t = gan_prof_layer(m, GAN_L_D2, 1, passes * conv_flop(B, d1, d2, 4, 49), t);
    nn_zero(g->c1, n1);
    nn_leaky_relu_backward(g->c1, a->a1, g->a1, c->lrelu_slope, n1);
    t = gan_prof_layer(m, GAN_L_D_ACT1, 1, 0.0, t);
    nn_conv2d_backward(dx, dp ? dp->w1 : NULL, dcol, a->col1, m->d.w1, g->c1,
                       B, din, 28, 28, d1, 4, 2, 1);
    gan_prof_layer(m, GAN_L_D1, 1, ((dx ? 1 : 0) + (dp ? 1 : 0)) * conv_flop(B, din, d1, 4, 196), t);
}

void gan_g_backward(gan_model *m, const float *dimages, int B) {
    const gan_config *c = &m->cfg;
    const int g2 = 2 * c->ngf, g1 = c->ngf, gin = gan_g_in(c);
    const gan_gacts *a = &m->ga;
    gan_gacts *g = &m->dga;
    gan_gparams *dp = &m->g_grad;
    float *dcol = m->scratch;
    const size_t n1 = (size_t)g2 * B * 49, n2 = (size_t)g1 * B * 196, n3 = (size_t)B * GAN_PIX;
    double t = gan_prof_clock(m);
    nn_zero(g->c3, n3);
    if (c->g_output == GAN_OUT_TANH) nn_tanh_backward(g->c3, a->out, dimages, n3);
    else nn_relu_backward(g->c3, a->out, dimages, n3);
    t = gan_prof_layer(m, GAN_L_G_OUT, 1, 0.0, t);
    nn_zero(g->a2, n2);
    nn_convt2d_backward(g->a2, dp->w3, dcol, a->a2, m->g.w3, g->c3, B, g1, 14, 14, 1, 4, 2, 1);
    t = gan_prof_layer(m, GAN_L_G3, 1, 2 * conv_flop(B, g1, 1, 4, 196), t);
    nn_zero(g->c2, n2);
    nn_batchnorm_act_backward(g->c2, dp->bn2_g, dp->bn2_b, g->a2, a->a2, a->c2, a->bn2_mean,
                              a->bn2_rstd, m->g.bn2_g, 0.0f, g1, B * 196);
    t = gan_prof_layer(m, GAN_L_G_BN2, 1, 0.0, t);
    nn_zero(g->a1, n1);
    nn_convt2d_backward(g->a1, dp->w2, dcol, a->a1, m->g.w2, g->c2, B, g2, 7, 7, g1, 4, 2, 1);
    t = gan_prof_layer(m, GAN_L_G2, 1, 2 * conv_flop(B, g2, g1, 4, 49), t);
    nn_zero(g->c1, n1);
    nn_batchnorm_act_backward(g->c1, dp->bn1_g, dp->bn1_b, g->a1, a->a1, a->c1, a->bn1_mean,
                              a->bn1_rstd, m->g.bn1_g, 0.0f, g2, B * 49);
    t = gan_prof_layer(m, GAN_L_G_BN1, 1, 0.0, t);
    nn_convt2d_backward(NULL, dp->w1, dcol, a->z, m->g.w1, g->c1, B, gin, 1, 1, g2, 7, 1, 0);
    gan_prof_layer(m, GAN_L_G1, 1, conv_flop(B, gin, g2, 7, 1), t);
}
