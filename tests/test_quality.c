/* test_quality.c - nn/quality.c: feature statistics and Frechet distance
 * against NumPy (tests/fixtures/quality_stats.bin, from
 * tools/make_quality_fixture.py), the Jacobi eigen-solver, the softmax
 * scores, the median, and the nearest-neighbour search against brute force.
 *
 * The fixture does not store the two feature sets: both sides rebuild them
 * from the counter-based hash (fx_hash), see the script's header.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "testhelp.h"
#include "fixture.h"
#include "../nn/nn.h"
#include "../nn/quality.h"

enum { QF_N = 300, QF_D = 64, QF_TAPS = 3 };

/* x [300][64]: the feature set of make_quality_fixture.py (exact in float). */
static void fixture_features(float *x, uint32_t stream, int set) {
    const int width = QF_D + QF_TAPS;
    for (int i = 0; i < QF_N; i++) {
        float z[QF_D + QF_TAPS];
        for (int t = 0; t < width; t++)
            z[t] = (float)((int)(fx_hash((uint32_t)(i * width + t), stream) >> 20) - 2048) * 0x1p-11f;
        for (int a = 0; a < QF_D; a++) {
            float v, scale, mu;
            if (set == 1) {
                v = z[a] + 0.5f * z[a + 1] + 0.25f * z[a + 3];
                scale = a % 3 == 0 ? 2.0f : 1.0f;
                mu = (float)(a % 5) / 8.0f;
            } else {
                v = z[a] - 0.5f * z[a + 1] + 0.5f * z[a + 3];
                scale = a % 4 == 0 ? 0.5f : 1.0f;
                mu = (float)(a % 7) / 16.0f - 0.125f;
            }
            x[(size_t)i * QF_D + a] = scale * v + mu;
        }
    }
}

static double max_abs_diff(const double *a, const double *b, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) if (fabs(a[i] - b[i]) > m) m = fabs(a[i] - b[i]);
    return m;
}

static double max_abs(const double *a, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) if (fabs(a[i]) > m) m = fabs(a[i]);
    return m;
}

/* Stats of both sets; 0 when the fixture and memory are there. */
typedef struct {
    fx_file *fx;
    float x1[QF_N * QF_D], x2[QF_N * QF_D];            /* [300][64] */
    double m1[QF_D], m2[QF_D], c1[QF_D * QF_D], c2[QF_D * QF_D];
} stats_case;

static stats_case *stats_case_new(void) {
    stats_case *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->fx = fx_open("quality_stats.bin");
    if (!s->fx) { free(s); return NULL; }
    fixture_features(s->x1, 100, 1);
    fixture_features(s->x2, 101, 2);
    if (nn_feature_stats(s->x1, QF_N, QF_D, s->m1, s->c1) != 0 ||
        nn_feature_stats(s->x2, QF_N, QF_D, s->m2, s->c2) != 0) {
        fx_close(s->fx);
        free(s);
        return NULL;
    }
    return s;
}

static void stats_case_free(stats_case *s) {
    if (!s) return;
    fx_close(s->fx);
    free(s);
}

/* mean and covariance vs np.mean / np.cov: max abs error <= 1e-12 x max |value| */
TEST(quality_feature_stats_vs_numpy) {
    stats_case *s = stats_case_new();
    CHECK(s != NULL);
    if (!s) return;
    const double *m1 = fx_f64(s->fx, "mean1", QF_D), *m2 = fx_f64(s->fx, "mean2", QF_D);
    const double *c1 = fx_f64(s->fx, "cov1", QF_D * QF_D), *c2 = fx_f64(s->fx, "cov2", QF_D * QF_D);
    CHECK(m1 && m2 && c1 && c2);
    if (m1 && m2 && c1 && c2) {
        CHECK_CLOSE(max_abs_diff(s->m1, m1, QF_D), 0.0, 1e-12 * max_abs(m1, QF_D), 0);
        CHECK_CLOSE(max_abs_diff(s->m2, m2, QF_D), 0.0, 1e-12 * max_abs(m2, QF_D), 0);
        CHECK_CLOSE(max_abs_diff(s->c1, c1, QF_D * QF_D), 0.0, 1e-12 * max_abs(c1, QF_D * QF_D), 0);
        CHECK_CLOSE(max_abs_diff(s->c2, c2, QF_D * QF_D), 0.0, 1e-12 * max_abs(c2, QF_D * QF_D), 0);
    }
    double m[2], c[4];
    CHECK(nn_feature_stats(s->x1, 1, QF_D, s->m1, s->c1) == -1);     /* n < 2 */
    CHECK(nn_feature_stats((const float[]){1, 5}, 2, 1, m, c) == 0);
    CHECK(m[0] == 3.0 && c[0] == 8.0);
    stats_case_free(s);
}

