/* kernels.c - hand-vectorised kernels for the shapes that dominate ganlive
 * outside BLAS, chosen at run time (__builtin_cpu_supports), each with a
 * plain-C path that is also the reference the unit tests compare against.
 *
 *  - im2col / col2im of a 4x4, stride 2, pad 1 convolution whose output row
 *    fits one AVX-512 register (OW <= 15): every convolution of both
 *    networks but the first of G and the last of D. A padded input row is
 *    held in two registers, and each of the K column rows of a receptive
 *    field is one two-source permute; col2im gathers the four rows landing
 *    on an output row in registers and adds them to memory once, or
 *    stores them where the columns are all that lands there (G's
 *    transposed convolution: no zeroing first, no read of the output).
 *  - the "full" convolution whose kernel covers the whole image (D's last
 *    layer, 2ndf x 7 x 7 -> 1 logit): a batch of dot products, done
 *    directly instead of as an im2col transpose plus a one-row GEMM.
 *  - the transpose-shaped im2col / col2im of a 1x1 grid (G's first layer).
 *  - the GEMMs of the thin layers, where one side is 16 = 1 channel x 4x4
 *    (D's first convolution, G's last transposed convolution): BLAS runs
 *    them far below its rate, while 16 column rows fit in 16 registers, so
 *    every output is a chain of 16 FMAs (nn_gemm16_kn), and the other way
 *    round 16 accumulators take one row of the long side at a time
 *    (nn_gemm_tn, 16 rows after 16 for a longer side); their weight
 *    gradients, sums along the long side into 16 columns (nn_gemm16_nt).
 *    G's first layer's forward runs on nn_gemm_tn with the batch as its
 *    rows, and at batch 16 its other two GEMMs on the 16-wide kernels too,
 *    the batch being the side of 16. They walk up to 128 rows side
 *    by side and prefetch ahead in each (G's last layer's forward 4x
 *    faster at batch 64 than without).
 *  - the implicit im2col of those 4x4 stride-2 convolutions: packers that
 *    build the GEMM's panels of the column matrix straight from the input
 *    (gemm.c's nn_sgemm_implicit), so the forward pass and the weight
 *    gradient never store the matrix nor read it back. They and col2im's
 *    read-modify-write prefetch the next channel's (or image's) rows: the
 *    hardware prefetchers do not follow those jumps, and perf put half of
 *    each packer's cycles on the first use of a loaded row.
 *  - tanh, G's output: glibc's vector math library (libmvec) on 16 lanes,
 *    40x the speed of calling tanhf per pixel (0.125 -> 0.003 ms for a
 *    batch of 16 images), within 4 ulp of it by glibc's own bound.
 *
 * Results differ from the generic path only in the order of additions, so
 * they stay deterministic for a given thread split.
 */
#include <stdatomic.h>
#include <string.h>
#include <immintrin.h>
#include "nn.h"
#include "nn_internal.h"
#include "par.h"

/* Asked from every thread that runs a GEMM (trainer, renderers, quality):
 * an atomic, so the lazy first answer is no data race (TSan). */
static int have_avx512(void) {
    static _Atomic int known = -1;
    int k = atomic_load_explicit(&known, memory_order_relaxed);
    if (k < 0) {
        k = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") ? 1 : 0;
        atomic_store_explicit(&known, k, memory_order_relaxed);
    }
    return k;
}

int nn_kernels_forced_generic;   /* tests: 1 = never take a vectorised path */

static int use_avx512(void) { return !nn_kernels_forced_generic && have_avx512(); }

/* ---- im2col / col2im, 4x4 kernel, stride 2, pad 1 ------------------------ */

static int nn_k4s2p1_fits(int K, int stride, int pad, int W, int OW) {
    return K == 4 && stride == 2 && pad == 1 && OW <= 15 && W + 1 <= 32 && OW == W / 2;
}

