/* test_grad.c - finite-difference gradient checks of every layer in nn/nn.h.
 *
 * Method (as llm.c and ggml's test-backend-ops do): for a layer y = f(x, p)
 * take the scalar loss L = sum(y * r) with a fixed random r, so dL/dy = r.
 * The analytic gradient is the layer's backward pass fed with dout = r. The
 * numeric one is the central difference (L(x+h) - L(x-h)) / (2h) at every
 * entry of small tensors, or at 64 fixed pseudo-random entries of big ones;
 * L is summed in double from the float32 outputs, and the divisor is the
 * actual float32 step (x+h) - (x-h).
 *
 * Tolerances (float32 layers, double loss): an entry passes when
 *     |numeric - analytic| <= GC_ATOL * max|analytic| + GC_RTOL * |analytic|
 * with GC_RTOL = 1e-2 and GC_ATOL = 1e-3 (relative to the tensor's largest
 * gradient). Convolutions are linear in each input, so the central
 * difference is exact up to rounding (~1e-4 relative for h = 1e-2); the
 * nonlinear layers use h = 5e-3 (BN) or 1e-2 (elementwise, BCE), where the
 * truncation error h^2 f'''/6 is ~1e-5 relative. A wrong index or a missing
 * term gives errors of order 1, far above these bounds.
 *
 * Also checked, because callers rely on it (nn.h): backward ACCUMULATES,
 * i.e. a second backward into the same buffers doubles them (to 1e-5), the
 * NULL options of the conv backward passes give the same gradients, the
 * forward passes overwrite (not accumulate) their outputs and scratch, and
 * im2col/col2im are adjoint: <im2col(x), y> == <x, col2im(y)>. The
 * conditional model's only new pieces, the label rows of G's input and the
 * label planes of D's input, are checked through both whole networks.
 * GANLIVE_TEST_VERBOSE=1 prints the worst error/tolerance of every check.
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

#define GC_RTOL 1e-2
#define GC_ATOL 1e-3
#define GC_MAXPTS 64        /* entries probed in tensors bigger than GC_FULL */
#define GC_FULL 200         /* tensors up to this size are probed everywhere */
#define ACC_RTOL 1e-5       /* second backward == 2 x first, to this */
#define GARBAGE 777.0f      /* prefill of outputs and scratch */

static float *gc_alloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(2); }
    return p;
}

static void gc_fill(float *x, size_t n, uint32_t stream, float scale, float offset) {
    fx_fill_uniform(x, n, stream, scale, offset);
}

static void gc_set(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++) x[i] = v;
}

static double gc_dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static double gc_maxabs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

typedef double (*gc_loss)(void *ctx);

/* Compare central differences of L with respect to x[] against ana[]. */
static void grad_check(const char *what, gc_loss L, void *ctx, float *x,
                       const float *ana, size_t n, float h) {
    double scale = gc_maxabs(ana, n);
    CHECKF(scale > 0 && isfinite(scale), "%s: analytic gradient is all zero or not finite", what);
    size_t pts = n <= GC_FULL ? n : GC_MAXPTS;
    int bad = 0;
    double worst = -1, w_num = 0, w_ana = 0;
    size_t w_i = 0;
    for (size_t k = 0; k < pts; k++) {
        size_t i = n <= GC_FULL ? k : fx_hash((uint32_t)k, 4242) % n;
        float x0 = x[i], xp = x0 + h, xm = x0 - h;
        x[i] = xp;
        double lp = L(ctx);
        x[i] = xm;
        double lm = L(ctx);
        x[i] = x0;
        double num = (lp - lm) / ((double)xp - (double)xm);
        double err = fabs(num - ana[i]);
        double tol = GC_ATOL * scale + GC_RTOL * fabs(ana[i]);
        if (!(err <= tol)) bad++;
        if (!(err / tol <= worst)) { worst = err / tol; w_num = num; w_ana = ana[i]; w_i = i; }
    }
    CHECKF(bad == 0, "%s: %d of %zu entries off; worst [%zu] numeric %.7g analytic %.7g",
           what, bad, pts, w_i, w_num, w_ana);
    if (getenv("GANLIVE_TEST_VERBOSE")) printf("  %-44s worst err/tol %.3g\n", what, worst);
}

/* second == 2 * first (backward accumulates), or second == first (same). */
static void check_multiple(const char *what, const float *second, const float *first,
                           size_t n, double factor) {
    double scale = gc_maxabs(first, n) * factor;
    size_t bad = 0, w_i = 0;
    for (size_t i = 0; i < n; i++) {
        double want = factor * first[i];
        if (!(fabs(second[i] - want) <= ACC_RTOL * (scale + fabs(want)))) {
            if (!bad) w_i = i;
            bad++;
        }
    }
    CHECKF(bad == 0, "%s: %zu entries differ from %g x the first backward; first at [%zu]: %.7g vs %.7g",
           what, bad, factor, w_i, (double)second[w_i], factor * first[w_i]);
}

/* ---- im2col / col2im ----------------------------------------------------- */

typedef struct { int B, C, H, W, OC, K, S, P; } geom;

