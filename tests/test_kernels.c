/* test_kernels.c - the vectorised kernels of nn/kernels.c (and the other
 * fast paths of the nn library) against the generic reference paths they
 * replace: im2col / col2im of every geometry the model uses, over a slice
 * of the batch and accumulating into non-zero memory, and the direct full
 * convolution against Conv2d through im2col + GEMM. im2col is a copy, so
 * it must agree exactly; the others only add in another order (1e-5).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "testhelp.h"
#include "../nn/nn.h"
#include "../nn/nn_internal.h"

static float *randn(nn_rng *r, size_t n) {
    float *x = malloc(n * sizeof(float));
    nn_rng_fill_normal(r, x, n, 0.0f, 1.0f);
    return x;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double e = fabs((double)a[i] - b[i]);
        if (e > worst || e != e) worst = e != e ? INFINITY : e;
    }
    return worst;
}

/* im2col and col2im of one geometry over images [b0, b1) of B, fast path
 * (whatever the machine takes) against the generic one. */
static void check_cols(int C, int B, int H, int K, int stride, int pad, int b0, int b1) {
    const int OH = nn_conv_out(H, K, stride, pad);
    const size_t ni = (size_t)C * B * H * H, nc = (size_t)C * K * K * B * OH * OH;
    nn_rng r;
    nn_rng_seed(&r, 77 + (uint64_t)H * 3 + (uint64_t)C);
    float *inp = randn(&r, ni), *col = randn(&r, nc);
    float *c_fast = malloc(nc * sizeof(float)), *c_ref = malloc(nc * sizeof(float));
    float *o_fast = randn(&r, ni), *o_ref = malloc(ni * sizeof(float));
    memcpy(o_ref, o_fast, ni * sizeof(float));                 /* col2im accumulates */
    for (size_t i = 0; i < nc; i++) c_fast[i] = c_ref[i] = -7.0f;   /* untouched outside [b0, b1) */
    nn_im2col_range(c_fast, inp, C, B, H, H, K, stride, pad, OH, OH, b0, b1);
    nn_col2im_range(o_fast, col, C, B, H, H, K, stride, pad, OH, OH, b0, b1);
    nn_kernels_forced_generic = 1;
    nn_im2col_range(c_ref, inp, C, B, H, H, K, stride, pad, OH, OH, b0, b1);
    nn_col2im_range(o_ref, col, C, B, H, H, K, stride, pad, OH, OH, b0, b1);
    nn_kernels_forced_generic = 0;
    CHECKF(memcmp(c_fast, c_ref, nc * sizeof(float)) == 0, "im2col C%d H%d K%d: differs by %g",
           C, H, K, max_abs_diff(c_fast, c_ref, nc));
    CHECKF(max_abs_diff(o_fast, o_ref, ni) <= 1e-5, "col2im C%d H%d K%d: differs by %g",
           C, H, K, max_abs_diff(o_fast, o_ref, ni));
    free(inp); free(col); free(c_fast); free(c_ref); free(o_fast); free(o_ref);
}

TEST(kernels_im2col_col2im_k4s2p1) {
    check_cols(1, 5, 28, 4, 2, 1, 0, 5);       /* D conv 1, G convT 3 */
    check_cols(3, 6, 28, 4, 2, 1, 2, 5);       /* a slice of the batch */
    check_cols(8, 4, 14, 4, 2, 1, 0, 4);       /* D conv 2, G convT 2 */
    check_cols(5, 7, 14, 4, 2, 1, 3, 7);
    check_cols(2, 3, 8, 4, 2, 1, 0, 3);        /* smaller images take the same path */
}

TEST(kernels_im2col_col2im_one_pixel_grid) {
    check_cols(6, 5, 7, 7, 1, 0, 0, 5);        /* G convT 1 (7x7 kernel on a 1x1 input) */
    check_cols(4, 6, 7, 7, 1, 0, 1, 4);
}

