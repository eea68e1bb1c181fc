/* softmax.c - softmax cross-entropy on logits with integer class labels
 * (PyTorch's F.cross_entropy, reduction "mean").
 *
 * Layout: row per sample, logits[B][K] (sample b's K logits are contiguous).
 * For each row, with m = max_k x_k (subtracted so exp never overflows):
 *   p_k   = exp(x_k - m) / sum_j exp(x_j - m)
 *   loss  = log(sum_j exp(x_j - m)) - (x_y - m)
 * The mean over B is returned; the gradient of that mean is (p - onehot(y)) / B.
 */
#include <math.h>
#include "nn.h"

float nn_softmax_ce_forward(float *probs, const float *logits, const int32_t *labels,
                            int B, int K) {
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const float *x = logits + (size_t)b * K;
        float *p = probs + (size_t)b * K;
        float m = x[0];
        for (int k = 1; k < K; k++) if (x[k] > m) m = x[k];
        double sum = 0.0;
        for (int k = 0; k < K; k++) {
            const float e = expf(x[k] - m);
            p[k] = e;
            sum += e;
        }
        const float inv = (float)(1.0 / sum);
        for (int k = 0; k < K; k++) p[k] *= inv;
        total += log(sum) - ((double)x[labels[b]] - m);
    }
    return (float)(total / B);
}

void nn_softmax_ce_backward(float *dlogits, const float *probs, const int32_t *labels,
                            float scale, int B, int K) {
    const float s = scale / (float)B;
    for (int b = 0; b < B; b++) {
        float *d = dlogits + (size_t)b * K;
        const float *p = probs + (size_t)b * K;
        for (int k = 0; k < K; k++) d[k] += s * (p[k] - (k == labels[b] ? 1.0f : 0.0f));
    }
}