__attribute__((target("avx512f")))
static void im2col_k4s2p1_avx512(float *col, const float *inp, int C, int B, int H, int W,
                                 int OH, int OW, int b0, int b1) {
    const size_t N = (size_t)B * OH * OW;
    /* padded row q = iw + 1 in [0, 32): lanes 0..15 in lo, 16..31 in hi */
    const __mmask16 mlo = (__mmask16)((W + 1 >= 16 ? 0xFFFF : (1u << (W + 1)) - 1) & ~1u);
    const __mmask16 mhi = (__mmask16)(W + 1 > 16 ? (1u << (W + 1 - 16)) - 1 : 0);
    const __mmask16 mout = (__mmask16)((1u << OW) - 1);
    __m512i idx[4];
    for (int kj = 0; kj < 4; kj++) {
        int v[16];
        for (int ow = 0; ow < 16; ow++) v[ow] = (2 * ow + kj) & 31;
        idx[kj] = _mm512_loadu_si512(v);
    }
    const __m512 zero = _mm512_setzero_ps();
    for (int c = 0; c < C; c++)
        for (int b = b0; b < b1; b++) {
            const float *img = inp + ((size_t)c * B + b) * H * W;
            for (int oh = 0; oh < OH; oh++) {
                const size_t n = ((size_t)b * OH + oh) * OW;
                for (int ki = 0; ki < 4; ki++) {
                    float *row = col + (size_t)(c * 16 + ki * 4) * N + n;
                    const int ih = 2 * oh - 1 + ki;
                    if (ih < 0 || ih >= H) {
                        for (int kj = 0; kj < 4; kj++) _mm512_mask_storeu_ps(row + kj * N, mout, zero);
                        continue;
                    }
                    const float *src = img + (size_t)ih * W - 1;   /* lane q holds iw = q - 1 */
                    const __m512 lo = _mm512_maskz_loadu_ps(mlo, src);
                    const __m512 hi = _mm512_maskz_loadu_ps(mhi, src + 16);
                    for (int kj = 0; kj < 4; kj++)
                        _mm512_mask_storeu_ps(row + kj * N, mout, _mm512_permutex2var_ps(lo, idx[kj], hi));
                }
            }
        }
}

__attribute__((target("avx512f")))
static void col2im_k4s2p1_avx512(float *out, const float *col, long ld, long n0, int C, int B, int H,
                                 int W, int OH, int OW, int b0, int b1, int store) {
    const __mmask16 min = (__mmask16)((1u << OW) - 1);
    /* lane q of the padded row takes ow = (q - kj) / 2 when that is whole and < OW */
    __m512i inv[4][2];
    __mmask16 minv[4][2];
    for (int kj = 0; kj < 4; kj++)
        for (int h = 0; h < 2; h++) {
            int v[16];
            unsigned mk = 0;
            for (int l = 0; l < 16; l++) {
                const int d = 16 * h + l - kj;
                v[l] = 0;
                if (d >= 0 && d % 2 == 0 && d / 2 < OW) { v[l] = d / 2; mk |= 1u << l; }
            }
            inv[kj][h] = _mm512_loadu_si512(v);
            minv[kj][h] = (__mmask16)mk;
        }
    const __mmask16 mlo = (__mmask16)((W + 1 >= 16 ? 0xFFFF : (1u << (W + 1)) - 1) & ~1u);
    const __mmask16 mhi = (__mmask16)(W + 1 > 16 ? (1u << (W + 1 - 16)) - 1 : 0);
    for (int c = 0; c < C; c++)
        for (int b = b0; b < b1; b++) {
            float *img = out + ((size_t)c * B + b) * H * W;
            for (int ih = 0; ih < H; ih++) {
                __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
                /* ih = 2*oh - 1 + ki */
                for (int ki = 0; ki < 4; ki++) {
                    const int t = ih + 1 - ki;
                    if (t < 0 || t % 2) continue;
                    const int oh = t / 2;
                    if (oh >= OH) continue;
                    const float *row = col + (size_t)(c * 16 + ki * 4) * ld + (((size_t)b * OH + oh) * OW - n0);
                    for (int kj = 0; kj < 4; kj++) {
                        const __m512 v = _mm512_maskz_loadu_ps(min, row + kj * ld);
                        lo = _mm512_add_ps(lo, _mm512_maskz_permutexvar_ps(minv[kj][0], inv[kj][0], v));
                        hi = _mm512_add_ps(hi, _mm512_maskz_permutexvar_ps(minv[kj][1], inv[kj][1], v));
                    }
                }
                float *dst = img + (size_t)ih * W - 1;           /* lane q is iw = q - 1 */
                if (!store) {
                    /* the next image's row, which the hardware's prefetchers leave to a miss */
                    _mm_prefetch((const char *)(dst + H * W), _MM_HINT_T0);
                    _mm_prefetch((const char *)(dst + H * W + 16), _MM_HINT_T0);
                    lo = _mm512_add_ps(_mm512_maskz_loadu_ps(mlo, dst), lo);
                    hi = _mm512_add_ps(_mm512_maskz_loadu_ps(mhi, dst + 16), hi);
                }
                _mm512_mask_storeu_ps(dst, mlo, lo);
                _mm512_mask_storeu_ps(dst + 16, mhi, hi);
            }
        }
}

