/* batchnorm.c - BatchNorm2d over channel-major activations [C][N], N = B*H*W,
 * alone or fused with the (leaky) ReLU that follows it in both networks.
 *
 * Training mode normalises each channel with its batch mean and biased
 * variance, caches mean and rstd = 1/sqrt(var + eps) for the backward pass,
 * and updates the running statistics like PyTorch (unbiased variance,
 * running = (1 - momentum) * running + momentum * batch). Sums are taken in
 * double so that large N does not lose precision. Eval mode uses the running
 * statistics. Backward is the usual closed form:
 *   dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat))
 * The fused versions apply the activation on the way out and its slope on
 * the way back (dy = dout * (out > 0 ? 1 : slope)), saving a buffer and two
 * passes over memory per layer. Channels are independent: threads split them.
 */
#include <math.h>
#include "nn.h"
#include "par.h"

/* Sums run in LANES independent float accumulators over blocks of BLOCK
 * values (so the compiler vectorises them), and each block's sums are added
 * in double: a fixed order, so results stay deterministic, and the float
 * part never sums more than BLOCK / LANES values. */
#define LANES 16
#define BLOCK 256
/* Prefetch distance of the first pass over a channel, in floats (2 KB):
 * the data was written by the layer before and sits in L3 or beyond, where
 * the hardware prefetchers alone left these loops waiting on each load. */
#define AHEAD 512

/* Batch statistics of one channel in one pass (sum and sum of squares);
 * updates the running ones. */
static void channel_stats(const float *x, int N, float eps, float momentum, float *mean,
                          float *rstd, float *run_mean, float *run_var) {
    double sum = 0.0, sq = 0.0;
    for (int i0 = 0; i0 < N; i0 += BLOCK) {
        const int n = N - i0 < BLOCK ? N - i0 : BLOCK;
        const float *xb = x + i0;
        float s[LANES] = {0}, q[LANES] = {0};
        int i = 0;
        for (; i + LANES <= n; i += LANES) {
            __builtin_prefetch(xb + i + AHEAD);
            for (int l = 0; l < LANES; l++) { s[l] += xb[i + l]; q[l] += xb[i + l] * xb[i + l]; }
        }
        for (int l = 0; i < n; i++, l++) { s[l] += xb[i]; q[l] += xb[i] * xb[i]; }
        for (int l = 0; l < LANES; l++) { sum += s[l]; sq += q[l]; }
    }
    const double mu = sum / N;
    double ss = sq - sum * mu;                       /* sum of (x - mu)^2 */
    if (ss < 0.0) ss = 0.0;
    const double var = ss / N;
    *mean = (float)mu;
    *rstd = (float)(1.0 / sqrt(var + eps));
    if (run_mean) {
        const double unbiased = N > 1 ? ss / (N - 1) : var;
        *run_mean = (1.0f - momentum) * *run_mean + momentum * (float)mu;
        *run_var = (1.0f - momentum) * *run_var + momentum * (float)unbiased;
    }
}

/* The plain layer is the fused one with an identity "activation": slope 1
 * gives v > 0 ? v : 1 * v, which is v exactly. */
void nn_batchnorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *gamma, const float *beta,
                          float *run_mean, float *run_var, float momentum, float eps,
                          int C, int N) {
    nn_batchnorm_act_forward(out, mean, rstd, inp, gamma, beta, run_mean, run_var,
                             momentum, eps, 1.0f, C, N);
}

void nn_batchnorm_act_forward(float *out, float *mean, float *rstd, const float *inp,
                              const float *gamma, const float *beta,
                              float *run_mean, float *run_var, float momentum, float eps,
                              float slope, int C, int N) {
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel if ((size_t)C * N >= NN_PAR_MIN)
    {
        #pragma omp for schedule(static) nowait
        for (int c = 0; c < C; c++) {
            const float *x = inp + (size_t)c * N;
            float *y = out + (size_t)c * N;
            channel_stats(x, N, eps, momentum, &mean[c], &rstd[c],
                          run_mean ? &run_mean[c] : NULL, run_var ? &run_var[c] : NULL);
            const float scale = gamma[c] * rstd[c], shift = beta[c] - mean[c] * scale;
            for (int i = 0; i < N; i++) {
                const float v = x[i] * scale + shift;
                y[i] = v > 0.0f ? v : slope * v;
            }
        }
        nn_team_sync(&tm);
    }
}

