/* conv.c - 2-D convolution without bias, as im2col + GEMM.
 *
 * Activations are channel-major [C][B][H][W] (see nn.h), so im2col lays the
 * receptive fields of the whole batch side by side:
 *   col[C*K*K][B*OH*OW],   out[OC][B*OH*OW] = W[OC][C*K*K] x col
 * and the batch is folded into GEMM's N dimension. Threads split that N
 * dimension by batch images: each one builds its columns of col and
 * multiplies them alone with nn_sgemm (gemm.c, par.h). The backward pass
 * is dW += dout x col^T (split by columns of dW) and dcol = W^T x dout
 * followed by a col2im scatter (split by images again).
 * im2col/col2im are shared with the transposed convolution (convt.c), whose
 * forward pass is exactly this backward-data pass.
 * Where gemm.c's loop runs with AVX-512, the 4x4 stride-2 convolutions
 * (D's second) never store col: their forward GEMM and weight gradient
 * gather its panels straight from the input (kernels.c's implicit im2col),
 * and backward takes the input to do so. If the GEMM's buffers cannot be
 * had, the forward pass falls back to im2col and the weight gradient
 * builds its own rows of col first. (Building col in backward instead,
 * each thread its channels' rows with the vectorised im2col, was measured
 * too: about 1 ms per iteration slower than gathering at batch 16 and 3
 * ms at batch 64, on one thread.)
 * The data gradient's dcol is not stored there either: the GEMM hands it
 * over a block of whole channels by whole images at a time
 * (nn_sgemm_blocks), and col2im scatters each block while it is in cache
 * (nn_col2im_consume, which G's transposed convolution uses too).
 */
#include <string.h>
#include "nn.h"
#include "nn_internal.h"
#include "par.h"

/* Output columns [lo, hi] whose input column ow*stride - pad + kj is inside
 * [0, W); hi < lo when none is. */
static void valid_cols(int W, int OW, int kj, int stride, int pad, int *lo, int *hi) {
    const int first = pad - kj;                       /* need ow*stride >= first */
    *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    const int last = W - 1 + pad - kj;                /* need ow*stride <= last */
    *hi = last < 0 ? -1 : last / stride;
    if (*hi > OW - 1) *hi = OW - 1;
}

