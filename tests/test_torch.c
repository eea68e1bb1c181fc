/* test_torch.c - every layer, Adam and one whole DCGAN training iteration
 * against PyTorch 1.13 (CPU, float32), via the fixtures written by
 * tools/make_fixtures.py into tests/fixtures/ (read by tests/fixture.c).
 *
 * Layer tests feed the stored inputs (already channel-major [C][B][H][W])
 * to the C layer and compare outputs and gradients entry by entry. The
 * DCGAN test builds the default model with batch 8, loads the initial
 * weights, real batch and noise from the shared hash generator (the
 * fixtures hold only summaries of the ~1.9M parameters), runs gan_d_step and
 * gan_g_step, and compares metrics, images, gradients, weight changes and
 * BatchNorm running statistics.
 *
 * GANLIVE_TEST_VERBOSE=1 prints the worst error/tolerance ratio of every
 * comparison.
 *
 * Tolerances (|got - want| <= atol + rtol * |want|), chosen from float32
 * rounding, not from what happens to pass:
 *   layers, and BN running statistics everywhere: atol 1e-5 * max|want|,
 *     rtol 1e-4 (one GEMM / reduction in float; typical errors ~1e-7
 *     relative); BCE loss 1e-6 + 1e-5 relative;
 *   metrics of the iteration: losses 1e-5 + 1e-4 relative, mean sigmoids
 *     1e-6 + 1e-4 relative, accuracies exact (every reference logit is at
 *     least 0.25 away from 0, asserted by make_fixtures.py);
 *   Adam: atol 2e-9 + rtol 1e-6 on params (a few ulps of 0.05; the update
 *     itself is ~2e-4), rtol 1e-5 on m, 1e-4 on v (see torch_adam);
 *   DCGAN iteration: atol TOL_A * rms(want) + rtol TOL_R * |want| with
 *     TOL_A = 1e-4, TOL_R = 1e-3 for sampled entries of activations and
 *     gradients (three or more float32 layers, BN reductions over 392-1568
 *     values, different summation order than PyTorch's kernels); sums must
 *     agree to TOL_SUM = 1e-4 * sqrt(n * sumsq) (the l1-like scale of the
 *     tensor), sums of squares to 1e-3 relative.
 *   Weight changes after one Adam step are about lr * sign(grad); where the
 *     reference gradient is below 1e-3 * rms(grad), float32 rounding may flip
 *     its sign and the change is allowed up to 2.5 * lr.
 *   The sampler's images come from G after that step, so those allowed
 *     weight differences pass through all of G: atol 3 * TOL_A * rms. (With
 *     BLIS's skx kernels the worst image entry of the projection model, a
 *     value near 0 in a cancellation, was at 0.996 of 1 * TOL_A and at 1.09
 *     with ganlive's own GEMM loop: the order of additions alone.)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../nn/gan.h"
#include "../nn/nn.h"
#include "fixture.h"
#include "testhelp.h"

#define L_ATOL 1e-5     /* layers: times max|want| */
#define L_RTOL 1e-4
#define TOL_A 1e-4      /* DCGAN: times rms(want) */
#define SAMPLER_ATOL_SCALE 3.0   /* the sampler after an Adam step: see above */
#define TOL_R 1e-3
#define TOL_SUM 1e-4
#define TOL_SUMSQ 1e-3
#define GARBAGE 777.0f

static float *tt_alloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(2); }
    return p;
}

static void tt_set(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++) x[i] = v;
}

/* Entry-by-entry comparison with atol = atol_frac * max|want|. */
static void cmp_layer(const char *what, const float *got, const float *want, size_t n,
                      double atol_frac, double rtol) {
    if (!want) { CHECKF(0, "%s: fixture tensor missing", what); return; }
    double scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    size_t bad = 0, wi = 0;
    double worst = -1;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        double tol = atol_frac * scale + rtol * fabs(want[i]) + 1e-30;
        if (!(err <= tol)) bad++;
        if (!(err / tol <= worst)) { worst = err / tol; wi = i; }
    }
    CHECKF(bad == 0, "%s: %zu of %zu entries off; worst [%zu] got %.9g want %.9g",
           what, bad, n, wi, (double)got[wi], (double)want[wi]);
    if (getenv("GANLIVE_TEST_VERBOSE")) printf("  %-60s worst err/tol %.3g\n", what, worst);
}

/* ---- convolutions ----------------------------------------------------------- */