static const geom conv_geoms[] = {
    {2, 3, 8, 8, 4, 4, 2, 1},     /* the DCGAN down-sampling block */
    {2, 3, 7, 7, 2, 7, 1, 0},     /* D's last layer: 7x7 -> 1x1 */
    {3, 2, 5, 6, 3, 3, 1, 1},     /* non-square image */
    {2, 2, 9, 7, 2, 3, 2, 0},     /* odd sizes; stride leaves an edge unused */
    {1, 1, 28, 28, 2, 4, 2, 1},   /* D's first layer, one channel */
    {2, 4, 5, 5, 3, 1, 1, 0},     /* 1x1 kernel */
};
static const geom convt_geoms[] = {   /* C = input channels, OC = output */
    {2, 3, 4, 4, 2, 4, 2, 1},     /* the DCGAN up-sampling block */
    {2, 5, 1, 1, 3, 7, 1, 0},     /* G's first layer: 1x1 -> 7x7 */
    {3, 2, 3, 5, 3, 3, 2, 1},     /* non-square, odd kernel */
    {2, 4, 7, 7, 1, 4, 2, 1},     /* G's last block, one output channel */
    {2, 2, 4, 3, 2, 3, 1, 1},     /* stride 1 with padding */
};
#define NGEOM(a) ((int)(sizeof a / sizeof a[0]))

/* The entry im2col must produce, straight from the definition. */
static float im2col_ref(const float *x, const geom *g, int OH, int OW, size_t row, size_t col) {
    int kw = (int)(row % (size_t)g->K), kh = (int)(row / (size_t)g->K % (size_t)g->K);
    int c = (int)(row / ((size_t)g->K * g->K));
    int ow = (int)(col % (size_t)OW), oh = (int)(col / (size_t)OW % (size_t)OH);
    int b = (int)(col / ((size_t)OW * OH));
    int ih = oh * g->S - g->P + kh, iw = ow * g->S - g->P + kw;
    if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) return 0.0f;
    return x[(((size_t)c * g->B + b) * g->H + ih) * g->W + iw];
}

TEST(im2col_col2im_adjoint) {
    for (int gi = 0; gi < NGEOM(conv_geoms); gi++) {
        const geom *g = &conv_geoms[gi];
        int OH = nn_conv_out(g->H, g->K, g->S, g->P), OW = nn_conv_out(g->W, g->K, g->S, g->P);
        size_t nx = (size_t)g->C * g->B * g->H * g->W;
        size_t rows = (size_t)g->C * g->K * g->K, cols = (size_t)g->B * OH * OW;
        float *x = gc_alloc(nx), *y = gc_alloc(rows * cols), *col = gc_alloc(rows * cols);
        float *back = gc_alloc(nx), *back2 = gc_alloc(nx);
        gc_fill(x, nx, 100 + (uint32_t)gi, 1.0f, 0.0f);
        gc_fill(y, rows * cols, 200 + (uint32_t)gi, 1.0f, 0.0f);
        gc_set(col, rows * cols, GARBAGE);   /* padding entries must be written as 0 */
        nn_im2col(col, x, g->C, g->B, g->H, g->W, g->K, g->S, g->P, OH, OW);

        size_t bad = 0, b_r = 0, b_c = 0;
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < cols; c++)
                if (col[r * cols + c] != im2col_ref(x, g, OH, OW, r, c)) {
                    if (!bad) { b_r = r; b_c = c; }
                    bad++;
                }
        CHECKF(bad == 0, "geometry %d: im2col differs from the definition at %zu entries, "
               "first col[%zu][%zu] = %g, want %g", gi, bad, b_r, b_c,
               (double)col[b_r * cols + b_c], (double)im2col_ref(x, g, OH, OW, b_r, b_c));

        nn_col2im(back, y, g->C, g->B, g->H, g->W, g->K, g->S, g->P, OH, OW);
        double lhs = gc_dot(col, y, rows * cols), rhs = gc_dot(x, back, nx);
        double mag = 0;   /* sum of |terms|: the scale of the rounding error */
        for (size_t i = 0; i < rows * cols; i++) mag += fabs((double)col[i] * y[i]);
        CHECKF(fabs(lhs - rhs) <= 1e-5 * mag + 1e-6, "geometry %d: <im2col(x),y> = %.9g, "
               "<x,col2im(y)> = %.9g", gi, lhs, rhs);

        /* col2im accumulates into out */
        memcpy(back2, back, nx * sizeof *back2);
        nn_col2im(back2, y, g->C, g->B, g->H, g->W, g->K, g->S, g->P, OH, OW);
        check_multiple("col2im accumulates", back2, back, nx, 2.0);
        free(x); free(y); free(col); free(back); free(back2);
    }
}

/* ---- Conv2d and ConvTranspose2d ------------------------------------------ */

typedef struct {
    const geom *g;
    int transposed, OH, OW;
    size_t nx, nw, nout, ncol;
    float *x, *w, *out, *col, *r;
} conv_ctx;

static void conv_forward(conv_ctx *c) {
    const geom *g = c->g;
    if (c->transposed)
        nn_convt2d_forward(c->out, c->col, c->x, c->w, g->B, g->C, g->H, g->W, g->OC, g->K, g->S, g->P);
    else
        nn_conv2d_forward(c->out, c->col, c->x, c->w, g->B, g->C, g->H, g->W, g->OC, g->K, g->S, g->P);
}

