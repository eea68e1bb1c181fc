/* test_slerp.c - srv_slerp: exact ends, constant norm, the middle of
 * orthogonal unit vectors, and the parallel fallback. */
#include <math.h>
#include <string.h>
#include "testhelp.h"
#include "../nn/nn.h"
#include "../server/latent.h"

static double norm(const float *x, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s);
}

TEST(slerp_ends_are_the_inputs) {
    enum { N = 100 };
    float a[N], b[N], out[N];
    nn_rng r;
    nn_rng_seed(&r, 7);
    nn_rng_fill_normal(&r, a, N, 0.0f, 1.0f);
    nn_rng_fill_normal(&r, b, N, 0.0f, 1.0f);
    srv_slerp(a, b, N, 0.0, out);
    CHECK(memcmp(out, a, sizeof a) == 0);
    srv_slerp(a, b, N, 1.0, out);
    CHECK(memcmp(out, b, sizeof b) == 0);
}

TEST(slerp_keeps_equal_norms) {
    enum { N = 64 };
    float a[N], b[N], out[N];
    nn_rng r;
    nn_rng_seed(&r, 11);
    nn_rng_fill_normal(&r, a, N, 0.0f, 1.0f);
    nn_rng_fill_normal(&r, b, N, 0.0f, 1.0f);
    double na = norm(a, N), nb = norm(b, N);
    for (int i = 0; i < N; i++) b[i] = (float)(b[i] * na / nb);   /* |b| = |a| */
    double worst = 0.0;
    for (int k = 1; k < 10; k++) {
        srv_slerp(a, b, N, k / 10.0, out);
        double d = fabs(norm(out, N) - na);
        if (d > worst) worst = d;
    }
    CHECK_CLOSE(worst, 0.0, 1e-5 * na, 0);
}

TEST(slerp_middle_of_orthogonal_units) {
    float a[3] = {1, 0, 0}, b[3] = {0, 1, 0}, out[3];
    srv_slerp(a, b, 3, 0.5, out);
    CHECK_CLOSE(out[0], sqrt(0.5), 1e-7, 0);
    CHECK_CLOSE(out[1], sqrt(0.5), 1e-7, 0);
    CHECK_CLOSE(out[2], 0.0, 1e-7, 0);
    srv_slerp(a, b, 3, 1.0 / 3.0, out);          /* 30 degrees from a */
    CHECK_CLOSE(out[0], cos(M_PI / 6), 1e-6, 0);
    CHECK_CLOSE(out[1], sin(M_PI / 6), 1e-6, 0);
}

TEST(slerp_parallel_falls_back_to_lerp) {
    float a[2] = {1, 2}, b[2] = {2, 4}, z[2] = {0, 0}, out[2];
    srv_slerp(a, b, 2, 0.5, out);
    CHECK(isfinite(out[0]) && isfinite(out[1]));
    CHECK_CLOSE(out[0], 1.5, 1e-6, 0);
    CHECK_CLOSE(out[1], 3.0, 1e-6, 0);
    srv_slerp(a, z, 2, 0.25, out);                  /* a zero vector */
    CHECK_CLOSE(out[0], 0.75, 1e-6, 0);
    CHECK_CLOSE(out[1], 1.5, 1e-6, 0);
}
