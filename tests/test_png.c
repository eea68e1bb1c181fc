/* test_png.c - grid geometry, rendered pixels (mapping, clamping, gutters,
 * scaling) and the PNG container (signature, IHDR) in memory and on disk. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include <stb_image.h>
#include "../server/png.h"
#include "testhelp.h"

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

TEST(png_grid_size) {
    int w, h;
    srv_grid_size(64, 8, 1, &w, &h);
    CHECK(w == 8 * 28 + 7 * SRV_GRID_GUTTER && h == w);
    srv_grid_size(3, 2, 2, &w, &h);              /* 2 columns, 2 rows */
    CHECK(w == 2 * 56 + SRV_GRID_GUTTER && h == w);
    srv_grid_size(1, 1, 8, &w, &h);
    CHECK(w == 224 && h == 224);
    srv_grid_size(10, 4, 1, &w, &h);             /* 3 rows */
    CHECK(w == 4 * 28 + 3 * SRV_GRID_GUTTER && h == 3 * 28 + 2 * SRV_GRID_GUTTER);
    srv_grid_size(0, 4, 1, &w, &h);
    CHECK(w == 0 && h == 0);
}

TEST(png_grid_render_pixels) {
    float img[3 * 784];
    for (int i = 0; i < 784; i++) img[i] = -1.0f;          /* image 0: black... */
    img[0] = 1.0f;                                         /* ...with a white corner */
    img[28 + 1] = 0.0f;                                    /* mid grey at (1,1) */
    for (int i = 0; i < 784; i++) img[784 + i] = 1.0f;     /* image 1: white */
    img[784 + 783] = 5.0f;                                 /* clamps to 255 */
    img[784 + 782] = -7.0f;                                /* clamps to 0 */
    img[784 + 781] = NAN;                                  /* draws as 0 */
    for (int i = 0; i < 784; i++) img[2 * 784 + i] = 0.5f; /* image 2: 3/4 grey */
    int w, h;
    srv_grid_size(3, 2, 1, &w, &h);
    CHECK(w == 58 && h == 58);
    uint8_t *px = malloc((size_t)w * h);
    srv_grid_render(px, img, 3, 2, 1, -1.0f, 1.0f);
    CHECK(px[0] == 255);
    CHECK(px[1] == 0);
    CHECK(px[1 * w + 1] == 128);                 /* 0 -> 127.5 -> 128 */
    CHECK(px[27 * w + 27] == 0);
    uint8_t gutter = px[28];                     /* gutter column between cells */
    CHECK(gutter == px[29] && gutter == px[28 * w + 5] && gutter != 0 && gutter != 255);
    CHECK(px[30] == 255);                        /* image 1 starts at x = 30 */
    CHECK(px[27 * w + 30 + 27] == 255);
    CHECK(px[27 * w + 30 + 26] == 0);
    CHECK(px[27 * w + 30 + 25] == 0);
    CHECK(px[30 * w + 0] == 191);                /* image 2: row 2, column 0 */
    CHECK(px[57 * w + 27] == 191);
    CHECK(px[30 * w + 30] == gutter && px[57 * w + 57] == gutter);  /* empty cell */
    free(px);

    /* scale 2 and the [0, 1] range of ReLU generators */
    float one[784];
    for (int i = 0; i < 784; i++) one[i] = 0.0f;
    one[27] = 1.0f;                              /* row 0, column 27 */
    srv_grid_size(1, 1, 2, &w, &h);
    CHECK(w == 56 && h == 56);
    px = malloc((size_t)w * h);
    srv_grid_render(px, one, 1, 1, 2, 0.0f, 1.0f);
    CHECK(px[54] == 255 && px[55] == 255 && px[w + 54] == 255 && px[w + 55] == 255);
    CHECK(px[53] == 0 && px[2 * w + 54] == 0);
    free(px);
}

static void check_png_header(const unsigned char *png, size_t len, int w, int h) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    CHECK(len > 33);
    if (len <= 33) return;
    CHECK(memcmp(png, sig, 8) == 0);
    CHECK(be32(png + 8) == 13 && memcmp(png + 12, "IHDR", 4) == 0);
    CHECKF(be32(png + 16) == (uint32_t)w, "width %u", be32(png + 16));
    CHECKF(be32(png + 20) == (uint32_t)h, "height %u", be32(png + 20));
    CHECK(png[24] == 8 && png[25] == 0);         /* 8-bit greyscale */
    CHECK(memcmp(png + len - 8, "IEND", 4) == 0);
}

