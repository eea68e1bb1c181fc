/* gemm.c - the model's GEMMs on BLIS's micro-kernel, with ganlive's own
 * packing and loops.
 *
 * nn_sgemm computes C = op(A) x op(B) (+ C), row-major, like cblas_sgemm
 * with alpha 1 and beta 0 or 1. It runs Goto's loops itself (blocks of KC
 * depth and MC rows, MR x NR micro-tiles, the sizes of the context nn/blas.c
 * tuned) and calls that context's micro-kernel, so the FLOPs run in the same
 * assembly as BLIS's own sgemm. What differs is packing. BLIS 0.9 has no
 * packing kernel for the skx micro-kernel's 32-float panels and copies them
 * with its portable scal2v loop, one call per panel column: 17% of the
 * cycles of a training step at batch 64 on a Zen 5, against 50% in the
 * micro-kernel. Here a panel column that is contiguous in memory (the
 * activations' rows) is a masked vector copy, one that runs along the depth
 * (the weight gradients' operands) goes through 16 x 16 register transposes;
 * an operand is a row-major matrix or its transpose, so one of the two holds.
 * All of A is packed before the loops
 * start, so a layer that multiplies the same weights with chunk after chunk
 * of columns packs them once (nn_sgemm_reuse).
 *
 * The skx kernel writes columns of C, so it computes C^T = op(B)^T op(A)^T,
 * whose columns are C's rows. Every element of C is one chain of FMAs in a
 * fixed order, so results are the same run to run. With another kernel
 * (BLIS's haswell and zen ones prefer rows and pack with their own
 * assembly) everything goes to cblas_sgemm. Pack buffers are per thread, made on
 * a thread's first call and kept until it exits (a training step allocates
 * nothing after its first). The kernel reads past its panels (it loads the
 * next depth step of A before it knows there is none), so every buffer
 * ends PACK_SLACK floats before a page it may not read: an over-read beyond
 * that faults at once, in every build, instead of now and then.
 * nn_sgemm_blocks runs the same kernel into a small per-thread tile of C
 * and hands each block to a consumer (col2im) while it is still in cache,
 * so a column matrix that is only ever scattered is never written out.
 * GEMMs with a side below GEMM_MIN_SIDE go to cblas_sgemm. Measured at the
 * model's shapes on one core, this loop beats BLIS's skinny ("sup") kernels
 * down to a side of 64 (G's first layer: batch 64 x 6272 x nz 100, 88 ->
 * 150 GFLOP/s); at a side of 16 (D's first and G's last layer) it loses
 * their weight gradients, and kernels.c's gemm16 routines take the rest.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <immintrin.h>
#include <blis.h>
#include <cblas.h>
#include "nn.h"
#include "nn_internal.h"

#define GEMM_MIN_SIDE 64

typedef void (*ukr_fn)(dim_t m, dim_t n, dim_t k, float *alpha, float *a, float *b,
                       float *beta, float *c, inc_t rs_c, inc_t cs_c,
                       auxinfo_t *data, cntx_t *cntx);

static struct {
    cntx_t *cntx;
    ukr_fn ukr;
    int mr, nr, mc, kc;         /* micro-tile and cache blocks of the kernel's problem */
    int ours;                   /* this loop runs the GEMMs (see init_once) */
    pthread_key_t key;          /* this thread's pack buffers */
} G;

/* Floats the micro-kernel may read past the end of a packed panel. BLIS's
 * skx kernel loads the next depth step of its A panel (MR = 32 floats) at
 * the end of each step, the last one included; BLIS's own pack buffers,
 * sized for its larger maximum blocks, hide that. Twice that, to spare. */
#define PACK_SLACK 64

/* A pack buffer: cap floats at p, 64-byte aligned, then PACK_SLACK floats
 * (rounded up to 64 bytes) and a PROT_NONE guard page; one mapping. */
typedef struct {
    float *p;
    size_t cap;
    void *map;
    size_t map_len;
} pack_buf;

/* A thread's buffers, grown to the largest GEMM it has run and kept. */
typedef struct {
    pack_buf blk;               /* one block of nn_sgemm's B: [MC][KC] as MR-panels */
    pack_buf tile;              /* nn_sgemm_blocks' block of C, handed to its consumer */
    pack_buf a;                 /* all of nn_sgemm's A, panel by panel, KC deep at a time */
    const float *a_src;         /* what `a` holds, for callers that reuse it */
    int a_trans, a_m, a_k, a_ld;
} pack_bufs;