static double conv_loss(void *p) {
    conv_ctx *c = p;
    conv_forward(c);
    return gc_dot(c->out, c->r, c->nout);
}

static void conv_backward(conv_ctx *c, float *dx, float *dw, float *dcol) {
    const geom *g = c->g;
    if (c->transposed)
        nn_convt2d_backward(dx, dw, dcol, c->x, c->w, c->r, g->B, g->C, g->H, g->W, g->OC, g->K, g->S, g->P);
    else
        nn_conv2d_backward(dx, dw, dcol, c->col, c->x, c->w, c->r, g->B, g->C, g->H, g->W, g->OC, g->K, g->S, g->P);
}

static void conv_grad_test(const geom *g, int gi, int transposed) {
    conv_ctx c = {.g = g, .transposed = transposed};
    char what[160];
    const char *name = transposed ? "convt2d" : "conv2d";
    if (transposed) {
        c.OH = nn_convt_out(g->H, g->K, g->S, g->P);
        c.OW = nn_convt_out(g->W, g->K, g->S, g->P);
        c.ncol = (size_t)g->OC * g->K * g->K * g->B * g->H * g->W;
    } else {
        c.OH = nn_conv_out(g->H, g->K, g->S, g->P);
        c.OW = nn_conv_out(g->W, g->K, g->S, g->P);
        c.ncol = (size_t)g->C * g->K * g->K * g->B * c.OH * c.OW;
    }
    c.nx = (size_t)g->C * g->B * g->H * g->W;
    c.nw = (size_t)g->OC * g->C * g->K * g->K;
    c.nout = (size_t)g->OC * g->B * c.OH * c.OW;
    c.x = gc_alloc(c.nx); c.w = gc_alloc(c.nw); c.out = gc_alloc(c.nout);
    c.col = gc_alloc(c.ncol); c.r = gc_alloc(c.nout);
    float *dx = gc_alloc(c.nx), *dw = gc_alloc(c.nw), *dcol = gc_alloc(c.ncol);
    float *dx1 = gc_alloc(c.nx), *dw1 = gc_alloc(c.nw);
    uint32_t s = (transposed ? 300 : 400) + 10 * (uint32_t)gi;
    gc_fill(c.x, c.nx, s + 1, 1.0f, 0.0f);
    gc_fill(c.w, c.nw, s + 2, 0.5f, 0.0f);
    gc_fill(c.r, c.nout, s + 3, 1.0f, 0.0f);

    /* analytic gradients first (the conv backward reads forward's col) */
    gc_set(c.out, c.nout, GARBAGE);
    gc_set(c.col, c.ncol, GARBAGE);
    double l0 = conv_loss(&c);
    gc_set(dcol, c.ncol, GARBAGE);
    conv_backward(&c, dx, dw, dcol);
    memcpy(dx1, dx, c.nx * sizeof *dx);
    memcpy(dw1, dw, c.nw * sizeof *dw);
    /* forward again on garbage-filled outputs: must overwrite, not add */
    gc_set(c.out, c.nout, GARBAGE);
    snprintf(what, sizeof what, "%s geometry %d forward overwrites out", name, gi);
    CHECKF(conv_loss(&c) == l0, "%s", what);

    /* accumulation: a second backward doubles both gradients */
    conv_backward(&c, dx, dw, dcol);
    snprintf(what, sizeof what, "%s geometry %d dx accumulates", name, gi);
    check_multiple(what, dx, dx1, c.nx, 2.0);
    snprintf(what, sizeof what, "%s geometry %d dw accumulates", name, gi);
    check_multiple(what, dw, dw1, c.nw, 2.0);
    /* the NULL options give the same gradients */
    memset(dw, 0, c.nw * sizeof *dw);
    conv_backward(&c, NULL, dw, dcol);
    snprintf(what, sizeof what, "%s geometry %d dw with dinp NULL", name, gi);
    check_multiple(what, dw, dw1, c.nw, 1.0);
    memset(dx, 0, c.nx * sizeof *dx);
    conv_backward(&c, dx, NULL, dcol);
    snprintf(what, sizeof what, "%s geometry %d dx with dw NULL", name, gi);
    check_multiple(what, dx, dx1, c.nx, 1.0);

    /* finite differences */
    snprintf(what, sizeof what, "%s geometry %d dinp", name, gi);
    grad_check(what, conv_loss, &c, c.x, dx1, c.nx, 1e-2f);
    snprintf(what, sizeof what, "%s geometry %d dw", name, gi);
    grad_check(what, conv_loss, &c, c.w, dw1, c.nw, 1e-2f);

    free(c.x); free(c.w); free(c.out); free(c.col); free(c.r);
    free(dx); free(dw); free(dcol); free(dx1); free(dw1);
}

TEST(conv2d_grad) {
    for (int gi = 0; gi < NGEOM(conv_geoms); gi++) conv_grad_test(&conv_geoms[gi], gi, 0);
}

TEST(convt2d_grad) {
    for (int gi = 0; gi < NGEOM(convt_geoms); gi++) conv_grad_test(&convt_geoms[gi], gi, 1);
}

/* ---- BatchNorm (training mode) ------------------------------------------- */

typedef struct {
    int C, N;
    float *x, *gamma, *beta, *out, *mean, *rstd, *r;
} bn_ctx;

