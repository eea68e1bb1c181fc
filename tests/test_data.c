/* test_data.c - the IDX reader on good, gzip, truncated, padded, wrong-magic,
 * wrong-type and wrong-size files, and the batcher's shuffling and scaling.
 * Files are written to a temporary directory, so no dataset is needed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "testhelp.h"
#include "../nn/data.h"

static char tmpdir[64];

static const char *tmp_path(const char *name) {
    static char path[160];
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/ganlive-test-XXXXXX");
        if (!mkdtemp(tmpdir)) { perror("mkdtemp"); exit(1); }
    }
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* An IDX image file of n images of rows x cols, pixel = (i + p) & 255.
 * extra > 0 pads, extra < 0 truncates. Returns the path. */
static const char *write_images(const char *name, uint32_t magic, int n, int rows, int cols,
                                int extra, int gz) {
    size_t len = 16 + (size_t)n * rows * cols;
    uint8_t *buf = calloc(len + 16, 1);
    put_be32(buf, magic); put_be32(buf + 4, (uint32_t)n);
    put_be32(buf + 8, (uint32_t)rows); put_be32(buf + 12, (uint32_t)cols);
    for (size_t i = 16; i < len; i++) buf[i] = (uint8_t)((i - 16) / ((size_t)rows * cols) + (i - 16));
    len = (size_t)((long)len + extra);
    const char *path = tmp_path(name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        gzwrite(f, buf, (unsigned)len);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        fwrite(buf, 1, len, f);
        fclose(f);
    }
    free(buf);
    return path;
}

static const char *write_labels(const char *name, int n) {
    uint8_t *buf = calloc(8 + (size_t)n, 1);
    put_be32(buf, 0x801); put_be32(buf + 4, (uint32_t)n);
    for (int i = 0; i < n; i++) buf[8 + i] = (uint8_t)(i % 10);
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, 8 + (size_t)n, f);
    fclose(f);
    free(buf);
    return path;
}

TEST(idx_good_raw_and_gzip) {
    char err[256];
    int dims[3];
    uint8_t *data = NULL;
    const char *p = write_images("good", 0x803, 5, 28, 28, 0, 0);
    CHECK(gan_idx_read(p, 3, &data, dims, err, sizeof err) == 0);
    CHECK(dims[0] == 5 && dims[1] == 28 && dims[2] == 28);
    CHECK(data && data[784] == (uint8_t)(1 + 784));   /* first pixel of image 1 */
    free(data);
    data = NULL;
    p = write_images("good.gz", 0x803, 5, 28, 28, 0, 1);
    CHECK(gan_idx_read(p, 3, &data, dims, err, sizeof err) == 0);
    CHECK(dims[0] == 5 && data && data[784] == (uint8_t)(1 + 784));
    free(data);
}

TEST(idx_bad_files_named_errors) {
    char err[256];
    int dims[3];
    uint8_t *data = NULL;
    struct { const char *name; uint32_t magic; int extra, gz; const char *expect; } cases[] = {
        {"truncated", 0x803, -100, 0, "truncated"},
        {"truncated.gz", 0x803, -1, 1, "truncated"},
        {"padded", 0x803, 3, 0, "trailing bytes"},
        {"badmagic", 0x12345678, 0, 0, "bad magic"},
        {"badtype", 0x00000D03, 0, 0, "element type"},
        {"baddims", 0x801, 0, 0, "dimensions"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = write_images(cases[i].name, cases[i].magic, 3, 28, 28, cases[i].extra, cases[i].gz);
        err[0] = '\0';
        CHECKF(gan_idx_read(p, 3, &data, dims, err, sizeof err) == -1, "%s", cases[i].name);
        CHECKF(strstr(err, cases[i].expect) != NULL, "%s: \"%s\"", cases[i].name, err);
        CHECKF(strstr(err, cases[i].name) != NULL, "error names the file: \"%s\"", err);
    }
    CHECK(gan_idx_read(tmp_path("does-not-exist"), 3, &data, dims, err, sizeof err) == -1);
    CHECK(strstr(err, "does-not-exist") && strstr(err, "cannot open"));
    /* a header-only file and an empty file */
    const char *p = write_images("empty", 0x803, 0, 28, 28, -16, 0);
    CHECK(gan_idx_read(p, 3, &data, dims, err, sizeof err) == -1);
}

TEST(dataset_checks_sizes_and_counts) {
    char err[256];
    gan_dataset d;
    write_images("train-images-idx3-ubyte", 0x803, 7, 28, 28, 0, 0);
    write_labels("train-labels-idx1-ubyte", 7);
    CHECK(gan_dataset_load(&d, tmpdir, "train", err, sizeof err) == 0);
    CHECK(d.n == 7 && d.labels[3] == 3);
    gan_dataset_free(&d);
    write_labels("train-labels-idx1-ubyte", 6);
    CHECK(gan_dataset_load(&d, tmpdir, "train", err, sizeof err) == -1);
    CHECKF(strstr(err, "6 labels for 7 images") != NULL, "%s", err);
    write_images("t10k-images-idx3-ubyte", 0x803, 4, 32, 32, 0, 0);
    write_labels("t10k-labels-idx1-ubyte", 4);
    CHECK(gan_dataset_load(&d, tmpdir, "t10k", err, sizeof err) == -1);
    CHECKF(strstr(err, "32x32") != NULL, "%s", err);
}

TEST(batcher_shuffles_each_epoch_and_scales) {
    gan_dataset d = {0};
    d.n = 10; d.rows = 28; d.cols = 28;
    d.images = malloc(10 * 784);
    d.labels = malloc(10);
    for (int i = 0; i < 10; i++) { memset(d.images + i * 784, i * 25, 784); d.labels[i] = (uint8_t)i; }
    nn_rng rng;
    nn_rng_seed(&rng, 7);
    gan_batcher b;
    CHECK(gan_batcher_init(&b, &d, &rng) == 0);
    float x[10 * 784];
    uint8_t lab[10];
    int seen[10] = {0};
    gan_batcher_next(&b, &rng, 10, -1.0f, 1.0f, x, lab);
    for (int i = 0; i < 10; i++) {
        seen[lab[i]]++;
        CHECK_CLOSE(x[i * 784 + 5], -1.0 + 2.0 * (lab[i] * 25) / 255.0, 1e-6, 0);
    }
    int all_once = 1;
    for (int i = 0; i < 10; i++) all_once &= seen[i] == 1;
    CHECK(all_once);                       /* an epoch visits every image once */
    CHECK_CLOSE(gan_batcher_epoch(&b), 1.0, 1e-9, 0);
    gan_batcher_next(&b, &rng, 3, 0.0f, 1.0f, x, lab);
    CHECK(b.epoch == 1);
    CHECK(x[0] >= 0.0f && x[0] <= 1.0f);
    gan_batcher_free(&b);
    gan_dataset_free(&d);
}