static void release(pack_buf *b) {
    if (b->map) munmap(b->map, b->map_len);
    memset(b, 0, sizeof *b);
}

static void free_bufs(void *p) {
    pack_bufs *pb = p;
    if (!pb) return;
    release(&pb->blk);
    release(&pb->tile);
    release(&pb->a);
    free(pb);
}

static void init_once(void) {
    nn_blas_tune();
    G.cntx = (cntx_t *)bli_gks_query_cntx();
    G.ukr = (ukr_fn)bli_cntx_get_l3_nat_ukr_dt(BLIS_FLOAT, BLIS_GEMM_UKR, G.cntx);
    G.mr = (int)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_MR, G.cntx);
    G.nr = (int)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_NR, G.cntx);
    G.mc = (int)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_MC, G.cntx);
    G.kc = (int)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_KC, G.cntx);
    /* Only where it was measured to win: a kernel that writes C by columns
     * (skx's), with panels this file packs with AVX-512 (a multiple of 4 lanes
     * up to 32). Elsewhere (BLIS's haswell and zen kernels, 6 x 16 and
     * row-preferring, with their own assembly packing) cblas_sgemm stays. */
    G.ours = __builtin_cpu_supports("avx512f") && bli_cntx_l3_nat_ukr_prefers_cols_dt(BLIS_FLOAT, BLIS_GEMM_UKR, G.cntx) &&
             G.mr % 4 == 0 && G.mr <= 32 && G.nr % 4 == 0 && G.nr <= 32;
    pthread_key_create(&G.key, free_bufs);
}

/* Grow b to hold n floats; 0 when memory ran out (b is then unchanged). */
static int reserve(pack_buf *b, size_t n) {
    if (b->cap >= n) return 1;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t bytes = ((n + PACK_SLACK) * sizeof(float) + 63) / 64 * 64;
    const size_t len = (bytes + page - 1) / page * page + page;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return 0;
    if (mprotect(m + len - page, page, PROT_NONE) != 0) {
        munmap(m, len);
        return 0;
    }
    release(b);
    b->map = m;
    b->map_len = len;
    b->p = (float *)(m + len - page - bytes);
    b->cap = n;
    return 1;
}

static pack_bufs *thread_bufs(void) {
    pack_bufs *pb = pthread_getspecific(G.key);
    if (pb) return pb;
    pb = calloc(1, sizeof *pb);
    if (pb && pthread_setspecific(G.key, pb) != 0) {
        free(pb);
        pb = NULL;
    }
    return pb;
}

/* ---- packing ---------------------------------------------------------------
 * One panel: R lines of a strided matrix, kc deep, p-major:
 *   dst[p*R + i] = src[i*s_line + p*s_k]   (i < w; lines w..R-1 are zero).
 * With AVX-512, for R a multiple of 4 up to 32 (skx's 32 and 12), in the
 * two layouts an operand can have: lines contiguous (s_line 1: a copy per p)
 * or depth contiguous (s_k 1: 16 x 16 blocks transposed in registers). */

__attribute__((target("avx512f")))
static void pack_lines_contiguous(float *restrict dst, const float *restrict src, long s_k,
                                  int w, int R, int kc) {
    for (int i0 = 0; i0 < R; i0 += 16) {
        const int n = w - i0 <= 0 ? 0 : w - i0 >= 16 ? 16 : w - i0;
        const __mmask16 ml = (__mmask16)((1u << n) - 1);
        const __mmask16 ms = (__mmask16)(R - i0 >= 16 ? 0xFFFF : (1u << (R - i0)) - 1);
        for (int p = 0; p < kc; p++)
            _mm512_mask_storeu_ps(dst + (size_t)p * R + i0, ms,
                                  _mm512_maskz_loadu_ps(ml, src + (size_t)p * s_k + i0));
    }
}

/* r[j] = column j of the 16 x 16 block whose rows are r[0..15]. */
__attribute__((target("avx512f")))
static void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; g++) {   /* u[4g + c], lane L: rows 4g..4g+3 at column 4L + c */
        r[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int c = 0; c < 4; c++) {
        const __m512 x0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);       /* g0 L0 L2, g1 L0 L2 */
        const __m512 x1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);       /* g0 L1 L3, g1 L1 L3 */
        const __m512 y0 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);  /* g2, g3 likewise */
        const __m512 y1 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
        t[c] = _mm512_shuffle_f32x4(x0, y0, 0x88);
        t[8 + c] = _mm512_shuffle_f32x4(x0, y0, 0xdd);
        t[4 + c] = _mm512_shuffle_f32x4(x1, y1, 0x88);
        t[12 + c] = _mm512_shuffle_f32x4(x1, y1, 0xdd);
    }
    for (int j = 0; j < 16; j++) r[j] = t[j];
}

