/* gan.h - the DCGAN of ganlive: configuration, parameters, one training
 * iteration, and eval-mode sampling.
 *
 * Generator (defaults nz=100, ngf=128):
 *   z [nz][B] (a nz x 1 x 1 noise image)
 *   -> ConvT(nz -> 2*ngf, k7 s1 p0)  [2ngf][B][7][7]   -> BN -> ReLU
 *   -> ConvT(2ngf -> ngf, k4 s2 p1)  [ngf][B][14][14]  -> BN -> ReLU
 *   -> ConvT(ngf -> 1,    k4 s2 p1)  [1][B][28][28]    -> tanh (or ReLU)
 * Discriminator (default ndf=64):
 *   x [1][B][28][28] (conditional: + 10 label planes, or a projection head)
 *   -> Conv(1 -> ndf, k4 s2 p1)      [ndf][B][14][14]  -> LeakyReLU(0.2)
 *   -> Conv(ndf -> 2ndf, k4 s2 p1)   [2ndf][B][7][7]   -> BN -> LeakyReLU(0.2)
 *   -> Conv(2ndf -> 1, k7 s1 p0)     [1][B]  one logit per image
 * The code runs these from one table per network (g_spec, d_spec at the
 * top of gan.c, net.h): every size, layout and pass follows from it, for
 * training, sampling and D's verdicts alike.
 *
 * Memory: each network owns one block per role (params, grads, Adam m,
 * Adam v, BN running statistics, activations) with a struct of named
 * pointers into it. Parameters of G and D are laid out back to back in
 * the order of gan_gparams / gan_dparams, so the optimiser is one flat loop
 * and a checkpoint is one write per block.
 *
 * Threads: a gan_model belongs to the trainer thread. Sampling for other
 * threads goes through a gan_sampler, which has its own buffers and reads a
 * copy of the generator's parameters and running statistics.
 */
#ifndef GANLIVE_GAN_H
#define GANLIVE_GAN_H

#include <stddef.h>
#include <stdint.h>
#include "nn.h"
#include "net.h"

#define GAN_IMG 28            /* image side */
#define GAN_PIX (GAN_IMG * GAN_IMG)
#define GAN_CLASSES 10        /* labels of a conditional model */
/* The largest model gan_model_new builds (the settings table, server/config.c,
 * and the checkpoint reader take their ranges from these). */
#define GAN_NZ_MAX 1024       /* noise channels */
#define GAN_WIDTH_MAX 1024    /* ngf, ndf */
#define GAN_BATCH_MAX 1024    /* images per batch */

typedef enum { GAN_OUT_TANH = 0, GAN_OUT_RELU = 1 } gan_output;
/* The adversarial loss: the DCGAN's cross-entropy (G's non-saturating form),
 * or the hinge loss (D: relu(1 - D(x)) + relu(1 + D(G(z))), G: -D(G(z))). */
typedef enum { GAN_LOSS_BCE = 0, GAN_LOSS_HINGE = 1 } gan_loss;

/* Every setting of the model and its training recipe. */
typedef struct {
    /* architecture (fixed for a run) */
    int nz, ngf, ndf;
    gan_output g_output;
    int conditional;    /* 1: G and D also see the class label (GAN_CLASSES) */
    int projection;     /* conditional D: 1 = a projection head (D's last layer gets a
                           class embedding, net.h's class head), 0 = label planes */
    int spectral_norm;  /* 1: D's convolutions use W / sigma(W), sigma its largest
                           singular value by one power iteration per training pass
                           (nn_sn_*; the vectors live in D's buffers) */
    int batch;
    /* recipe (live-tunable between iterations) */
    float lr_d, lr_g, beta1, beta2, adam_eps;
    int d_steps, g_steps;
    /* recipe (fixed for a run; 0 / 1 give the classic DCGAN) */
    float ema;          /* decay of the generator's moving average (G EMA) that samples
                           come from; 0 = none, samples come from G itself */
    gan_loss loss;
    float real_label;   /* D's target for real images under BCE: 1, or less for one-sided
                           label smoothing */
    int lr_warmup;      /* Adam steps over which both learning rates rise linearly to lr */
    int lr_half_life;   /* then halve every this many steps; 0 = constant */
    /* constants of the recipe */
    float bn_eps, bn_momentum, lrelu_slope, init_std;
} gan_config;

