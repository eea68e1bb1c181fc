/* activations.c - elementwise ReLU, LeakyReLU and tanh.
 *
 * Each backward pass reads the forward OUTPUT, which fixes the local slope
 * (relu and leaky relu: out > 0 exactly when inp > 0; tanh: 1 - out^2), and
 * accumulates into dinp like every backward pass of the library. Threads
 * split the range (above NN_PAR_MIN, par.h); tanh runs 16 lanes at a time
 * through glibc's libmvec where the CPU has AVX-512 (kernels.c). nn_zero
 * is here too: it is the elementwise pass that clears gradient buffers
 * before a backward pass accumulates into them.
 */
#include <math.h>
#include <string.h>
#include "nn.h"
#include "nn_internal.h"
#include "par.h"

void nn_relu_forward(float *out, const float *inp, size_t n) {
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel if (n >= NN_PAR_MIN)
    {
        #pragma omp for schedule(static) nowait
        for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
        nn_team_sync(&tm);
    }
}

void nn_relu_backward(float *dinp, const float *out, const float *dout, size_t n) {
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel if (n >= NN_PAR_MIN)
    {
        #pragma omp for schedule(static) nowait
        for (size_t i = 0; i < n; i++) dinp[i] += out[i] > 0.0f ? dout[i] : 0.0f;
        nn_team_sync(&tm);
    }
}

void nn_leaky_relu_forward(float *out, const float *inp, float slope, size_t n) {
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel if (n >= NN_PAR_MIN)
    {
        #pragma omp for schedule(static) nowait
        for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : slope * inp[i];
        nn_team_sync(&tm);
    }
}

/* D's first activation's backward is the one pass over a large tensor on
 * its own (the others are fused into BatchNorm) whose inputs are no longer
 * in cache: 16 floats (a cache line) at a time, each stream prefetched
 * AHEAD floats on, as in batchnorm.c (0.85x the time at batch 64; the
 * forward pass reads what D's first convolution has just written, and
 * prefetching made it slower). */
#define AHEAD 512

void nn_leaky_relu_backward(float *dinp, const float *out, const float *dout, float slope,
                            size_t n) {
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel if (n >= NN_PAR_MIN)
    {
        long lo, hi;
        nn_share((long)n, &lo, &hi);
        long i = lo;
        for (; i + 16 <= hi; i += 16) {
            __builtin_prefetch(out + i + AHEAD);
            __builtin_prefetch(dout + i + AHEAD);
            __builtin_prefetch(dinp + i + AHEAD, 1);
            #pragma omp simd
            for (int l = 0; l < 16; l++)
                dinp[i + l] += out[i + l] > 0.0f ? dout[i + l] : slope * dout[i + l];
        }
        for (; i < hi; i++) dinp[i] += out[i] > 0.0f ? dout[i] : slope * dout[i];
        nn_team_sync(&tm);
    }
}

void nn_tanh_forward(float *out, const float *inp, size_t n) {
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel if (n >= NN_PAR_MIN)
    {
        long lo, hi;
        nn_share((long)n, &lo, &hi);
        if (hi > lo && !nn_tanh_fast(out + lo, inp + lo, (size_t)(hi - lo)))
            for (long i = lo; i < hi; i++) out[i] = tanhf(inp[i]);
        nn_team_sync(&tm);
    }
}

void nn_tanh_backward(float *dinp, const float *out, const float *dout, size_t n) {
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel if (n >= NN_PAR_MIN)
    {
        #pragma omp for schedule(static) nowait
        for (size_t i = 0; i < n; i++) dinp[i] += (1.0f - out[i] * out[i]) * dout[i];
        nn_team_sync(&tm);
    }
}

void nn_zero(float *x, size_t n) {
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel if (n >= NN_PAR_MIN)
    {
        long lo, hi;
        nn_share((long)n, &lo, &hi);
        if (hi > lo) memset(x + lo, 0, (size_t)(hi - lo) * sizeof(float));
        nn_team_sync(&tm);
    }
}

/* x*0 is 0 for finite x and NaN otherwise: 16 lane sums per thread (so the
 * loop vectorises), then the threads' verdicts are and-ed. */
int nn_all_finite(const float *x, size_t n) {
    int ok = 1;
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel reduction(&& : ok) if (n >= NN_PAR_MIN)
    {
        long lo, hi;
        nn_share((long)n, &lo, &hi);
        float acc[16] = {0};
        long i = lo;
        for (; i + 16 <= hi; i += 16)
            for (int k = 0; k < 16; k++) acc[k] += x[i + k] * 0.0f;
        for (; i < hi; i++) acc[0] += x[i] * 0.0f;
        float total = 0.0f;
        for (int k = 0; k < 16; k++) total += acc[k];
        ok = total == 0.0f;
        nn_team_sync(&tm);
    }
    return ok;
}