static double bn_loss(void *p) {
    bn_ctx *c = p;
    nn_batchnorm_forward(c->out, c->mean, c->rstd, c->x, c->gamma, c->beta,
                         NULL, NULL, 0.1f, 1e-5f, c->C, c->N);
    return gc_dot(c->out, c->r, (size_t)c->C * c->N);
}

TEST(batchnorm_grad) {
    static const int shapes[][2] = {{3, 36}, {2, 8}, {4, 98}};   /* C, N = B*H*W */
    for (int si = 0; si < 3; si++) {
        bn_ctx c = {.C = shapes[si][0], .N = shapes[si][1]};
        size_t n = (size_t)c.C * c.N, C = (size_t)c.C;
        c.x = gc_alloc(n); c.out = gc_alloc(n); c.r = gc_alloc(n);
        c.gamma = gc_alloc(C); c.beta = gc_alloc(C); c.mean = gc_alloc(C); c.rstd = gc_alloc(C);
        float *dx = gc_alloc(n), *dg = gc_alloc(C), *db = gc_alloc(C);
        float *dx1 = gc_alloc(n), *dg1 = gc_alloc(C), *db1 = gc_alloc(C);
        uint32_t s = 500 + 10 * (uint32_t)si;
        gc_fill(c.x, n, s + 1, 2.0f, 0.5f);         /* mean 0.5, not normalised */
        gc_fill(c.gamma, C, s + 2, 0.25f, 1.0f);
        gc_fill(c.beta, C, s + 3, 0.25f, 0.0f);
        gc_fill(c.r, n, s + 4, 1.0f, 0.0f);
        char what[160];

        bn_loss(&c);
        nn_batchnorm_backward(dx, dg, db, c.r, c.x, c.mean, c.rstd, c.gamma, c.C, c.N);
        memcpy(dx1, dx, n * sizeof *dx);
        memcpy(dg1, dg, C * sizeof *dg);
        memcpy(db1, db, C * sizeof *db);
        nn_batchnorm_backward(dx, dg, db, c.r, c.x, c.mean, c.rstd, c.gamma, c.C, c.N);
        snprintf(what, sizeof what, "batchnorm %d dinp accumulates", si);
        check_multiple(what, dx, dx1, n, 2.0);
        snprintf(what, sizeof what, "batchnorm %d dgamma accumulates", si);
        check_multiple(what, dg, dg1, C, 2.0);
        snprintf(what, sizeof what, "batchnorm %d dbeta accumulates", si);
        check_multiple(what, db, db1, C, 2.0);
        memset(dx, 0, n * sizeof *dx);
        nn_batchnorm_backward(dx, NULL, NULL, c.r, c.x, c.mean, c.rstd, c.gamma, c.C, c.N);
        snprintf(what, sizeof what, "batchnorm %d dinp with dgamma/dbeta NULL", si);
        check_multiple(what, dx, dx1, n, 1.0);

        snprintf(what, sizeof what, "batchnorm %d dinp", si);
        grad_check(what, bn_loss, &c, c.x, dx1, n, 5e-3f);
        snprintf(what, sizeof what, "batchnorm %d dgamma", si);
        grad_check(what, bn_loss, &c, c.gamma, dg1, C, 5e-3f);
        snprintf(what, sizeof what, "batchnorm %d dbeta", si);
        grad_check(what, bn_loss, &c, c.beta, db1, C, 5e-3f);

        free(c.x); free(c.out); free(c.r); free(c.gamma); free(c.beta); free(c.mean); free(c.rstd);
        free(dx); free(dg); free(db); free(dx1); free(dg1); free(db1);
    }
}

/* ---- elementwise activations --------------------------------------------- */

enum { ACT_RELU, ACT_LEAKY, ACT_TANH };
#define LRELU_SLOPE 0.2f

typedef struct { int kind; size_t n; float *x, *out, *r; } act_ctx;

static void act_forward(act_ctx *c) {
    switch (c->kind) {
    case ACT_RELU: nn_relu_forward(c->out, c->x, c->n); break;
    case ACT_LEAKY: nn_leaky_relu_forward(c->out, c->x, LRELU_SLOPE, c->n); break;
    default: nn_tanh_forward(c->out, c->x, c->n); break;
    }
}

static void act_backward(act_ctx *c, float *dx) {
    switch (c->kind) {
    case ACT_RELU: nn_relu_backward(dx, c->out, c->r, c->n); break;
    case ACT_LEAKY: nn_leaky_relu_backward(dx, c->out, c->r, LRELU_SLOPE, c->n); break;
    default: nn_tanh_backward(dx, c->out, c->r, c->n); break;
    }
}

static double act_loss(void *p) {
    act_ctx *c = p;
    act_forward(c);
    return gc_dot(c->out, c->r, c->n);
}