__attribute__((target("avx512f")))
static void pack_depth_contiguous(float *restrict dst, const float *restrict src, long s_line,
                                  int w, int R, int kc) {
    for (int i0 = 0; i0 < R; i0 += 16) {
        const __mmask16 ms = (__mmask16)(R - i0 >= 16 ? 0xFFFF : (1u << (R - i0)) - 1);
        for (int p0 = 0; p0 < kc; p0 += 16) {
            const int np = kc - p0 >= 16 ? 16 : kc - p0;
            const __mmask16 mp = (__mmask16)((1u << np) - 1);
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = i0 + i < w ? _mm512_maskz_loadu_ps(mp, src + (size_t)(i0 + i) * s_line + p0)
                                  : _mm512_setzero_ps();
            transpose16(r);
            for (int j = 0; j < np; j++) _mm512_mask_storeu_ps(dst + (size_t)(p0 + j) * R + i0, ms, r[j]);
        }
    }
}

static void pack_panel(float *restrict dst, const float *restrict src, long s_line, long s_k,
                       int w, int R, int kc) {
    if (s_line == 1) pack_lines_contiguous(dst, src, s_k, w, R, kc);
    else pack_depth_contiguous(dst, src, s_line, w, R, kc);   /* s_k == 1 */
}

/* Panels of R lines for all n lines of a matrix, kc deep from its depth p0:
 * panel r0/R at dst + r0*kc. */
static void pack_block(float *dst, const float *src, long s_line, long s_k, int n, int R,
                       int p0, int kc) {
    for (int r0 = 0; r0 < n; r0 += R)
        pack_panel(dst + (size_t)r0 * kc, src + (size_t)r0 * s_line + (size_t)p0 * s_k,
                   s_line, s_k, n - r0 < R ? n - r0 : R, R, kc);
}

/* ---- the loops -------------------------------------------------------------
 * The kernel's problem is C^T[N][M] = op(B)^T op(A)^T: its MR side runs
 * along C's rows (N), its NR side down C's columns (M), and it writes C^T by
 * columns, which are C's rows (rs_c 1, cs_c ldc). A is packed whole
 * beforehand (pre: for each KC block of the depth all its NR-panels, block pc
 * at pre + pc * M rounded up to NR); B a block of MC x KC at a time from
 * op(B)^T's lines (stride s_line) and depth (stride s_k), or by the caller's
 * packing function for an operand that is never stored (nn_sgemm_implicit). */
typedef struct {
    const float *B;
    long s_line, s_k;
    nn_pack_fn fn;
    const void *ctx;
} b_source;

/* The micro-tiles of one packed block: its lines [0, mc) (MR-panels at
 * blk, kc deep) against the kernel's NR-side panels [j0, j1) of pre (panel
 * jr at pre + jr * kc); tile (ir, jr) at C + ir + (jr - j0) * ldc. */
/* The kernel's side information: packed panels both ways (next_a, next_b
 * are set per tile). */
static void aux_init(auxinfo_t *aux) {
    memset(aux, 0, sizeof *aux);
    bli_auxinfo_set_schema_a(BLIS_PACKED_ROW_PANELS, aux);
    bli_auxinfo_set_schema_b(BLIS_PACKED_COL_PANELS, aux);
}

/* The micro-tile of a last NR-panel with at most 4 lines (G.mr == 32):
 * C[i + j * ldc] (beta 0: =, else +=) sum over p of a[p*32 + i] * b[p*NR + j]
 * for i < m, j < n, summed in the kernel's order. The model's layers with
 * 256 channels leave such a panel (256 = 21 x 12 + 4), where the skx
 * kernel computes all 12 lines into a scratch tile and copies 4 out: this
 * one does a third of that work. Those GEMMs ran 3-4% faster on one core
 * (256 x 3136 x 2048: 186 -> 191 GFLOP/s). */