TEST(kernels_full_conv_matches_conv2d) {
    const int B = 9, C = 12, H = 7, OC = 3, HW = H * H;
    nn_rng r;
    nn_rng_seed(&r, 5);
    float *x = randn(&r, (size_t)C * B * HW), *w = randn(&r, (size_t)OC * C * HW);
    float *dout = randn(&r, (size_t)OC * B);
    float *col = malloc((size_t)C * HW * B * sizeof(float)), *dcol = malloc((size_t)C * HW * B * sizeof(float));
    float out_ref[OC * B], out[OC * B];
    nn_kernels_forced_generic = 1;             /* the reference: im2col + GEMM */
    nn_conv2d_forward(out_ref, col, x, w, B, C, H, H, OC, H, 1, 0);
    nn_kernels_forced_generic = 0;
    nn_conv_full_forward(out, x, w, B, C, HW, OC);
    CHECKF(max_abs_diff(out, out_ref, (size_t)OC * B) <= 1e-4, "forward differs by %g",
           max_abs_diff(out, out_ref, (size_t)OC * B));
    const size_t nx = (size_t)C * B * HW, nw = (size_t)OC * C * HW;
    float *dx_ref = randn(&r, nx), *dx = malloc(nx * sizeof(float));
    float *dw_ref = randn(&r, nw), *dw = malloc(nw * sizeof(float));
    memcpy(dx, dx_ref, nx * sizeof(float));      /* both accumulate */
    memcpy(dw, dw_ref, nw * sizeof(float));
    nn_kernels_forced_generic = 1;
    nn_conv2d_backward(dx_ref, dw_ref, dcol, col, x, w, dout, B, C, H, H, OC, H, 1, 0);
    nn_kernels_forced_generic = 0;
    nn_conv_full_backward(dx, dw, x, w, dout, B, C, HW, OC);
    CHECKF(max_abs_diff(dx, dx_ref, nx) <= 1e-4, "dinp differs by %g", max_abs_diff(dx, dx_ref, nx));
    CHECKF(max_abs_diff(dw, dw_ref, nw) <= 1e-4, "dw differs by %g", max_abs_diff(dw, dw_ref, nw));
    free(x); free(w); free(dout); free(col); free(dcol); free(dx_ref); free(dx); free(dw_ref); free(dw);
}

/* Adam's vectorised blocks and its scalar tail must give the bits of the
 * formula written out plainly (same operations, same order, no FMA). */
TEST(kernels_adam_matches_formula) {
    const size_t n = 1000 + 7;
    nn_rng r;
    nn_rng_seed(&r, 9);
    float *p = randn(&r, n), *g = randn(&r, n), *m = randn(&r, n), *v = malloc(n * sizeof(float));
    float *p2 = malloc(n * sizeof(float)), *m2 = malloc(n * sizeof(float)), *v2 = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) v[i] = fabsf(p[i]) * 0.1f;
    memcpy(p2, p, n * sizeof(float)); memcpy(m2, m, n * sizeof(float)); memcpy(v2, v, n * sizeof(float));
    const float lr = 2e-4f, b1 = 0.5f, b2 = 0.999f, eps = 0.05f;   /* large: eps counts */
    const long t = 3;
    nn_adam_update(p, g, m, v, n, lr, b1, b2, eps, t);
    const float step = lr / (1.0f - powf(b1, (float)t)), bc2 = sqrtf(1.0f - powf(b2, (float)t));
    for (size_t i = 0; i < n; i++) {
        m2[i] = b1 * m2[i] + (1.0f - b1) * g[i];
        v2[i] = b2 * v2[i] + (1.0f - b2) * g[i] * g[i];
        p2[i] -= step * m2[i] / (sqrtf(v2[i]) / bc2 + eps);
    }
    CHECK(memcmp(m, m2, n * sizeof(float)) == 0);
    CHECK(memcmp(v, v2, n * sizeof(float)) == 0);
    CHECKF(memcmp(p, p2, n * sizeof(float)) == 0, "params differ by %g", max_abs_diff(p, p2, n));
    free(p); free(g); free(m); free(v); free(p2); free(m2); free(v2);
}

