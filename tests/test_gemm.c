/* test_gemm.c - nn/gemm.c's GEMM driver against a plain triple loop in
 * double precision: every transposition, beta 0 and 1, leading dimensions
 * wider than the matrices (the layers multiply column slices), and sizes
 * that leave partial micro-tiles, panels and depth blocks on every side.
 * The tolerance is 1e-5 of |c| + sum |a||b| per element: float accumulation of K
 * products in any order stays well inside it (K * 2^-24 at worst is 6e-5
 * for K = 1030, the typical error is sqrt(K) times smaller).
 * Also the contract of nn_sgemm_reuse: the packed A is reused only when
 * asked for and only for the same A and shapes.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "testhelp.h"
#include "../nn/nn.h"
#include "../nn/nn_internal.h"

static float *randn(nn_rng *r, size_t n) {
    float *x = malloc(n * sizeof(float));
    nn_rng_fill_normal(r, x, n, 0.0f, 1.0f);
    return x;
}

/* Worst |got - want| / (1e-5 * sum|a||b| + 1e-30) over C; <= 1 passes. */
static double gemm_error(int ta, int tb, int M, int N, int K, const float *A, int lda,
                         const float *B, int ldb, float beta, const float *C0, const float *C, int ldc) {
    double worst = 0.0;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = beta != 0.0f ? C0[(size_t)m * ldc + n] : 0.0, mag = fabs(s);
            for (int p = 0; p < K; p++) {
                const double a = ta ? A[(size_t)p * lda + m] : A[(size_t)m * lda + p];
                const double b = tb ? B[(size_t)n * ldb + p] : B[(size_t)p * ldb + n];
                s += a * b;
                mag += fabs(a * b);
            }
            const double e = fabs(C[(size_t)m * ldc + n] - s) / (1e-5 * mag + 1e-30);
            if (e > worst || e != e) worst = e != e ? INFINITY : e;
        }
    return worst;
}

/* One product with leading dimensions `extra` wider than needed; C's
 * columns beyond N must stay as they were. */
static void check_gemm(int ta, int tb, int M, int N, int K, float beta, int extra) {
    nn_rng r;
    nn_rng_seed(&r, 1000u + (uint64_t)M * 7 + (uint64_t)N * 3 + (uint64_t)K + (uint64_t)(ta * 2 + tb));
    const int lda = (ta ? M : K) + extra, ldb = (tb ? K : N) + extra, ldc = N + extra;
    const size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = randn(&r, na), *B = randn(&r, nb), *C = randn(&r, nc), *C0 = malloc(nc * sizeof(float));
    memcpy(C0, C, nc * sizeof(float));
    nn_sgemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
    const double e = gemm_error(ta, tb, M, N, K, A, lda, B, ldb, beta, C0, C, ldc);
    CHECKF(e <= 1.0, "%c%c %dx%dx%d beta %g ld+%d: error %.3g of tolerance",
           ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, beta, extra, e);
    int outside = 0;
    for (int m = 0; m < M; m++)
        for (int n = N; n < ldc; n++) outside += C[(size_t)m * ldc + n] != C0[(size_t)m * ldc + n];
    CHECKF(outside == 0, "%d values written beyond column %d", outside, N);
    free(A); free(B); free(C); free(C0);
}