TEST(png_encode_memory_and_file) {
    float img[5 * 784];
    for (int i = 0; i < 5 * 784; i++) img[i] = (float)(i % 97) / 48.0f - 1.0f;
    unsigned char *png = NULL;
    size_t len = 0;
    int w, h;
    srv_grid_size(5, 3, 2, &w, &h);
    CHECK(srv_grid_png(img, 5, 3, 2, -1.0f, 1.0f, &png, &len) == 0);
    check_png_header(png, len, w, h);

    char path[] = "/tmp/ganlive-test-png-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        close(fd);
        CHECK(srv_grid_png_write(path, img, 5, 3, 2, -1.0f, 1.0f) == 0);
        FILE *f = fopen(path, "rb");
        unsigned char *back = malloc(len + 16);
        size_t got = f ? fread(back, 1, len + 16, f) : 0;
        if (f) fclose(f);
        CHECK(got == len && memcmp(back, png, len) == 0);   /* same bytes */
        free(back);
        unlink(path);
    }
    free(png);
    CHECK(srv_grid_png_write("/nonexistent-dir/x.png", img, 1, 1, 1, -1.0f, 1.0f) == -1);

    uint8_t grey[6] = {0, 50, 100, 150, 200, 250};
    CHECK(srv_png_encode_gray(grey, 3, 2, &png, &len) == 0);
    check_png_header(png, len, 3, 2);
    free(png);
    CHECK(srv_png_encode_gray(grey, 0, 2, &png, &len) == -1 && png == NULL);
}

/* annotate=1: each cell framed in the colour of D's verdict, inside the cell. */
TEST(png_framed_grid) {
    float img[3 * 784];
    for (int i = 0; i < 3 * 784; i++) img[i] = -1.0f;   /* black */
    img[784 + 14 * 28 + 14] = 1.0f;                     /* a white centre pixel in cell 1 */
    const float verdict[3] = {0.0f, 1.0f, 0.5f};
    unsigned char *png = NULL;
    size_t len = 0;
    CHECK(srv_grid_png_framed(img, verdict, 3, 3, 2, -1.0f, 1.0f, &png, &len) == 0);
    int w, h, ch;
    unsigned char *px = png ? stbi_load_from_memory(png, (int)len, &w, &h, &ch, 3) : NULL;
    CHECK(px != NULL);
    if (px) {
        CHECK(w == 3 * 56 + 2 * SRV_GRID_GUTTER && h == 56);
        uint8_t caught[3], fooled[3], mid[3];
        srv_verdict_colour(0.0f, caught);
        srv_verdict_colour(1.0f, fooled);
        srv_verdict_colour(0.5f, mid);
        CHECK(caught[0] > 200 && caught[1] < 80 && fooled[1] > 150 && fooled[0] < 100);
        const int pitch = 56 + SRV_GRID_GUTTER;
#define PX(x, y) (px + 3 * ((size_t)(y) * (size_t)w + (size_t)(x)))
        CHECK(memcmp(PX(0, 0), caught, 3) == 0 && memcmp(PX(3, 30), caught, 3) == 0);   /* 4 px frame */
        CHECK(PX(4, 30)[0] == 0 && PX(4, 30)[1] == 0);                                 /* inside: the digit */
        CHECK(memcmp(PX(pitch + 55, 55), fooled, 3) == 0);
        CHECK(memcmp(PX(pitch + 28, 28), "\xff\xff\xff", 3) == 0);                       /* white pixel kept */
        CHECK(memcmp(PX(2 * pitch + 10, 1), mid, 3) == 0);
        CHECK(PX(56, 10)[0] == PX(56, 10)[1]);                                           /* gutter stays grey */
#undef PX
        stbi_image_free(px);
    }
    free(png);
    uint8_t c[3], c0[3];
    srv_verdict_colour(NAN, c);                       /* NaN draws as caught */
    srv_verdict_colour(0.0f, c0);
    CHECK(memcmp(c, c0, 3) == 0);
}