void nn_im2col_range(float *col, const float *inp, int C, int B, int H, int W,
                     int K, int stride, int pad, int OH, int OW, int b0, int b1) {
    if (nn_im2col_fast(col, inp, C, B, H, W, K, stride, pad, OH, OW, b0, b1)) return;
    const size_t N = (size_t)B * OH * OW;
    for (int c = 0; c < C; c++)
    for (int ki = 0; ki < K; ki++)
    for (int kj = 0; kj < K; kj++) {
        float *row = col + ((size_t)(c * K + ki) * K + kj) * N;
        int lo, hi;
        valid_cols(W, OW, kj, stride, pad, &lo, &hi);
        for (int b = b0; b < b1; b++) {
            const float *img = inp + ((size_t)c * B + b) * H * W;
            for (int oh = 0; oh < OH; oh++) {
                float *dst = row + ((size_t)b * OH + oh) * OW;
                const int ih = oh * stride - pad + ki;
                if (ih < 0 || ih >= H || hi < lo) {
                    memset(dst, 0, (size_t)OW * sizeof(float));
                    continue;
                }
                const float *src = img + (size_t)ih * W;
                const int off = kj - pad;           /* input column of ow: ow*stride + off */
                for (int ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
                if (stride == 1) memcpy(dst + lo, src + lo + off, (size_t)(hi - lo + 1) * sizeof(float));
                else for (int ow = lo; ow <= hi; ow++) dst[ow] = src[ow * stride + off];
                for (int ow = hi + 1; ow < OW; ow++) dst[ow] = 0.0f;
            }
        }
    }
}

void nn_col2im_part(float *out, const float *col, long ld, long n0, int C, int B, int H, int W,
                    int K, int stride, int pad, int OH, int OW, int b0, int b1, int store) {
    if (nn_col2im_fast(out, col, ld, n0, C, B, H, W, K, stride, pad, OH, OW, b0, b1, store)) return;
    if (store)
        for (int c = 0; c < C; c++)
            memset(out + ((size_t)c * B + b0) * H * W, 0, (size_t)(b1 - b0) * H * W * sizeof(float));
    for (int c = 0; c < C; c++)
    for (int ki = 0; ki < K; ki++)
    for (int kj = 0; kj < K; kj++) {
        const float *row = col + ((size_t)(c * K + ki) * K + kj) * ld;
        int lo, hi;
        valid_cols(W, OW, kj, stride, pad, &lo, &hi);
        if (hi < lo) continue;
        for (int b = b0; b < b1; b++) {
            float *img = out + ((size_t)c * B + b) * H * W;
            for (int oh = 0; oh < OH; oh++) {
                const int ih = oh * stride - pad + ki;
                if (ih < 0 || ih >= H) continue;
                const float *src = row + (((size_t)b * OH + oh) * OW - n0);
                float *dst = img + (size_t)ih * W;
                const int off = kj - pad;
                for (int ow = lo; ow <= hi; ow++) dst[ow * stride + off] += src[ow];
            }
        }
    }
}

void nn_col2im_range(float *out, const float *col, int C, int B, int H, int W,
                     int K, int stride, int pad, int OH, int OW, int b0, int b1) {
    nn_col2im_part(out, col, (long)B * OH * OW, 0, C, B, H, W, K, stride, pad, OH, OW, b0, b1, 0);
}

void nn_col2im_consume(const void *ctx, const float *T, long ldt, int m0, int m, int n0, int n) {
    const nn_col2im_sink *s = ctx;
    const int KK = s->K * s->K, P = s->OH * s->OW;
    const long first = s->n_first + n0;
    nn_col2im_part(s->out + (size_t)(m0 / KK) * s->B * s->H * s->W, T, ldt, first, m / KK, s->B, s->H,
                   s->W, s->K, s->stride, s->pad, s->OH, s->OW, (int)(first / P), (int)((first + n) / P), s->store);
}

void nn_im2col(float *col, const float *inp, int C, int B, int H, int W,
               int K, int stride, int pad, int OH, int OW) {
    nn_im2col_range(col, inp, C, B, H, W, K, stride, pad, OH, OW, 0, B);
}

void nn_col2im(float *out, const float *col, int C, int B, int H, int W,
               int K, int stride, int pad, int OH, int OW) {
    nn_col2im_range(out, col, C, B, H, W, K, stride, pad, OH, OW, 0, B);
}

/* Images per GEMM call: BLIS ran the model's GEMMs 10-50% faster with
 * about 800 columns per call than with the whole batch's thousands (the
 * packed panels stay in cache, and N stays below BLIS's NC block), and a
 * chunk's im2col / col2im works on data still in cache. */
int nn_chunk_images(int pixels) {
    const int n = NN_CHUNK_COLS / (pixels > 0 ? pixels : 1);
    return n < 1 ? 1 : n;
}

void nn_conv2d_forward(float *out, float *col, const float *inp, const float *w,
                       int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    const int OH = nn_conv_out(H, K, stride, pad), OW = nn_conv_out(W, K, stride, pad);
    const int N = B * OH * OW, CKK = C * K * K, P = OH * OW, chunk = nn_chunk_images(P);
    const int implicit = CKK != 16 && nn_im2col_implicit(K, stride, pad, H, W, OH, OW);
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel
    {
        long b0, b1;
        nn_share(B, &b0, &b1);
        for (long c0 = b0; c0 < b1; c0 += chunk) {
            const long c1 = c0 + chunk < b1 ? c0 + chunk : b1;
            const size_t n0 = (size_t)c0 * P;
            const int nb = (int)(c1 - c0) * P;
            if (implicit) {   /* col's columns n0.. packed from inp, never stored */
                const nn_im2col_src s = {inp, B, H, W, OH, OW, (long)n0, 0};
                if (nn_sgemm_implicit(0, OC, nb, CKK, w, CKK, nn_im2col_pack_fwd, &s, 0.0f, out + n0, N,
                                      c0 > b0))
                    continue;
            }
            nn_im2col_range(col, inp, C, B, H, W, K, stride, pad, OH, OW, (int)c0, (int)c1);
            if (CKK != 16 || !nn_gemm16_kn(out + n0, w, col + n0, OC, N, nb, 0))
                nn_sgemm_reuse(0, 0, OC, nb, CKK, w, CKK, col + n0, N, 0.0f, out + n0, N, c0 > b0);
        }
        nn_team_sync(&tm);
    }
}

void nn_conv2d_backward(float *dinp, float *dw, float *dcol, float *col, const float *inp,
                        const float *w, const float *dout,
                        int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    const int OH = nn_conv_out(H, K, stride, pad), OW = nn_conv_out(W, K, stride, pad);
    const int N = B * OH * OW, CKK = C * K * K, P = OH * OW, chunk = nn_chunk_images(P);
    const int implicit = CKK != 16 && nn_im2col_implicit(K, stride, pad, H, W, OH, OW);
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel
    {
        long lo, hi;
        if (dw && CKK == 16) {   /* thin: dw[o0:o1][16] += dout[o0:o1][N] x col[16][N]^T */
            nn_share(OC, &lo, &hi);
            if (hi > lo && !nn_gemm16_nt(dw + lo * 16, 16, dout + (size_t)lo * N, N, col, N, (int)(hi - lo), N))
                nn_sgemm(0, 1, (int)(hi - lo), 16, N, dout + (size_t)lo * N, N, col, N, 1.0f, dw + lo * 16, 16);
        } else if (dw) {   /* dw[OC][k0:k1] += dout[OC][N] x col[k0:k1][N]^T, a chunk of N at a time */
            if (implicit) {    /* whole channels: a panel of col's rows starts at one */
                nn_share(C, &lo, &hi);
                lo *= K * K;
                hi *= K * K;
            } else {
                nn_share(CKK, &lo, &hi);
            }
            if (hi > lo)
                for (long c0 = 0; c0 < B; c0 += chunk) {
                    const long c1 = c0 + chunk < B ? c0 + chunk : B;
                    const size_t n0 = (size_t)c0 * P;
                    if (implicit) {
                        const nn_im2col_src s = {inp, B, H, W, OH, OW, lo, (long)n0};
                        if (nn_sgemm_implicit(0, OC, (int)(hi - lo), (int)(c1 - c0) * P, dout + n0, N,
                                              nn_im2col_pack_dw, &s, 1.0f, dw + lo, CKK, 0))
                            continue;
                        /* no buffers: this thread's channels' rows of col, built */
                        nn_im2col_range(col + (size_t)lo * N, inp + (size_t)(lo / (K * K)) * B * H * W,
                                        (int)((hi - lo) / (K * K)), B, H, W, K, stride, pad, OH, OW,
                                        (int)c0, (int)c1);
                    }
                    nn_sgemm(0, 1, OC, (int)(hi - lo), (int)(c1 - c0) * P,
                             dout + n0, N, col + (size_t)lo * N + n0, N, 1.0f, dw + lo, CKK);
                }
        }
        if (dinp) { /* this thread's images: dcol = w^T x dout, then scatter */
            nn_share(B, &lo, &hi);
            const nn_col2im_sink sink = {dinp, B, H, W, K, stride, pad, OH, OW, lo * P, 0};
            const int blocks = CKK != 16 && hi > lo &&
                nn_sgemm_blocks(1, CKK, (int)(hi - lo) * P, OC, w, CKK, dout + (size_t)lo * P, N, P, K * K,
                                nn_col2im_consume, &sink);
            for (long c0 = blocks ? hi : lo; c0 < hi; c0 += chunk) {
                const long c1 = c0 + chunk < hi ? c0 + chunk : hi;
                const size_t n0 = (size_t)c0 * P;
                const int nb = (int)(c1 - c0) * P;
                if (CKK != 16 || !nn_gemm_tn(dcol + n0, N, w, 16, dout + n0, N, OC, 16, nb))
                    nn_sgemm_reuse(1, 0, CKK, nb, OC, w, CKK, dout + n0, N, 0.0f, dcol + n0, N, c0 > lo);
                nn_col2im_range(dinp, dcol, C, B, H, W, K, stride, pad, OH, OW, (int)c0, (int)c1);
            }
        }
        nn_team_sync(&tm);
    }
}
