/* conv.c - 2-D convolution without bias, as im2col + one GEMM per batch.
 *
 * Activations are channel-major [C][B][H][W] (see nn.h), so im2col lays the
 * receptive fields of the whole batch side by side:
 *   col[C*K*K][B*OH*OW],   out[OC][B*OH*OW] = W[OC][C*K*K] x col
 * and the batch is folded into GEMM's N dimension, which keeps OpenBLAS in
 * its efficient regime even for small images. The backward pass is two
 * GEMMs (dW += dout x col^T, dcol = W^T x dout) and a col2im scatter.
 * im2col/col2im are shared with the transposed convolution (convt.c), whose
 * forward pass is exactly this backward-data pass.
 */
#include <string.h>
#include <cblas.h>
#include "nn.h"

void nn_im2col(float *col, const float *inp, int C, int B, int H, int W,
               int K, int stride, int pad, int OH, int OW) {
    const size_t N = (size_t)B * OH * OW;
    for (int c = 0; c < C; c++)
    for (int ki = 0; ki < K; ki++)
    for (int kj = 0; kj < K; kj++) {
        float *row = col + ((size_t)(c * K + ki) * K + kj) * N;
        for (int b = 0; b < B; b++) {
            const float *img = inp + ((size_t)c * B + b) * H * W;
            for (int oh = 0; oh < OH; oh++) {
                float *dst = row + ((size_t)b * OH + oh) * OW;
                int ih = oh * stride - pad + ki;
                if (ih < 0 || ih >= H) {
                    memset(dst, 0, (size_t)OW * sizeof(float));
                    continue;
                }
                const float *src = img + (size_t)ih * W;
                for (int ow = 0; ow < OW; ow++) {
                    int iw = ow * stride - pad + kj;
                    dst[ow] = (iw >= 0 && iw < W) ? src[iw] : 0.0f;
                }
            }
        }
    }
}

void nn_col2im(float *out, const float *col, int C, int B, int H, int W,
               int K, int stride, int pad, int OH, int OW) {
    const size_t N = (size_t)B * OH * OW;
    for (int c = 0; c < C; c++)
    for (int ki = 0; ki < K; ki++)
    for (int kj = 0; kj < K; kj++) {
        const float *row = col + ((size_t)(c * K + ki) * K + kj) * N;
        for (int b = 0; b < B; b++) {
            float *img = out + ((size_t)c * B + b) * H * W;
            for (int oh = 0; oh < OH; oh++) {
                int ih = oh * stride - pad + ki;
                if (ih < 0 || ih >= H) continue;
                const float *src = row + ((size_t)b * OH + oh) * OW;
                float *dst = img + (size_t)ih * W;
                for (int ow = 0; ow < OW; ow++) {
                    int iw = ow * stride - pad + kj;
                    if (iw >= 0 && iw < W) dst[iw] += src[ow];
                }
            }
        }
    }
}

void nn_conv2d_forward(float *out, float *col, const float *inp, const float *w,
                       int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    const int OH = nn_conv_out(H, K, stride, pad), OW = nn_conv_out(W, K, stride, pad);
    const int N = B * OH * OW, CKK = C * K * K;
    nn_im2col(col, inp, C, B, H, W, K, stride, pad, OH, OW);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, N, CKK,
                1.0f, w, CKK, col, N, 0.0f, out, N);
}

void nn_conv2d_backward(float *dinp, float *dw, float *dcol, const float *col,
                        const float *w, const float *dout,
                        int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    const int OH = nn_conv_out(H, K, stride, pad), OW = nn_conv_out(W, K, stride, pad);
    const int N = B * OH * OW, CKK = C * K * K;
    if (dw)     /* dw[OC][CKK] += dout[OC][N] x col[CKK][N]^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, CKK, N,
                    1.0f, dout, N, col, N, 1.0f, dw, CKK);
    if (dinp) { /* dcol[CKK][N] = w[OC][CKK]^T x dout[OC][N], then scatter */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CKK, N, OC,
                    1.0f, w, CKK, dout, N, 0.0f, dcol, N);
        nn_col2im(dinp, dcol, C, B, H, W, K, stride, pad, OH, OW);
    }
}