int nn_im2col_fast(float *col, const float *inp, int C, int B, int H, int W,
                   int K, int stride, int pad, int OH, int OW, int b0, int b1) {
    if (use_avx512() && nn_k4s2p1_fits(K, stride, pad, W, OW) && OH == H / 2) {
        im2col_k4s2p1_avx512(col, inp, C, B, H, W, OH, OW, b0, b1);
        return 1;
    }
    if (!nn_kernels_forced_generic && OH == 1 && OW == 1 && pad == 0 && K == H && K == W) {
        /* 1x1 grid: col[c*KK + p][b] = inp[c][b][p], a transpose per channel */
        const int KK = K * K;
        for (int c = 0; c < C; c++)
            for (int p = 0; p < KK; p++) {
                float *dst = col + ((size_t)c * KK + p) * B;
                const float *src = inp + (size_t)c * B * KK + p;
                for (int b = b0; b < b1; b++) dst[b] = src[(size_t)b * KK];
            }
        return 1;
    }
    return 0;
}

int nn_col2im_fast(float *out, const float *col, long ld, long n0, int C, int B, int H, int W,
                   int K, int stride, int pad, int OH, int OW, int b0, int b1, int store) {
    if (use_avx512() && nn_k4s2p1_fits(K, stride, pad, W, OW) && OH == H / 2) {
        col2im_k4s2p1_avx512(out, col, ld, n0, C, B, H, W, OH, OW, b0, b1, store);
        return 1;
    }
    if (!nn_kernels_forced_generic && !store && OH == 1 && OW == 1 && pad == 0 && K == H && K == W &&
        ld == B && n0 == 0) {
        const int KK = K * K;
        for (int c = 0; c < C; c++)
            for (int b = b0; b < b1; b++) {
                float *dst = out + ((size_t)c * B + b) * KK;
                const float *src = col + (size_t)c * KK * B + b;
                for (int p = 0; p < KK; p++) dst[p] += src[(size_t)p * B];
            }
        return 1;
    }
    return 0;
}

/* ---- the full convolution: kernel as large as the image ------------------ */

/* Dot product of n floats in 16 independent lanes (vectorises, fixed order). */
static float dot(const float *a, const float *b, int n) {
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++) acc[l] += a[i + l] * b[i + l];
    for (int l = 0; i + l < n; l++) acc[l] += a[i + l] * b[i + l];
    float s = 0.0f;
    for (int l = 0; l < 16; l++) s += acc[l];
    return s;
}

void nn_conv_full_forward(float *out, const float *inp, const float *w,
                          int B, int C, int HW, int OC) {
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel if ((size_t)OC * B * C * HW >= NN_PAR_MIN)
    {
        #pragma omp for collapse(2) schedule(static) nowait
        for (int oc = 0; oc < OC; oc++)
            for (int b = 0; b < B; b++) {
                float s = 0.0f;
                for (int c = 0; c < C; c++)
                    s += dot(w + ((size_t)oc * C + c) * HW, inp + ((size_t)c * B + b) * HW, HW);
                out[(size_t)oc * B + b] = s;
            }
        nn_team_sync(&tm);
    }
}