void gan_config_default(gan_config *c);

/* Named pointers into one parameter-shaped block (params, grads, m or v). */
/* Each is a union: the names, and t[], the same pointers in the order of
 * net.h's tensor lists (what the generic passes take). */
#define GAN_G_NTENSORS 7
typedef union {
    struct {
        float *w1;      /* [g_in][2ngf][7][7] ConvT 1 (g_in = nz, + 10 if conditional) */
        float *bn1_g;   /* [2ngf] */
        float *bn1_b;   /* [2ngf] */
        float *w2;      /* [2ngf][ngf][4][4]  ConvT 2 */
        float *bn2_g;   /* [ngf] */
        float *bn2_b;   /* [ngf] */
        float *w3;      /* [ngf][1][4][4]     ConvT 3 */
    };
    float *t[GAN_G_NTENSORS];
} gan_gparams;

#define GAN_D_NTENSORS 6
typedef union {
    struct {
        float *w1;      /* [ndf][d_in][4][4]  Conv 1 (d_in = 1, + 10 with label planes) */
        float *w2;      /* [2ndf][ndf][4][4]  Conv 2 */
        float *bn2_g;   /* [2ndf] */
        float *bn2_b;   /* [2ndf] */
        float *w3;      /* [1][2ndf][7][7]    Conv 3 */
        float *embed;   /* [10][1][2ndf][7][7] projection head: class y adds
                           embed[y] to w3; 0 floats without projection */
    };
    float *t[GAN_D_NTENSORS];
} gan_dparams;

/* BatchNorm running statistics ("buffers" in PyTorch's words). */
typedef union {
    struct {
        float *bn1_mean, *bn1_var;   /* [2ngf] */
        float *bn2_mean, *bn2_var;   /* [ngf] */
    };
    float *t[4];
} gan_gbuffers;
#define GAN_D_LAYERS 3
typedef struct {
    union {
        struct {
            float *bn2_mean, *bn2_var;   /* [2ndf] */
        };
        float *t[2];
    };
    /* with spectral_norm, after the statistics: conv layer i's power-iteration
     * vectors u [OC_i] then v [C_i*K_i*K_i]; NULL without */
    float *sn_u[GAN_D_LAYERS], *sn_v[GAN_D_LAYERS];
} gan_dbuffers;

/* G and D as net.h networks for this config (their tables are in gan.c).
 * Returns 0, or -1 when the config gives no valid shapes. */
int gan_nets(const gan_config *c, net *g, net *d);
/* Input channels of G's first layer (nz, + GAN_CLASSES when conditional)
 * and of D's first layer (1, + GAN_CLASSES when conditional with label
 * planes, not with a projection head). */
int gan_g_in(const gan_config *c);
int gan_d_in(const gan_config *c);
/* G's input zin [g_in][B] from z [B][nz] and labels [B] (one-hot rows after
 * the noise when conditional; labels NULL means label b % GAN_CLASSES). */
void gan_g_input(float *zin, const float *z, const uint8_t *labels, const gan_config *c, int B);
/* D's input xin [d_in][B][28][28] from images x [B][784] (may be xin itself)
 * and labels [B]: the image channel, then the label planes when conditional
 * without projection. */
void gan_d_input(float *xin, const float *x, const uint8_t *labels, const gan_config *c, int B);

/* Sizes of every tensor, in the order of the structs above. */
void gan_gparam_sizes(const gan_config *c, size_t sizes[GAN_G_NTENSORS]);
void gan_dparam_sizes(const gan_config *c, size_t sizes[GAN_D_NTENSORS]);
size_t gan_gparam_count(const gan_config *c);
size_t gan_dparam_count(const gan_config *c);
size_t gan_gbuffer_count(const gan_config *c);   /* 2*(2ngf) + 2*ngf */
size_t gan_dbuffer_count(const gan_config *c);   /* 2*(2ndf), + u and v of each conv
                                                    with spectral_norm */
