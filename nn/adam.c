/* adam.c - the Adam optimiser, step for step as torch.optim.Adam (1.13,
 * no weight decay, no amsgrad), over one flat block of parameters:
 *   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
 *   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 */
#include <math.h>
#include "nn.h"

void nn_adam_update(float *param, const float *grad, float *m, float *v, size_t n,
                    float lr, float beta1, float beta2, float eps, long t) {
    const float bc1 = 1.0f - powf(beta1, (float)t);
    const float bc2_sqrt = sqrtf(1.0f - powf(beta2, (float)t));
    const float step = lr / bc1;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        const float g = grad[i];
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        param[i] -= step * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
    }
}