static void conv_fixture_test(const char *file, int transposed) {
    fx_file *f = fx_open(file);
    CHECKF(f != NULL, "cannot read fixture %s", file);
    if (!f) return;
    int count = fx_scalar_i32(f, "count");
    CHECK(count > 0);
    for (int gi = 0; gi < count; gi++) {
        char nm[64], what[160];
#define T(s) (snprintf(nm, sizeof nm, "g%d.%s", gi, s), nm)
        const int32_t *g = fx_i32(f, T("geom"), 8);
        CHECK(g != NULL);
        if (!g) continue;
        int B = g[0], C = g[1], H = g[2], W = g[3], OC = g[4], K = g[5], S = g[6], P = g[7];
        int OH = transposed ? nn_convt_out(H, K, S, P) : nn_conv_out(H, K, S, P);
        int OW = transposed ? nn_convt_out(W, K, S, P) : nn_conv_out(W, K, S, P);
        size_t nx = (size_t)C * B * H * W, nw = (size_t)OC * C * K * K;
        size_t nout = (size_t)OC * B * OH * OW;
        size_t ncol = transposed ? (size_t)OC * K * K * B * H * W : (size_t)C * K * K * B * OH * OW;
        const float *x = fx_f32(f, T("x"), nx), *w = fx_f32(f, T("w"), nw);
        const float *out_t = fx_f32(f, T("out"), nout), *dout = fx_f32(f, T("dout"), nout);
        const float *dx_t = fx_f32(f, T("dx"), nx), *dw_t = fx_f32(f, T("dw"), nw);
#undef T
        CHECK(x && w && out_t && dout && dx_t && dw_t);
        if (!(x && w && out_t && dout && dx_t && dw_t)) continue;
        float *out = tt_alloc(nout), *col = tt_alloc(ncol), *dcol = tt_alloc(ncol);
        float *dx = tt_alloc(nx), *dw = tt_alloc(nw);
        tt_set(out, nout, GARBAGE);
        tt_set(col, ncol, GARBAGE);
        tt_set(dcol, ncol, GARBAGE);
        const char *name = transposed ? "convt2d" : "conv2d";
        if (transposed) {
            nn_convt2d_forward(out, col, x, w, B, C, H, W, OC, K, S, P);
            nn_convt2d_backward(dx, dw, dcol, x, w, dout, B, C, H, W, OC, K, S, P);
        } else {
            nn_conv2d_forward(out, col, x, w, B, C, H, W, OC, K, S, P);
            nn_conv2d_backward(dx, dw, dcol, col, x, w, dout, B, C, H, W, OC, K, S, P);
        }
        snprintf(what, sizeof what, "%s g%d (B%d C%d %dx%d OC%d k%d s%d p%d) out",
                 name, gi, B, C, H, W, OC, K, S, P);
        cmp_layer(what, out, out_t, nout, L_ATOL, L_RTOL);
        snprintf(what, sizeof what, "%s g%d dinp", name, gi);
        cmp_layer(what, dx, dx_t, nx, L_ATOL, L_RTOL);
        snprintf(what, sizeof what, "%s g%d dw", name, gi);
        cmp_layer(what, dw, dw_t, nw, L_ATOL, L_RTOL);
        free(out); free(col); free(dcol); free(dx); free(dw);
    }
    fx_close(f);
}

TEST(torch_conv2d) { conv_fixture_test("conv2d.bin", 0); }
TEST(torch_convt2d) { conv_fixture_test("convt2d.bin", 1); }

/* ---- BatchNorm2d, training and eval mode ---------------------------------- */

TEST(torch_batchnorm) {
    fx_file *f = fx_open("batchnorm.bin");
    CHECKF(f != NULL, "cannot read fixture batchnorm.bin");
    if (!f) return;
    int count = fx_scalar_i32(f, "count");
    CHECK(count > 0);
    for (int ci = 0; ci < count; ci++) {
        char nm[64], what[160];
#define T(s) (snprintf(nm, sizeof nm, "c%d.%s", ci, s), nm)
        const int32_t *sh = fx_i32(f, T("shape"), 4);
        CHECK(sh != NULL);
        if (!sh) continue;
        int C = sh[0], N = sh[1] * sh[2] * sh[3];
        size_t n = (size_t)C * N, c = (size_t)C;
        const float *x = fx_f32(f, T("x"), n), *gamma = fx_f32(f, T("gamma"), c);
        const float *beta = fx_f32(f, T("beta"), c), *rm0 = fx_f32(f, T("run_mean0"), c);
        const float *rv0 = fx_f32(f, T("run_var0"), c), *out_t = fx_f32(f, T("out"), n);
        const float *mean_t = fx_f32(f, T("mean"), c), *rstd_t = fx_f32(f, T("rstd"), c);
        const float *rm1 = fx_f32(f, T("run_mean1"), c), *rv1 = fx_f32(f, T("run_var1"), c);
        const float *dout = fx_f32(f, T("dout"), n), *dx_t = fx_f32(f, T("dx"), n);
        const float *dg_t = fx_f32(f, T("dgamma"), c), *db_t = fx_f32(f, T("dbeta"), c);
        const float *ev_t = fx_f32(f, T("eval_out"), n);
#undef T
        int ok = x && gamma && beta && rm0 && rv0 && out_t && mean_t && rstd_t && rm1 &&
                 rv1 && dout && dx_t && dg_t && db_t && ev_t;
        CHECK(ok);
        if (!ok) continue;
        float *out = tt_alloc(n), *mean = tt_alloc(c), *rstd = tt_alloc(c);
        float *rm = tt_alloc(c), *rv = tt_alloc(c), *dx = tt_alloc(n);
        float *dg = tt_alloc(c), *db = tt_alloc(c), *ev = tt_alloc(n);
        memcpy(rm, rm0, c * sizeof *rm);
        memcpy(rv, rv0, c * sizeof *rv);
        tt_set(out, n, GARBAGE);
        nn_batchnorm_forward(out, mean, rstd, x, gamma, beta, rm, rv, 0.1f, 1e-5f, C, N);
        nn_batchnorm_backward(dx, dg, db, dout, x, mean, rstd, gamma, C, N);
        tt_set(ev, n, GARBAGE);
        nn_batchnorm_forward_eval(ev, x, gamma, beta, rm, rv, 1e-5f, C, N);
        static const char *names[] = {"out", "batch mean", "rstd", "running_mean",
                                      "running_var (unbiased, momentum 0.1)", "dinp",
                                      "dgamma", "dbeta", "eval-mode out"};
        const float *got[] = {out, mean, rstd, rm, rv, dx, dg, db, ev};
        const float *want[] = {out_t, mean_t, rstd_t, rm1, rv1, dx_t, dg_t, db_t, ev_t};
        size_t len[] = {n, c, c, c, c, n, c, c, n};
        for (int k = 0; k < 9; k++) {
            snprintf(what, sizeof what, "batchnorm c%d (C%d N%d) %s", ci, C, N, names[k]);
            cmp_layer(what, got[k], want[k], len[k], L_ATOL, L_RTOL);
        }
        free(out); free(mean); free(rstd); free(rm); free(rv); free(dx);
        free(dg); free(db); free(ev);
    }
    fx_close(f);
}

