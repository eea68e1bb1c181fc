/* gan_pass.c - the forward and backward passes of G and D, layer by layer.
 *
 * Each pass is net.h's generic pass over the network's table (gan.c) on
 * the model's buffers (activations channel-major [C][B][H][W]). When
 * m->profile is set, every layer call is timed and its GEMM FLOPs counted
 * per direction (m->layer_s, m->layer_flop), which is how `ganlive bench`
 * shows where an iteration goes; otherwise the timers cost one branch per
 * layer.
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

/* The model's per-layer profile for one network (NULL when not profiling):
 * layer i of G books to GAN_L_G1 + 2i (its convolution) and + 1 (its
 * BN/activation), D's from GAN_L_D1. */
static net_prof *prof_of(gan_model *m, net_prof *pr, gan_layer base) {
    if (!m->profile) return NULL;
    pr->s = m->layer_s;
    pr->flop = m->layer_flop;
    pr->base = base;
    return pr;
}

void gan_g_forward(gan_model *m, int B) {
    net_prof pr;
    net_forward(&m->gnet, m->ga.t, m->g.t, m->g_buf.t, m->scratch, NULL, B, 1,
                prof_of(m, &pr, GAN_L_G1));
}

void gan_d_forward(gan_model *m, const float *x, const uint8_t *labels, int B) {
    net_prof pr;
    gan_d_input(m->da.x, x, labels, &m->cfg, B);
    for (int b = 0; b < B; b++)       /* for the projection head's backward */
        m->d_labels[b] = (uint8_t)(labels ? labels[b] % GAN_CLASSES : b % GAN_CLASSES);
    /* spectral_norm: W / sigma into d_use, one power iteration per pass as
     * PyTorch's train mode (real, fake and the G step's pass each move u, v) */
    gan_d_spectral(&m->cfg, &m->dnet, m->d_use.t, m->d.t, &m->d_buf, m->d_sigma, 1);
    net_forward(&m->dnet, m->da.t, m->d_use.t, m->d_buf.t, m->scratch, m->d_labels, B, 1,
                prof_of(m, &pr, GAN_L_D1));
}

void gan_d_backward(gan_model *m, const float *dlogits, float *dx, int want_dparams, int B) {
    net_prof pr;
    const int sn = m->cfg.spectral_norm && want_dparams;
    for (int i = 0; sn && i < m->dnet.n; i++) {   /* this pass's dL/d(W / sigma) */
        const net_lay *l = &m->dnet.L[i];
        nn_zero(m->d_use_grad.t[l->w_at], (size_t)l->OC * l->C * l->K * l->K);
    }
    net_backward(&m->dnet, m->dda.t, m->da.t, m->d_use.t, want_dparams ? m->d_use_grad.t : NULL, dx,
                 dlogits, m->scratch, m->d_labels, B, prof_of(m, &pr, GAN_L_D1));
    if (sn)   /* ... through W / sigma into dL/dW */
        gan_d_spectral_backward(&m->cfg, &m->dnet, m->d_grad.t, m->d_use_grad.t, m->d_use.t, &m->d_buf,
                                m->d_sigma);
}

void gan_g_backward(gan_model *m, const float *dimages, int B) {
    net_prof pr;
    net_backward(&m->gnet, m->dga.t, m->ga.t, m->g.t, m->g_grad.t, NULL, dimages, m->scratch, NULL, B,
                 prof_of(m, &pr, GAN_L_G1));
}