void nn_conv_full_backward(float *dinp, float *dw, const float *inp, const float *w,
                           const float *dout, int B, int C, int HW, int OC) {
    /* by input channels: dinp[c] and dw[:][c] are each one thread's */
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel if ((size_t)OC * B * C * HW >= NN_PAR_MIN)
    {
        #pragma omp for schedule(static) nowait
        for (int c = 0; c < C; c++)
            for (int oc = 0; oc < OC; oc++) {
                const float *wr = w + ((size_t)oc * C + c) * HW;
                float *dwr = dw ? dw + ((size_t)oc * C + c) * HW : NULL;
                for (int b = 0; b < B; b++) {
                    const float g = dout[(size_t)oc * B + b];
                    const size_t o = ((size_t)c * B + b) * HW;
                    if (dinp) for (int p = 0; p < HW; p++) dinp[o + p] += wr[p] * g;
                    if (dwr) for (int p = 0; p < HW; p++) dwr[p] += g * inp[o + p];
                }
            }
        nn_team_sync(&tm);
    }
}

/* ---- GEMMs with a side of 16 --------------------------------------------- */

/* The 16-wide kernels walk up to 128 rows of a matrix side by side, 64
 * bytes of each per step: more streams than the hardware prefetchers
 * follow, so each step asks for the rows' lines PREFETCH_FLOATS ahead. */
#define PREFETCH_FLOATS 64

__attribute__((target("avx512f")))
static void gemm16_kn_avx512(float *C, const float *A, const float *X, int M, int ld, int n,
                             int accumulate) {
    for (int j = 0; j < n; j += 16) {
        const __mmask16 mk = (__mmask16)(n - j >= 16 ? 0xFFFF : (1u << (n - j)) - 1);
        __m512 x[16];
        for (int k = 0; k < 16; k++) x[k] = _mm512_maskz_loadu_ps(mk, X + (size_t)k * ld + j);
        for (int m = 0; m < M; m++) {
            const float *a = A + (size_t)m * 16;
            __m512 acc = _mm512_mul_ps(_mm512_set1_ps(a[0]), x[0]);
            for (int k = 1; k < 16; k++) acc = _mm512_fmadd_ps(_mm512_set1_ps(a[k]), x[k], acc);
            float *c = C + (size_t)m * ld + j;
            _mm_prefetch((const char *)(c + PREFETCH_FLOATS), _MM_HINT_T0);
            if (accumulate) acc = _mm512_add_ps(_mm512_maskz_loadu_ps(mk, c), acc);
            _mm512_mask_storeu_ps(c, mk, acc);
        }
    }
}

/* C[M][n] = A[Kc][M]^T x X[Kc][n] (M a multiple of 16), 16 columns of X at
 * a time: for each group of 16 rows of C, 16 accumulators take one row of
 * X per step (one load, 16 FMAs with A's entries broadcast). The groups
 * after the first find the 16 columns of X's Kc rows in L1, so X streams
 * from memory once and is never packed. */
__attribute__((target("avx512f")))
static void gemm_tn_avx512(float *C, long ldc, const float *A, long lda, const float *X, long ldx,
                           int Kc, int M, int n) {
    for (int j = 0; j < n; j += 16) {
        const __mmask16 mk = (__mmask16)(n - j >= 16 ? 0xFFFF : (1u << (n - j)) - 1);
        for (int g = 0; g < M; g += 16) {
            __m512 acc[16];
            for (int k = 0; k < 16; k++) acc[k] = _mm512_setzero_ps();
            for (int c = 0; c < Kc; c++) {
                const float *xr = X + (size_t)c * ldx + j;
                if (g == 0) _mm_prefetch((const char *)(xr + PREFETCH_FLOATS), _MM_HINT_T0);
                const __m512 x = _mm512_maskz_loadu_ps(mk, xr);
                const float *a = A + (size_t)c * lda + g;
                for (int k = 0; k < 16; k++) acc[k] = _mm512_fmadd_ps(_mm512_set1_ps(a[k]), x, acc[k]);
            }
            for (int k = 0; k < 16; k++) _mm512_mask_storeu_ps(C + (size_t)(g + k) * ldc + j, mk, acc[k]);
        }
    }
}

