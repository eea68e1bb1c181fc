/* data.c - IDX reader and shuffled batches (see data.h).
 *
 * The IDX format: a 4-byte big-endian magic 0x0000TTDD (TT = 0x08 for
 * unsigned bytes, DD = number of dimensions), DD big-endian uint32 sizes,
 * then the data. zlib's gzread reads gzip and plain files alike, so one
 * path serves both; the file is read whole and its length must match the
 * header exactly, so truncated or padded files are refused.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "data.h"

#define IDX_MAX_BYTES ((size_t)1 << 31)   /* refuse absurd headers */

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", path, msg);
    return -1;
}

/* Read the whole (decompressed) file. Caller frees *buf. */
static int read_all(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen) {
    gzFile f = gzopen(path, "rb");
    if (!f) return fail(err, errlen, path, "cannot open: %s", strerror(errno ? errno : ENOENT));
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    if (!b) { gzclose(f); return fail(err, errlen, path, "out of memory"); }
    for (;;) {
        if (n == cap) {
            if (cap >= IDX_MAX_BYTES) { free(b); gzclose(f); return fail(err, errlen, path, "file too large"); }
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) { free(b); gzclose(f); return fail(err, errlen, path, "out of memory"); }
            b = nb; cap *= 2;
        }
        int got = gzread(f, b + n, (unsigned)(cap - n));
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            char copy[128];
            snprintf(copy, sizeof copy, "%s", msg);
            free(b); gzclose(f);
            return fail(err, errlen, path, "read error (%s)", copy);
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    gzclose(f);
    *buf = b;
    *len = n;
    return 0;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Check the header of buf[0..len) and find the data: 0 with dims and the
 * byte count in *total, or -1 with a message naming `path`. */
static int idx_check(const uint8_t *buf, size_t len, const char *path, int ndims, int dims[3],
                     size_t *total_out, char *err, size_t errlen) {
    const size_t header = 4 + 4 * (size_t)ndims;
    int rc = -1;
    if (ndims < 1 || ndims > 3) { fail(err, errlen, path, "bad ndims %d", ndims); goto done; }
    if (len < 4) { fail(err, errlen, path, "truncated: %zu bytes, no IDX header", len); goto done; }
    if (buf[0] != 0 || buf[1] != 0) {
        fail(err, errlen, path, "not an IDX file (bad magic %08x)", be32(buf)); goto done;
    }
    if (buf[2] != 0x08) {
        fail(err, errlen, path, "IDX element type 0x%02x, expected unsigned bytes (0x08)", buf[2]);
        goto done;
    }
    if (buf[3] != ndims) {
        fail(err, errlen, path, "IDX file has %d dimensions, expected %d", buf[3], ndims); goto done;
    }
    if (len < header) { fail(err, errlen, path, "truncated IDX header"); goto done; }
    size_t total = 1;
    for (int i = 0; i < ndims; i++) {
        uint32_t d = be32(buf + 4 + 4 * i);
        if (d == 0 || d > (1u << 24)) { fail(err, errlen, path, "bad dimension %u", d); goto done; }
        dims[i] = (int)d;
        total *= d;
        if (total > IDX_MAX_BYTES) { fail(err, errlen, path, "dimensions too large"); goto done; }
    }
    if (len != header + total) {
        fail(err, errlen, path, "%s: %zu data bytes, header promises %zu",
             len < header + total ? "truncated" : "trailing bytes", len - header, total);
        goto done;
    }
    *total_out = total;
    rc = 0;
done:
    return rc;
}

int gan_idx_parse(const uint8_t *buf, size_t len, const char *name, int ndims, uint8_t **data,
                  int dims[3], char *err, size_t errlen) {
    size_t total;
    if (idx_check(buf, len, name, ndims, dims, &total, err, errlen) < 0) return -1;
    uint8_t *out = malloc(total);
    if (!out) return fail(err, errlen, name, "out of memory");
    memcpy(out, buf + 4 + 4 * (size_t)ndims, total);
    *data = out;
    return 0;
}

int gan_idx_read(const char *path, int ndims, uint8_t **data, int dims[3],
                 char *err, size_t errlen) {
    uint8_t *buf = NULL;
    size_t len = 0, total;
    if (read_all(path, &buf, &len, err, errlen) < 0) return -1;
    if (idx_check(buf, len, path, ndims, dims, &total, err, errlen) < 0) {
        free(buf);
        return -1;
    }
    memmove(buf, buf + 4 + 4 * (size_t)ndims, total);   /* keep the one buffer */
    *data = buf;
    return 0;
}

/* Find dir/name or dir/name.gz. */
static void find_file(char *out, size_t outlen, const char *dir, const char *name) {
    snprintf(out, outlen, "%s/%s", dir, name);
    FILE *f = fopen(out, "rb");
    if (f) { fclose(f); return; }
    snprintf(out, outlen, "%s/%s.gz", dir, name);
    f = fopen(out, "rb");
    if (f) { fclose(f); return; }
    snprintf(out, outlen, "%s/%s", dir, name);   /* report the plain name */
}

int gan_dataset_load(gan_dataset *d, const char *dir, const char *prefix,
                     char *err, size_t errlen) {
    char ipath[1024], lpath[1024], name[64];
    int idims[3], ldims[3];
    memset(d, 0, sizeof *d);
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    find_file(ipath, sizeof ipath, dir, name);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    find_file(lpath, sizeof lpath, dir, name);
    if (gan_idx_read(ipath, 3, &d->images, idims, err, errlen) < 0) return -1;
    if (idims[1] != 28 || idims[2] != 28) {
        fail(err, errlen, ipath, "images are %dx%d, expected 28x28", idims[1], idims[2]);
        gan_dataset_free(d);
        return -1;
    }
    if (gan_idx_read(lpath, 1, &d->labels, ldims, err, errlen) < 0) { gan_dataset_free(d); return -1; }
    if (ldims[0] != idims[0]) {
        fail(err, errlen, lpath, "%d labels for %d images in %s", ldims[0], idims[0], ipath);
        gan_dataset_free(d);
        return -1;
    }
    d->n = idims[0];
    d->rows = idims[1];
    d->cols = idims[2];
    return 0;
}

void gan_dataset_free(gan_dataset *d) {
    free(d->images);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

static void shuffle(uint32_t *order, int n, nn_rng *rng) {
    for (int i = n - 1; i > 0; i--) {
        uint32_t j = nn_rng_below(rng, (uint32_t)i + 1);
        uint32_t t = order[i]; order[i] = order[j]; order[j] = t;
    }
}

int gan_batcher_init(gan_batcher *b, const gan_dataset *d, nn_rng *rng) {
    memset(b, 0, sizeof *b);
    b->data = d;
    b->order = malloc((size_t)d->n * sizeof *b->order);
    if (!b->order) return -1;
    for (int i = 0; i < d->n; i++) b->order[i] = (uint32_t)i;
    shuffle(b->order, d->n, rng);
    return 0;
}

void gan_batcher_free(gan_batcher *b) {
    free(b->order);
    b->order = NULL;
}

void gan_batcher_next(gan_batcher *b, nn_rng *rng, int B, float lo, float hi,
                      float *out, uint8_t *labels) {
    const gan_dataset *d = b->data;
    const size_t pix = (size_t)d->rows * d->cols;
    const float scale = (hi - lo) / 255.0f;
    for (int i = 0; i < B; i++) {
        if (b->pos == d->n) {
            b->pos = 0;
            b->epoch++;
            shuffle(b->order, d->n, rng);
        }
        const uint32_t idx = b->order[b->pos++];
        const uint8_t *src = d->images + idx * pix;
        float *dst = out + (size_t)i * pix;
        for (size_t p = 0; p < pix; p++) dst[p] = lo + scale * src[p];
        if (labels) labels[i] = d->labels[idx];
    }
}

double gan_batcher_epoch(const gan_batcher *b) {
    return (double)b->epoch + (double)b->pos / (double)b->data->n;
}
