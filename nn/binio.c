/* binio.c - little-endian arrays, the bounded reader, and crash-safe file
 * writes (binio.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "binio.h"

void nn_put_f32s(uint8_t *p, const float *x, size_t n) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n) memcpy(p, x, n * sizeof(float));
#else
    for (size_t i = 0; i < n; i++) nn_put_f32(p + 4 * i, x[i]);
#endif
}

void nn_get_f32s(float *x, const uint8_t *p, size_t n) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n) memcpy(x, p, n * sizeof(float));
#else
    for (size_t i = 0; i < n; i++) x[i] = nn_get_f32(p + 4 * i);
#endif
}

/* ---- bounded reader ------------------------------------------------------ */

const uint8_t *nn_read_bytes(nn_reader *r, size_t n) {
    if (r->bad || r->len - r->pos < n) { r->bad = 1; return NULL; }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

uint32_t nn_read_u32(nn_reader *r) { const uint8_t *b = nn_read_bytes(r, 4); return b ? nn_get_u32(b) : 0; }
uint64_t nn_read_u64(nn_reader *r) { const uint8_t *b = nn_read_bytes(r, 8); return b ? nn_get_u64(b) : 0; }
int32_t nn_read_i32(nn_reader *r) { return (int32_t)nn_read_u32(r); }
int64_t nn_read_i64(nn_reader *r) { return (int64_t)nn_read_u64(r); }
float nn_read_f32(nn_reader *r) { const uint8_t *b = nn_read_bytes(r, 4); return b ? nn_get_f32(b) : 0.0f; }
double nn_read_f64(nn_reader *r) { const uint8_t *b = nn_read_bytes(r, 8); return b ? nn_get_f64(b) : 0.0; }

/* ---- files --------------------------------------------------------------- */

int nn_write_all(int fd, const void *buf, size_t n) {
    const uint8_t *p = buf;
    while (n > 0) {
        const ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -1;
        if (k == 0) { errno = ENOSPC; return -1; }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int nn_fsync_dir(const char *dir) {
    const int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    const int rc = fsync(fd);
    const int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int nn_file_write_atomic(const char *path, const char *tmp, nn_file_writer writer, void *ctx,
                         char *err, size_t errlen) {
    char tmpbuf[4096], dir[4096];
    if (!tmp) {
        if (snprintf(tmpbuf, sizeof tmpbuf, "%s.tmp", path) >= (int)sizeof tmpbuf) {
            snprintf(err, errlen, "%s: path too long", path);
            return -1;
        }
        tmp = tmpbuf;
    }
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else { snprintf(err, errlen, "%s: path too long", path); return -1; }

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    const char *step = NULL;                      /* NULL: err already says why */
    if (writer(fd, ctx, err, errlen) < 0) goto fail;
    step = "fsync";
    if (fsync(fd) < 0) goto fail;
    step = "close";
    const int rc = close(fd);
    fd = -1;
    if (rc < 0) goto fail;
    step = "rename";
    if (rename(tmp, path) < 0) goto fail;
    if (nn_fsync_dir(dir) < 0) {
        snprintf(err, errlen, "cannot fsync directory %s: %s", dir, strerror(errno));
        return -1;   /* the file is in place; durability of the name is unsure */
    }
    return 0;
fail:
    if (step) snprintf(err, errlen, "cannot %s %s: %s", step, tmp, strerror(errno));
    if (fd >= 0) close(fd);
    unlink(tmp);
    return -1;
}

typedef struct { const void *buf; size_t len; const char *tmp; } bytes_src;

static int write_bytes(int fd, void *ctx, char *err, size_t errlen) {
    const bytes_src *b = ctx;
    if (nn_write_all(fd, b->buf, b->len) == 0) return 0;
    snprintf(err, errlen, "cannot write %s: %s", b->tmp, strerror(errno));
    return -1;
}

int nn_file_write_bytes(const char *path, const void *buf, size_t len, char *err, size_t errlen) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    bytes_src b = {buf, len, tmp};
    return nn_file_write_atomic(path, tmp, write_bytes, &b, err, errlen);
}

int nn_file_read(const char *path, size_t max, uint8_t **buf, size_t *len, char *err, size_t errlen) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    uint8_t *b = malloc(max ? max : 1);
    if (!b) { fclose(f); snprintf(err, errlen, "%s: out of memory", path); return -1; }
    const size_t got = fread(b, 1, max, f);
    const int bad = ferror(f);
    fclose(f);
    if (bad) { free(b); snprintf(err, errlen, "%s: read error", path); return -1; }
    *buf = b;
    *len = got;
    return 0;
}