/* Frechet vs NumPy's general eigen-solver: rtol 1e-9; symmetric to 1e-9
 * relative; F(X, X) <= 1e-9 x tr(C); bad d gives -1. */
TEST(quality_frechet_vs_numpy) {
    stats_case *s = stats_case_new();
    CHECK(s != NULL);
    if (!s) return;
    const double want = fx_scalar_f64(s->fx, "frechet12");
    const double f12 = nn_frechet(s->m1, s->c1, s->m2, s->c2, QF_D);
    const double f21 = nn_frechet(s->m2, s->c2, s->m1, s->c1, QF_D);
    CHECK_CLOSE(f12, want, 0, 1e-9);
    CHECK_CLOSE(f21, f12, 0, 1e-9);
    double tr = 0.0;
    for (int a = 0; a < QF_D; a++) tr += s->c1[a * QF_D + a];
    const double f11 = nn_frechet(s->m1, s->c1, s->m1, s->c1, QF_D);
    CHECK(f11 >= 0.0);
    CHECK_CLOSE(f11, 0.0, 1e-9 * tr, 0);
    CHECK(nn_frechet(s->m1, s->c1, s->m2, s->c2, 0) == -1.0);
    CHECK(nn_frechet(s->m1, s->c1, s->m2, s->c2, NN_FRECHET_MAX_D + 1) == -1.0);
    /* 1-d closed form: (m1-m2)^2 + (s1 - s2)^2 */
    const double a1 = 1.0, v1 = 4.0, a2 = -2.0, v2 = 9.0;
    CHECK_CLOSE(nn_frechet(&a1, &v1, &a2, &v2, 1), 9.0 + 1.0, 1e-12, 0);
    stats_case_free(s);
}

/* A = V^T diag(e) V for a random symmetric 40x40: max error <= 1e-9 x max|A|,
 * and V V^T = I to 1e-9; a diagonal matrix gives its diagonal. */
TEST(quality_sym_eigen_reconstructs) {
    enum { D = 40 };
    static double a[D * D], v[D * D], e[D];
    nn_rng r;
    nn_rng_seed(&r, 4242);
    for (int i = 0; i < D; i++)
        for (int j = 0; j <= i; j++) a[i * D + j] = a[j * D + i] = nn_rng_normal(&r);
    CHECK(nn_sym_eigen(a, D, e, v) == 0);
    double err = 0.0, orth = 0.0;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double s = 0.0, o = 0.0;
            for (int k = 0; k < D; k++) {
                s += v[k * D + i] * e[k] * v[k * D + j];
                o += v[i * D + k] * v[j * D + k];
            }
            if (fabs(s - a[i * D + j]) > err) err = fabs(s - a[i * D + j]);
            if (fabs(o - (i == j)) > orth) orth = fabs(o - (i == j));
        }
    CHECK_CLOSE(err, 0.0, 1e-9 * max_abs(a, D * D), 0);
    CHECK_CLOSE(orth, 0.0, 1e-9, 0);
    double tr = 0.0, sum = 0.0;
    for (int k = 0; k < D; k++) { tr += a[k * D + k]; sum += e[k]; }
    CHECK_CLOSE(sum, tr, 1e-9 * D, 0);
    const double diag[9] = {3, 0, 0, 0, -1, 0, 0, 0, 2};
    double ed[3];
    CHECK(nn_sym_eigen(diag, 3, ed, NULL) == 0);
    CHECK(ed[0] == 3 && ed[1] == -1 && ed[2] == 2);
    CHECK(nn_sym_eigen(diag, 0, ed, NULL) == -1);
}

/* Hand cases (one-hot uniform over 10 classes: IS 10; identical rows: IS 1;
 * rtol 1e-9) and the fixture rows vs NumPy (IS, confidence rtol 1e-9,
 * histogram exact). */