/* G's first layer (a 7x7 transposed convolution of a 1x1 input), fast path
 * against generic; a batch of 16 takes the 16-wide kernels for all three
 * GEMMs, batches of 32 and 64 take nn_gemm_tn forward (two and four groups
 * of 16 rows), an odd channel count leaves nn_gemm16_nt a single last row. dinp
 * sums OC*49 products of unit normals (values near 10), so its 1e-4 is
 * about 1e-5 of the value; reordered sums already reach 1.3e-5 absolute.
 * The forward pass sums C products: 1e-5, or 1e-4 for G's 100 (1.5e-5 seen). */
static void check_one_pixel(int B, int C, int OC) {
    const int K = 7, KK = K * K;
    nn_rng r;
    nn_rng_seed(&r, 11 + (uint64_t)B);
    float *x = randn(&r, (size_t)C * B), *w = randn(&r, (size_t)C * OC * KK);
    float *dout = randn(&r, (size_t)OC * B * KK), *col = malloc((size_t)OC * KK * B * sizeof(float));
    const size_t no = (size_t)OC * B * KK, nw = (size_t)C * OC * KK, nx = (size_t)C * B;
    float *o1 = malloc(no * sizeof(float)), *o2 = malloc(no * sizeof(float));
    float *dw1 = randn(&r, nw), *dw2 = malloc(nw * sizeof(float));
    float *dx1 = randn(&r, nx), *dx2 = malloc(nx * sizeof(float));
    memcpy(dw2, dw1, nw * sizeof(float));
    memcpy(dx2, dx1, nx * sizeof(float));
    nn_convt2d_forward(o1, col, x, w, B, C, 1, 1, OC, K, 1, 0);
    nn_convt2d_backward(dx1, dw1, col, x, w, dout, B, C, 1, 1, OC, K, 1, 0);
    nn_kernels_forced_generic = 1;
    nn_convt2d_forward(o2, col, x, w, B, C, 1, 1, OC, K, 1, 0);
    nn_convt2d_backward(dx2, dw2, col, x, w, dout, B, C, 1, 1, OC, K, 1, 0);
    nn_kernels_forced_generic = 0;
    CHECKF(max_abs_diff(o1, o2, no) <= (C > 50 ? 1e-4 : 1e-5), "B %d C %d: forward differs by %g", B, C,
           max_abs_diff(o1, o2, no));
    CHECKF(max_abs_diff(dw1, dw2, nw) <= 1e-5, "dw differs by %g", max_abs_diff(dw1, dw2, nw));
    CHECKF(max_abs_diff(dx1, dx2, nx) <= 1e-4, "B %d C %d: dinp differs by %g", B, C, max_abs_diff(dx1, dx2, nx));
    free(x); free(w); free(dout); free(col); free(o1); free(o2); free(dw1); free(dw2); free(dx1); free(dx2);
}

TEST(kernels_convt_one_pixel_matches_generic) {
    check_one_pixel(6, 5, 4);
    check_one_pixel(16, 20, 3);     /* the fast preset's batch */
    check_one_pixel(16, 7, 2);
    check_one_pixel(64, 9, 3);      /* the classic preset's batch: four row groups of 16 */
    check_one_pixel(32, 100, 2);
}

/* nn_gemm16_nt against a double-precision loop: odd M (a last single row),
 * K not a multiple of 16 (masked tail) and below 16, row strides wider than
 * the rows, and C accumulated onto, untouched beyond its 16 columns. */
