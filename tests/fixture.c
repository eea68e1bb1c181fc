/* fixture.c - reads the tensor files of tools/make_fixtures.py (format in
 * that script's header) and reproduces its counter-based generator.
 *
 * A file is read whole into memory and indexed once: fx_open walks the
 * records, checks magic, version, dtype, dims and the trailing "END!", and
 * keeps a small table of (name, dtype, count, aligned copy of the data).
 * Lookups are a linear search; the files hold at most a few hundred tensors.
 */
#include "fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FX_F32 = 0, FX_I32 = 1, FX_F64 = 2 };

typedef struct {
    char name[96];
    uint32_t dtype;
    size_t n;
    void *data;         /* own malloc'd copy: aligned for every dtype */
} fx_entry;

struct fx_file {
    char path[512];
    unsigned char *buf;
    size_t len;
    fx_entry *entries;
    size_t count;
};

static uint32_t fx_rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t fx_dtype_size(uint32_t dtype) {
    switch (dtype) {
    case FX_F32: case FX_I32: return 4;
    case FX_F64: return 8;
    default: return 0;
    }
}

static const char *fx_dtype_name(uint32_t dtype) {
    switch (dtype) {
    case FX_F32: return "float32";
    case FX_I32: return "int32";
    case FX_F64: return "float64";
    default: return "?";
    }
}

/* Parse the records; 0 on success, else print why and return -1. */
static int fx_parse(fx_file *f) {
    const unsigned char *p = f->buf, *end = f->buf + f->len;
    if (f->len < 16 || memcmp(p, "GLFX", 4) != 0) {
        fprintf(stderr, "fixture %s: not a GLFX file (regenerate with `make fixtures`)\n", f->path);
        return -1;
    }
    uint32_t version = fx_rd32(p + 4), count = fx_rd32(p + 8);
    if (version != 1) {
        fprintf(stderr, "fixture %s: version %u, expected 1\n", f->path, version);
        return -1;
    }
    if (count > 100000) {
        fprintf(stderr, "fixture %s: corrupt tensor count %u\n", f->path, count);
        return -1;
    }
    f->entries = calloc(count ? count : 1, sizeof *f->entries);
    if (!f->entries) return -1;
    p += 12;
    for (uint32_t i = 0; i < count; i++) {
        fx_entry *e = &f->entries[i];
        if (end - p < 4) goto truncated;
        uint32_t nlen = fx_rd32(p); p += 4;
        if (nlen == 0 || nlen >= sizeof e->name || (size_t)(end - p) < nlen + 8) goto truncated;
        memcpy(e->name, p, nlen);
        e->name[nlen] = 0;
        p += nlen;
        e->dtype = fx_rd32(p);
        uint32_t ndim = fx_rd32(p + 4);
        p += 8;
        size_t esz = fx_dtype_size(e->dtype);
        if (!esz || ndim > 8) {
            fprintf(stderr, "fixture %s: tensor %s has bad dtype %u or ndim %u\n",
                    f->path, e->name, e->dtype, ndim);
            return -1;
        }
        if ((size_t)(end - p) < 4 * (size_t)ndim) goto truncated;
        size_t n = 1;
        for (uint32_t d = 0; d < ndim; d++, p += 4) n *= fx_rd32(p);
        if (n > (size_t)(end - p) / esz) goto truncated;
        e->n = n;
        e->data = malloc(n > 0 ? n * esz : 1);
        if (!e->data) return -1;
        memcpy(e->data, p, n * esz);   /* little-endian files, little-endian hosts */
        p += n * esz;
        f->count = i + 1;
    }
    if (end - p != 4 || memcmp(p, "END!", 4) != 0) {
        fprintf(stderr, "fixture %s: missing end marker (corrupt or trailing bytes)\n", f->path);
        return -1;
    }
    return 0;
truncated:
    fprintf(stderr, "fixture %s: truncated or corrupt record\n", f->path);
    return -1;
}