TEST(activation_grad) {
    static const char *names[] = {"relu", "leaky_relu", "tanh"};
    for (int kind = 0; kind < 3; kind++) {
        act_ctx c = {.kind = kind, .n = 96};
        c.x = gc_alloc(c.n); c.out = gc_alloc(c.n); c.r = gc_alloc(c.n);
        float *dx = gc_alloc(c.n), *dx1 = gc_alloc(c.n);
        gc_fill(c.x, c.n, 600 + (uint32_t)kind, 2.0f, 0.0f);
        /* keep |x| >= 0.1 > h: no difference straddles the kink at 0 */
        for (size_t i = 0; i < c.n; i++) c.x[i] = c.x[i] < 0 ? c.x[i] - 0.1f : c.x[i] + 0.1f;
        gc_fill(c.r, c.n, 610 + (uint32_t)kind, 1.0f, 0.0f);
        char what[160];
        act_loss(&c);
        act_backward(&c, dx);
        memcpy(dx1, dx, c.n * sizeof *dx);
        act_backward(&c, dx);
        snprintf(what, sizeof what, "%s dinp accumulates", names[kind]);
        check_multiple(what, dx, dx1, c.n, 2.0);
        snprintf(what, sizeof what, "%s dinp", names[kind]);
        grad_check(what, act_loss, &c, c.x, dx1, c.n, 1e-2f);
        free(c.x); free(c.out); free(c.r); free(dx); free(dx1);
    }
}

/* ---- BCE with logits -------------------------------------------------------- */

typedef struct { int B; float target, scale; float *x; } bce_ctx;

static double bce_loss(void *p) {
    bce_ctx *c = p;
    return (double)c->scale * nn_bce_logits_forward(c->x, c->target, c->B);
}

TEST(bce_logits_grad) {
    /* 0.9: one-sided label smoothing of the real batch */
    static const struct { float target, scale; } cases[] = {{1, 1}, {0, 1}, {1, 0.5f}, {0, 2}, {0.9f, 1}};
    for (int ci = 0; ci < 5; ci++) {
        bce_ctx c = {.B = 16, .target = cases[ci].target, .scale = cases[ci].scale};
        c.x = gc_alloc(16);
        float *dx = gc_alloc(16), *dx1 = gc_alloc(16);
        gc_fill(c.x, 16, 700 + (uint32_t)ci, 4.0f, 0.0f);
        c.x[0] = 9.0f; c.x[1] = -9.0f;    /* saturated sides of the sigmoid */
        char what[160];
        nn_bce_logits_backward(dx, c.x, c.target, c.scale, c.B);
        memcpy(dx1, dx, sizeof *dx * 16);
        nn_bce_logits_backward(dx, c.x, c.target, c.scale, c.B);
        snprintf(what, sizeof what, "bce case %d dlogits accumulates", ci);
        check_multiple(what, dx, dx1, 16, 2.0);
        snprintf(what, sizeof what, "bce case %d (target %g scale %g) dlogits", ci,
                 (double)c.target, (double)c.scale);
        grad_check(what, bce_loss, &c, c.x, dx1, 16, 1e-2f);
        free(c.x); free(dx); free(dx1);
    }
}

/* ---- hinge loss ------------------------------------------------------------ */

typedef struct { int B; float sign, scale; float *x; int neg_mean; } hinge_ctx;

static double hinge_loss(void *p) {
    hinge_ctx *c = p;
    return (double)c->scale * (c->neg_mean ? nn_neg_mean_forward(c->x, c->B)
                                           : nn_hinge_forward(c->x, c->sign, c->B));
}

/* D's hinge (real: sign +1, fake: -1) and G's -mean; logits on both sides
 * of the margin, none within the finite-difference step of the kink. */
TEST(hinge_grad) {
    static const struct { float sign, scale; int neg_mean; } cases[] = {
        {1, 1, 0}, {-1, 1, 0}, {1, 0.5f, 0}, {-1, 2, 0}, {0, 1, 1}, {0, 3, 1}};
    for (int ci = 0; ci < 6; ci++) {
        hinge_ctx c = {.B = 16, .sign = cases[ci].sign, .scale = cases[ci].scale,
                       .neg_mean = cases[ci].neg_mean};
        c.x = gc_alloc(16);
        float *dx = gc_alloc(16), *dx1 = gc_alloc(16);
        gc_fill(c.x, 16, 750 + (uint32_t)ci, 3.0f, 0.0f);
        for (int i = 0; i < 16; i++)        /* keep clear of the kinks at +-1 */
            if (fabsf(fabsf(c.x[i]) - 1.0f) < 0.05f) c.x[i] += 0.2f;
        c.x[0] = 0.5f * c.sign; c.x[1] = 2.5f * c.sign;   /* inside and outside the margin */
        char what[160];
        for (int k = 0; k < 2; k++) {        /* twice: the gradient accumulates */
            if (c.neg_mean) nn_neg_mean_backward(dx, c.scale, c.B);
            else nn_hinge_backward(dx, c.x, c.sign, c.scale, c.B);
            if (k == 0) memcpy(dx1, dx, sizeof *dx * 16);
        }
        snprintf(what, sizeof what, "hinge case %d dlogits accumulates", ci);
        check_multiple(what, dx, dx1, 16, 2.0);
        snprintf(what, sizeof what, "hinge case %d (sign %g scale %g%s) dlogits", ci, (double)c.sign,
                 (double)c.scale, c.neg_mean ? ", G's -mean" : "");
        grad_check(what, hinge_loss, &c, c.x, dx1, 16, 1e-2f);
        if (!c.neg_mean)   /* outside the margin: no gradient at all */
            CHECKF(dx1[1] == 0.0f, "hinge case %d: a logit past the margin has gradient %g", ci,
                   (double)dx1[1]);
        free(c.x); free(dx); free(dx1);
    }
}