__attribute__((target("avx512f")))
static void edge4(int m, int n, int kc, const float *a, const float *b, int NR, float beta, float *C,
                  long ldc) {
    __m512 acc[8];
    for (int k = 0; k < 8; k++) acc[k] = _mm512_setzero_ps();
    for (int p = 0; p < kc; p++) {
        const __m512 a0 = _mm512_loadu_ps(a + (size_t)p * 32), a1 = _mm512_loadu_ps(a + (size_t)p * 32 + 16);
        const float *bj = b + (size_t)p * NR;
        for (int j = 0; j < 4; j++) {
            const __m512 v = _mm512_set1_ps(bj[j]);
            acc[2 * j] = _mm512_fmadd_ps(a0, v, acc[2 * j]);
            acc[2 * j + 1] = _mm512_fmadd_ps(a1, v, acc[2 * j + 1]);
        }
    }
    const __mmask16 m0 = (__mmask16)(m >= 16 ? 0xFFFF : (1u << m) - 1);
    const __mmask16 m1 = (__mmask16)(m >= 32 ? 0xFFFF : m > 16 ? (1u << (m - 16)) - 1 : 0);
    for (int j = 0; j < n; j++) {
        float *c = C + (size_t)j * ldc;
        if (beta != 0.0f) {
            acc[2 * j] = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c), acc[2 * j]);
            acc[2 * j + 1] = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + 16), acc[2 * j + 1]);
        }
        _mm512_mask_storeu_ps(c, m0, acc[2 * j]);
        _mm512_mask_storeu_ps(c + 16, m1, acc[2 * j + 1]);
    }
}

static void tiles(float *blk, int mc, const float *pre, int j0, int j1, int kc, float *beta,
                  float *C, long ldc, auxinfo_t *aux) {
    float one = 1.0f;
    const int MR = G.mr, NR = G.nr;
    for (int jr = j0; jr < j1; jr += NR) {
        float *bp = (float *)pre + (size_t)jr * kc;
        const int n = j1 - jr < NR ? j1 - jr : NR;
        for (int ir = 0; ir < mc; ir += MR) {
            float *ap = blk + (size_t)ir * kc;
            const int m = mc - ir < MR ? mc - ir : MR;
            float *c = C + ir + (size_t)(jr - j0) * ldc;
            if (n <= 4 && MR == 32) {
                edge4(m, n, kc, ap, bp, NR, *beta, c, ldc);
                continue;
            }
            const int last = ir + MR >= mc;
            bli_auxinfo_set_next_a(last ? blk : ap + (size_t)MR * kc, aux);
            bli_auxinfo_set_next_b(last && jr + NR < j1 ? bp + (size_t)NR * kc : bp, aux);
            G.ukr(m, n, kc, &one, ap, bp, beta, c, 1, ldc, aux, G.cntx);
        }
    }
}

static void run(int N, int M, int K, const float *pre, const b_source *src,
                float beta, float *C, long ldc, pack_bufs *pb) {
    auxinfo_t aux;
    aux_init(&aux);
    const int MR = G.mr, NR = G.nr;
    const size_t m_pad = (size_t)(M + NR - 1) / NR * NR;
    for (int pc = 0; pc < K; pc += G.kc) {
        const int kc = K - pc < G.kc ? K - pc : G.kc;
        float beta_pc = pc == 0 ? beta : 1.0f;        /* later depth blocks add */
        const float *bblk = pre + (size_t)pc * m_pad;
        for (int ic = 0; ic < N; ic += G.mc) {
            const int mc = N - ic < G.mc ? N - ic : G.mc;
            if (src->fn) src->fn(src->ctx, pb->blk.p, ic, mc, MR, pc, kc);
            else pack_block(pb->blk.p, src->B + (size_t)ic * src->s_line, src->s_line, src->s_k, mc, MR, pc, kc);
            tiles(pb->blk.p, mc, bblk, 0, M, kc, &beta_pc, C + ic, ldc, &aux);
        }
    }
}

/* nn_sgemm_blocks' loop: one block of B's lines (nb of them from ic) and
 * the depth K <= KC, packed once; then for each group of `group` rows of
 * C, the micro-tiles into T (rows jr - g0, stride ldt) and the consumer. */
static void run_blocks(int N, int M, int K, const float *pre, const float *B, long ldb, int nb,
                       int group, nn_block_fn consume, const void *ctx, pack_bufs *pb) {
    float zero = 0.0f;
    auxinfo_t aux;
    aux_init(&aux);
    const int MR = G.mr;
    float *T = pb->tile.p;
    const long ldt = nb;
    for (int ic = 0; ic < N; ic += nb) {
        const int mc = N - ic < nb ? N - ic : nb;
        pack_block(pb->blk.p, B + ic, 1, ldb, mc, MR, 0, K);
        for (int g0 = 0; g0 < M; g0 += group) {
            const int g1 = M - g0 < group ? M : g0 + group;
            tiles(pb->blk.p, mc, pre, g0, g1, K, &zero, T, ldt, &aux);
            consume(ctx, T, ldt, g0, g1 - g0, ic, mc);
        }
    }
}