fx_file *fx_open(const char *name) {
    const char *dir = getenv("GANLIVE_FIXTURES");
    if (!dir || !*dir) dir = "tests/fixtures";
    fx_file *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    snprintf(f->path, sizeof f->path, "%s/%s", dir, name);
    FILE *fp = fopen(f->path, "rb");
    if (!fp) {
        fprintf(stderr, "fixture %s: cannot open (run from the repository root, "
                "or set GANLIVE_FIXTURES; regenerate with `make fixtures`)\n", f->path);
        free(f);
        return NULL;
    }
    long len = -1;
    if (fseek(fp, 0, SEEK_END) == 0) len = ftell(fp);
    if (len < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        fprintf(stderr, "fixture %s: cannot size the file\n", f->path);
        fclose(fp);
        free(f);
        return NULL;
    }
    f->len = (size_t)len;
    f->buf = malloc(f->len ? f->len : 1);
    if (!f->buf || fread(f->buf, 1, f->len, fp) != f->len) {
        fprintf(stderr, "fixture %s: read error\n", f->path);
        fclose(fp);
        fx_close(f);
        return NULL;
    }
    fclose(fp);
    if (fx_parse(f) != 0) {
        fx_close(f);
        return NULL;
    }
    return f;
}

void fx_close(fx_file *f) {
    if (!f) return;
    free(f->buf);
    for (size_t i = 0; i < f->count; i++) free(f->entries[i].data);
    free(f->entries);
    free(f);
}

static fx_entry *fx_find(fx_file *f, const char *name) {
    if (!f) return NULL;
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->entries[i].name, name) == 0) return &f->entries[i];
    return NULL;
}

size_t fx_size(fx_file *f, const char *name) {
    fx_entry *e = fx_find(f, name);
    return e ? e->n : 0;
}

static const void *fx_get(fx_file *f, const char *name, uint32_t dtype, size_t n) {
    if (!f) return NULL;
    fx_entry *e = fx_find(f, name);
    if (!e) {
        fprintf(stderr, "fixture %s: no tensor named %s\n", f->path, name);
        return NULL;
    }
    if (e->dtype != dtype) {
        fprintf(stderr, "fixture %s: tensor %s is %s, expected %s\n", f->path, name,
                fx_dtype_name(e->dtype), fx_dtype_name(dtype));
        return NULL;
    }
    if (n && e->n != n) {
        fprintf(stderr, "fixture %s: tensor %s has %zu values, expected %zu\n",
                f->path, name, e->n, n);
        return NULL;
    }
    return e->data;
}

const float *fx_f32(fx_file *f, const char *name, size_t n) {
    return fx_get(f, name, FX_F32, n);
}

const int32_t *fx_i32(fx_file *f, const char *name, size_t n) {
    return fx_get(f, name, FX_I32, n);
}

const double *fx_f64(fx_file *f, const char *name, size_t n) {
    return fx_get(f, name, FX_F64, n);
}

float fx_scalar_f32(fx_file *f, const char *name) {
    const float *p = fx_f32(f, name, 1);
    return p ? *p : NAN;
}

int32_t fx_scalar_i32(fx_file *f, const char *name) {
    const int32_t *p = fx_i32(f, name, 1);
    return p ? *p : INT32_MIN;
}

double fx_scalar_f64(fx_file *f, const char *name) {
    const double *p = fx_f64(f, name, 1);
    return p ? *p : NAN;
}

/* ---- generator ----------------------------------------------------------- */

uint32_t fx_hash(uint32_t index, uint32_t stream) {
    uint32_t x = index * 0x9E3779B9u + (stream + 1u) * 0x85EBCA6Bu;
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

float fx_uniform(uint32_t index, uint32_t stream) {
    return (float)(fx_hash(index, stream) >> 8) * 0x1p-23f - 1.0f;
}

void fx_fill_uniform(float *x, size_t n, uint32_t stream, float scale, float offset) {
    for (size_t i = 0; i < n; i++)
        x[i] = offset + scale * fx_uniform((uint32_t)i, stream);
}
