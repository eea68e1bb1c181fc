/* nn_internal.h - pieces shared between the nn library's own files. */
#ifndef GANLIVE_NN_INTERNAL_H
#define GANLIVE_NN_INTERNAL_H

/* im2col / col2im restricted to batch images [b0, b1) (the columns of those
 * images in col); the whole-batch versions are in nn.h. */
void nn_im2col_range(float *col, const float *inp, int C, int B, int H, int W,
                     int K, int stride, int pad, int OH, int OW, int b0, int b1);
void nn_col2im_range(float *out, const float *col, int C, int B, int H, int W,
                     int K, int stride, int pad, int OH, int OW, int b0, int b1);
/* The same from part of col: its rows ld floats apart, its first column
 * column n0 of the whole (images b0.. start at n0 or later). store = 1 when
 * these columns are all that lands on images [b0, b1) of the C channels:
 * they are written, not added into (no read of out, no zeroing first). */
void nn_col2im_part(float *out, const float *col, long ld, long n0, int C, int B, int H, int W,
                    int K, int stride, int pad, int OH, int OW, int b0, int b1, int store);

/* Vectorised im2col / col2im for the shapes kernels.c knows (4x4 stride 2
 * pad 1 with AVX-512, 1x1 grids); same arguments as the _range versions
 * (col2im: as nn_col2im_part).
 * Return 1 when done, 0 when the caller must take the generic path. */
int nn_im2col_fast(float *col, const float *inp, int C, int B, int H, int W,
                   int K, int stride, int pad, int OH, int OW, int b0, int b1);
int nn_col2im_fast(float *out, const float *col, long ld, long n0, int C, int B, int H, int W,
                   int K, int stride, int pad, int OH, int OW, int b0, int b1, int store);
/* GEMMs with a side of 16 (kernels.c), over columns [0, n); return 0 when
 * the machine has no fast path (the caller then calls BLAS):
 *   nn_gemm16_kn: C[M][n] (+)= A[M][16] x X[16][n]   (row stride ld; accumulate: +=, else =)
 *   nn_gemm_tn:   C[M][n] = A[Kc][M]^T x X[Kc][n]    (row strides ldc, lda, ldx; M a multiple
 *                 of 16: the thin layers' M = 16, and G's first layer's forward, where M is
 *                 the batch and X the weights, streamed once and never packed)
 *   nn_gemm16_nt: C[M][16] += A[M][K] x X[16][K]^T   (row strides ldc, lda, ldx) */
int nn_gemm16_kn(float *C, const float *A, const float *X, int M, int ld, int n, int accumulate);
int nn_gemm_tn(float *C, int ldc, const float *A, int lda, const float *X, int ldx, int Kc, int M, int n);
int nn_gemm16_nt(float *C, int ldc, const float *A, int lda, const float *X, int ldx, int M, int K);

/* out[i] = tanh(inp[i]) for i < n with libmvec's vector tanhf (kernels.c);
 * 0 when the machine has no fast path (the caller then calls tanhf). */
int nn_tanh_fast(float *out, const float *inp, size_t n);
/* GEMM columns per call the layers aim for (conv.c): images per chunk of
 * a layer whose output (conv) or input (transposed conv) has `pixels`. */
#define NN_CHUNK_COLS 800
int nn_chunk_images(int pixels);
/* C[M][N] = op(A) x op(B) (beta 0) or += (beta 1), row-major with leading
 * dimensions lda, ldb, ldc, like cblas_sgemm with alpha 1 (gemm.c): BLIS's
 * micro-kernel under ganlive's own packing, or BLAS for skinny GEMMs. */
