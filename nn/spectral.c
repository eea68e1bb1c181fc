/* spectral.c - spectral normalisation of a weight (Miyato et al. 2018), as
 * torch.nn.utils.spectral_norm does it with one power iteration.
 *
 * A conv weight [OC][C][K][K] is read as a matrix W [rows = OC][cols =
 * C*K*K]. Two vectors kept between calls, u [rows] and v [cols], track its
 * largest singular vectors. Forward in training:
 *     v = normalize(W^T u),  u = normalize(W v)      (power iteration)
 *     sigma = u^T W v,       W_sn = W / sigma
 * with normalize(x) = x / max(|x|, 1e-12). In eval mode the stored u and v
 * are used as they are, so judging never moves them.
 *
 * PyTorch computes u and v without gradient, so sigma's derivative is
 * d sigma / dW = u v^T, and for G = dL/dW_sn
 *     dL/dW = (G - <G, W_sn> u v^T) / sigma.
 * Sums run in double; the vectors and W_sn are float like everything else.
 */
#include <math.h>
#include "nn.h"

#define SN_EPS 1e-12

/* x [n] = x / max(|x|, SN_EPS), from the sum s = x.x in double */
static void normalize(float *x, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)x[i] * x[i];
    double norm = sqrt(s);
    if (norm < SN_EPS) norm = SN_EPS;
    for (int i = 0; i < n; i++) x[i] = (float)(x[i] / norm);
}

void nn_sn_init(float *u, float *v, int rows, int cols, nn_rng *rng) {
    nn_rng_fill_normal(rng, u, (size_t)rows, 0.0f, 1.0f);
    nn_rng_fill_normal(rng, v, (size_t)cols, 0.0f, 1.0f);
    normalize(u, rows);
    normalize(v, cols);
}

float nn_sn_forward(float *w_sn, float *u, float *v, const float *w, int rows, int cols, int train) {
    if (train) {
        for (int j = 0; j < cols; j++) {                    /* v = W^T u */
            double s = 0.0;
            for (int i = 0; i < rows; i++) s += (double)w[(size_t)i * cols + j] * u[i];
            v[j] = (float)s;
        }
        normalize(v, cols);
        for (int i = 0; i < rows; i++) {                    /* u = W v */
            const float *wr = w + (size_t)i * cols;
            double s = 0.0;
            for (int j = 0; j < cols; j++) s += (double)wr[j] * v[j];
            u[i] = (float)s;
        }
        normalize(u, rows);
    }
    double sigma = 0.0;                                     /* u^T W v */
    for (int i = 0; i < rows; i++) {
        const float *wr = w + (size_t)i * cols;
        double s = 0.0;
        for (int j = 0; j < cols; j++) s += (double)wr[j] * v[j];
        sigma += s * u[i];
    }
    const float sg = (float)sigma;
    const size_t n = (size_t)rows * cols;
    for (size_t k = 0; k < n; k++) w_sn[k] = w[k] / sg;
    return sg;
}

void nn_sn_backward(float *dw, const float *dw_sn, const float *w_sn, const float *u, const float *v,
                    float sigma, int rows, int cols) {
    const size_t n = (size_t)rows * cols;
    double gw = 0.0;                                        /* <G, W_sn> */
    for (size_t k = 0; k < n; k++) gw += (double)dw_sn[k] * w_sn[k];
    const float inv = 1.0f / sigma, c = (float)(gw / sigma);
    for (int i = 0; i < rows; i++) {
        const float cu = c * u[i];
        float *d = dw + (size_t)i * cols;
        const float *g = dw_sn + (size_t)i * cols;
        for (int j = 0; j < cols; j++) d[j] += g[j] * inv - cu * v[j];
    }
}