/* Two rows of A against eight rows of X at a time: 16 accumulators of 16
 * lanes run along K (10 loads per 16 FMAs), each folded to its sum at the
 * end, so every element is summed in the same order on every run. (One
 * array of accumulators indexed by constants: with two arrays GCC 12 kept
 * registers but also stored all 16 to the stack on every step.) */
__attribute__((target("avx512f")))
static void gemm16_nt_avx512(float *C, int ldc, const float *A, int lda, const float *X, int ldx,
                             int M, int K) {
    for (int m0 = 0; m0 < M; m0 += 2) {
        const int two = M - m0 >= 2;
        const float *a0 = A + (size_t)m0 * lda, *a1 = two ? a0 + lda : a0;
        for (int j0 = 0; j0 < 16; j0 += 8) {
            const float *x0 = X + (size_t)j0 * ldx;
            __m512 acc[16];
            for (int j = 0; j < 16; j++) acc[j] = _mm512_setzero_ps();
            for (int k = 0; k < K; k += 16) {
                const __mmask16 mk = (__mmask16)(K - k >= 16 ? 0xFFFF : (1u << (K - k)) - 1);
                const __m512 v0 = _mm512_maskz_loadu_ps(mk, a0 + k), v1 = _mm512_maskz_loadu_ps(mk, a1 + k);
                if (j0 == 0) {  /* A's rows come from memory once (the second pass finds them in L2) */
                    _mm_prefetch((const char *)(a0 + k + 512), _MM_HINT_T0);
                    _mm_prefetch((const char *)(a1 + k + 512), _MM_HINT_T0);
                }
                for (int j = 0; j < 8; j++) {
                    const __m512 x = _mm512_maskz_loadu_ps(mk, x0 + (size_t)j * ldx + k);
                    acc[j] = _mm512_fmadd_ps(v0, x, acc[j]);
                    acc[8 + j] = _mm512_fmadd_ps(v1, x, acc[8 + j]);
                }
            }
            float sum[16];
            for (int j = 0; j < 16; j++) sum[j] = _mm512_reduce_add_ps(acc[j]);
            for (int j = 0; j < 8; j++) C[(size_t)m0 * ldc + j0 + j] += sum[j];
            if (two)
                for (int j = 0; j < 8; j++) C[(size_t)(m0 + 1) * ldc + j0 + j] += sum[8 + j];
        }
    }
}

int nn_gemm16_kn(float *C, const float *A, const float *X, int M, int ld, int n, int accumulate) {
    if (!use_avx512()) return 0;
    gemm16_kn_avx512(C, A, X, M, ld, n, accumulate);
    return 1;
}

int nn_gemm_tn(float *C, int ldc, const float *A, int lda, const float *X, int ldx, int Kc, int M, int n) {
    if (!use_avx512() || M % 16) return 0;
    gemm_tn_avx512(C, ldc, A, lda, X, ldx, Kc, M, n);
    return 1;
}

int nn_gemm16_nt(float *C, int ldc, const float *A, int lda, const float *X, int ldx, int M, int K) {
    if (!use_avx512()) return 0;
    gemm16_nt_avx512(C, ldc, A, lda, X, ldx, M, K);
    return 1;
}

/* ---- tanh ----------------------------------------------------------------
 * libmvec's AVX-512 tanhf, by its vector-ABI name (math.h declares it only
 * under -ffast-math); every lane is computed on its own, so where a range
 * is split between threads does not change a result. */
__attribute__((target("avx512f"))) __m512 _ZGVeN16v_tanhf(__m512 x);

__attribute__((target("avx512f")))
static void tanh_avx512(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 m = (__mmask16)(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(out + i, m, _ZGVeN16v_tanhf(_mm512_maskz_loadu_ps(m, inp + i)));
    }
}

int nn_tanh_fast(float *out, const float *inp, size_t n) {
    if (!use_avx512()) return 0;
    tanh_avx512(out, inp, n);
    return 1;
}

