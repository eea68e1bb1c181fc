/* nn_internal.h - pieces shared between the nn library's own files. */
#ifndef GANLIVE_NN_INTERNAL_H
#define GANLIVE_NN_INTERNAL_H

/* im2col / col2im restricted to batch images [b0, b1) (the columns of those
 * images in col); the whole-batch versions are in nn.h. */
void nn_im2col_range(float *col, const float *inp, int C, int B, int H, int W,
                     int K, int stride, int pad, int OH, int OW, int b0, int b1);
void nn_col2im_range(float *out, const float *col, int C, int B, int H, int W,
                     int K, int stride, int pad, int OH, int OW, int b0, int b1);

#endif