/* ---- activations ------------------------------------------------------------ */

TEST(torch_activations) {
    fx_file *f = fx_open("act.bin");
    CHECKF(f != NULL, "cannot read fixture act.bin");
    if (!f) return;
    size_t n = fx_size(f, "x");
    const float *x = fx_f32(f, "x", n);
    CHECK(n > 0 && x != NULL);
    if (!x) { fx_close(f); return; }
    float *out = tt_alloc(n), *dx = tt_alloc(n);
    static const char *names[] = {"relu", "leaky", "tanh"};
    for (int k = 0; k < 3; k++) {
        char nm[64], what[160];
        snprintf(nm, sizeof nm, "%s.out", names[k]);
        const float *out_t = fx_f32(f, nm, n);
        snprintf(nm, sizeof nm, "%s.dout", names[k]);
        const float *dout = fx_f32(f, nm, n);
        snprintf(nm, sizeof nm, "%s.dx", names[k]);
        const float *dx_t = fx_f32(f, nm, n);
        CHECK(out_t && dout && dx_t);
        if (!(out_t && dout && dx_t)) continue;
        tt_set(out, n, GARBAGE);
        memset(dx, 0, n * sizeof *dx);
        if (k == 0) {
            nn_relu_forward(out, x, n);
            nn_relu_backward(dx, out, dout, n);
        } else if (k == 1) {
            nn_leaky_relu_forward(out, x, 0.2f, n);
            nn_leaky_relu_backward(dx, out, dout, 0.2f, n);
        } else {
            nn_tanh_forward(out, x, n);
            nn_tanh_backward(dx, out, dout, n);
        }
        snprintf(what, sizeof what, "%s out", names[k]);
        cmp_layer(what, out, out_t, n, L_ATOL, L_RTOL);
        snprintf(what, sizeof what, "%s dinp", names[k]);
        cmp_layer(what, dx, dx_t, n, L_ATOL, L_RTOL);
    }
    free(out); free(dx);
    fx_close(f);
}

/* ---- BCE with logits ---------------------------------------------------------- */

TEST(torch_bce_logits) {
    fx_file *f = fx_open("bce.bin");
    CHECKF(f != NULL, "cannot read fixture bce.bin");
    if (!f) return;
    int count = fx_scalar_i32(f, "count");
    CHECK(count > 0);
    for (int ci = 0; ci < count; ci++) {
        char nm[64], what[160];
        snprintf(nm, sizeof nm, "c%d.logits", ci);
        size_t B = fx_size(f, nm);
        const float *x = fx_f32(f, nm, B);
        snprintf(nm, sizeof nm, "c%d.dlogits", ci);
        const float *dx_t = fx_f32(f, nm, B);
        snprintf(nm, sizeof nm, "c%d.target", ci);
        float t = fx_scalar_f32(f, nm);
        snprintf(nm, sizeof nm, "c%d.scale", ci);
        float s = fx_scalar_f32(f, nm);
        snprintf(nm, sizeof nm, "c%d.loss", ci);
        float loss_t = fx_scalar_f32(f, nm);
        CHECK(x && dx_t && isfinite(t) && isfinite(s) && isfinite(loss_t));
        if (!(x && dx_t)) continue;
        float *dx = tt_alloc(B);
        float loss = nn_bce_logits_forward(x, t, (int)B);
        nn_bce_logits_backward(dx, x, t, s, (int)B);
        CHECKF(fabs((double)loss - loss_t) <= 1e-6 + 1e-5 * fabs(loss_t),
               "bce c%d (target %g, B %zu) loss %.9g want %.9g", ci, (double)t, B,
               (double)loss, (double)loss_t);
        snprintf(what, sizeof what, "bce c%d (target %g, scale %g) dlogits", ci, (double)t, (double)s);
        cmp_layer(what, dx, dx_t, B, L_ATOL, L_RTOL);
        free(dx);
    }
    fx_close(f);
}

/* ---- Adam ---------------------------------------------------------------------- */

