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
 */
#include <string.h>
#include <cblas.h>
#include "nn.h"
#include "nn_internal.h"
#include "par.h"

void nn_convt2d_forward(float *out, float *col, const float *inp, const float *w,
                        int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    const int OH = nn_convt_out(H, K, stride, pad), OW = nn_convt_out(W, K, stride, pad);
    const int N = B * H * W, OKK = OC * K * K;
    #pragma omp parallel
    {
        long b0, b1;
        nn_share(B, &b0, &b1);
        if (b1 > b0) {
            const size_t n0 = (size_t)b0 * H * W;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OKK, (int)(b1 - b0) * H * W, C,
                        1.0f, w, OKK, inp + n0, N, 0.0f, col + n0, N);
            for (int oc = 0; oc < OC; oc++)
                memset(out + ((size_t)oc * B + b0) * OH * OW, 0,
                       (size_t)(b1 - b0) * OH * OW * sizeof(float));
            /* the output image plays conv's input; inp's grid is conv's output */
            nn_col2im_range(out, col, OC, B, OH, OW, K, stride, pad, H, W, (int)b0, (int)b1);
        }
    }
}

void nn_convt2d_backward(float *dinp, float *dw, float *dcol, const float *inp,
                         const float *w, const float *dout,
                         int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    const int OH = nn_convt_out(H, K, stride, pad), OW = nn_convt_out(W, K, stride, pad);
    const int N = B * H * W, OKK = OC * K * K;
    if (!dw && !dinp) return;
    #pragma omp parallel
    {
        long lo, hi;
        nn_share(B, &lo, &hi);
        nn_im2col_range(dcol, dout, OC, B, OH, OW, K, stride, pad, H, W, (int)lo, (int)hi);
        if (dinp && hi > lo) {   /* own columns of dcol only: no wait needed */
            const size_t n0 = (size_t)lo * H * W;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, C, (int)(hi - lo) * H * W, OKK,
                        1.0f, w, OKK, dcol + n0, N, 1.0f, dinp + n0, N);
        }
        if (dw) {
            #pragma omp barrier
            nn_share(OKK, &lo, &hi);   /* dw[C][k0:k1] += inp x dcol[k0:k1]^T */
            if (hi > lo)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, C, (int)(hi - lo), N,
                            1.0f, inp, N, dcol + (size_t)lo * N, N, 1.0f, dw + lo, OKK);
        }
    }
}
