/* png.c - digit grids as PNG, in memory or on disk.
 *
 * A grid is rendered first into 8-bit grey pixels: cell (r, c) of image
 * i = r*cols + c starts at x = c*(28*scale + GUTTER), y = r*(28*scale +
 * GUTTER); gutters (between cells only, not around the grid, and never
 * scaled) and empty trailing cells are filled with a dark grey so the cells
 * stay apart on black digit backgrounds. Values map linearly from [lo, hi] to
 * 0..255, rounded and clamped (NaN draws as 0).
 *
 * Encoding goes through stb_image_write's stbi_write_png_to_func, whose
 * callback appends to a doubling malloc'd buffer; a failed allocation is
 * remembered and turns the whole call into -1. stb keeps no state between
 * calls, so encoding is safe from many threads at once.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stb_image_write.h>
#include "png.h"

#define CELL 28
#define GUTTER_VALUE 48   /* grey of gutters and empty cells */
#define FRAME_PX 2        /* verdict frame width, times the scale */

void srv_grid_size(int n, int cols, int scale, int *width, int *height) {
    if (n <= 0 || cols <= 0 || scale <= 0) {
        *width = *height = 0;
        return;
    }
    if (cols > n) cols = n;
    int rows = (n + cols - 1) / cols;
    *width = cols * CELL * scale + (cols - 1) * SRV_GRID_GUTTER;
    *height = rows * CELL * scale + (rows - 1) * SRV_GRID_GUTTER;
}

static uint8_t to_byte(float v, float lo, float hi) {
    float t = (v - lo) / (hi - lo) * 255.0f;
    if (!(t > 0.0f)) return 0;            /* also NaN */
    if (t >= 255.0f) return 255;
    return (uint8_t)lrintf(t);
}

void srv_grid_render(uint8_t *out, const float *images, int n, int cols, int scale,
                     float lo, float hi) {
    int w, h;
    srv_grid_size(n, cols, scale, &w, &h);
    if (w == 0) return;
    if (cols > n) cols = n;
    memset(out, GUTTER_VALUE, (size_t)w * (size_t)h);
    int pitch = CELL * scale + SRV_GRID_GUTTER;
    for (int i = 0; i < n; i++) {
        const float *img = images + (size_t)i * CELL * CELL;
        int x0 = (i % cols) * pitch, y0 = (i / cols) * pitch;
        for (int y = 0; y < CELL; y++) {
            for (int x = 0; x < CELL; x++) {
                uint8_t v = to_byte(img[y * CELL + x], lo, hi);
                for (int dy = 0; dy < scale; dy++) {
                    uint8_t *row = out + (size_t)(y0 + y * scale + dy) * (size_t)w;
                    memset(row + x0 + x * scale, v, (size_t)scale);
                }
            }
        }
    }
}

/* ---- encoding ------------------------------------------------------------ */

typedef struct {
    unsigned char *data;
    size_t len, cap;
    int failed;
} membuf;

static void membuf_write(void *ctx, void *data, int size) {
    membuf *b = ctx;
    if (b->failed || size <= 0) return;
    size_t need = b->len + (size_t)size;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < need) cap *= 2;
        unsigned char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, (size_t)size);
    b->len = need;
}

int srv_png_encode_gray(const uint8_t *pixels, int width, int height,
                        unsigned char **png, size_t *len) {
    membuf b = {0};
    *png = NULL;
    *len = 0;
    if (width <= 0 || height <= 0) return -1;
    int ok = stbi_write_png_to_func(membuf_write, &b, width, height, 1, pixels, width);
    if (!ok || b.failed) {
        free(b.data);
        return -1;
    }
    *png = b.data;
    *len = b.len;
    return 0;
}

int srv_grid_png(const float *images, int n, int cols, int scale, float lo, float hi,
                 unsigned char **png, size_t *len) {
    int w, h;
    srv_grid_size(n, cols, scale, &w, &h);
    *png = NULL;
    *len = 0;
    if (w == 0) return -1;
    uint8_t *pixels = malloc((size_t)w * (size_t)h);
    if (!pixels) return -1;
    srv_grid_render(pixels, images, n, cols, scale, lo, hi);
    int rc = srv_png_encode_gray(pixels, w, h, png, len);
    free(pixels);
    return rc;
}

void srv_verdict_colour(float p, uint8_t rgb[3]) {
    static const float caught[3] = {220, 50, 47}, fooled[3] = {64, 192, 87};
    if (!(p >= 0.0f)) p = 0.0f;           /* also NaN */
    if (p > 1.0f) p = 1.0f;
    for (int k = 0; k < 3; k++) rgb[k] = (uint8_t)lrintf(caught[k] + p * (fooled[k] - caught[k]));
}

int srv_grid_png_framed(const float *images, const float *verdict, int n, int cols, int scale,
                        float lo, float hi, unsigned char **png, size_t *len) {
    int w, h;
    srv_grid_size(n, cols, scale, &w, &h);
    *png = NULL;
    *len = 0;
    if (w == 0) return -1;
    if (cols > n) cols = n;
    uint8_t *grey = malloc((size_t)w * (size_t)h), *rgb = malloc((size_t)w * (size_t)h * 3);
    membuf b = {0};
    int ok = 0;
    if (grey && rgb) {
        srv_grid_render(grey, images, n, cols, scale, lo, hi);
        for (size_t i = 0; i < (size_t)w * (size_t)h; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = grey[i];
        const int pitch = CELL * scale + SRV_GRID_GUTTER, side = CELL * scale;
        const int t = FRAME_PX * scale;   /* frame inside the cell: MNIST's empty margin */
        for (int i = 0; i < n; i++) {
            uint8_t c[3];
            srv_verdict_colour(verdict[i], c);
            const int x0 = (i % cols) * pitch, y0 = (i / cols) * pitch;
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++) {
                    if (x >= t && x < side - t && y >= t && y < side - t) continue;
                    memcpy(rgb + 3 * ((size_t)(y0 + y) * (size_t)w + (size_t)(x0 + x)), c, 3);
                }
        }
        ok = stbi_write_png_to_func(membuf_write, &b, w, h, 3, rgb, w * 3) && !b.failed;
    }
    free(grey);
    free(rgb);
    if (!ok) {
        free(b.data);
        return -1;
    }
    *png = b.data;
    *len = b.len;
    return 0;
}

int srv_grid_png_write(const char *path, const float *images, int n, int cols, int scale,
                       float lo, float hi) {
    unsigned char *png;
    size_t len;
    if (srv_grid_png(images, n, cols, scale, lo, hi, &png, &len) != 0) {
        errno = ENOMEM;
        return -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(png);
        return -1;
    }
    size_t wrote = fwrite(png, 1, len, f);
    int saved = errno;
    free(png);
    if (fclose(f) != 0 || wrote != len) {
        if (wrote != len) errno = saved ? saved : EIO;
        return -1;
    }
    return 0;
}
