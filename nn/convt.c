/* convt.c - 2-D transposed convolution without bias (the generator's way to
 * grow an image: each input pixel paints a KxK patch of the output, the
 * patches `stride` pixels apart, overlapping where K > stride).
 *
 * It is the adjoint of Conv2d with the same geometry, so it reuses conv.c's
 * im2col/col2im with the roles of input and output swapped:
 *   forward:  col[OC*K*K][B*H*W] = W[C][OC*K*K]^T x inp[C][B*H*W]
 *             out = col2im(col)                      (out is overwritten)
 *   backward: dcol = im2col(dout)
 *             dW[C][OC*K*K] += inp x dcol^T,  dinp[C][B*H*W] += W x dcol
 * Threads split by batch images (GEMM columns), except dW, which is split
 * by its own columns after every thread has built its part of dcol.
 * Where gemm.c's loop runs, the forward col is never stored: the GEMM hands
 * it over a block at a time (whole output channels by whole images) and
 * col2im scatters it from cache (conv.c's nn_col2im_consume). Measured at
 * G's second layer on one thread: 14% less time at batch 16, 20% at 64.
 * For 4x4 stride-2 layers backward never stores dcol either: both GEMMs
 * pack its panels straight from dout (kernels.c's implicit im2col, dout
 * playing the input of conv.c's geometry): 10% less time for G's second
 * layer's backward at batch 16.
 */
#include <string.h>
#include "nn.h"
#include "nn_internal.h"
#include "par.h"

/* A 1x1 input (G's first layer): the output of image b is row b of
 *   R[B][OC*K*K] = inp^T [B][C] x W [C][OC*K*K],
 * so one GEMM with the long side as N (threads split it), and R's rows are
 * copied out in runs of K*K floats; no transpose, no col2im. Backward:
 * dR gathers dout the same way, dW += inp x dR, dinp += W x dR^T. At a
 * batch of 16 all three are kernels.c's 16-wide GEMMs (at the fast preset's
 * batch, 1.7 -> 0.9 ms per iteration on one thread, against BLIS's skinny
 * kernels). */
static int one_pixel(int H, int W, int K, int stride, int pad) {
    return H == 1 && W == 1 && stride == 1 && pad == 0 && K > 1;
}

static void convt1x1_forward(float *out, float *R, const float *inp, const float *w,
                             int B, int C, int OC, int KK) {
    const int OKK = OC * KK;
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel
    {
        long lo, hi;
        nn_share(OKK, &lo, &hi);   /* R[B][lo:hi] = inp^T x w[:, lo:hi] */
        if (hi > lo && !nn_gemm_tn(R + lo, OKK, inp, B, w + lo, OKK, C, B, (int)(hi - lo)))
            nn_sgemm(1, 0, B, (int)(hi - lo), C, inp, B, w + lo, OKK, 0.0f, R + lo, OKK);
        nn_team_sync(&tm);
        nn_share((long)OC * B, &lo, &hi);   /* out[oc][b][:] = R[b][oc*KK:] */
        for (long i = lo; i < hi; i++) {
            const long oc = i / B, b = i % B;
            memcpy(out + (size_t)i * KK, R + (size_t)b * OKK + (size_t)oc * KK, (size_t)KK * sizeof(float));
        }
        nn_team_sync(&tm);
    }
}

static void convt1x1_backward(float *dinp, float *dw, float *dR, const float *inp,
                              const float *w, const float *dout, int B, int C, int OC, int KK) {
    const int OKK = OC * KK;
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel
    {
        long lo, hi;
        nn_share((long)OC * B, &lo, &hi);
        for (long i = lo; i < hi; i++) {
            const long oc = i / B, b = i % B;
            memcpy(dR + (size_t)b * OKK + (size_t)oc * KK, dout + (size_t)i * KK, (size_t)KK * sizeof(float));
        }
        nn_team_sync(&tm);
        nn_share(OKK, &lo, &hi);   /* dw[C][lo:hi] += inp[C][B] x dR[B][lo:hi] */
        if (dw && hi > lo && (B != 16 || !nn_gemm16_kn(dw + lo, inp, dR + lo, C, OKK, (int)(hi - lo), 1)))
            nn_sgemm(0, 0, C, (int)(hi - lo), B, inp, B, dR + lo, OKK, 1.0f, dw + lo, OKK);
        if (dinp && B == 16) { /* dinp[c0:c1][16] += w[c0:c1][OKK] x dR[16][OKK]^T */
            nn_share(C, &lo, &hi);
            if (hi > lo && !nn_gemm16_nt(dinp + lo * 16, 16, w + (size_t)lo * OKK, OKK, dR, OKK, (int)(hi - lo), OKK))
                nn_sgemm(0, 1, (int)(hi - lo), 16, OKK, w + (size_t)lo * OKK, OKK, dR, OKK, 1.0f, dinp + lo * 16, 16);
        } else if (dinp) {     /* dinp[c][b0:b1] += w[C][OKK] x dR[b0:b1]^T */
            nn_share(B, &lo, &hi);
            if (hi > lo)
                nn_sgemm(0, 1, C, (int)(hi - lo), OKK, w, OKK, dR + (size_t)lo * OKK, OKK, 1.0f,
                         dinp + lo, B);
        }
        nn_team_sync(&tm);
    }
}