/* Point the struct's members into a block of the right size. */
void gan_gparams_point(gan_gparams *p, float *block, const gan_config *c);
void gan_dparams_point(gan_dparams *p, float *block, const gan_config *c);
void gan_gbuffers_point(gan_gbuffers *b, float *block, const gan_config *c);
void gan_dbuffers_point(gan_dbuffers *b, float *block, const gan_config *c);

/* Activations of one generator pass over `batch` images (train mode); the
 * gradient twin (dga) has dL/d(x) in each, see gan.c for which it keeps. */
typedef union {
    struct {
        float *z;       /* [g_in][B]  noise rows, then one-hot label rows */
        float *c1;      /* [2ngf][B][7][7]   ConvT 1 output */
        float *bn1_mean, *bn1_rstd;  /* [2ngf] */
        float *a1;      /* [2ngf][B][7][7]   ReLU(BN 1), fused */
        float *c2;      /* [ngf][B][14][14] */
        float *bn2_mean, *bn2_rstd;  /* [ngf] */
        float *a2;      /* [ngf][B][14][14]  ReLU(BN 2), fused */
        float *c3;      /* [1][B][28][28] */
        float *out;     /* [1][B][28][28]    tanh/ReLU output = the images */
    };
    float *t[11];
} gan_gacts;

/* Activations of one discriminator pass over `batch` images. */
typedef union {
    struct {
        float *x;       /* [d_in][B][28][28] input images (copied in), then label planes */
        float *col1;    /* [d_in*16][B*14*14] im2col of x */
        float *c1;      /* [ndf][B][14][14] */
        float *a1;      /* [ndf][B][14][14] LeakyReLU */
        float *col2;    /* [ndf*16][B*7*7] */
        float *c2;      /* [2ndf][B][7][7] */
        float *bn2_mean, *bn2_rstd;  /* [2ndf] */
        float *a2;      /* [2ndf][B][7][7]  LeakyReLU(BN 2), fused */
        float *col3;    /* NULL: conv 3 is a direct kernel (nn_conv_full_*) */
        float *logits;  /* [B] */
    };
    float *t[11];
} gan_dacts;

/* Per-iteration figures (of the last D step and last G step). */
typedef struct {
    float d_loss;       /* BCE(real,real_label) + BCE(fake,0), or the hinge loss */
    float g_loss;       /* BCE(D(G(z)),1), non-saturating, or -mean D(G(z)) (hinge) */
    float d_acc_real;   /* share of real logits > 0 */
    float d_acc_fake;   /* share of fake logits < 0 */
    float d_acc;        /* mean of the two */
    float d_real;       /* mean sigmoid(D(x)) */
    float d_fake;       /* mean sigmoid(D(G(z))) in the D step */
} gan_metrics;

/* Phases of a training iteration, timed when gan_model.profile is set. */
typedef enum {
    GAN_PHASE_G_FORWARD = 0,   /* generator forward passes */
    GAN_PHASE_D,               /* discriminator forward + backward passes */
    GAN_PHASE_G_BACKWARD,      /* generator backward pass */
    GAN_PHASE_OPTIMISER,       /* finite checks + Adam */
    GAN_PHASE_COUNT
} gan_phase;

/* Layers of both networks, for the per-layer profile (gan_pass.c). */
typedef enum {
    GAN_L_G1 = 0, GAN_L_G_BN1, GAN_L_G2, GAN_L_G_BN2, GAN_L_G3, GAN_L_G_OUT,
    GAN_L_D1, GAN_L_D_ACT1, GAN_L_D2, GAN_L_D_BN2, GAN_L_D3, GAN_L_ADAM,
    GAN_LAYER_COUNT
} gan_layer;
const char *gan_layer_name(gan_layer l);   /* static string */