/* ---- conditional DCGAN: G's label rows and D's label planes --------------- */

/* D: L = sum_b r[b] * D(G(z_b, y_b), y_b), through G into D's first layer,
 * whose weights see the label planes. G: L = <r1, ConvT1(zin)>, the first
 * layer whose weights see the one-hot label rows. */
typedef struct { gan_model *m; const float *r; const uint8_t *labels; } cond_ctx;

static double cond_loss(void *p) {
    cond_ctx *c = p;
    const int B = c->m->cfg.batch;
    gan_g_forward(c->m, B);                 /* reads ga.z: noise rows, label rows */
    gan_d_forward(c->m, c->m->ga.out, c->labels, B);
    return gc_dot(c->m->da.logits, c->r, (size_t)B);
}

typedef struct { gan_model *m; const float *r; size_t n; } g1_ctx;

static double g1_loss(void *p) {
    g1_ctx *c = p;
    gan_g_forward(c->m, c->m->cfg.batch);   /* c1 = ConvT1(zin) before BN */
    return gc_dot(c->m->ga.c1, c->r, c->n);
}

/* The tiny conditional model of the whole-network checks (nz 3, ngf 4,
 * batch 4), with D of width ndf, a projection head and spectral
 * normalisation as asked, and D's LeakyReLU as identity: the loss must be
 * smooth for central differences. With slope 0.2 and the exact zeros of
 * padding and label planes, differences at h = 1e-2..1e-3 miss the gradient
 * by up to 10% (PyTorch's autograd agrees with ours to 1e-9 there and its
 * float64 differences only converge below h = 1e-5); the real slope is
 * covered by the PyTorch comparisons (torch_*_iteration). NULL (a failed
 * check) on no memory. */
static gan_model *tiny_conditional(gan_config *cfg, int ndf, int projection, int spectral_norm) {
    gan_config_default(cfg);
    cfg->nz = 3; cfg->ngf = 4; cfg->ndf = ndf; cfg->batch = 4; cfg->conditional = 1;
    cfg->projection = projection;
    cfg->spectral_norm = spectral_norm;
    cfg->lrelu_slope = 1.0f;
    gan_model *m = gan_model_new(cfg);
    CHECK(m != NULL);
    return m;
}

TEST(conditional_gan_grad) {
    gan_config cfg;
    gan_model *m = tiny_conditional(&cfg, 4, 0, 0);
    if (!m) return;
    const int B = cfg.batch;
    CHECK(gan_g_in(&cfg) == 13 && gan_d_in(&cfg) == 11);
    gc_fill(m->g_mem, m->g_count, 810, 0.5f, 0.0f);
    gc_fill(m->d_mem, m->d_count, 811, 0.5f, 0.0f);
    float z[4 * 3], r[4];
    const uint8_t labels[4] = {7, 0, 3, 9};
    gc_fill(z, 12, 812, 1.0f, 0.0f);
    gc_fill(r, 4, 813, 1.0f, 0.0f);
    gan_g_input(m->ga.z, z, labels, &cfg, B);
    /* the one-hot rows follow the noise rows */
    CHECK(m->ga.z[(size_t)(3 + 7) * B + 0] == 1.0f && m->ga.z[(size_t)(3 + 0) * B + 1] == 1.0f &&
          m->ga.z[(size_t)(3 + 7) * B + 1] == 0.0f && m->ga.z[(size_t)2 * B + 3] == z[3 * 3 + 2]);
    cond_ctx c = {m, r, labels};
    cond_loss(&c);
    /* D's label plane of sample 2 (label 3) is all ones, the others zero */
    CHECK(m->da.x[((size_t)(1 + 3) * B + 2) * GAN_PIX + 400] == 1.0f &&
          m->da.x[((size_t)(1 + 4) * B + 2) * GAN_PIX + 400] == 0.0f);
    nn_zero(m->d_grad_mem, m->d_count);
    nn_zero(m->g_grad_mem, m->g_count);
    float *dx = gc_alloc((size_t)gan_d_in(&cfg) * B * GAN_PIX);
    gan_d_backward(m, r, dx, 1, B);
    gan_g_backward(m, dx, B);              /* channel 0 of dx is dL/dimages */
    size_t gs[GAN_G_NTENSORS], ds[GAN_D_NTENSORS];
    gan_gparam_sizes(&cfg, gs);
    gan_dparam_sizes(&cfg, ds);
    float *ana_g = gc_alloc(gs[0]), *ana_d = gc_alloc(ds[0]);
    memcpy(ana_g, m->g_grad.w1, gs[0] * sizeof(float));
    memcpy(ana_d, m->d_grad.w1, ds[0] * sizeof(float));
    grad_check("conditional D conv1 weights (label planes)", cond_loss, &c, m->d.w1, ana_d, ds[0], 1e-2f);
    (void)ana_g;   /* G's ReLUs make the whole-G loss kinked: G's first layer is checked alone */
    /* G's first layer alone, L = <r1, ConvT1(zin)>: its label rows' weights */
    const size_t n1 = (size_t)2 * cfg.ngf * B * 49;
    float *r1 = gc_alloc(n1), *dw1 = gc_alloc(gs[0]);
    gc_fill(r1, n1, 814, 1.0f, 0.0f);
    g1_ctx g1 = {m, r1, n1};
    nn_convt2d_backward(NULL, dw1, m->scratch, m->ga.z, m->g.w1, r1, B, gan_g_in(&cfg), 1, 1,
                        2 * cfg.ngf, 7, 1, 0);
    grad_check("conditional G convT1 weights (label rows)", g1_loss, &g1, m->g.w1, dw1, gs[0], 1e-2f);
    free(dx); free(ana_g); free(ana_d); free(r1); free(dw1);
    gan_model_free(m);
}