static pthread_once_t init_done = PTHREAD_ONCE_INIT;

/* This thread's buffers with room for A (M x K) and a block of B, or NULL
 * where the loop does not run (or memory ran out). */
static pack_bufs *ready_bufs(int M, int K) {
    pthread_once(&init_done, init_once);
    pack_bufs *pb = G.ours && !nn_kernels_forced_generic ? thread_bufs() : NULL;
    const size_t m_pad = (size_t)(M + G.nr - 1) / G.nr * G.nr;
    if (pb && (!reserve(&pb->a, m_pad * K) || !reserve(&pb->blk, (size_t)G.mc * G.kc))) {
        pb->a_src = NULL;
        return NULL;
    }
    return pb;
}

/* Pack op(A) into pb->a unless reuse_a says its packed copy still holds. */
static void pack_a(pack_bufs *pb, int trans_a, int M, int K, const float *A, int lda, int reuse_a) {
    if (reuse_a && pb->a_src == A && pb->a_trans == trans_a && pb->a_m == M && pb->a_k == K &&
        pb->a_ld == lda)
        return;
    /* op(A)(m, p) at A[m*am + p*ap] */
    const long am = trans_a ? 1 : lda, ap = trans_a ? lda : 1;
    const size_t m_pad = (size_t)(M + G.nr - 1) / G.nr * G.nr;
    for (int pc = 0; pc < K; pc += G.kc)
        pack_block(pb->a.p + (size_t)pc * m_pad, A, am, ap, M, G.nr, pc, K - pc < G.kc ? K - pc : G.kc);
    pb->a_src = A;
    pb->a_trans = trans_a;
    pb->a_m = M;
    pb->a_k = K;
    pb->a_ld = lda;
}

void nn_sgemm_reuse(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc, int reuse_a) {
    const int skinny = M < GEMM_MIN_SIDE || N < GEMM_MIN_SIDE || K < GEMM_MIN_SIDE;
    pack_bufs *pb = skinny ? NULL : ready_bufs(M, K);
    if (!pb) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    pack_a(pb, trans_a, M, K, A, lda, reuse_a);
    /* op(B)(p, n) at B[p*bp + n*bn] */
    const b_source src = {B, trans_b ? ldb : 1, trans_b ? 1 : ldb, NULL, NULL};
    run(N, M, K, pb->a.p, &src, beta, C, ldc, pb);
}

int nn_sgemm_implicit(int trans_a, int M, int N, int K, const float *A, int lda, nn_pack_fn pack_b,
                      const void *ctx, float beta, float *C, int ldc, int reuse_a) {
    pack_bufs *pb = ready_bufs(M, K);
    if (!pb || nn_sgemm_panel_lines() == 0) return 0;
    pack_a(pb, trans_a, M, K, A, lda, reuse_a);
    const b_source src = {NULL, 0, 0, pack_b, ctx};
    run(N, M, K, pb->a.p, &src, beta, C, ldc, pb);
    return 1;
}

int nn_sgemm_blocks(int trans_a, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                    int line_unit, int row_unit, nn_block_fn consume, const void *ctx) {
    pack_bufs *pb = ready_bufs(M, K);
    if (!pb || K > G.kc || line_unit < 1 || row_unit < 1) return 0;
    /* lines: whole units, as many as fill the B block (at least one unit);
     * rows: the smallest multiple of both NR and the unit, so that a group
     * of micro-tiles is whole units */
    int nb = G.mc / line_unit * line_unit;
    if (nb < line_unit) nb = line_unit;
    int group = row_unit;
    while (group % G.nr) group += row_unit;
    const size_t nb_pad = (size_t)(nb + G.mr - 1) / G.mr * G.mr;
    if (!reserve(&pb->blk, nb_pad * K) || !reserve(&pb->tile, (size_t)group * nb)) return 0;
    pack_a(pb, trans_a, M, K, A, lda, 0);
    run_blocks(N, M, K, pb->a.p, B, ldb, nb, group, consume, ctx, pb);
    return 1;
}

int nn_sgemm_panel_lines(void) {
    pthread_once(&init_done, init_once);
    return G.ours && !nn_kernels_forced_generic && G.mr % 16 == 0 ? G.mr : 0;
}

int nn_sgemm_own_loop(void) {
    pthread_once(&init_done, init_once);
    return G.ours;
}

void nn_sgemm(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    nn_sgemm_reuse(trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc, 0);
}