TEST(gemm_matches_triple_loop) {
    /* the model's shapes (D's second convolution forward, its data and
     * weight gradients) and odd ones: partial 32- and 12-wide tiles, a
     * depth over two KC blocks (384) with a remainder, and skinny GEMMs
     * that BLAS's own kernels take */
    static const int shapes[][3] = {
        {128, 784, 1024}, {1024, 392, 128}, {128, 512, 800},
        {131, 203, 1030}, {100, 100, 100}, {257, 121, 385}, {113, 1001, 211},
        {16, 300, 200}, {300, 7, 129}, {200, 150, 3},
        {76, 97, 400}, {65, 64, 70},   /* last 12-wide panels of 4 and 5 lines (gemm.c's edge4 and not) */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            check_gemm(t >> 1, t & 1, shapes[s][0], shapes[s][1], shapes[s][2],
                       (float)((s + (size_t)t) & 1), (int)(s % 3) * 5);
}

/* The loop serves the skx kernels: where BLIS runs them (a CPU with AVX-512
 * and nn/blas.c's correction), the model's GEMMs must not fall back to BLAS. */
TEST(gemm_own_loop_runs_with_skx_kernels) {
    if (__builtin_cpu_supports("avx512f") && strstr(nn_blas_name(), "skx"))
        CHECKF(nn_sgemm_own_loop(), "BLAS: %s, yet the GEMMs go to cblas_sgemm", nn_blas_name());
    else
        CHECK(!nn_sgemm_own_loop());
}

TEST(gemm_reuse_keeps_packed_a_only_when_asked) {
    const int M = 128, N = 200, K = 256;
    nn_rng r;
    nn_rng_seed(&r, 4242);
    float *A = randn(&r, (size_t)M * K), *A_old = malloc((size_t)M * K * sizeof(float));
    float *B = randn(&r, (size_t)K * N);
    float *C = malloc((size_t)K * N * sizeof(float));   /* K > M: room for the transposed call */
    memcpy(A_old, A, (size_t)M * K * sizeof(float));
    nn_sgemm_reuse(0, 0, M, N, K, A, K, B, N, 0.0f, C, N, 0);
    CHECK(gemm_error(0, 0, M, N, K, A, K, B, N, 0.0f, NULL, C, N) <= 1.0);
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] *= -2.0f;   /* the weights change in place */
    nn_sgemm_reuse(0, 0, M, N, K, A, K, B, N, 0.0f, C, N, 0);
    CHECKF(gemm_error(0, 0, M, N, K, A, K, B, N, 0.0f, NULL, C, N) <= 1.0,
           "without reuse the new A is packed");
    nn_sgemm_reuse(0, 0, M, N / 2, K, A, K, B + N / 2, N, 0.0f, C + N / 2, N, 1);
    CHECKF(gemm_error(0, 0, M, N / 2, K, A, K, B + N / 2, N, 0.0f, NULL, C + N / 2, N) <= 1.0,
           "reused for the next columns of the same product");
    memcpy(A, A_old, (size_t)M * K * sizeof(float));
    nn_sgemm_reuse(0, 0, M, N, K, A, K, B, N, 0.0f, C, N, 1);   /* reuse asked: old packing */
    if (nn_sgemm_own_loop()) {
        for (size_t i = 0; i < (size_t)M * K; i++) A_old[i] *= -2.0f;
        CHECKF(gemm_error(0, 0, M, N, K, A_old, K, B, N, 0.0f, NULL, C, N) <= 1.0,
               "reuse keeps what was packed (the caller's promise that A is unchanged)");
    } else {   /* BLAS packs nothing across calls */
        CHECK(gemm_error(0, 0, M, N, K, A, K, B, N, 0.0f, NULL, C, N) <= 1.0);
    }
    nn_sgemm_reuse(1, 0, K, N, M, A, K, B, N, 0.0f, C, N, 1);   /* another shape: packed anew */
    CHECKF(gemm_error(1, 0, K, N, M, A, K, B, N, 0.0f, NULL, C, N) <= 1.0,
           "reuse with another transposition or shape packs A again");
    free(A); free(A_old); free(B); free(C);
}

/* The micro-kernel reads a little past the end of its packed panels (the
 * next depth step of A). A thread's first GEMM sizes its pack buffers to the
 * problem, so with a full MC x KC block (N 480, K 384 for skx) both buffers'
 * last panels end at their guard slack; run in a fresh thread of a child
 * process, an over-read beyond the slack is a fault the parent sees as a
 * signal instead of a crash of this runner. Before the slack existed this
 * faulted in the thread-sanitized server, whose allocator ends big blocks at
 * a page boundary. */
static void *full_block_gemm(void *arg) {
    const int M = 64, N = 480, K = 384;
    nn_rng r;
    nn_rng_seed(&r, 77);
    float *A = randn(&r, (size_t)M * K), *B = randn(&r, (size_t)K * N), *C = calloc((size_t)M * N, sizeof(float));
    nn_sgemm(0, 0, M, N, K, A, K, B, N, 0.0f, C, N);
    *(double *)arg = gemm_error(0, 0, M, N, K, A, K, B, N, 0.0f, NULL, C, N);
    free(A); free(B); free(C);
    return NULL;
}

