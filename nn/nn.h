/* nn.h - the ganlive neural-network library: layers as plain functions.
 *
 * The design is simple: every layer is a pair of functions,
 *   xxx_forward(out, ..., inp, params, shapes...)
 *   xxx_backward(dinp, dparams, ..., dout, cached forward values, shapes...)
 * with outputs first and every shape passed explicitly. Nothing allocates;
 * callers own every buffer (see gan.c, which carves them from one block).
 *
 * Gradient convention, used everywhere: a buffer named d<x> holds dL/d<x>.
 * Backward functions ACCUMULATE (+=) into parameter gradients and into dinp,
 * so a caller zeroes gradients once per optimiser step and may run several
 * backward passes (D on real, then D on fake) into the same buffers.
 * The optimiser then does param -= lr * f(grad).
 *
 * Memory layout of activations: channel-major "CBHW", i.e. a tensor of C
 * channels over a batch of B images of HxW is stored as [C][B][H][W].
 * With that layout a convolution over the whole batch is a single GEMM with
 * the batch folded into the N dimension (out[OC][B*OH*OW] = W[OC][C*K*K] x
 * col[C*K*K][B*OH*OW]), and BatchNorm's per-channel statistics run over one
 * contiguous span of B*H*W floats. A single-channel image batch [1][B][H][W]
 * is the same bytes as the usual [B][1][H][W], and a vector batch [C][B] is
 * the transpose of the usual [B][C].
 *
 * Weights keep PyTorch's layouts so checkpoints and fixtures map 1:1:
 *   Conv2d          w[OC][C][K][K]
 *   ConvTranspose2d w[C][OC][K][K]   (C = input channels)
 */
#ifndef GANLIVE_NN_H
#define GANLIVE_NN_H

#include <stddef.h>
#include <stdint.h>

/* ---- convolution geometry ------------------------------------------------ */

/* Output size of a convolution (or input size of the matching transposed one). */
static inline int nn_conv_out(int in, int k, int stride, int pad) {
    return (in + 2 * pad - k) / stride + 1;
}
/* Output size of a transposed convolution. */
static inline int nn_convt_out(int in, int k, int stride, int pad) {
    return (in - 1) * stride - 2 * pad + k;
}

/* im2col: col[C*K*K][B*OH*OW] <- inp[C][B][H][W] (zero padding). */
void nn_im2col(float *col, const float *inp, int C, int B, int H, int W,
               int K, int stride, int pad, int OH, int OW);
/* col2im: out[C][B][H][W] += scatter of col[C*K*K][B*OH*OW]. */
void nn_col2im(float *out, const float *col, int C, int B, int H, int W,
               int K, int stride, int pad, int OH, int OW);

/* ---- Conv2d (no bias) ---------------------------------------------------- */
/* out  [OC][B][OH][OW]
 * col  [C*K*K][B*OH*OW]  scratch, holds im2col(inp) on return for backward,
 *      except where the GEMM gathers its columns from inp as it goes (the
 *      4x4 stride-2 convolutions with AVX-512, kernels.c), which backward
 *      then does too
 * inp  [C][B][H][W]
 * w    [OC][C][K][K] */
void nn_conv2d_forward(float *out, float *col, const float *inp, const float *w,
                       int B, int C, int H, int W, int OC, int K, int stride, int pad);
/* dinp [C][B][H][W] += ; may be NULL (first layer)
 * dw   [OC][C][K][K] += ; may be NULL (gradient only flows through)
 * dcol [C*K*K][B*OH*OW] scratch (unused when dinp is NULL)
 * col  as left by forward (its rows rebuilt from inp where forward stored
 *      none and the gathered columns cannot be had: no memory for the
 *      GEMM's buffers)
 * inp  forward's input
 * dout [OC][B][OH][OW] */
void nn_conv2d_backward(float *dinp, float *dw, float *dcol, float *col, const float *inp,
                        const float *w, const float *dout,
                        int B, int C, int H, int W, int OC, int K, int stride, int pad);

/* Conv2d whose kernel covers the whole HxW image (no padding, one output
 * pixel), e.g. D's last layer: out[OC][B] = sum over c, p of
 * w[OC][C][HW] * inp[C][B][HW]. Direct, no im2col; threads split the
 * outputs (forward) or the input channels (backward) above NN_PAR_MIN.
 * Backward: dinp [C][B][HW] += and dw [OC][C][HW] += (either may be NULL). */
void nn_conv_full_forward(float *out, const float *inp, const float *w,
                          int B, int C, int HW, int OC);
void nn_conv_full_backward(float *dinp, float *dw, const float *inp, const float *w,
                           const float *dout, int B, int C, int HW, int OC);