/* ---- implicit im2col of a 4x4 stride-2 pad-1 convolution -----------------
 * Packers for nn_sgemm_implicit (gemm.c): the column matrix
 *   col[p][n] = inp[c][b][2oh-1+kh][2ow-1+kw],  p = c*16 + kh*4 + kw,
 *                                               n = (b*OH + oh)*OW + ow
 * is never stored; each panel is built straight from the input, with
 * the lanes that fall in the padding masked off (zero, no load). The
 * forward GEMM reads col by columns (lines n, depth p): for rows of up to
 * 15 floats each input row is loaded once and permuted into its taps'
 * lanes, else gathered. The weight gradient reads col by rows (lines p,
 * depth n): a channel's 16 taps of one pixel are its patch, four masked
 * loads of four floats. Both replaced AVX-512 gathers, which cost the
 * model's D conv 2 about a quarter of its forward time on a Zen 5. */
/* The taps t = kh*4 + kw of the 4x4 patch with corner (y0, x0) that lie
 * inside an H x W image, as bits. */
static unsigned patch_inside(int y0, int x0, int H, int W) {
    unsigned cols = 0, m = 0;
    for (int k = 0; k < 4; k++)
        if (x0 + k >= 0 && x0 + k < W) cols |= 1u << k;
    for (int k = 0; k < 4; k++)
        if (y0 + k >= 0 && y0 + k < H) m |= cols << (4 * k);
    return m;
}

__attribute__((target("avx512f")))
static void im2col_pack_fwd_avx512(const nn_im2col_src *s, float *dst, int n0, int n, int R, int p0, int kc) {
    const int HW = s->H * s->W, OP = s->OH * s->OW, halves = R / 16;
    const size_t plane = (size_t)s->B * HW;
    for (int r0 = 0; r0 < n; r0 += R) {
        const int lines = n - r0 < R ? n - r0 : R;
        int base[32];                   /* lane: index of its patch's top-left corner */
        __mmask16 mask[16][2] = {{0}};  /* tap, half: lanes whose tap is inside the image */
        const long l0 = s->line0 + n0 + r0;
        int b = (int)(l0 / OP), oh = (int)(l0 % OP) / s->OW, ow = (int)(l0 % OP) % s->OW;
        for (int i = 0; i < R; i++) {
            base[i] = 0;
            if (i >= lines) continue;
            const int y0 = 2 * oh - 1, x0 = 2 * ow - 1;
            const unsigned inside = patch_inside(y0, x0, s->H, s->W);
            base[i] = b * HW + y0 * s->W + x0;
            for (int t = 0; t < 16; t++)
                if (inside >> t & 1) mask[t][i >> 4] |= (__mmask16)(1u << (i & 15));
            if (++ow == s->OW) { ow = 0; if (++oh == s->OH) { oh = 0; b++; } }
        }
        __m512i vbase[2];
        for (int h = 0; h < halves; h++) vbase[h] = _mm512_loadu_si512(base + 16 * h);
        float *out = dst + (size_t)r0 * kc;
        for (int p = 0; p < kc; p++) {
            const long P = s->depth0 + p0 + p;
            const int t = (int)(P & 15);
            const __m512i off = _mm512_set1_epi32((t >> 2) * s->W + (t & 3));
            const float *src = s->inp + (size_t)(P >> 4) * plane;
            for (int h = 0; h < halves; h++)
                _mm512_storeu_ps(out + (size_t)p * R + 16 * h,
                                 _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask[t][h],
                                                          _mm512_add_epi32(vbase[h], off), src, 4));
        }
    }
}