void nn_convt2d_forward(float *out, float *col, const float *inp, const float *w,
                        int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    const int OH = nn_convt_out(H, K, stride, pad), OW = nn_convt_out(W, K, stride, pad);
    const int N = B * H * W, OKK = OC * K * K;
    if (one_pixel(H, W, K, stride, pad) && !nn_kernels_forced_generic) {
        convt1x1_forward(out, col, inp, w, B, C, OC, K * K);
        return;
    }
    const int P = H * W, chunk = nn_chunk_images(P);
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel
    {
        long b0, b1;
        nn_share(B, &b0, &b1);
        int blocks = 0;
        if (OKK != 16 && b1 > b0) {   /* GEMM and scatter block by block, col never stored */
            /* the output image plays conv's input; inp's grid is conv's output; a
             * block is all of its images' sums (depth C is one block): written */
            const nn_col2im_sink sink = {out, B, OH, OW, K, stride, pad, H, W, b0 * P, 1};
            blocks = nn_sgemm_blocks(1, OKK, (int)(b1 - b0) * P, C, w, OKK, inp + (size_t)b0 * P, N, P, K * K,
                                     nn_col2im_consume, &sink);
        }
        if (!blocks)   /* col2im adds into this thread's images */
            for (int oc = 0; oc < OC; oc++)
                memset(out + ((size_t)oc * B + b0) * OH * OW, 0, (size_t)(b1 - b0) * OH * OW * sizeof(float));
        for (long c0 = blocks ? b1 : b0; c0 < b1; c0 += chunk) {   /* GEMM then scatter, a chunk at a time */
            const long c1 = c0 + chunk < b1 ? c0 + chunk : b1;
            const size_t n0 = (size_t)c0 * P;
            const int nb = (int)(c1 - c0) * P;
            if (OKK != 16 || !nn_gemm_tn(col + n0, N, w, 16, inp + n0, N, C, 16, nb))
                nn_sgemm_reuse(1, 0, OKK, nb, C, w, OKK, inp + n0, N, 0.0f, col + n0, N, c0 > b0);
            /* the output image plays conv's input; inp's grid is conv's output */
            nn_col2im_range(out, col, OC, B, OH, OW, K, stride, pad, H, W, (int)c0, (int)c1);
        }
        nn_team_sync(&tm);
    }
}

/* Backward with dcol never stored: both GEMMs pack its panels straight
 * from dout (kernels.c's implicit im2col, as conv.c's 4x4 stride-2 layer):
 * dinp by images, then dW by output channels (a panel of dcol's rows starts
 * at one). Without the GEMM's buffers a thread builds the part of dcol it
 * needs: its images' columns for dinp, then, after the barrier that ends
 * every thread's reading of those, its channels' rows for dW. */