/* The whole trainable model. */
typedef struct {
    gan_config cfg;
    net gnet, dnet;                   /* the two networks' shapes (gan_nets) */
    size_t g_count, d_count;          /* parameter counts */
    /* generator: one block per role */
    float *g_mem, *g_grad_mem, *g_m_mem, *g_v_mem, *g_buf_mem;
    /* G EMA (cfg.ema > 0): [g_count] averaged parameters, then [gbuffer count]
     * averaged BN running statistics; what samples come from */
    float *g_ema_mem;
    gan_gparams g, g_grad, g_m, g_v;
    gan_gbuffers g_buf;
    /* discriminator */
    float *d_mem, *d_grad_mem, *d_m_mem, *d_v_mem, *d_buf_mem;
    gan_dparams d, d_grad, d_m, d_v;
    gan_dbuffers d_buf;
    long g_t, d_t;                    /* Adam step counts */
    /* activations and their gradients: one block each */
    float *act_mem, *dact_mem;
    gan_gacts ga, dga;                /* dga.* = dL/d(ga.*); dga.a1, c1 reuse dga.a2, c2 */
    gan_dacts da, dda;
    /* D's passes read d_use and write their weight gradients to d_use_grad:
     * d and d_grad themselves, or with spectral_norm the same lists with
     * the conv weights pointing into d_sn_mem ([d_count] W / sigma, then
     * [d_count] dL/d(W / sigma)); d_sigma: each conv's sigma of the last
     * forward pass */
    float *d_sn_mem;
    gan_dparams d_use, d_use_grad;
    float d_sigma[GAN_D_LAYERS];
    float *scratch;                   /* shared col / dcol scratch */
    uint8_t *fake_labels;             /* [B] labels of the fakes in ga.out */
    uint8_t *d_labels;                /* [B] labels of D's last forward pass */
    size_t act_floats, scratch_floats;
    int freeze_d, freeze_g;           /* balance: steps measure but do not update */
    int profile;                      /* when set, phase_s accumulates wall time */
    double phase_s[GAN_PHASE_COUNT];
    /* with profile: seconds and GEMM FLOPs per layer, [0] forward, [1] backward */
    double layer_s[GAN_LAYER_COUNT][2], layer_flop[GAN_LAYER_COUNT][2];
} gan_model;

/* Profiling clock (gan_pass.c): a timestamp when m->profile is set, else 0;
 * gan_prof_layer books the time since t0 and `flop` GEMM FLOPs to a layer
 * (dir 0 forward, 1 backward) and returns the new timestamp. */
double gan_prof_clock(const gan_model *m);
double gan_prof_layer(gan_model *m, gan_layer l, int dir, double flop, double t0);

/* Allocate every buffer once; returns NULL on bad config or no memory.
 * The caller owns the result (gan_model_free). */
gan_model *gan_model_new(const gan_config *c);
void gan_model_free(gan_model *m);
/* DCGAN initialisation: conv weights N(0, init_std), BN gamma N(1, init_std),
 * beta 0, running mean 0 / var 1, Adam state zero, step counts zero. */
void gan_model_init(gan_model *m, nn_rng *rng);

/* Forward passes (train mode, BN statistics of the batch; running stats updated). */
void gan_g_forward(gan_model *m, int B);              /* reads m->ga.z, writes m->ga.out */
/* x [1][B][28][28] (+ labels [B] when conditional; NULL = b % 10) -> m->da.logits */
void gan_d_forward(gan_model *m, const float *x, const uint8_t *labels, int B);
/* Backward passes. gan_d_backward accumulates into D's grads when
 * want_dparams, and accumulates dL/dx into dx [d_in][B][28][28] when
 * dx != NULL. */
void gan_d_backward(gan_model *m, const float *dlogits, float *dx, int want_dparams, int B);
void gan_g_backward(gan_model *m, const float *dimages, int B);

/* freeze_d / freeze_g (balance): the step still runs and fills the metrics
 * but applies no update (weights, Adam moments and step count unchanged).
 * One D update: real [1][B][28][28] in the model's data range, z [B][nz]
 * fresh noise (row per sample; the caller draws it). Labels [B] (real ones
 * from the dataset, fake ones drawn by the caller) are read only by a
 * conditional model and may be NULL otherwise. Generates the fakes,
 * runs D on real and on fake (each with its own batch statistics), and
 * takes one Adam step on D. Fills d_* fields of *out.
 * Both steps return 0, or -1 without touching the weights when the loss or
 * a gradient is NaN or Inf (the divergence guard; Adam moments are not
 * updated either, so the model stays exactly as before the step).
 * One G update: with z == NULL it reuses the generator activations left by
 * the previous D step (G has not changed since; this is the classic DCGAN
 * loop), otherwise it generates from z [B][nz]. Fills g_loss. */
