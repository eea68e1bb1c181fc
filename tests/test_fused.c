/* test_fused.c - the fused BatchNorm + (leaky) ReLU kernels against the
 * composition of the separate layers, which test_grad.c checks by finite
 * differences and test_torch.c against PyTorch. Forward, eval and backward
 * (input, gamma and beta gradients, accumulation) must agree to 1e-5
 * relative: the fused kernels do the same float operations in the same
 * order except for the activation being applied in the same pass.
 */
#include <stdlib.h>
#include <string.h>
#include "testhelp.h"
#include "../nn/nn.h"

static float *randn(nn_rng *r, size_t n, float mean, float sd) {
    float *x = malloc(n * sizeof(float));
    nn_rng_fill_normal(r, x, n, mean, sd);
    return x;
}

static double max_rel_err(const float *a, const float *b, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double e = fabs((double)a[i] - b[i]) / (1e-6 + fabs((double)b[i]));
        if (e > worst) worst = e;
    }
    return worst;
}

static void check_fused(float slope, int C, int N) {
    nn_rng r;
    nn_rng_seed(&r, 1000 + (uint64_t)C * 7 + (uint64_t)N);
    const size_t n = (size_t)C * N;
    float *x = randn(&r, n, 0.3f, 1.5f), *dout = randn(&r, n, 0.0f, 1.0f);
    float *gamma = randn(&r, (size_t)C, 1.0f, 0.3f), *beta = randn(&r, (size_t)C, 0.0f, 0.3f);
    float rm1[64] = {0}, rv1[64], rm2[64] = {0}, rv2[64], mean1[64], rstd1[64], mean2[64], rstd2[64];
    for (int c = 0; c < C; c++) rv1[c] = rv2[c] = 1.0f;
    float *bn = calloc(n, sizeof(float)), *act = calloc(n, sizeof(float)), *fused = calloc(n, sizeof(float));
    /* forward: separate vs fused */
    nn_batchnorm_forward(bn, mean1, rstd1, x, gamma, beta, rm1, rv1, 0.1f, 1e-5f, C, N);
    if (slope == 0.0f) nn_relu_forward(act, bn, n);
    else nn_leaky_relu_forward(act, bn, slope, n);
    nn_batchnorm_act_forward(fused, mean2, rstd2, x, gamma, beta, rm2, rv2, 0.1f, 1e-5f, slope, C, N);
    CHECKF(max_rel_err(fused, act, n) < 1e-5, "forward slope %g: %g", slope, max_rel_err(fused, act, n));
    CHECK(memcmp(mean1, mean2, (size_t)C * sizeof(float)) == 0);
    CHECK(memcmp(rv1, rv2, (size_t)C * sizeof(float)) == 0 && memcmp(rm1, rm2, (size_t)C * sizeof(float)) == 0);
    /* eval */
    nn_batchnorm_forward_eval(bn, x, gamma, beta, rm1, rv1, 1e-5f, C, N);
    if (slope == 0.0f) nn_relu_forward(act, bn, n);
    else nn_leaky_relu_forward(act, bn, slope, n);
    nn_batchnorm_act_forward_eval(fused, x, gamma, beta, rm1, rv1, 1e-5f, slope, C, N);
    CHECKF(max_rel_err(fused, act, n) < 1e-5, "eval slope %g", slope);
    /* backward, twice, to check accumulation */
    nn_batchnorm_act_forward(act, mean1, rstd1, x, gamma, beta, NULL, NULL, 0.1f, 1e-5f, slope, C, N);
    float *dbn = calloc(n, sizeof(float)), *dx1 = calloc(n, sizeof(float)), *dx2 = calloc(n, sizeof(float));
    float dg1[64] = {0}, db1[64] = {0}, dg2[64] = {0}, db2[64] = {0};
    for (int rep = 0; rep < 2; rep++) {
        memset(dbn, 0, n * sizeof(float));
        if (slope == 0.0f) nn_relu_backward(dbn, act, dout, n);
        else nn_leaky_relu_backward(dbn, act, dout, slope, n);
        nn_batchnorm_backward(dx1, dg1, db1, dbn, x, mean1, rstd1, gamma, C, N);
        nn_batchnorm_act_backward(dx2, dg2, db2, dout, act, x, mean1, rstd1, gamma, slope, C, N);
    }
    CHECKF(max_rel_err(dx2, dx1, n) < 1e-4, "dinp slope %g: %g", slope, max_rel_err(dx2, dx1, n));
    CHECKF(max_rel_err(dg2, dg1, (size_t)C) < 1e-5, "dgamma slope %g", slope);
    CHECKF(max_rel_err(db2, db1, (size_t)C) < 1e-5, "dbeta slope %g", slope);
    free(x); free(dout); free(gamma); free(beta); free(bn); free(act); free(fused);
    free(dbn); free(dx1); free(dx2);
}

TEST(fused_batchnorm_relu_matches_separate) {
    check_fused(0.0f, 5, 98);
    check_fused(0.0f, 64, 16);
}

TEST(fused_batchnorm_leaky_relu_matches_separate) {
    check_fused(0.2f, 7, 49);
    check_fused(0.2f, 3, 1000);
}

TEST(zero_clears_exactly_the_range) {
    float x[1003];
    for (int i = 0; i < 1003; i++) x[i] = 1.0f;
    nn_zero(x + 1, 1001);
    CHECK(x[0] == 1.0f && x[1002] == 1.0f);
    int all = 1;
    for (int i = 1; i < 1002; i++) all &= x[i] == 0.0f;
    CHECK(all);
}