TEST(gemm_kernel_reads_stay_inside_pack_buffers) {
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        double e = INFINITY;
        pthread_t t;
        if (pthread_create(&t, NULL, full_block_gemm, &e) != 0 || pthread_join(t, NULL) != 0) _exit(2);
        _exit(e <= 1.0 ? 0 : 3);
    }
    CHECK(pid > 0);
    if (pid <= 0) return;
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the GEMM %s %d",
           WIFSIGNALED(status) ? "died of signal" : "exited with",
           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/* nn_sgemm_blocks hands C over in blocks instead of storing it (conv.c's
 * col2im from cache): every element exactly once, with the right value,
 * in blocks of whole units of rows and columns (the last ones may be short
 * when M or N is not a multiple of its unit), both transpositions of A; a
 * depth beyond one block is refused, not computed. */
typedef struct {
    float *C;                   /* [M][N], what the blocks delivered */
    int *seen;                  /* [M][N], how often */
    int M, N, line_unit, row_unit, bad_blocks;
} blocks_sink;

static void blocks_take(const void *ctx, const float *T, long ldt, int m0, int m, int n0, int n) {
    blocks_sink *s = (blocks_sink *)ctx;
    if (m0 % s->row_unit || n0 % s->line_unit || m < 1 || n < 1 || m0 + m > s->M || n0 + n > s->N ||
        (m % s->row_unit && m0 + m != s->M) || (n % s->line_unit && n0 + n != s->N) || ldt < n) {
        s->bad_blocks++;
        return;
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            s->C[(size_t)(m0 + i) * s->N + n0 + j] = T[(size_t)i * ldt + j];
            s->seen[(size_t)(m0 + i) * s->N + n0 + j]++;
        }
}

static void check_blocks(int ta, int M, int N, int K, int line_unit, int row_unit) {
    nn_rng r;
    nn_rng_seed(&r, 500u + (uint64_t)M + (uint64_t)N * 3 + (uint64_t)K * 7 + (uint64_t)ta);
    const int lda = ta ? M : K;
    float *A = randn(&r, (size_t)M * K), *B = randn(&r, (size_t)K * N);
    blocks_sink s = {calloc((size_t)M * N, sizeof(float)), calloc((size_t)M * N, sizeof(int)), M, N,
                     line_unit, row_unit, 0};
    if (!nn_sgemm_blocks(ta, M, N, K, A, lda, B, N, line_unit, row_unit, blocks_take, &s)) {
        CHECKF(!nn_sgemm_own_loop(), "%dx%dx%d: refused where the loop runs", M, N, K);
    } else {
        int wrong_count = 0;
        for (size_t i = 0; i < (size_t)M * N; i++) wrong_count += s.seen[i] != 1;
        CHECKF(s.bad_blocks == 0, "%dx%dx%d units %d, %d: %d blocks not whole units", M, N, K, line_unit,
               row_unit, s.bad_blocks);
        CHECKF(wrong_count == 0, "%dx%dx%d: %d elements not delivered exactly once", M, N, K, wrong_count);
        const double e = gemm_error(ta, 0, M, N, K, A, lda, B, N, 0.0f, NULL, s.C, N);
        CHECKF(e <= 1.0, "%c %dx%dx%d: error %.3g of tolerance", ta ? 'T' : 'N', M, N, K, e);
    }
    free(A); free(B); free(s.C); free(s.seen);
}

TEST(gemm_blocks_hand_over_every_element_once) {
    check_blocks(1, 2048, 784, 256, 49, 16);   /* G's convT 2 forward, batch 16 */
    check_blocks(1, 1024, 392, 128, 49, 16);   /* D's conv 2 data gradient, 8 images */
    check_blocks(0, 80, 1000, 70, 7, 5);
    check_blocks(1, 37, 50, 384, 600, 36);     /* one unit beyond N, rows past the last unit */
    check_blocks(0, 13, 1, 3, 1, 1);
    if (nn_sgemm_own_loop()) {                 /* deeper than a depth block: refused, nothing called */
        float *A = calloc(64 * 1000, sizeof(float)), *B = calloc(1000 * 64, sizeof(float));
        blocks_sink s = {NULL, NULL, 64, 64, 1, 1, 0};
        CHECK(nn_sgemm_blocks(0, 64, 64, 1000, A, 1000, B, 64, 1, 1, blocks_take, &s) == 0);
        free(A); free(B);
    }
}