TEST(torch_adam) {
    fx_file *f = fx_open("adam.bin");
    CHECKF(f != NULL, "cannot read fixture adam.bin");
    if (!f) return;
    const int32_t *sh = fx_i32(f, "shape", 2);
    const float *hp = fx_f32(f, "lr_b1_b2_eps", 4);
    CHECK(sh && hp);
    if (!(sh && hp)) { fx_close(f); return; }
    size_t n = (size_t)sh[0];
    int steps = sh[1];
    const float *p0 = fx_f32(f, "param0", n), *grads = fx_f32(f, "grads", n * steps);
    const float *params = fx_f32(f, "params", n * steps);
    const float *m_t = fx_f32(f, "m", n), *v_t = fx_f32(f, "v", n);
    CHECK(p0 && grads && params && m_t && v_t);
    if (!(p0 && grads && params && m_t && v_t)) { fx_close(f); return; }
    float *p = tt_alloc(n), *m = tt_alloc(n), *v = tt_alloc(n);
    memcpy(p, p0, n * sizeof *p);
    for (int s = 0; s < steps; s++) {
        char what[160];
        nn_adam_update(p, grads + (size_t)s * n, m, v, n, hp[0], hp[1], hp[2], hp[3], s + 1);
        snprintf(what, sizeof what, "adam params after step %d", s + 1);
        size_t bad = 0, wi = 0;
        for (size_t i = 0; i < n; i++) {
            double want = params[(size_t)s * n + i];
            if (!(fabs(p[i] - want) <= 2e-9 + 1e-6 * fabs(want))) { if (!bad) wi = i; bad++; }
        }
        CHECKF(bad == 0, "%s: %zu entries off, first [%zu] got %.9g want %.9g (grad %.3g)",
               what, bad, wi, (double)p[wi], (double)params[(size_t)s * n + wi],
               (double)grads[(size_t)s * n + wi]);
    }
    /* v's tolerance is wider: beta2 reaches C as the float 0.999f, so
     * 1 - beta2 = 0.00099998713 where PyTorch uses 1 - 0.999 = 0.001 in
     * double (1.3e-5 relative; up to 3e-5 for any float beta2 near 1). The
     * same factor enters the bias correction, so the parameters still agree
     * to 1e-6. */
    cmp_layer("adam m (exp_avg)", m, m_t, n, 0, 1e-5);
    cmp_layer("adam v (exp_avg_sq)", v, v_t, n, 0, 1e-4);
    free(p); free(m); free(v);
    fx_close(f);
}

/* ---- one whole DCGAN iteration ------------------------------------------------- */

/* Compare a tensor with its fixture summary (or full copy when small).
 * got[] is in double so weight changes can be formed exactly. When guard is
 * not NULL it names the reference gradient summary of the same tensor (same
 * sampled indices): entries whose gradient is tiny get a tolerance of
 * guard_tol (see the header). Returns 1 when everything matched. */
static int cmp_summary(fx_file *f, const char *name, const double *got, size_t n,
                       const char *guard, double guard_tol, double atol_scale) {
    char nm[96];
    int full = fx_size(f, name) == n;
    double sum_t, sumsq_t;
    const int32_t *idx = NULL;
    const float *val;
    size_t ns;
    if (full) {
        val = fx_f32(f, name, n);
        ns = n;
        sum_t = sumsq_t = 0;
        if (val) for (size_t i = 0; i < n; i++) { sum_t += val[i]; sumsq_t += (double)val[i] * val[i]; }
    } else {
        snprintf(nm, sizeof nm, "%s.sum", name);
        sum_t = fx_scalar_f64(f, nm);
        snprintf(nm, sizeof nm, "%s.sumsq", name);
        sumsq_t = fx_scalar_f64(f, nm);
        snprintf(nm, sizeof nm, "%s.val", name);
        ns = fx_size(f, nm);
        val = fx_f32(f, nm, ns);
        snprintf(nm, sizeof nm, "%s.idx", name);
        idx = fx_i32(f, nm, ns);
    }
    const float *gval = NULL;
    if (guard) {
        if (fx_size(f, guard) == n) gval = fx_f32(f, guard, n);
        else { snprintf(nm, sizeof nm, "%s.val", guard); gval = fx_f32(f, nm, ns); }
    }
    if (!val || (!full && !idx) || (guard && !gval) || !isfinite(sum_t) || !isfinite(sumsq_t)) {
        CHECKF(0, "%s: fixture summary missing or incomplete", name);
        return 0;
    }
    double rms = sqrt(sumsq_t / (double)n), grms = 0;
    if (gval) {
        for (size_t k = 0; k < ns; k++) grms += (double)gval[k] * gval[k];
        grms = sqrt(grms / (double)ns);
    }
    double sum = 0, sumsq = 0;
    for (size_t i = 0; i < n; i++) { sum += got[i]; sumsq += got[i] * got[i]; }
    int ok = 1;
    double stol = TOL_SUM * sqrt((double)n * sumsq_t) + 1e-30;
    CHECKF(fabs(sum - sum_t) <= stol, "%s: sum %.9g want %.9g (tol %.3g)", name, sum, sum_t, stol);
    CHECKF(fabs(sumsq - sumsq_t) <= TOL_SUMSQ * sumsq_t + 1e-30,
           "%s: sum of squares %.9g want %.9g", name, sumsq, sumsq_t);
    ok &= fabs(sum - sum_t) <= stol && fabs(sumsq - sumsq_t) <= TOL_SUMSQ * sumsq_t + 1e-30;
    size_t bad = 0, wi = 0;
    double worst = -1;
    for (size_t k = 0; k < ns; k++) {
        size_t i = full ? k : (size_t)idx[k];
        if (i >= n) { bad++; continue; }
        double tol = atol_scale * TOL_A * rms + TOL_R * fabs(val[k]) + 1e-30;
        if (gval && fabs(gval[k]) < 1e-3 * grms) tol = fmax(tol, guard_tol);
        double err = fabs(got[i] - val[k]);
        if (!(err <= tol)) bad++;
        if (!(err / tol <= worst)) { worst = err / tol; wi = k; }
    }
    size_t wfl = full ? wi : (size_t)idx[wi];
    if (getenv("GANLIVE_TEST_VERBOSE"))
        printf("  %-16s sum err/tol %.3g  sumsq rel err %.3g  worst sample err/tol %.3g\n", name,
               fabs(sum - sum_t) / stol, fabs(sumsq - sumsq_t) / sumsq_t, worst);
    CHECKF(bad == 0, "%s: %zu of %zu sampled entries off; worst [%zu] got %.9g want %.9g (rms %.3g)",
           name, bad, ns, wfl, wfl < n ? got[wfl] : NAN, (double)val[wi], rms);
    return ok && bad == 0;
}