__attribute__((target("avx512f,avx512vl")))
static void im2col_pack_dw_avx512(const nn_im2col_src *s, float *dst, int n0, int n, int R, int p0, int kc) {
    const int HW = s->H * s->W, OP = s->OH * s->OW, halves = R / 16;
    const size_t plane = (size_t)s->B * HW;
    /* per depth step (a column n of col), 256 at a time: its patch's corner
     * and the taps inside the image, shared by every panel of the block */
    enum { STEPS = 256 };
    int corner[STEPS];
    __mmask16 inside[STEPS];
    const long l0 = s->depth0 + p0;
    int b = (int)(l0 / OP), oh = (int)(l0 % OP) / s->OW, ow = (int)(l0 % OP) % s->OW;
    for (int q0 = 0; q0 < kc; q0 += STEPS) {
        const int steps = kc - q0 < STEPS ? kc - q0 : STEPS;
        for (int q = 0; q < steps; q++) {
            const int y0 = 2 * oh - 1, x0 = 2 * ow - 1;
            corner[q] = b * HW + y0 * s->W + x0;
            inside[q] = (__mmask16)patch_inside(y0, x0, s->H, s->W);
            if (++ow == s->OW) { ow = 0; if (++oh == s->OH) { oh = 0; b++; } }
        }
        for (int r0 = 0; r0 < n; r0 += R) {
            const int lines = n - r0 < R ? n - r0 : R;
            const long row0 = s->line0 + n0 + r0;  /* a multiple of 16: channel c0 from lane 0 */
            float *out = dst + (size_t)r0 * kc + (size_t)q0 * R;
            for (int h = 0; h < halves; h++) {
                const float *src = s->inp + (size_t)((row0 >> 4) + h) * plane;
                const __mmask16 live = lines > 16 * h ? (__mmask16)0xFFFF : 0;
                /* the next channel's patches (the next half or panel), spread over the steps */
                const char *pf = (const char *)(src + plane + corner[0]);
                const size_t pf_step = ((size_t)(corner[steps - 1] - corner[0] + 3 * s->W + 4) * sizeof(float) +
                                        steps - 1) / steps;
                for (int q = 0; q < steps; q++) {
                    _mm_prefetch(pf + q * pf_step, _MM_HINT_T0);
                    /* the patch's four rows of four, loaded as such (faster than a gather) */
                    const unsigned in = inside[q] & live;
                    const float *at = src + corner[q];
                    __m512 v = _mm512_castps128_ps512(_mm_maskz_loadu_ps((__mmask8)(in & 15), at));
                    v = _mm512_insertf32x4(v, _mm_maskz_loadu_ps((__mmask8)(in >> 4 & 15), at + s->W), 1);
                    v = _mm512_insertf32x4(v, _mm_maskz_loadu_ps((__mmask8)(in >> 8 & 15), at + 2 * s->W), 2);
                    v = _mm512_insertf32x4(v, _mm_maskz_loadu_ps((__mmask8)(in >> 12 & 15), at + 3 * s->W), 3);
                    _mm512_storeu_ps(out + (size_t)q * R + 16 * h, v);
                }
            }
        }
    }
}

/* The forward packer without gathers, for rows of up to 15 floats (the
 * model's 14 x 14 inputs) and depth blocks of whole channels: a panel's R
 * lines are runs of output pixels that share an output row (b, oh), at
 * most OW long. For each channel and kernel row kh, every run loads its
 * input row once (lane q = input column q - 1, the padding masked to zero)
 * and the four kw taps are four in-register permutes of it into the run's
 * lanes: lane L of a run starting at lane L0 with column ow0 takes q =
 * 2 (ow0 + L - L0) + kw. */
enum { RUNS_MAX = 10 };         /* runs per half panel: 16 lanes in runs of >= 2 make at most 9 */

typedef struct {
    int nrun;
    int at[RUNS_MAX];           /* the run's row corner b*HW + (2oh - 1)*W - 1 */
    int y0[RUNS_MAX];           /* 2oh - 1 */
    __mmask16 lanes[RUNS_MAX];
    __m512i idx[RUNS_MAX];      /* q for kw = 0 (kw is added) */
} pack_runs;

static int pack_fwd_by_rows(const nn_im2col_src *s, int R, int p0, int kc) {
    return s->W + 1 <= 16 && s->OW >= 2 && (s->depth0 + p0) % 16 == 0 && kc % 16 == 0 && R % 16 == 0;
}

