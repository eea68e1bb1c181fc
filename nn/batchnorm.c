/* batchnorm.c - BatchNorm2d over channel-major activations [C][N], N = B*H*W.
 *
 * Training mode normalises each channel with its batch mean and biased
 * variance, caches mean and rstd = 1/sqrt(var + eps) for the backward pass,
 * and updates the running statistics like PyTorch (unbiased variance,
 * running = (1 - momentum) * running + momentum * batch). Sums are taken in
 * double so that large N does not lose precision. Eval mode uses the running
 * statistics. Channels are independent, so threads split them. Backward is the usual closed form:
 *   dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat))
 */
#include <math.h>
#include "nn.h"

void nn_batchnorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *gamma, const float *beta,
                          float *run_mean, float *run_var, float momentum, float eps,
                          int C, int N) {
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float *x = inp + (size_t)c * N;
        float *y = out + (size_t)c * N;
        double sum = 0.0;
        for (int i = 0; i < N; i++) sum += x[i];
        const double mu = sum / N;
        double ss = 0.0;
        for (int i = 0; i < N; i++) { double d = x[i] - mu; ss += d * d; }
        const double var = ss / N;
        const float r = (float)(1.0 / sqrt(var + eps));
        const float m = (float)mu;
        const float scale = gamma[c] * r, shift = beta[c] - m * scale;
        for (int i = 0; i < N; i++) y[i] = x[i] * scale + shift;
        mean[c] = m;
        rstd[c] = r;
        if (run_mean) {
            const double unbiased = N > 1 ? ss / (N - 1) : var;
            run_mean[c] = (1.0f - momentum) * run_mean[c] + momentum * m;
            run_var[c] = (1.0f - momentum) * run_var[c] + momentum * (float)unbiased;
        }
    }
}

void nn_batchnorm_forward_eval(float *out, const float *inp, const float *gamma,
                               const float *beta, const float *run_mean,
                               const float *run_var, float eps, int C, int N) {
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float scale = gamma[c] / sqrtf(run_var[c] + eps);
        const float shift = beta[c] - run_mean[c] * scale;
        const float *x = inp + (size_t)c * N;
        float *y = out + (size_t)c * N;
        for (int i = 0; i < N; i++) y[i] = x[i] * scale + shift;
    }
}

void nn_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                           const float *inp, const float *mean, const float *rstd,
                           const float *gamma, int C, int N) {
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float *x = inp + (size_t)c * N, *dy = dout + (size_t)c * N;
        float *dx = dinp + (size_t)c * N;
        const float mu = mean[c], r = rstd[c];
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int i = 0; i < N; i++) {
            sum_dy += dy[i];
            sum_dy_xhat += (double)dy[i] * ((x[i] - mu) * r);
        }
        if (dgamma) dgamma[c] += (float)sum_dy_xhat;
        if (dbeta) dbeta[c] += (float)sum_dy;
        const float mdy = (float)(sum_dy / N), mdyx = (float)(sum_dy_xhat / N);
        const float k = gamma[c] * r;
        for (int i = 0; i < N; i++) {
            const float xhat = (x[i] - mu) * r;
            dx[i] += k * (dy[i] - mdy - xhat * mdyx);
        }
    }
}
