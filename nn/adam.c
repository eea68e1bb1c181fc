/* adam.c - the Adam optimiser, step for step as torch.optim.Adam (1.13,
 * no weight decay, no amsgrad), over one flat block of parameters:
 *   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
 *   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 * Threads split the block; each runs 16 parameters at a time with AVX-512
 * when the CPU has it (the same operations in the same order, unfused, so
 * both paths give identical bits), the scalar loop otherwise and for the
 * tail. Beside it, the exponential moving average of a block (the G EMA
 * that samples are drawn from), split the same way.
 */
#include <math.h>
#include <immintrin.h>
#include "nn.h"
#include "par.h"

static void adam_scalar(float *param, const float *grad, float *m, float *v, size_t lo, size_t hi,
                        float step, float beta1, float beta2, float eps, float bc2_sqrt) {
    for (size_t i = lo; i < hi; i++) {
        const float g = grad[i];
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        param[i] -= step * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
    }
}

/* [lo, hi) in blocks of 16; returns where the scalar tail starts. */
__attribute__((target("avx512f")))
static size_t adam_avx512(float *param, const float *grad, float *m, float *v, size_t lo, size_t hi,
                          float step, float beta1, float beta2, float eps, float bc2_sqrt) {
    const __m512 b1 = _mm512_set1_ps(beta1), b2 = _mm512_set1_ps(beta2);
    const __m512 c1 = _mm512_set1_ps(1.0f - beta1), c2 = _mm512_set1_ps(1.0f - beta2);
    const __m512 st = _mm512_set1_ps(step), e = _mm512_set1_ps(eps), bc = _mm512_set1_ps(bc2_sqrt);
    size_t i = lo;
    for (; i + 16 <= hi; i += 16) {
        const __m512 g = _mm512_loadu_ps(grad + i);
        const __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + i)), _mm512_mul_ps(c1, g));
        const __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(v + i)),
                                        _mm512_mul_ps(_mm512_mul_ps(c2, g), g));
        _mm512_storeu_ps(m + i, mi);
        _mm512_storeu_ps(v + i, vi);
        const __m512 den = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vi), bc), e);
        _mm512_storeu_ps(param + i, _mm512_sub_ps(_mm512_loadu_ps(param + i),
                                                  _mm512_div_ps(_mm512_mul_ps(st, mi), den)));
    }
    return i;
}

void nn_adam_update(float *param, const float *grad, float *m, float *v, size_t n,
                    float lr, float beta1, float beta2, float eps, long t) {
    const float bc1 = 1.0f - powf(beta1, (float)t);
    const float bc2_sqrt = sqrtf(1.0f - powf(beta2, (float)t));
    const float step = lr / bc1;
    const int avx512 = __builtin_cpu_supports("avx512f");
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel if (n >= NN_PAR_MIN)
    {
        long lo, hi;
        nn_share((long)n, &lo, &hi);
        size_t i = (size_t)lo;
        if (avx512) i = adam_avx512(param, grad, m, v, i, (size_t)hi, step, beta1, beta2, eps, bc2_sqrt);
        adam_scalar(param, grad, m, v, i, (size_t)hi, step, beta1, beta2, eps, bc2_sqrt);
        nn_team_sync(&tm);
    }
}

void nn_ema_update(float *avg, const float *x, size_t n, float decay) {
    const float keep = decay, take = 1.0f - decay;
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel if (n >= NN_PAR_MIN)
    {
        long lo, hi;
        nn_share((long)n, &lo, &hi);
        for (long i = lo; i < hi; i++) avg[i] = keep * avg[i] + take * x[i];
        nn_team_sync(&tm);
    }
}