__attribute__((target("avx512f")))
static void im2col_pack_fwd_rows(const nn_im2col_src *s, float *dst, int n0, int n, int R, int p0, int kc) {
    const int HW = s->H * s->W, OP = s->OH * s->OW, halves = R / 16;
    const size_t plane = (size_t)s->B * HW;
    const __mmask16 mrow = (__mmask16)(((1u << (s->W + 1)) - 1) & ~1u);
    const __m512i two_iota = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int r0 = 0; r0 < n; r0 += R) {
        const int lines = n - r0 < R ? n - r0 : R;
        pack_runs runs[2];
        const long l0 = s->line0 + n0 + r0;
        for (int h = 0; h < halves; h++) {
            pack_runs *pr = &runs[h];
            pr->nrun = 0;
            for (int L = 16 * h; L < 16 * h + 16 && L < lines;) {
                const long l = l0 + L;
                const int b = (int)(l / OP), oh = (int)(l % OP) / s->OW, ow0 = (int)(l % OP) % s->OW;
                int len = s->OW - ow0;
                if (len > 16 * h + 16 - L) len = 16 * h + 16 - L;
                if (len > lines - L) len = lines - L;
                const int k = pr->nrun++;
                pr->y0[k] = 2 * oh - 1;
                pr->at[k] = b * HW + (2 * oh - 1) * s->W - 1;
                pr->lanes[k] = (__mmask16)(((1u << len) - 1) << (L - 16 * h));
                /* lane j = L - 16h + i (i < len) takes q = 2 (ow0 + i) + kw = 2j + 2 (ow0 - L + 16h) + kw */
                pr->idx[k] = _mm512_add_epi32(two_iota, _mm512_set1_epi32(2 * (ow0 - L + 16 * h)));
                L += len;
            }
        }
        float *out = dst + (size_t)r0 * kc;
        const long c0 = (s->depth0 + p0) / 16;
        /* the input the panel reads in a channel: from its first run's top row
         * to the end of its last run's bottom row */
        const pack_runs *last = runs[halves - 1].nrun ? &runs[halves - 1] : &runs[0];
        const int span_lo = runs[0].at[0], span_hi = last->at[last->nrun - 1] + 4 * s->W + 1;
        for (int cc = 0; cc < kc / 16; cc++) {
            const float *src = s->inp + (size_t)(c0 + cc) * plane;
            for (int q = span_lo; q < span_hi + 15; q += 16)   /* the next channel's, while this one's is packed */
                _mm_prefetch((const char *)(src + plane + q), _MM_HINT_T0);
            for (int kh = 0; kh < 4; kh++)
                for (int h = 0; h < halves; h++) {
                    const pack_runs *pr = &runs[h];
                    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                                     _mm512_setzero_ps()};
                    for (int k = 0; k < pr->nrun; k++) {
                        const int y = pr->y0[k] + kh;
                        if (y < 0 || y >= s->H) continue;
                        const __m512 row = _mm512_maskz_loadu_ps(mrow, src + pr->at[k] + kh * s->W);
                        for (int kw = 0; kw < 4; kw++)
                            acc[kw] = _mm512_mask_permutexvar_ps(
                                acc[kw], pr->lanes[k], _mm512_add_epi32(pr->idx[k], _mm512_set1_epi32(kw)), row);
                    }
                    float *o = out + ((size_t)cc * 16 + (size_t)kh * 4) * R + 16 * h;
                    for (int kw = 0; kw < 4; kw++) _mm512_storeu_ps(o + (size_t)kw * R, acc[kw]);
                }
        }
    }
}

void nn_im2col_pack_fwd(const void *ctx, float *dst, int n0, int n, int R, int p0, int kc) {
    if (pack_fwd_by_rows(ctx, R, p0, kc)) im2col_pack_fwd_rows(ctx, dst, n0, n, R, p0, kc);
    else im2col_pack_fwd_avx512(ctx, dst, n0, n, R, p0, kc);
}

void nn_im2col_pack_dw(const void *ctx, float *dst, int n0, int n, int R, int p0, int kc) {
    im2col_pack_dw_avx512(ctx, dst, n0, n, R, p0, kc);
}

int nn_im2col_implicit(int K, int stride, int pad, int H, int W, int OH, int OW) {
    const int R = nn_sgemm_panel_lines();
    return R > 0 && R <= 32 && use_avx512() && K == 4 && stride == 2 && pad == 1 && OH == H / 2 &&
           OW == W / 2 && H % 2 == 0 && W % 2 == 0;
}