/* ---- ConvTranspose2d (no bias) ------------------------------------------- */
/* Each input pixel paints a KxK patch of the output, `stride` apart.
 * out  [OC][B][OH][OW]   OH = nn_convt_out(H, K, stride, pad)
 * col  [OC*K*K][B*H*W]   scratch
 * inp  [C][B][H][W]      (kept by caller for backward)
 * w    [C][OC][K][K] */
void nn_convt2d_forward(float *out, float *col, const float *inp, const float *w,
                        int B, int C, int H, int W, int OC, int K, int stride, int pad);
/* dinp [C][B][H][W] += ; may be NULL
 * dw   [C][OC][K][K] += ; may be NULL
 * dcol [OC*K*K][B*H*W] scratch
 * inp  forward input; dout [OC][B][OH][OW] */
void nn_convt2d_backward(float *dinp, float *dw, float *dcol, const float *inp,
                         const float *w, const float *dout,
                         int B, int C, int H, int W, int OC, int K, int stride, int pad);

/* ---- BatchNorm2d --------------------------------------------------------- */
/* Training mode: normalise each channel over its N = B*H*W values with the
 * batch statistics (biased variance), update the running statistics with
 * PyTorch's rule (running = (1-m)*running + m*batch, unbiased variance).
 * out, inp [C][N]; gamma, beta, mean, rstd, run_mean, run_var [C]
 * mean and rstd are cached for backward. run_* may be NULL (no update). */
void nn_batchnorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *gamma, const float *beta,
                          float *run_mean, float *run_var, float momentum, float eps,
                          int C, int N);
/* Eval mode: normalise with the running statistics. */
void nn_batchnorm_forward_eval(float *out, const float *inp, const float *gamma,
                               const float *beta, const float *run_mean,
                               const float *run_var, float eps, int C, int N);
/* dinp [C][N] += ; dgamma, dbeta [C] += (may be NULL) */
void nn_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                           const float *inp, const float *mean, const float *rstd,
                           const float *gamma, int C, int N);

/* BatchNorm followed by LeakyReLU (slope 0: plain ReLU), fused into one pass:
 * out = act(gamma * xhat + beta). The backward pass needs only this output
 * (its sign gives the activation's slope) and the BN input, so the
 * normalised values are never stored. Shapes and running statistics as
 * above; dinp, dgamma, dbeta accumulate. */
void nn_batchnorm_act_forward(float *out, float *mean, float *rstd, const float *inp,
                              const float *gamma, const float *beta,
                              float *run_mean, float *run_var, float momentum, float eps,
                              float slope, int C, int N);
void nn_batchnorm_act_forward_eval(float *out, const float *inp, const float *gamma,
                                   const float *beta, const float *run_mean,
                                   const float *run_var, float eps, float slope, int C, int N);
void nn_batchnorm_act_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                               const float *out, const float *inp, const float *mean,
                               const float *rstd, const float *gamma, float slope, int C, int N);

/* Set n floats to zero, split across threads. */
void nn_zero(float *x, size_t n);
/* 1 when none of the n floats is NaN or Inf (split across threads). */
int nn_all_finite(const float *x, size_t n);

/* ---- elementwise activations (n values) ---------------------------------- */
/* Backward functions take the forward OUTPUT, which determines the local
 * derivative for all three (relu: out>0, leaky: out>0, tanh: 1-out^2). */
void nn_relu_forward(float *out, const float *inp, size_t n);
void nn_relu_backward(float *dinp, const float *out, const float *dout, size_t n);
void nn_leaky_relu_forward(float *out, const float *inp, float slope, size_t n);
void nn_leaky_relu_backward(float *dinp, const float *out, const float *dout, float slope, size_t n);
void nn_tanh_forward(float *out, const float *inp, size_t n);
void nn_tanh_backward(float *dinp, const float *out, const float *dout, size_t n);

/* ---- binary cross-entropy on logits -------------------------------------- */
/* Mean over B of  max(x,0) - x*t + log(1 + exp(-|x|)),  the stable form.
 * logits [B]; target is the same for every sample (1 real, 0 fake). */
float nn_bce_logits_forward(const float *logits, float target, int B);
/* dlogits [B] += scale * (sigmoid(x) - t) / B */
void nn_bce_logits_backward(float *dlogits, const float *logits, float target,
                            float scale, int B);

