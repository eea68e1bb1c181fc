/* loss.c - the adversarial losses on D's logits, averaged over the batch.
 *
 * Binary cross-entropy in the numerically stable form
 *   l(x, t) = max(x, 0) - x*t + log(1 + exp(-|x|))
 * (PyTorch's BCEWithLogitsLoss, reduction "mean"); its gradient is
 * (sigmoid(x) - t) / B.
 *
 * The hinge loss of D, l(x) = max(0, 1 - s*x) with s = +1 for real images and
 * -1 for fakes (torch.relu(1 - s*x).mean()); its gradient is -s / B where
 * 1 - s*x > 0 and 0 elsewhere (PyTorch's relu'(0) = 0, so a logit exactly on
 * the margin gets 0 too). G's side of the hinge loss is -mean(x).
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

float nn_hinge_forward(const float *logits, float sign, int B) {
    double sum = 0.0;
    for (int i = 0; i < B; i++) {
        const double m = 1.0 - (double)sign * logits[i];
        sum += m > 0.0 ? m : 0.0;
    }
    return (float)(sum / B);
}

void nn_hinge_backward(float *dlogits, const float *logits, float sign, float scale, int B) {
    for (int i = 0; i < B; i++)
        if (1.0f - sign * logits[i] > 0.0f) dlogits[i] += scale * -sign / (float)B;
}

float nn_neg_mean_forward(const float *logits, int B) {
    double sum = 0.0;
    for (int i = 0; i < B; i++) sum += logits[i];
    return (float)(-sum / B);
}

void nn_neg_mean_backward(float *dlogits, float scale, int B) {
    for (int i = 0; i < B; i++) dlogits[i] += -scale / (float)B;
}
