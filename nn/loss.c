/* loss.c - binary cross-entropy on logits, in the numerically stable form
 *   l(x, t) = max(x, 0) - x*t + log(1 + exp(-|x|))
 * averaged over the batch (PyTorch's BCEWithLogitsLoss, reduction "mean").
 * Its gradient is (sigmoid(x) - t) / B.
 */
#include <math.h>
#include "nn.h"

float nn_bce_logits_forward(const float *logits, float target, int B) {
    double sum = 0.0;
    for (int i = 0; i < B; i++) {
        const double x = logits[i];
        sum += (x > 0 ? x : 0.0) - x * target + log1p(exp(-fabs(x)));
    }
    return (float)(sum / B);
}

void nn_bce_logits_backward(float *dlogits, const float *logits, float target,
                            float scale, int B) {
    for (int i = 0; i < B; i++) {
        const float x = logits[i];
        const float sig = x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
        dlogits[i] += scale * (sig - target) / (float)B;
    }
}