TEST(quality_softmax_scores) {
    enum { N = 30, K = 10 };
    static float p[N * K];
    double share[K];
    memset(p, 0, sizeof p);
    for (int i = 0; i < N; i++) p[i * K + i % K] = 1.0f;        /* 3 of each class */
    CHECK_CLOSE(nn_inception_score(p, N, K), 10.0, 0, 1e-9);
    CHECK_CLOSE(nn_mean_confidence(p, N, K), 1.0, 0, 1e-12);
    nn_class_histogram(p, N, K, share);
    for (int c = 0; c < K; c++) CHECK_CLOSE(share[c], 0.1, 1e-15, 0);
    for (int i = 0; i < N; i++)                                  /* all rows the same */
        for (int c = 0; c < K; c++) p[i * K + c] = c == 2 ? 0.55f : 0.05f;
    CHECK_CLOSE(nn_inception_score(p, N, K), 1.0, 0, 1e-9);
    CHECK_CLOSE(nn_mean_confidence(p, N, K), 0.55f, 0, 1e-12);
    nn_class_histogram(p, N, K, share);
    CHECK(share[2] == 1.0 && share[0] == 0.0);
    CHECK(nn_inception_score(p, 0, K) == 0.0);

    fx_file *fx = fx_open("quality_stats.bin");
    CHECK(fx != NULL);
    if (!fx) return;
    const float *probs = fx_f32(fx, "probs", 50 * K);
    const double *hist = fx_f64(fx, "hist", K);
    CHECK(probs && hist);
    if (probs && hist) {
        CHECK_CLOSE(nn_inception_score(probs, 50, K), fx_scalar_f64(fx, "is"), 0, 1e-9);
        CHECK_CLOSE(nn_mean_confidence(probs, 50, K), fx_scalar_f64(fx, "conf"), 0, 1e-9);
        nn_class_histogram(probs, 50, K, share);
        for (int c = 0; c < K; c++) CHECK_CLOSE(share[c], hist[c], 1e-15, 0);
    }
    fx_close(fx);
}

