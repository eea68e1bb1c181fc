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
 */
#include <string.h>
#include <cblas.h>
#include "nn.h"

void nn_convt2d_forward(float *out, float *col, const float *inp, const float *w,
                        int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    const int OH = nn_convt_out(H, K, stride, pad), OW = nn_convt_out(W, K, stride, pad);
    const int N = B * H * W, OKK = OC * K * K;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OKK, N, C,
                1.0f, w, OKK, inp, N, 0.0f, col, N);
    memset(out, 0, (size_t)OC * B * OH * OW * sizeof(float));
    /* the output image plays the role of conv's input; inp's grid is conv's output */
    nn_col2im(out, col, OC, B, OH, OW, K, stride, pad, H, W);
}

void nn_convt2d_backward(float *dinp, float *dw, float *dcol, const float *inp,
                         const float *w, const float *dout,
                         int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    const int OH = nn_convt_out(H, K, stride, pad), OW = nn_convt_out(W, K, stride, pad);
    const int N = B * H * W, OKK = OC * K * K;
    if (!dw && !dinp) return;
    nn_im2col(dcol, dout, OC, B, OH, OW, K, stride, pad, H, W);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, C, OKK, N,
                    1.0f, inp, N, dcol, N, 1.0f, dw, OKK);
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, C, N, OKK,
                    1.0f, w, OKK, dcol, N, 1.0f, dinp, N);
}