TEST(kernels_gemm16_nt_matches_loop) {
    static const int shapes[][2] = {{5, 37}, {64, 3136}, {1, 9}, {7, 16}, {100, 785}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        const int M = shapes[t][0], K = shapes[t][1], lda = K + 3, ldx = K + 5, ldc = 19;
        nn_rng r;
        nn_rng_seed(&r, 600 + t);
        float *A = randn(&r, (size_t)M * lda), *X = randn(&r, (size_t)16 * ldx), *Cm = randn(&r, (size_t)M * ldc);
        float *C0 = malloc((size_t)M * ldc * sizeof(float));
        memcpy(C0, Cm, (size_t)M * ldc * sizeof(float));
        if (!nn_gemm16_nt(Cm, ldc, A, lda, X, ldx, M, K)) {   /* no AVX-512: nothing to check */
            free(A); free(X); free(Cm); free(C0);
            return;
        }
        double worst = 0.0;
        int outside = 0;
        for (int m = 0; m < M; m++)
            for (int j = 0; j < ldc; j++) {
                const size_t at = (size_t)m * ldc + j;
                if (j >= 16) { outside += Cm[at] != C0[at]; continue; }
                double s = C0[at], mag = fabs(C0[at]);
                for (int k = 0; k < K; k++) {
                    s += (double)A[(size_t)m * lda + k] * X[(size_t)j * ldx + k];
                    mag += fabs((double)A[(size_t)m * lda + k] * X[(size_t)j * ldx + k]);
                }
                const double e = fabs(Cm[at] - s) / (1e-5 * mag + 1e-30);
                if (e > worst || e != e) worst = e != e ? INFINITY : e;
            }
        CHECKF(worst <= 1.0, "M %d K %d: error %.3g of 1e-5 sum|a||x|", M, K, worst);
        CHECKF(outside == 0, "M %d K %d: %d values written beyond column 16", M, K, outside);
        free(A); free(X); free(Cm); free(C0);
    }
}

/* The thin layers through the 16-wide GEMM kernels (and the fast im2col /
 * col2im) against the generic path: D's first convolution (1 -> OC
 * channels, 16 = 1x4x4 per output) and G's last transposed convolution
 * (C -> 1 channel, 16 = 1x4x4 per input), forward and backward. The batch
 * is odd so the column count is not a multiple of 16. */
static void check_thin(int transposed, int B, int C, int H, int OC) {
    const int K = 4, s = 2, p = 1;
    const int OH = transposed ? nn_convt_out(H, K, s, p) : nn_conv_out(H, K, s, p);
    const size_t nx = (size_t)C * B * H * H, no = (size_t)OC * B * OH * OH, nw = (size_t)C * OC * K * K;
    const size_t ncol = transposed ? (size_t)OC * K * K * B * H * H : (size_t)C * K * K * B * OH * OH;
    nn_rng r;
    nn_rng_seed(&r, 31 + (uint64_t)transposed);
    float *x = randn(&r, nx), *w = randn(&r, nw), *dout = randn(&r, no);
    float *col = malloc(ncol * sizeof(float)), *dcol = malloc(ncol * sizeof(float));
    float *o[2], *dx[2], *dw[2];
    float *dx0 = randn(&r, nx), *dw0 = randn(&r, nw);
    for (int v = 0; v < 2; v++) {          /* 0: fast, 1: generic */
        o[v] = malloc(no * sizeof(float));
        dx[v] = malloc(nx * sizeof(float)); memcpy(dx[v], dx0, nx * sizeof(float));
        dw[v] = malloc(nw * sizeof(float)); memcpy(dw[v], dw0, nw * sizeof(float));
        nn_kernels_forced_generic = v;
        if (transposed) {
            nn_convt2d_forward(o[v], col, x, w, B, C, H, H, OC, K, s, p);
            nn_convt2d_backward(dx[v], dw[v], dcol, x, w, dout, B, C, H, H, OC, K, s, p);
        } else {
            nn_conv2d_forward(o[v], col, x, w, B, C, H, H, OC, K, s, p);
            nn_conv2d_backward(dx[v], dw[v], dcol, col, x, w, dout, B, C, H, H, OC, K, s, p);
        }
        nn_kernels_forced_generic = 0;
    }
    CHECKF(max_abs_diff(o[0], o[1], no) <= 1e-4, "%s forward differs by %g",
           transposed ? "convT" : "conv", max_abs_diff(o[0], o[1], no));
    CHECKF(max_abs_diff(dx[0], dx[1], nx) <= 1e-4, "%s dinp differs by %g",
           transposed ? "convT" : "conv", max_abs_diff(dx[0], dx[1], nx));
    CHECKF(max_abs_diff(dw[0], dw[1], nw) <= 1e-3, "%s dw differs by %g",
           transposed ? "convT" : "conv", max_abs_diff(dw[0], dw[1], nw));
    for (int v = 0; v < 2; v++) { free(o[v]); free(dx[v]); free(dw[v]); }
    free(x); free(w); free(dout); free(col); free(dcol); free(dx0); free(dw0);
}