static int cmp_float(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Odd n: the middle value; even n: the mean of the two middle values. Exact. */
TEST(quality_median) {
    float a[] = {3, 1, 2};
    CHECK(nn_median(a, 3) == 2.0f);
    float b[] = {4, 1, 3, 2};
    CHECK(nn_median(b, 4) == 2.5f);
    float c[] = {7};
    CHECK(nn_median(c, 1) == 7.0f);
    float d[] = {5, 5, 1, 5, 9, 5};
    CHECK(nn_median(d, 6) == 5.0f);
    float e[] = {2, 1};
    CHECK(nn_median(e, 2) == 1.5f);
    enum { M = 1001 };
    static float v[M], sorted[M];
    nn_rng r;
    nn_rng_seed(&r, 99);
    for (int n = M - 1; n <= M; n++) {
        for (int i = 0; i < n; i++) v[i] = (float)nn_rng_below(&r, 300) * 0.5f;   /* with repeats */
        memcpy(sorted, v, sizeof(float) * (size_t)n);
        qsort(sorted, (size_t)n, sizeof(float), cmp_float);
        const float want = n % 2 ? sorted[n / 2]
                                 : (float)(0.5 * ((double)sorted[n / 2 - 1] + sorted[n / 2]));
        CHECK(nn_median(v, n) == want);
    }
}

/* The definition of quality.h, in the same order: the reference result. */
static void brute_nearest(const uint8_t *ref, int N, int pix, const float *q, int32_t *idx, float *dist) {
    double best = INFINITY;
    *idx = -1;
    for (int j = 0; j < N; j++) {
        double s = 0.0;
        for (int p = 0; p < pix; p++) {
            const double t = (double)q[p] - ref[(size_t)j * pix + p] / 255.0;
            s += t * t;
        }
        if (s < best) { best = s; *idx = j; }
    }
    *dist = (float)sqrt(best);
}

/* 5000 references (not a multiple of the chunk) with exact duplicates, 20
 * copies of one image (overflows the candidate list) and pairs differing in
 * one pixel; 37 queries: copies of references (distance 0, lowest duplicate),
 * midpoints of near pairs (near ties far below float resolution), noisy
 * copies and random images. Indices equal brute force; distances to 1e-5. */
TEST(quality_nearest_matches_brute_force) {
    enum { N = 5000, PIX = 784, NQ = 37 };
    uint8_t *ref = malloc((size_t)N * PIX);
    float *q = malloc((size_t)NQ * PIX * sizeof *q);
    CHECK(ref && q);
    if (!ref || !q) { free(ref); free(q); return; }
    nn_rng r;
    nn_rng_seed(&r, 2024);
    for (size_t i = 0; i < (size_t)N * PIX; i++) {     /* mostly dark, like digits */
        const uint32_t u = nn_rng_below(&r, 4);
        ref[i] = u == 0 ? (uint8_t)nn_rng_below(&r, 256) : 0;
    }
    memcpy(ref + 4321 * PIX, ref + 1234 * PIX, PIX);          /* exact duplicates */
    memcpy(ref + 4999 * PIX, ref + 17 * PIX, PIX);
    for (int k = 0; k < 20; k++) memcpy(ref + (size_t)(3000 + k) * PIX, ref + 500 * PIX, PIX);
    const int pair_a[4] = {100, 2047, 2048, 4500}, pair_b[4] = {3500, 2049, 1, 4998};
    for (int k = 0; k < 4; k++) {                     /* b = a with one pixel 2 brighter */
        memcpy(ref + (size_t)pair_b[k] * PIX, ref + (size_t)pair_a[k] * PIX, PIX);
        uint8_t *px = ref + (size_t)pair_b[k] * PIX + 300 + k;
        *px = (uint8_t)(*px > 200 ? *px - 2 : *px + 2);
    }
    int qi = 0;
    const int copies[5] = {4321, 1234, 17, 3010, 2048};
    for (int k = 0; k < 5; k++, qi++)                 /* copies: distance ~0 */
        for (int p = 0; p < PIX; p++) q[qi * PIX + p] = ref[(size_t)copies[k] * PIX + p] / 255.0f;
    for (int k = 0; k < 4; k++, qi++) {               /* midpoints of the near pairs */
        for (int p = 0; p < PIX; p++)
            q[qi * PIX + p] = (ref[(size_t)pair_a[k] * PIX + p] + ref[(size_t)pair_b[k] * PIX + p]) / 510.0f;
    }
    for (int k = 0; k < 4; k++, qi++) {               /* midpoints nudged a hair towards a or b */
        for (int p = 0; p < PIX; p++)
            q[qi * PIX + p] = (ref[(size_t)pair_a[k] * PIX + p] + ref[(size_t)pair_b[k] * PIX + p]) / 510.0f;
        q[qi * PIX + 300 + k] += (k % 2 ? 1e-6f : -1e-6f);
    }
    for (; qi < 24; qi++) {                           /* noisy copies, one of the 20 twins */
        const int src = qi == 13 ? 3005 : (int)nn_rng_below(&r, N);
        for (int p = 0; p < PIX; p++) {
            const float v = ref[(size_t)src * PIX + p] / 255.0f + 0.02f * nn_rng_normal(&r);
            q[qi * PIX + p] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
    }
    for (; qi < NQ; qi++)                             /* random images */
        for (int p = 0; p < PIX; p++) q[qi * PIX + p] = nn_rng_below(&r, 4) == 0 ? nn_rng_uniform(&r) : 0.0f;

    int32_t idx[NQ], want_idx[NQ];
    float dist[NQ], want_dist[NQ];
    CHECK(nn_nearest(ref, N, PIX, q, NQ, idx, dist) == 0);
    for (int i = 0; i < NQ; i++) {
        brute_nearest(ref, N, PIX, q + (size_t)i * PIX, &want_idx[i], &want_dist[i]);
        CHECKF(idx[i] == want_idx[i], "query %d: %d vs brute force %d", i, idx[i], want_idx[i]);
        CHECK_CLOSE(dist[i], want_dist[i], 1e-5, 0);
    }
    CHECK(idx[0] == 1234 && idx[1] == 1234 && idx[2] == 17 && idx[3] == 500 && idx[4] == 2048);
    for (int i = 0; i < 5; i++) CHECK(dist[i] < 1e-6f);      /* float q vs r / 255 in double */
    CHECK(idx[13] == 500);

    /* fewer references than a chunk, one query, and the size checks */
    int32_t one;
    float d1;
    CHECK(nn_nearest(ref + 1000 * PIX, 50, PIX, q + 5 * PIX, 1, &one, &d1) == 0);
    int32_t bi;
    float bd;
    brute_nearest(ref + 1000 * PIX, 50, PIX, q + 5 * PIX, &bi, &bd);
    CHECK(one == bi);
    CHECK_CLOSE(d1, bd, 1e-5, 0);
    CHECK(nn_nearest(ref, 0, PIX, q, 1, &one, &d1) == -1);
    CHECK(nn_nearest(ref, N, PIX, q, 0, &one, &d1) == 0);
    free(ref);
    free(q);
}