/* ---- projection discriminator: the class head of D's last layer ---------- */

/* L = sum_b r[b] * D(x_b, y_b): with a projection head D's logit is
 * conv3(h_b) + <E[y_b], h_b>; the gradients of the class embedding E, of
 * conv3's weights and of the images. */
typedef struct { gan_model *m; const float *x, *r; const uint8_t *labels; } proj_ctx;

static double proj_loss(void *p) {
    proj_ctx *c = p;
    gan_d_forward(c->m, c->x, c->labels, c->m->cfg.batch);
    return gc_dot(c->m->da.logits, c->r, (size_t)c->m->cfg.batch);
}

TEST(projection_gan_grad) {
    gan_config cfg;
    gan_model *m = tiny_conditional(&cfg, 2, 1, 0);
    if (!m) return;
    const int B = cfg.batch;
    size_t ds[GAN_D_NTENSORS];
    gan_dparam_sizes(&cfg, ds);
    CHECK(gan_d_in(&cfg) == 1 && ds[5] == (size_t)GAN_CLASSES * 2 * cfg.ndf * 49);
    gc_fill(m->d_mem, m->d_count, 821, 0.5f, 0.0f);
    float *x = gc_alloc((size_t)B * GAN_PIX), r[4];
    const uint8_t labels[4] = {7, 0, 7, 9};       /* a class twice: its gradients add up */
    gc_fill(x, (size_t)B * GAN_PIX, 822, 1.0f, 0.0f);
    gc_fill(r, 4, 823, 1.0f, 0.0f);
    proj_ctx c = {m, x, r, labels};
    proj_loss(&c);
    nn_zero(m->d_grad_mem, m->d_count);
    float *dx = gc_alloc((size_t)B * GAN_PIX);
    gan_d_backward(m, r, dx, 1, B);
    float *ana_e = gc_alloc(ds[5]), *ana_w3 = gc_alloc(ds[4]);
    memcpy(ana_e, m->d_grad.embed, ds[5] * sizeof(float));
    memcpy(ana_w3, m->d_grad.w3, ds[4] * sizeof(float));
    /* classes never asked for get no gradient */
    float unused = 0.0f;
    for (int k = 1; k < GAN_CLASSES; k++)
        if (k != 7 && k != 9)
            for (size_t i = 0; i < ds[5] / GAN_CLASSES; i++) unused += fabsf(ana_e[k * ds[5] / GAN_CLASSES + i]);
    CHECKF(unused == 0.0f, "projection: classes without samples got gradient %g", (double)unused);
    grad_check("projection head: class embedding", proj_loss, &c, m->d.embed, ana_e, ds[5], 1e-2f);
    grad_check("projection head: conv3 weights", proj_loss, &c, m->d.w3, ana_w3, ds[4], 1e-2f);
    grad_check("projection head: dL/dimages", proj_loss, &c, x, dx, (size_t)B * GAN_PIX, 1e-2f);
    free(x); free(dx); free(ana_e); free(ana_w3);
    gan_model_free(m);
}

/* ---- spectral normalisation of D's weights -------------------------------- */

/* The piece alone: L(W) = <R, W / sigma(W)>, sigma = u^T W v with u, v held
 * (eval mode), as PyTorch differentiates it. */
typedef struct { float *w, *wsn, *u, *v; const float *r; int rows, cols; } sn_ctx;

static double sn_loss(void *p) {
    sn_ctx *c = p;
    nn_sn_forward(c->wsn, c->u, c->v, c->w, c->rows, c->cols, 0);
    return gc_dot(c->wsn, c->r, (size_t)c->rows * c->cols);
}