TEST(kernels_thin_layers_match_generic) {
    check_thin(0, 5, 1, 28, 64);     /* D conv 1 */
    check_thin(0, 3, 1, 28, 7);
    check_thin(1, 5, 128, 14, 1);    /* G convT 3 */
    check_thin(1, 3, 9, 14, 1);
}

/* The transposed convolutions whose col is handed over by the GEMM block by
 * block and scattered from cache (nn_sgemm_blocks + nn_col2im_consume)
 * against the generic path (whole col, then col2im): odd channel counts,
 * images over one block of columns, and G's second layer. col is poisoned
 * first: the forward pass must not read it. */
static void check_convt_blocks(int B, int C, int H, int OC) {
    const int K = 4, OH = nn_convt_out(H, K, 2, 1);
    const size_t nx = (size_t)C * B * H * H, no = (size_t)OC * B * OH * OH, nw = (size_t)C * OC * K * K;
    const size_t ncol = (size_t)OC * K * K * B * H * H;
    nn_rng r;
    nn_rng_seed(&r, 900 + (uint64_t)(B * 7 + C * 3 + H + OC));
    float *x = randn(&r, nx), *w = randn(&r, nw), *col = malloc(ncol * sizeof(float));
    float *o[2] = {malloc(no * sizeof(float)), malloc(no * sizeof(float))};
    for (int v = 0; v < 2; v++) {          /* 0: fast, 1: generic */
        for (size_t i = 0; i < ncol; i++) col[i] = NAN;
        for (size_t i = 0; i < no; i++) o[v][i] = NAN;   /* overwritten, not added to */
        nn_kernels_forced_generic = v;
        nn_convt2d_forward(o[v], col, x, w, B, C, H, H, OC, K, 2, 1);
        nn_kernels_forced_generic = 0;
    }
    CHECKF(max_abs_diff(o[0], o[1], no) <= 1e-4, "B%d C%d H%d OC%d: forward differs by %g", B, C, H, OC,
           max_abs_diff(o[0], o[1], no));
    free(x); free(w); free(col); free(o[0]); free(o[1]);
}

TEST(kernels_convt_blocks_match_generic) {
    check_convt_blocks(3, 70, 7, 5);
    check_convt_blocks(2, 9, 4, 33);
    check_convt_blocks(25, 66, 7, 3);      /* 25 images: more than one block of columns */
    check_convt_blocks(5, 65, 3, 7);
    check_convt_blocks(16, 256, 7, 128);   /* G's convT 2 at batch 16 */
    check_convt_blocks(3, 20, 16, 5);      /* 32 x 32 output: the generic col2im writes the blocks */
}

/* G's output tanh through libmvec against tanhf: within 4 ulp (glibc's
 * bound for its vector tanhf; 2 measured), over large, small, subnormal and
 * signed-zero inputs, a length that leaves a partial vector, and nothing
 * written past the end. */