/* ---- hinge loss on logits (the GAN hinge loss) ----------------------------- */
/* Mean over B of max(0, 1 - sign*x): sign +1 for real images, -1 for fakes. */
float nn_hinge_forward(const float *logits, float sign, int B);
/* dlogits [B] += scale * (-sign if 1 - sign*x > 0, else 0) / B */
void nn_hinge_backward(float *dlogits, const float *logits, float sign, float scale, int B);
/* G's hinge loss: -mean(x); its gradient dlogits [B] += -scale / B. */
float nn_neg_mean_forward(const float *logits, int B);
void nn_neg_mean_backward(float *dlogits, float scale, int B);

/* ---- softmax cross-entropy on logits (integer labels) ------------------- */
/* Row per sample: logits, probs [B][K]; labels [B] in [0, K). Stable (the
 * row's maximum is subtracted before exp). Writes the softmax probabilities
 * into probs (kept for backward) and returns the mean over B of
 * -log p[b][labels[b]]  (PyTorch's F.cross_entropy, reduction "mean"). */
float nn_softmax_ce_forward(float *probs, const float *logits, const int32_t *labels,
                            int B, int K);
/* dlogits [B][K] += scale * (probs - onehot(labels)) / B */
void nn_softmax_ce_backward(float *dlogits, const float *probs, const int32_t *labels,
                            float scale, int B, int K);

/* ---- Adam (PyTorch's formulation, no weight decay) ----------------------- */
/* t is the 1-based step count after this update. */
void nn_adam_update(float *param, const float *grad, float *m, float *v, size_t n,
                    float lr, float beta1, float beta2, float eps, long t);

/* Exponential moving average: avg = decay*avg + (1-decay)*x, n values. */
void nn_ema_update(float *avg, const float *x, size_t n, float decay);

/* ---- BLAS ------------------------------------------------------------------ */
/* Threads BLAS itself may use (1 inside the layers, which split work
 * themselves). nn_blas_name says which library and kernels run (static
 * string). */
void nn_blas_threads(int n);
/* Once per process: BLAS settings for the model's GEMM shapes (blas.c);
 * called by nn_blas_threads, gan_model_new and gan_sampler_new. */
void nn_blas_tune(void);
const char *nn_blas_name(void);

/* ---- random numbers ------------------------------------------------------ */
/* xoshiro128++ generator with Box-Muller normals; the whole state is this
 * struct, so it is copied into checkpoints as is. */
typedef struct {
    uint32_t s[4];
    int has_spare;   /* Box-Muller makes normals in pairs */
    float spare;
} nn_rng;

void nn_rng_seed(nn_rng *r, uint64_t seed);
uint32_t nn_rng_u32(nn_rng *r);
float nn_rng_uniform(nn_rng *r);                    /* [0, 1) */
float nn_rng_normal(nn_rng *r);                     /* N(0, 1) */
void nn_rng_fill_normal(nn_rng *r, float *x, size_t n, float mean, float std);
uint32_t nn_rng_below(nn_rng *r, uint32_t n);       /* uniform in [0, n) */

/* ---- spectral normalisation (spectral.c) ----------------------------------- */
/* A weight read as W [rows][cols] (a conv's [OC][C*K*K]) with its power
 * iteration's vectors u [rows], v [cols], as torch.nn.utils.spectral_norm.
 * nn_sn_init: u, v normal, then unit length (PyTorch's start).
 * nn_sn_forward: with train, one power iteration first (v = norm(W^T u),
 * u = norm(W v)); returns sigma = u^T W v and writes w_sn = W / sigma.
 * nn_sn_backward: dw [rows][cols] += (dw_sn - <dw_sn, w_sn> u v^T) / sigma,
 * for dw_sn = dL/dw_sn and the u, v, sigma of that forward. */
void nn_sn_init(float *u, float *v, int rows, int cols, nn_rng *rng);
float nn_sn_forward(float *w_sn, float *u, float *v, const float *w, int rows, int cols, int train);
void nn_sn_backward(float *dw, const float *dw_sn, const float *w_sn, const float *u, const float *v,
                    float sigma, int rows, int cols);

/* ---- how the layers' threads wait for each other (team.c) ----------------- */
/* Counts since the process started, for `ganlive bench`: meetings of teams
 * of two or more threads, waits that ended in a sleep, and windows in which
 * a team thread waited for a CPU because another task wanted one (each
 * makes waits short for a second: team.c). */
typedef struct {
    long syncs, sleeps, contended;
} nn_team_counts;
void nn_team_stats(nn_team_counts *c);
/* 1 while waits are short because another task wanted a CPU lately. */
int nn_team_contended(void);
/* How long a wait spins now before it sleeps (ns). */
long long nn_team_spin_limit_ns(void);
/* Tests: every wait spins at most ns (0: sleeps at once), or the policy's
 * again with ns < 0. */
void nn_team_force_spin(long long ns);

#endif