void nn_batchnorm_forward_eval(float *out, const float *inp, const float *gamma,
                               const float *beta, const float *run_mean,
                               const float *run_var, float eps, int C, int N) {
    nn_batchnorm_act_forward_eval(out, inp, gamma, beta, run_mean, run_var, eps, 1.0f, C, N);
}

void nn_batchnorm_act_forward_eval(float *out, const float *inp, const float *gamma,
                                   const float *beta, const float *run_mean,
                                   const float *run_var, float eps, float slope, int C, int N) {
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel if ((size_t)C * N >= NN_PAR_MIN)
    {
        #pragma omp for schedule(static) nowait
        for (int c = 0; c < C; c++) {
            const float scale = gamma[c] / sqrtf(run_var[c] + eps);
            const float shift = beta[c] - run_mean[c] * scale;
            const float *x = inp + (size_t)c * N;
            float *y = out + (size_t)c * N;
            for (int i = 0; i < N; i++) {
                const float v = x[i] * scale + shift;
                y[i] = v > 0.0f ? v : slope * v;
            }
        }
        nn_team_sync(&tm);
    }
}

/* The backward pass of one channel given dy; act_out selects the fused
 * variant (dy = dout * activation slope read off act_out; slope 1 and
 * act_out = dout for the plain layer, which gives dy = dout exactly). */
static void channel_backward(float *dx, float *dgamma, float *dbeta, const float *dout,
                             const float *act_out, float slope, const float *x, float mu,
                             float r, float g, int N) {
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int i0 = 0; i0 < N; i0 += BLOCK) {
        const int n = N - i0 < BLOCK ? N - i0 : BLOCK;
        const float *o = act_out + i0, *d = dout + i0, *xb = x + i0;
        float sd[LANES] = {0}, sx[LANES] = {0};
        int i = 0;
        for (; i + LANES <= n; i += LANES) {
            __builtin_prefetch(o + i + AHEAD);
            if (d != o) __builtin_prefetch(d + i + AHEAD);
            __builtin_prefetch(xb + i + AHEAD);
            __builtin_prefetch(dx + i0 + i + AHEAD, 1);   /* for the second pass */
            for (int l = 0; l < LANES; l++) {
                const float dy = o[i + l] > 0.0f ? d[i + l] : slope * d[i + l];
                sd[l] += dy;
                sx[l] += dy * ((xb[i + l] - mu) * r);
            }
        }
        for (int l = 0; i < n; i++, l++) {
            const float dy = o[i] > 0.0f ? d[i] : slope * d[i];
            sd[l] += dy;
            sx[l] += dy * ((xb[i] - mu) * r);
        }
        for (int l = 0; l < LANES; l++) { sum_dy += sd[l]; sum_dy_xhat += sx[l]; }
    }
    if (dgamma) *dgamma += (float)sum_dy_xhat;
    if (dbeta) *dbeta += (float)sum_dy;
    const float mdy = (float)(sum_dy / N), mdyx = (float)(sum_dy_xhat / N);
    const float k = g * r;
    for (int i = 0; i < N; i++) {
        const float dy = act_out[i] > 0.0f ? dout[i] : slope * dout[i];
        const float xhat = (x[i] - mu) * r;
        dx[i] += k * (dy - mdy - xhat * mdyx);
    }
}

/* The plain layer's backward is the fused one with slope 1 and dout as the
 * activation's output (channel_backward then takes dy = dout exactly). */
void nn_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                           const float *inp, const float *mean, const float *rstd,
                           const float *gamma, int C, int N) {
    nn_batchnorm_act_backward(dinp, dgamma, dbeta, dout, dout, inp, mean, rstd, gamma, 1.0f, C, N);
}

void nn_batchnorm_act_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                               const float *out, const float *inp, const float *mean,
                               const float *rstd, const float *gamma, float slope, int C, int N) {
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel if ((size_t)C * N >= NN_PAR_MIN)
    {
        #pragma omp for schedule(static) nowait
        for (int c = 0; c < C; c++) {
            const size_t o = (size_t)c * N;
            channel_backward(dinp + o, dgamma ? &dgamma[c] : NULL, dbeta ? &dbeta[c] : NULL,
                             dout + o, out + o, slope, inp + o, mean[c], rstd[c], gamma[c], N);
        }
        nn_team_sync(&tm);
    }
}
