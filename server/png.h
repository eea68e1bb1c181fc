/* png.h - digit grids as PNG, in memory or on disk (stb_image_write).
 *
 * A grid lays n single-channel 28x28 images in rows of `cols`, separated by
 * 2-pixel gutters, white digits on black like MNIST, each pixel enlarged to a
 * scale x scale square. Pixel values are mapped from [lo, hi] to 0..255 and
 * clamped, so both tanh ([-1,1]) and ReLU ([0,1]) generators draw correctly.
 */
#ifndef GANLIVE_PNG_H
#define GANLIVE_PNG_H

#include <stddef.h>
#include <stdint.h>

#define SRV_GRID_GUTTER 2

/* Size in pixels of a grid of n images in `cols` columns at `scale`. */
void srv_grid_size(int n, int cols, int scale, int *width, int *height);
/* Render to 8-bit grey pixels; out holds width*height bytes. */
void srv_grid_render(uint8_t *out, const float *images, int n, int cols, int scale,
                     float lo, float hi);
/* Encode a grid as PNG in memory. On success returns 0 and *png (malloc'd,
 * caller frees) and *len; -1 on no memory. */
int srv_grid_png(const float *images, int n, int cols, int scale, float lo, float hi,
                 unsigned char **png, size_t *len);
/* Encode 8-bit grey pixels as PNG in memory (same ownership as above). */
int srv_png_encode_gray(const uint8_t *pixels, int width, int height,
                        unsigned char **png, size_t *len);
/* The colour of D's verdict p = D(G(z)) in [0, 1]: red when D caught the
 * fake (p near 0), green when it was fooled (p near 1), linear between. */
void srv_verdict_colour(float p, uint8_t rgb[3]);
/* The grid as an RGB PNG with each cell framed (2 px times scale, inside
 * the cell) in the colour of verdict[i]. Same ownership as srv_grid_png. */
int srv_grid_png_framed(const float *images, const float *verdict, int n, int cols, int scale,
                        float lo, float hi, unsigned char **png, size_t *len);
/* Write a grid PNG to a file; -1 on failure (errno set). */
int srv_grid_png_write(const char *path, const float *images, int n, int cols, int scale,
                       float lo, float hi);

#endif