TEST(kernels_tanh_matches_tanhf) {
    enum { N = 16 * 40 + 7 };
    float x[N + 1], y[N + 1];
    nn_rng r;
    nn_rng_seed(&r, 12);
    nn_rng_fill_normal(&r, x, N, 0.0f, 3.0f);
    x[0] = 0.0f; x[1] = -0.0f; x[2] = 1e-40f; x[3] = -1e-30f; x[4] = 30.0f; x[5] = -9.0f; x[6] = 0.55f;
    y[N] = 123.0f;
    if (!nn_tanh_fast(y, x, N)) return;      /* no AVX-512: tanhf is the only path */
    double worst = 0.0;
    for (int i = 0; i < N; i++) {
        const float want = tanhf(x[i]);
        const double ulp = nextafterf(fabsf(want), INFINITY) - fabsf(want);
        const double e = fabs((double)y[i] - want) / ulp;
        if (e > worst || e != e) worst = e != e ? INFINITY : e;
    }
    CHECKF(worst <= 4.0, "worst %.1f ulp", worst);
    CHECK(signbit(y[1]) && y[1] == 0.0f);     /* tanh(-0) = -0 */
    CHECK(y[N] == 123.0f);
}

/* The 4x4 stride-2 convolutions whose GEMMs gather im2col's columns from a
 * tensor instead of a stored matrix (kernels.c's implicit im2col) against
 * the generic path (im2col + BLAS): D's convolution (forward and weight
 * gradient gather from the input) and G's transposed one (both backward
 * GEMMs gather from dout). Odd channel counts (a last panel of 16 rows),
 * batches over one chunk of columns (800), several image sizes, and the
 * model's layers. The matrix that is gathered (col, dcol) is poisoned
 * first: the pass must not read it. Sums of C*16 products in another
 * order: 1e-4 of the values' scale. */
static int conv_implicit_runs(void) {
    return nn_im2col_implicit(4, 2, 1, 14, 14, 7, 7);
}

typedef struct {
    float *dx, *dw, *dcol, *col;
    const float *x, *w, *dy;
    int transposed, B, C, H, OC;
} conv_job;

static void *conv_backward_job(void *p) {
    conv_job *j = p;
    if (j->transposed)
        nn_convt2d_backward(j->dx, j->dw, j->dcol, j->x, j->w, j->dy, j->B, j->C, j->H, j->H, j->OC, 4, 2, 1);
    else
        nn_conv2d_backward(j->dx, j->dw, j->dcol, j->col, j->x, j->w, j->dy, j->B, j->C, j->H, j->H, j->OC,
                           4, 2, 1);
    return NULL;
}

extern int test_mmap_refuse;

/* H is the layer's input side (the output's is H / 2, or 2H transposed).
 * fallback: the backward pass in a new thread whose pack buffers cannot be
 * mapped, after a forward pass that gathered its columns; 2: the same for
 * the weight gradient alone (no dinp, whose fallback would build dcol) */