static double *to_double(const float *x, size_t n) {
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (!d) { fprintf(stderr, "out of memory\n"); exit(2); }
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

static int cmp_summary_scaled(fx_file *f, const char *name, const float *got, size_t n,
                              double atol_scale) {
    double *d = to_double(got, n);
    int ok = cmp_summary(f, name, d, n, NULL, 0, atol_scale);
    free(d);
    return ok;
}

static int cmp_summary_f(fx_file *f, const char *name, const float *got, size_t n) {
    double *d = to_double(got, n);
    int ok = cmp_summary(f, name, d, n, NULL, 0, 1.0);
    free(d);
    return ok;
}

/* Changes of one parameter block (new - init) against <prefix>_delta<i>,
 * guarded by the gradients <prefix>_grad<i>. */
static void cmp_deltas(fx_file *f, const char *prefix, float *const *newp, float *const *initp,
                       const size_t *sizes, int count, double lr) {
    for (int i = 0; i < count; i++) {
        char nm[64], gnm[64];
        double *d = malloc(sizes[i] * sizeof *d);
        if (!d) { fprintf(stderr, "out of memory\n"); exit(2); }
        for (size_t j = 0; j < sizes[i]; j++) d[j] = (double)newp[i][j] - (double)initp[i][j];
        snprintf(nm, sizeof nm, "%s_delta%d", prefix, i);
        snprintf(gnm, sizeof gnm, "%s_grad%d", prefix, i);
        cmp_summary(f, nm, d, sizes[i], gnm, 2.5 * lr, 1.0);
        free(d);
    }
}

/* Constants of make_fixtures.py's DCGAN fixture (also stored in the file). */
enum { S_REAL = 21, S_Z = 22, S_ZSAMPLE = 23 };
static const uint32_t g_streams[GAN_G_NTENSORS] = {1, 2, 3, 4, 5, 6, 7};
static const uint32_t d_streams[GAN_D_NTENSORS] = {11, 12, 13, 14, 15, 16};
#define W_SCALE 0x1p-5f
#define GAMMA_SCALE 0x1p-4f
#define BETA_SCALE 0x1p-5f
#define Z_SCALE 2.0f

/* kind: 0 conv weight, 1 BN gamma, 2 BN beta */
static void fill_param(float *p, size_t n, uint32_t stream, int kind) {
    if (kind == 0) fx_fill_uniform(p, n, stream, W_SCALE, 0.0f);
    else if (kind == 1) fx_fill_uniform(p, n, stream, GAMMA_SCALE, 1.0f);
    else fx_fill_uniform(p, n, stream, BETA_SCALE, 0.0f);
}

/* One whole training iteration (D step, G step, eval sampling) of the
 * default model at batch 8 against PyTorch; conditional: with the label
 * channels of G's input and D's label planes (fixture gan_cond.bin). A
 * fixture with a "recipe" entry (make_fixtures.py's RECIPES) also sets the
 * loss, real label, learning-rate schedule and G EMA, and the EMA after the
 * G step is compared too (gan_hinge.bin, gan_smooth.bin). */
static void dcgan_iteration(const char *file, int conditional) {
    fx_file *f = fx_open(file);
    CHECKF(f != NULL, "cannot read fixture %s", file);
    if (!f) return;
    const int32_t *fc = fx_i32(f, "config", 5);
    const int32_t *streams = fx_i32(f, "streams", 15);
    const float *scales = fx_f32(f, "scales", 4);
    const float *met_t = fx_f32(f, "metrics", 6);
    CHECK(fc && streams && scales && met_t);
    if (!(fc && streams && scales && met_t)) { fx_close(f); return; }
    /* the fixture's generator constants are the ones compiled in here */
    CHECK(streams[0] == 1 && streams[7] == 11 && streams[12] == S_REAL &&
          streams[13] == S_Z && streams[14] == S_ZSAMPLE);
    CHECK(scales[0] == W_SCALE && scales[1] == GAMMA_SCALE && scales[2] == BETA_SCALE &&
          scales[3] == Z_SCALE);

    /* The default recipe is what the fixture replicates. */
    gan_config cfg;
    gan_config_default(&cfg);
    CHECK(cfg.nz == fc[0] && cfg.ngf == fc[1] && cfg.ndf == fc[2]);
    CHECK(cfg.g_output == GAN_OUT_TANH);
    CHECK(cfg.lr_d == 2e-4f && cfg.lr_g == 2e-4f && cfg.beta1 == 0.5f &&
          cfg.beta2 == 0.999f && cfg.adam_eps == 1e-8f);
    CHECK(cfg.d_steps == 1 && cfg.g_steps == 1);
    CHECK(cfg.bn_eps == 1e-5f && cfg.bn_momentum == 0.1f && cfg.lrelu_slope == 0.2f);
    cfg.batch = fc[3];
    CHECK(cfg.loss == GAN_LOSS_BCE && cfg.real_label == 1.0f && cfg.ema == 0.0f &&
          cfg.lr_warmup == 0 && cfg.lr_half_life == 0 && cfg.projection == 0);
    if (fx_size(f, "recipe")) {
        const int32_t *ri = fx_i32(f, "recipe", 4);
        const float *rf = fx_f32(f, "recipe_f", 2);
        CHECK(ri && rf);
        if (!ri || !rf) { fx_close(f); return; }
        cfg.loss = ri[0] ? GAN_LOSS_HINGE : GAN_LOSS_BCE;
        cfg.lr_warmup = ri[1];
        cfg.lr_half_life = ri[2];
        cfg.projection = ri[3];
        cfg.real_label = rf[0];
        cfg.ema = rf[1];
    }
    cfg.spectral_norm = fx_size(f, "d_sn0") > 0;   /* gan_sn.bin: its u, v are stored */
    const double lr_step1 = (double)cfg.lr_d * gan_lr_factor(&cfg, 1);
    CHECK(fc[4] == conditional);
    cfg.conditional = conditional;
    const int B = cfg.batch, NZ = cfg.nz;
    uint8_t real_lab[64], fake_lab[64];
    CHECK(B <= 64);
    if (B > 64) { fx_close(f); return; }
    if (conditional) {   /* the fixture's label patterns */
        const int32_t *rl = fx_i32(f, "real_labels", (size_t)B), *fl = fx_i32(f, "fake_labels", (size_t)B);
        CHECK(rl && fl);
        if (!rl || !fl) { fx_close(f); return; }
        for (int b = 0; b < B; b++) {
            CHECK(rl[b] == (3 * b + 1) % GAN_CLASSES && fl[b] == (7 * b + 2) % GAN_CLASSES);
            real_lab[b] = (uint8_t)rl[b];
            fake_lab[b] = (uint8_t)fl[b];
        }
    }

    gan_model *m = gan_model_new(&cfg);
    CHECK(m != NULL);
    if (!m) { fx_close(f); return; }
    nn_rng rng;
    nn_rng_seed(&rng, 1);
    gan_model_init(m, &rng);

    size_t gs[GAN_G_NTENSORS], ds[GAN_D_NTENSORS];
    gan_gparam_sizes(&cfg, gs);
    gan_dparam_sizes(&cfg, ds);
    float *gp[] = {m->g.w1, m->g.bn1_g, m->g.bn1_b, m->g.w2, m->g.bn2_g, m->g.bn2_b, m->g.w3};
    float *gg[] = {m->g_grad.w1, m->g_grad.bn1_g, m->g_grad.bn1_b, m->g_grad.w2,
                   m->g_grad.bn2_g, m->g_grad.bn2_b, m->g_grad.w3};
    float *dp[] = {m->d.w1, m->d.w2, m->d.bn2_g, m->d.bn2_b, m->d.w3, m->d.embed};
    float *dg[] = {m->d_grad.w1, m->d_grad.w2, m->d_grad.bn2_g, m->d_grad.bn2_b, m->d_grad.w3,
                   m->d_grad.embed};
    static const int gkind[] = {0, 1, 2, 0, 1, 2, 0}, dkind[] = {0, 0, 1, 2, 0, 0};
    /* D's tensors in the fixture: the projection head only with projection */
    const int nd = cfg.projection ? GAN_D_NTENSORS : GAN_D_NTENSORS - 1;
    CHECK(cfg.projection || ds[GAN_D_NTENSORS - 1] == 0);   /* no head, no floats */

    /* The parameter blocks are the named tensors back to back (gan.h). */
    {
        size_t off = 0;
        int okg = 1, okd = 1;
        for (int i = 0; i < GAN_G_NTENSORS; i++) {
            okg &= gp[i] == m->g_mem + off && gg[i] == m->g_grad_mem + off;
            off += gs[i];
        }
        okg &= off == m->g_count;
        off = 0;
        for (int i = 0; i < GAN_D_NTENSORS; i++) {
            okd &= dp[i] == m->d_mem + off && dg[i] == m->d_grad_mem + off;
            off += ds[i];
        }
        okd &= off == m->d_count;
        CHECKF(okg, "G's parameter/gradient pointers are not the block back to back");
        CHECKF(okd, "D's parameter/gradient pointers are not the block back to back");
        if (!okg || !okd) { gan_model_free(m); fx_close(f); return; }
    }

    /* initial state: hashed weights, running stats 0/1, Adam state zero */
    float *g_init[GAN_G_NTENSORS], *d_init[GAN_D_NTENSORS], *d_after[GAN_D_NTENSORS];
    for (int i = 0; i < GAN_G_NTENSORS; i++) {
        fill_param(gp[i], gs[i], g_streams[i], gkind[i]);
        g_init[i] = tt_alloc(gs[i]);
        memcpy(g_init[i], gp[i], gs[i] * sizeof(float));
        char nm[32];
        snprintf(nm, sizeof nm, "g_init%d", i);   /* the C twin of the generator */
        cmp_summary_f(f, nm, gp[i], gs[i]);
    }
    for (int i = 0; i < nd; i++) {
        fill_param(dp[i], ds[i], d_streams[i], dkind[i]);
        d_init[i] = tt_alloc(ds[i]);
        d_after[i] = tt_alloc(ds[i]);
        memcpy(d_init[i], dp[i], ds[i] * sizeof(float));
        char nm[32];
        snprintf(nm, sizeof nm, "d_init%d", i);
        cmp_summary_f(f, nm, dp[i], ds[i]);
    }
    size_t g2 = 2 * (size_t)cfg.ngf, g1 = (size_t)cfg.ngf, d2 = 2 * (size_t)cfg.ndf;
    tt_set(m->g_buf.bn1_mean, g2, 0); tt_set(m->g_buf.bn1_var, g2, 1);
    tt_set(m->g_buf.bn2_mean, g1, 0); tt_set(m->g_buf.bn2_var, g1, 1);
    tt_set(m->d_buf.bn2_mean, d2, 0); tt_set(m->d_buf.bn2_var, d2, 1);
    /* spectral norm: PyTorch's initial u, v (u1 v1 u2 v2 u3 v3) after the statistics */
    const size_t nsn = gan_dbuffer_count(&cfg) - 2 * d2;
    float *sn_at = m->d_buf_mem + 2 * d2;
    CHECK(cfg.spectral_norm ? nsn > 0 && m->d_buf.sn_u[0] == sn_at : nsn == 0);
    if (cfg.spectral_norm) {
        const float *sn0 = fx_f32(f, "d_sn0", nsn);
        CHECK(sn0 != NULL);
        if (!sn0) { gan_model_free(m); fx_close(f); return; }
        memcpy(sn_at, sn0, nsn * sizeof(float));
    }
    memset(m->g_m_mem, 0, m->g_count * sizeof(float));
    memset(m->g_v_mem, 0, m->g_count * sizeof(float));
    memset(m->d_m_mem, 0, m->d_count * sizeof(float));
    memset(m->d_v_mem, 0, m->d_count * sizeof(float));
    m->g_t = m->d_t = 0;
    gan_ema_reset(m);   /* the G EMA starts at G's initial state, as gan_model_init makes it */
    /* stale gradients: each step must zero its own network's gradients */
    tt_set(m->g_grad_mem, m->g_count, 0.5f);
    tt_set(m->d_grad_mem, m->d_count, 0.5f);

    float *real = tt_alloc((size_t)B * GAN_PIX), *z = tt_alloc((size_t)B * NZ);
    fx_fill_uniform(real, (size_t)B * GAN_PIX, S_REAL, 1.0f, 0.0f);
    fx_fill_uniform(z, (size_t)B * NZ, S_Z, Z_SCALE, 0.0f);

    /* ---- D step ---- */
    gan_metrics met;
    memset(&met, 0, sizeof met);
    gan_d_step(m, real, conditional ? real_lab : NULL, z, conditional ? fake_lab : NULL, &met);
    CHECK_CLOSE(met.d_loss, met_t[0], 1e-5, 1e-4);
    CHECK_CLOSE(met.d_acc_real, met_t[2], 0, 0);   /* logits are >= 0.25 from 0 */
    CHECK_CLOSE(met.d_acc_fake, met_t[3], 0, 0);
    CHECK_CLOSE(met.d_acc, 0.5 * (met_t[2] + met_t[3]), 1e-6, 0);
    CHECK_CLOSE(met.d_real, met_t[4], 1e-6, 1e-4);
    CHECK_CLOSE(met.d_fake, met_t[5], 1e-6, 1e-4);
    CHECK(m->d_t == 1);
    cmp_summary_f(f, "fake", m->ga.out, (size_t)B * GAN_PIX);
    for (int i = 0; i < nd; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "d_grad%d", i);
        cmp_summary_f(f, nm, dg[i], ds[i]);
    }
    cmp_deltas(f, "d", dp, d_init, ds, nd, lr_step1);
    {
        const float *dbuf = fx_f32(f, "d_buf_dstep", 2 * d2);
        const float *gbuf = fx_f32(f, "g_buf", 2 * g2 + 2 * g1);
        CHECK(dbuf && gbuf);
        if (dbuf && gbuf) {
            cmp_layer("D bn2 running_mean after the D step (2 updates)", m->d_buf.bn2_mean,
                      dbuf, d2, L_ATOL, L_RTOL);
            cmp_layer("D bn2 running_var after the D step", m->d_buf.bn2_var, dbuf + d2,
                      d2, L_ATOL, L_RTOL);
            cmp_layer("G bn1 running_mean after the D step (1 update)", m->g_buf.bn1_mean,
                      gbuf, g2, L_ATOL, L_RTOL);
            cmp_layer("G bn1 running_var", m->g_buf.bn1_var, gbuf + g2, g2, L_ATOL, L_RTOL);
            cmp_layer("G bn2 running_mean", m->g_buf.bn2_mean, gbuf + 2 * g2, g1, L_ATOL, L_RTOL);
            cmp_layer("G bn2 running_var", m->g_buf.bn2_var, gbuf + 2 * g2 + g1, g1, L_ATOL, L_RTOL);
        }
    }
    if (cfg.spectral_norm) {
        const float *sn = fx_f32(f, "d_sn_dstep", nsn);
        CHECK(sn != NULL);
        if (sn) cmp_layer("D spectral norm u, v after the D step (2 power iterations)", sn_at, sn, nsn,
                          L_ATOL, L_RTOL);
    }
    for (int i = 0; i < nd; i++) memcpy(d_after[i], dp[i], ds[i] * sizeof(float));

    /* ---- G step on the same fakes ---- */
    gan_g_step(m, NULL, NULL, &met);
    CHECK_CLOSE(met.g_loss, met_t[1], 1e-5, 1e-4);
    CHECK(m->g_t == 1 && m->d_t == 1);
    {
        const float *lg = fx_f32(f, "gstep_logits", (size_t)B);
        CHECK(lg != NULL);
        if (lg) cmp_layer("D logits of the fakes in the G step", m->da.logits, lg, (size_t)B,
                          TOL_A, TOL_R);
    }
    for (int i = 0; i < GAN_G_NTENSORS; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "g_grad%d", i);
        cmp_summary_f(f, nm, gg[i], gs[i]);
    }
    cmp_deltas(f, "g", gp, g_init, gs, GAN_G_NTENSORS, lr_step1);
    if (cfg.spectral_norm) {
        const float *sn = fx_f32(f, "d_sn", nsn);
        CHECK(sn != NULL);
        if (sn) cmp_layer("D spectral norm u, v after the G step (3 power iterations)", sn_at, sn, nsn,
                          L_ATOL, L_RTOL);
    }
    if (cfg.ema > 0.0f)   /* the average after one step, from G's initial state */
        cmp_summary_f(f, "g_ema", m->g_ema_mem, m->g_count + gan_gbuffer_count(&cfg));
    {
        int same = 1;
        for (int i = 0; i < nd; i++)
            same &= memcmp(d_after[i], dp[i], ds[i] * sizeof(float)) == 0;
        CHECKF(same, "the G step changed D's parameters");
        const float *dbuf = fx_f32(f, "d_buf", 2 * d2);
        const float *gbuf = fx_f32(f, "g_buf", 2 * g2 + 2 * g1);
        CHECK(dbuf && gbuf);
        if (dbuf && gbuf) {
            cmp_layer("D bn2 running_mean after the G step (3 updates)", m->d_buf.bn2_mean,
                      dbuf, d2, L_ATOL, L_RTOL);
            cmp_layer("D bn2 running_var after the G step", m->d_buf.bn2_var, dbuf + d2,
                      d2, L_ATOL, L_RTOL);
            cmp_layer("G bn1 running_mean after the G step (still 1 update)",
                      m->g_buf.bn1_mean, gbuf, g2, L_ATOL, L_RTOL);
            cmp_layer("G bn2 running_var after the G step", m->g_buf.bn2_var,
                      gbuf + 2 * g2 + g1, g1, L_ATOL, L_RTOL);
        }
    }

    /* ---- eval-mode sampling with the updated G and running statistics ---- */
    int ns = fx_scalar_i32(f, "sampler_n");
    CHECK(ns > 0 && ns <= 64);
    if (ns > 0 && ns <= 64) {
        gan_sampler *s = gan_sampler_new(&cfg, ns);
        CHECK(s != NULL);
        if (s) {
            float *zs = tt_alloc((size_t)ns * NZ), *img = tt_alloc((size_t)ns * GAN_PIX);
            fx_fill_uniform(zs, (size_t)ns * NZ, S_ZSAMPLE, Z_SCALE, 0.0f);
            gan_sampler_generate(s, m->g_mem, m->g_buf_mem, zs, NULL, ns, img);
            cmp_summary_scaled(f, "sampler_images", img, (size_t)ns * GAN_PIX, SAMPLER_ATOL_SCALE);
            free(zs); free(img);
            gan_sampler_free(s);
        }
    }

    for (int i = 0; i < GAN_G_NTENSORS; i++) free(g_init[i]);
    for (int i = 0; i < nd; i++) { free(d_init[i]); free(d_after[i]); }
    free(real); free(z);
    gan_model_free(m);
    fx_close(f);
}

TEST(torch_dcgan_iteration) { dcgan_iteration("gan_iter.bin", 0); }
TEST(torch_conditional_iteration) { dcgan_iteration("gan_cond.bin", 1); }
TEST(torch_hinge_ema_iteration) { dcgan_iteration("gan_hinge.bin", 1); }
TEST(torch_smooth_iteration) { dcgan_iteration("gan_smooth.bin", 0); }
TEST(torch_projection_iteration) { dcgan_iteration("gan_proj.bin", 1); }
TEST(torch_spectral_norm_iteration) { dcgan_iteration("gan_sn.bin", 1); }