int gan_d_step(gan_model *m, const float *real, const uint8_t *real_labels, const float *z,
               const uint8_t *fake_labels, gan_metrics *out);
int gan_g_step(gan_model *m, const float *z, const uint8_t *labels, gan_metrics *out);

/* The generator that samples come from: the moving average when the recipe
 * keeps one (cfg.ema > 0), else G itself. Parameter and statistics blocks as
 * gan_sampler_generate takes them. */
const float *gan_sample_gparams(const gan_model *m);
const float *gan_sample_gbuffers(const gan_model *m);
/* G EMA update after a G step at Adam step t: avg = d*avg + (1-d)*x over the
 * parameters and the BN statistics, with d = min(ema, (1+t)/(10+t)) so the
 * average follows quickly while G is young. */
void gan_ema_update(gan_model *m);
/* Start the average at G as it is now (gan_model_init does; so does a run
 * resumed from a checkpoint that kept none). */
void gan_ema_reset(gan_model *m);
/* The learning-rate factor at Adam step t (1-based): warm-up, then halving. */
float gan_lr_factor(const gan_config *c, long t);

/* D's weights as its passes use them (spectral_norm): for each conv layer
 * of d, sigma[i] = nn_sn_forward(use[w], u_i, v_i, params[w]) with the
 * vectors of buf (train: one power iteration moves them; else they are only
 * read). use: the parameter list whose conv weights point to where W / sigma
 * goes. Does nothing without spectral_norm. */
void gan_d_spectral(const gan_config *c, const net *d, float *const *use, float *const *params,
                    const gan_dbuffers *buf, float sigma[GAN_D_LAYERS], int train);
/* Its backward for one pass: each conv's grad[w] += dL/dW from use_grad[w] =
 * dL/d(W / sigma), with that pass's use, vectors and sigma (nn_sn_backward).
 * Does nothing without spectral_norm. */
void gan_d_spectral_backward(const gan_config *c, const net *d, float *const *grad,
                             float *const *use_grad, float *const *use, const gan_dbuffers *buf,
                             const float sigma[GAN_D_LAYERS]);
/* use = params, except that each conv weight of d points at its place in
 * block (laid out like params): where W / sigma, or its gradient, goes. */
void gan_d_spectral_lists(const net *d, float **use, float *const *params, float *block);

/* Multiply-add FLOPs (2 per MAC) of the GEMMs of one training iteration
 * with the config's batch, d_steps and g_steps: what a benchmark divides by
 * time to get achieved GFLOP/s. Elementwise work is not counted. */
double gan_iteration_flops(const gan_config *c);

/* Eval-mode generator for sampling outside the trainer. */
typedef struct gan_sampler gan_sampler;
/* A good max_batch for samplers: buffers near 9 MB for the default model
 * (64 would need 35 MB) while the GEMMs stay efficient. Larger requests are
 * generated in chunks of it. */
#define GAN_SAMPLER_CHUNK 16
/* Caller owns the result (gan_sampler_free). NULL on no memory. */
gan_sampler *gan_sampler_new(const gan_config *c, int max_batch);
void gan_sampler_free(gan_sampler *s);
/* z [n][nz] (row per sample, the natural order for callers); labels [n]
 * for a conditional model (NULL: label i % GAN_CLASSES), ignored otherwise;
 * gparams / gbuf are blocks of gan_gparam_count / gan_gbuffer_count floats;
 * images [n][28*28] in the model's output range. Any n: requests larger than max_batch
 * are generated in chunks of it (labels NULL still count i % 10 over all n). */
void gan_sampler_generate(gan_sampler *s, const float *gparams, const float *gbuf,
                          const float *z, const uint8_t *labels, int n, float *images);
/* D's verdict in eval mode (running statistics): prob[i] = sigmoid(D(x_i, y_i))
 * for images [n][784] in the model's range, labels as above. dparams / dbuf
 * are blocks of gan_dparam_count / gan_dbuffer_count floats. D's passes
 * reuse the generator's buffers, so judging costs no memory of its own. */
void gan_sampler_judge(gan_sampler *s, const float *dparams, const float *dbuf,
                       const float *images, const uint8_t *labels, int n, float *prob);

#endif