void nn_sgemm(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
/* The same, where reuse_a = 1 says A is unchanged since this thread's last
 * call with the same A, shapes and transposition, so its packed copy still
 * holds (a layer's weights across its chunks of columns). */
void nn_sgemm_reuse(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc, int reuse_a);
/* 1 when GEMMs of the model's sizes run gemm.c's loop on this machine, 0
 * when they all go to cblas_sgemm (a micro-kernel it does not serve). */
int nn_sgemm_own_loop(void);
/* GEMMs whose B the caller packs, for an operand that is never stored
 * (conv.c's implicit im2col): C[M][N] (beta 0: =, 1: +=) = op(A) x B, with
 * pack_b(ctx, dst, n0, n, R, p0, kc) writing, for B's columns n0 .. n0+n-1
 * and depth p0 .. p0+kc-1, panels of R lines at dst + r0 * kc with entry
 * (p, i) at + p * R + i = B[p0 + p][n0 + r0 + i], zero for lines past n.
 * R is nn_sgemm_panel_lines(): 0 where this loop does not run (then
 * nn_sgemm_implicit returns 0 and does nothing, as it also does when memory
 * for its buffers ran out), else a multiple of 16. */
typedef void (*nn_pack_fn)(const void *ctx, float *dst, int n0, int n, int R, int p0, int kc);
int nn_sgemm_panel_lines(void);
int nn_sgemm_implicit(int trans_a, int M, int N, int K, const float *A, int lda, nn_pack_fn pack_b,
                      const void *ctx, float beta, float *C, int ldc, int reuse_a);
/* GEMMs whose C is handed over block by block instead of stored (conv.c's
 * col2im, straight from cache): computes C[M][N] = op(A) x B (B row-major
 * [K][N], stride ldb) in blocks of whole units of line_unit columns (up to
 * the GEMM's block of B) by whole units of row_unit rows, and after each one
 * calls consume(ctx, T, ldt, m0, m, n0, n) with C[m0 + i][n0 + j] at
 * T[i * ldt + j] (valid until the call returns). Returns 0 and does nothing
 * where this loop does not run, for K above its depth block, or when memory
 * for its buffers ran out; the caller then takes its stored-C path. */
typedef void (*nn_block_fn)(const void *ctx, const float *T, long ldt, int m0, int m, int n0, int n);
/* A consumer that scatters blocks of col (rows whole channels of K*K, columns
 * whole images) into the image they came from (conv.c): nn_col2im_part
 * into out with the convolution's geometry, the GEMM's column 0 being col's
 * column n_first. */
typedef struct {
    float *out;                 /* [C][B][H][W], added into (or written: store) */
    int B, H, W, K, stride, pad, OH, OW;
    long n_first;
    int store;                  /* the GEMM's depth is one block (K <= KC), so each block is
                                   all that lands on its channels' images: write them */
} nn_col2im_sink;
void nn_col2im_consume(const void *ctx, const float *T, long ldt, int m0, int m, int n0, int n);
int nn_sgemm_blocks(int trans_a, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                    int line_unit, int row_unit, nn_block_fn consume, const void *ctx);
/* The implicit im2col of a 4x4 stride-2 pad-1 convolution (kernels.c):
 * packers for nn_sgemm_implicit that gather col[p][n] = inp[c][b][2oh-1+kh]
 * [2ow-1+kw] (p = c*16 + kh*4 + kw, n = (b*OH + oh)*OW + ow) straight from
 * the input. nn_im2col_pack_fwd serves B = col (lines n, depth p),
 * nn_im2col_pack_dw B = col^T (lines p, depth n; its lines start at a
 * multiple of 16). line0 and depth0 are added to the GEMM's own line and
 * depth indices. nn_im2col_implicit says whether they run here for that
 * geometry (gemm.c's loop with panels of 16 or 32 lines, AVX-512). */
typedef struct {
    const float *inp;           /* [C][B][H][W] */
    int B, H, W, OH, OW;
    long line0, depth0;
} nn_im2col_src;
void nn_im2col_pack_fwd(const void *ctx, float *dst, int n0, int n, int R, int p0, int kc);
void nn_im2col_pack_dw(const void *ctx, float *dst, int n0, int n, int R, int p0, int kc);
int nn_im2col_implicit(int K, int stride, int pad, int H, int W, int OH, int OW);
/* Tests set this to 1 to force the generic (reference) paths. */
extern int nn_kernels_forced_generic;

#endif