static void check_implicit(int transposed, int B, int C, int H, int OC, int fallback) {
    const int OH = transposed ? 2 * H : H / 2, small = transposed ? H : OH;
    const size_t nx = (size_t)C * B * H * H, no = (size_t)OC * B * OH * OH, nw = (size_t)OC * C * 16;
    const size_t ncol = (size_t)(transposed ? OC : C) * 16 * B * small * small;
    const char *what = transposed ? "convT" : "conv";
    nn_rng r;
    nn_rng_seed(&r, 4000 + (uint64_t)(B * 13 + C * 5 + H + OC + transposed));
    float *x = randn(&r, nx), *w = randn(&r, nw), *dy = randn(&r, no), *dw0 = randn(&r, nw);
    float *col = malloc(ncol * sizeof(float)), *dcol = malloc(ncol * sizeof(float));
    float *o[2], *dw[2], *dx[2];
    for (int v = 0; v < 2; v++) {      /* 0: fast, 1: generic */
        o[v] = malloc(no * sizeof(float));
        dx[v] = calloc(nx, sizeof(float));
        dw[v] = malloc(nw * sizeof(float));
        memcpy(dw[v], dw0, nw * sizeof(float));
        nn_kernels_forced_generic = v;
        for (size_t i = 0; i < ncol; i++) col[i] = NAN;
        if (transposed) nn_convt2d_forward(o[v], col, x, w, B, C, H, H, OC, 4, 2, 1);
        else nn_conv2d_forward(o[v], col, x, w, B, C, H, H, OC, 4, 2, 1);
        for (size_t i = 0; transposed && i < ncol; i++) dcol[i] = NAN;
        conv_job j = {fallback == 2 ? NULL : dx[v], dw[v], dcol, col, x, w, dy, transposed, B, C, H, OC};
        if (v == 0 && fallback) {
            pthread_t t;
            __atomic_store_n(&test_mmap_refuse, 1, __ATOMIC_RELAXED);
            CHECK(pthread_create(&t, NULL, conv_backward_job, &j) == 0 && pthread_join(t, NULL) == 0);
            __atomic_store_n(&test_mmap_refuse, 0, __ATOMIC_RELAXED);
        } else {
            conv_backward_job(&j);
        }
        nn_kernels_forced_generic = 0;
    }
    CHECKF(max_abs_diff(o[0], o[1], no) <= 1e-4, "%s B%d C%d H%d OC%d: forward differs by %g", what, B, C, H,
           OC, max_abs_diff(o[0], o[1], no));
    CHECKF(max_abs_diff(dw[0], dw[1], nw) <= 1e-3, "%s B%d C%d H%d OC%d%s: dw differs by %g", what, B, C, H,
           OC, fallback ? " (fallback)" : "", max_abs_diff(dw[0], dw[1], nw));
    CHECKF(max_abs_diff(dx[0], dx[1], nx) <= 1e-4 && (fallback < 2 || dx[0][0] == 0.0f),
           "%s B%d C%d H%d OC%d%s: dinp differs by %g", what, B, C,
           H, OC, fallback ? " (fallback)" : "", max_abs_diff(dx[0], dx[1], nx));
    for (int v = 0; v < 2; v++) { free(o[v]); free(dw[v]); free(dx[v]); }
    free(x); free(w); free(dy); free(dw0); free(col); free(dcol);
}

TEST(kernels_conv_implicit_im2col_matches_generic) {
    if (nn_sgemm_own_loop() && __builtin_cpu_supports("avx512f"))
        CHECK(conv_implicit_runs());   /* the path under test does run here */
    check_implicit(0, 3, 5, 14, 13, 0);
    check_implicit(0, 2, 3, 8, 70, 0);
    check_implicit(0, 20, 4, 14, 9, 0);   /* two chunks of columns */
    check_implicit(0, 5, 7, 6, 33, 0);
    check_implicit(0, 2, 3, 32, 17, 0);   /* rows too long to permute: the gathering packer */
    check_implicit(0, 16, 64, 14, 128, 0);
    check_implicit(0, 3, 5, 14, 13, 1);
    check_implicit(0, 16, 64, 14, 128, 1);
}

TEST(kernels_convt_implicit_im2col_matches_generic) {
    check_implicit(1, 3, 70, 7, 5, 0);
    check_implicit(1, 2, 9, 4, 33, 0);
    check_implicit(1, 20, 66, 7, 3, 0);   /* two chunks of columns */
    check_implicit(1, 5, 65, 3, 7, 0);
    check_implicit(1, 16, 256, 7, 128, 0);
    check_implicit(1, 3, 70, 7, 5, 1);
    check_implicit(1, 16, 256, 7, 128, 1);
    check_implicit(1, 16, 256, 7, 128, 2);
}