TEST(spectral_norm_grad) {
    enum { R = 5, C = 7 };
    float w[R * C], wsn[R * C], u[R], v[C], r[R * C], dw[R * C], dw2[R * C];
    nn_rng rng;
    nn_rng_seed(&rng, 5);
    gc_fill(w, R * C, 831, 0.5f, 0.0f);
    gc_fill(r, R * C, 832, 1.0f, 0.0f);
    nn_sn_init(u, v, R, C, &rng);
    CHECK(fabs(gc_dot(u, u, R) - 1.0) < 1e-6 && fabs(gc_dot(v, v, C) - 1.0) < 1e-6);
    const float sigma = nn_sn_forward(wsn, u, v, w, R, C, 1);   /* one power iteration */
    float u1[R], v1[C];
    memcpy(u1, u, sizeof u);
    memcpy(v1, v, sizeof v);
    CHECK(nn_sn_forward(wsn, u, v, w, R, C, 0) == sigma);     /* eval: same sigma ... */
    CHECK(memcmp(u, u1, sizeof u) == 0 && memcmp(v, v1, sizeof v) == 0);   /* ... u, v kept */
    CHECK(wsn[3] == w[3] / sigma);
    gc_set(dw, R * C, 0.0f);
    nn_sn_backward(dw, r, wsn, u, v, sigma, R, C);
    sn_ctx c = {w, wsn, u, v, r, R, C};
    grad_check("spectral norm: dL/dW through W / sigma", sn_loss, &c, w, dw, R * C, 1e-2f);
    nn_sn_forward(wsn, u, v, w, R, C, 0);                      /* W / sigma at W again */
    memcpy(dw2, dw, sizeof dw);
    nn_sn_backward(dw2, r, wsn, u, v, sigma, R, C);             /* accumulates */
    check_multiple("spectral norm backward", dw2, dw, R * C, 2.0);
    /* the power iteration finds the largest singular value: diag(3, 2, 1)
     * padded with zeros has sigma 3, and W / sigma has it 1 */
    float d[R * C] = {0};
    d[0 * C + 0] = 3.0f; d[1 * C + 1] = -2.0f; d[2 * C + 2] = 1.0f;
    float s = 0.0f;
    for (int i = 0; i < 40; i++) s = nn_sn_forward(wsn, u, v, d, R, C, 1);
    CHECKF(fabsf(s - 3.0f) < 1e-4f && fabsf(wsn[0] - 1.0f) < 1e-4f, "sigma %g", (double)s);
}

/* Through the whole D (label planes, BN, LeakyReLU as identity): the
 * weights' gradients through W / sigma and dL/dimages. u and v are first
 * run to convergence, where sigma is stationary in them, and restored
 * before each pass, so the train-mode power iteration of each finite
 * difference moves them by O(h) only. */
typedef struct { proj_ctx d; const float *uv; size_t nbuf, nsn; } snd_ctx;

static double snd_loss(void *p) {
    snd_ctx *c = p;
    memcpy(c->d.m->d_buf_mem + c->nbuf - c->nsn, c->uv, c->nsn * sizeof(float));
    return proj_loss(&c->d);
}

TEST(spectral_norm_gan_grad) {
    gan_config cfg;
    gan_model *m = tiny_conditional(&cfg, 2, 0, 1);
    if (!m) return;
    const int B = cfg.batch;
    nn_rng rng;
    nn_rng_seed(&rng, 9);
    gan_model_init(m, &rng);
    size_t ds[GAN_D_NTENSORS];
    gan_dparam_sizes(&cfg, ds);
    gc_fill(m->d_mem, m->d_count, 841, 0.5f, 0.0f);
    const size_t nbuf = gan_dbuffer_count(&cfg), nsn = nbuf - 2 * 2 * (size_t)cfg.ndf;
    CHECK(m->d_buf.sn_u[0] == m->d_buf_mem + 4 * cfg.ndf && m->d_buf.sn_v[2] + 2 * cfg.ndf * 49 ==
          m->d_buf_mem + nbuf);
    float *x = gc_alloc((size_t)B * GAN_PIX), r[4], *uv = gc_alloc(nsn);
    const uint8_t labels[4] = {1, 4, 4, 8};
    gc_fill(x, (size_t)B * GAN_PIX, 842, 1.0f, 0.0f);
    gc_fill(r, 4, 843, 1.0f, 0.0f);
    for (int i = 0; i < 200; i++) gan_d_forward(m, x, labels, B);   /* u, v converge */
    memcpy(uv, m->d_buf_mem + nbuf - nsn, nsn * sizeof(float));
    snd_ctx c = {{m, x, r, labels}, uv, nbuf, nsn};
    snd_loss(&c);
    nn_zero(m->d_grad_mem, m->d_count);
    float *dx = gc_alloc((size_t)B * GAN_PIX * gan_d_in(&cfg));
    gan_d_backward(m, r, dx, 1, B);
    float *ana[3];
    const int wi[3] = {0, 1, 4};   /* w1, w2, w3 in D's tensor list */
    for (int k = 0; k < 3; k++) {
        ana[k] = gc_alloc(ds[wi[k]]);
        memcpy(ana[k], m->d_grad.t[wi[k]], ds[wi[k]] * sizeof(float));
    }
    grad_check("spectral norm D: conv1 weights", snd_loss, &c, m->d.w1, ana[0], ds[0], 1e-2f);
    grad_check("spectral norm D: conv2 weights (under BN)", snd_loss, &c, m->d.w2, ana[1], ds[1], 1e-2f);
    grad_check("spectral norm D: conv3 weights", snd_loss, &c, m->d.w3, ana[2], ds[4], 1e-2f);
    grad_check("spectral norm D: dL/dimages", snd_loss, &c, x, dx, (size_t)B * GAN_PIX, 1e-2f);
    /* D's passes read W / sigma, not W: the logits differ from a D without it */
    CHECK(m->d_use.w3 != m->d.w3 && m->d_use.bn2_g == m->d.bn2_g && m->d_sigma[2] > 0.0f);
    for (int k = 0; k < 3; k++) free(ana[k]);
    free(x); free(dx); free(uv);
    gan_model_free(m);
}