static void implicit_backward(float *dinp, float *dw, float *dcol, const float *inp,
                              const float *w, const float *dout,
                              int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    const int OH = nn_convt_out(H, K, stride, pad), OW = nn_convt_out(W, K, stride, pad);
    const int N = B * H * W, OKK = OC * K * K, P = H * W, chunk = nn_chunk_images(P);
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel
    {
        long lo, hi;
        nn_share(B, &lo, &hi);
        for (long c0 = lo; dinp && c0 < hi; c0 += chunk) {   /* dinp[C][n] += w x dcol[:, n] */
            const long c1 = c0 + chunk < hi ? c0 + chunk : hi;
            const size_t n0 = (size_t)c0 * P;
            const int nb = (int)(c1 - c0) * P;
            const nn_im2col_src s = {dout, B, OH, OW, H, W, (long)n0, 0};
            if (nn_sgemm_implicit(0, C, nb, OKK, w, OKK, nn_im2col_pack_fwd, &s, 1.0f, dinp + n0, N,
                                  c0 > lo))
                continue;
            nn_im2col_range(dcol, dout, OC, B, OH, OW, K, stride, pad, H, W, (int)c0, (int)c1);
            nn_sgemm(0, 0, C, nb, OKK, w, OKK, dcol + n0, N, 1.0f, dinp + n0, N);
        }
        nn_team_sync(&tm);
        nn_share(OC, &lo, &hi);   /* dw[C][k0:k1] += inp x dcol[k0:k1]^T, whole channels */
        const int KK = K * K;
        for (long c0 = 0; dw && hi > lo && c0 < B; c0 += chunk) {
            const long c1 = c0 + chunk < B ? c0 + chunk : B;
            const size_t n0 = (size_t)c0 * P;
            const int nb = (int)(c1 - c0) * P;
            const long k0 = lo * KK, nk = (hi - lo) * KK;
            const nn_im2col_src s = {dout, B, OH, OW, H, W, k0, (long)n0};
            if (nn_sgemm_implicit(0, C, (int)nk, nb, inp + n0, N, nn_im2col_pack_dw, &s, 1.0f, dw + k0,
                                  OKK, 0))
                continue;
            nn_im2col_range(dcol + (size_t)k0 * N, dout + (size_t)lo * B * OH * OW, (int)(hi - lo), B,
                            OH, OW, K, stride, pad, H, W, (int)c0, (int)c1);
            nn_sgemm(0, 1, C, (int)nk, nb, inp + n0, N, dcol + (size_t)k0 * N + n0, N, 1.0f, dw + k0, OKK);
        }
        nn_team_sync(&tm);
    }
}

void nn_convt2d_backward(float *dinp, float *dw, float *dcol, const float *inp,
                         const float *w, const float *dout,
                         int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    const int OH = nn_convt_out(H, K, stride, pad), OW = nn_convt_out(W, K, stride, pad);
    const int N = B * H * W, OKK = OC * K * K;
    if (!dw && !dinp) return;
    if (one_pixel(H, W, K, stride, pad) && !nn_kernels_forced_generic) {
        convt1x1_backward(dinp, dw, dcol, inp, w, dout, B, C, OC, K * K);
        return;
    }
    const int P = H * W, chunk = nn_chunk_images(P);
    /* dout's 4x4 stride-2 patches (conv.c's geometry, dout playing the input) */
    if (OKK != 16 && nn_im2col_implicit(K, stride, pad, OH, OW, H, W)) {
        implicit_backward(dinp, dw, dcol, inp, w, dout, B, C, H, W, OC, K, stride, pad);
        return;
    }
    nn_team tm = NN_TEAM_INIT;
    #pragma omp parallel
    {
        long lo, hi;
        nn_share(B, &lo, &hi);
        for (long c0 = lo; c0 < hi; c0 += chunk) {   /* own columns of dcol only: no wait */
            const long c1 = c0 + chunk < hi ? c0 + chunk : hi;
            const size_t n0 = (size_t)c0 * P;
            const int nb = (int)(c1 - c0) * P;
            nn_im2col_range(dcol, dout, OC, B, OH, OW, K, stride, pad, H, W, (int)c0, (int)c1);
            if (dinp && (OKK != 16 || !nn_gemm16_kn(dinp + n0, w, dcol + n0, C, N, nb, 1)))
                nn_sgemm_reuse(0, 0, C, nb, OKK, w, OKK, dcol + n0, N, 1.0f, dinp + n0, N, c0 > lo);
        }
        if (dw && OKK == 16) {   /* thin: dw[c0:c1][16] += inp[c0:c1][N] x dcol[16][N]^T */
            nn_team_sync(&tm);
            nn_share(C, &lo, &hi);
            if (hi > lo && !nn_gemm16_nt(dw + lo * 16, 16, inp + (size_t)lo * N, N, dcol, N, (int)(hi - lo), N))
                nn_sgemm(0, 1, (int)(hi - lo), 16, N, inp + (size_t)lo * N, N, dcol, N, 1.0f, dw + lo * 16, 16);
        } else if (dw) {
            nn_team_sync(&tm);
            nn_share(OKK, &lo, &hi);   /* dw[C][k0:k1] += inp x dcol[k0:k1]^T, a chunk of N at a time */
            if (hi > lo)
                for (long c0 = 0; c0 < B; c0 += chunk) {
                    const long c1 = c0 + chunk < B ? c0 + chunk : B;
                    const size_t n0 = (size_t)c0 * P;
                    nn_sgemm(0, 1, C, (int)(hi - lo), (int)(c1 - c0) * P,
                             inp + n0, N, dcol + (size_t)lo * N + n0, N, 1.0f, dw + lo, OKK);
                }
        }
        nn_team_sync(&tm);
    }
}
