/* binio.h - binary files: little-endian values, a bounded reader, and
 * crash-safe writes (the classifier's model file; the checkpoint's format
 * uses the same conventions).
 *
 * Values are stored little-endian whatever the host: nn_put_* / nn_get_*
 * on byte pointers, and nn_reader, a cursor over a byte span whose reads
 * past the end return 0 and set a sticky `bad` flag, so a parser reads a
 * whole record and checks once.
 *
 * A crash-safe write never leaves a half-written file under the final name:
 * the bytes go to a temporary file in the same directory (path + ".tmp"
 * unless the caller names one), which is fsynced, renamed over path, and
 * then the directory is fsynced so the new name is durable too. After a
 * crash at any moment, path holds either the old file or the new one. On a
 * failure the temporary file is removed and the old file is untouched.
 */
#ifndef GANLIVE_BINIO_H
#define GANLIVE_BINIO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- little-endian values ------------------------------------------------ */

static inline void nn_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t nn_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void nn_put_u64(uint8_t *p, uint64_t v) {
    nn_put_u32(p, (uint32_t)v);
    nn_put_u32(p + 4, (uint32_t)(v >> 32));
}
static inline uint64_t nn_get_u64(const uint8_t *p) {
    return (uint64_t)nn_get_u32(p) | (uint64_t)nn_get_u32(p + 4) << 32;
}
static inline void nn_put_f32(uint8_t *p, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    nn_put_u32(p, u);
}
static inline float nn_get_f32(const uint8_t *p) {
    const uint32_t u = nn_get_u32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline void nn_put_f64(uint8_t *p, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    nn_put_u64(p, u);
}
static inline double nn_get_f64(const uint8_t *p) {
    const uint64_t u = nn_get_u64(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}
/* n floats to / from 4n little-endian bytes. */
void nn_put_f32s(uint8_t *p, const float *x, size_t n);
void nn_get_f32s(float *x, const uint8_t *p, size_t n);

/* ---- bounded reader ------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t len, pos;
    int bad;            /* a read went past the end (sticky) */
} nn_reader;

static inline nn_reader nn_reader_of(const void *p, size_t len) {
    nn_reader r = {(const uint8_t *)p, len, 0, 0};
    return r;
}
/* The next n bytes, or NULL (and bad set) when fewer are left. */
const uint8_t *nn_read_bytes(nn_reader *r, size_t n);
uint32_t nn_read_u32(nn_reader *r);    /* 0 past the end */
uint64_t nn_read_u64(nn_reader *r);
int32_t nn_read_i32(nn_reader *r);
int64_t nn_read_i64(nn_reader *r);
float nn_read_f32(nn_reader *r);
double nn_read_f64(nn_reader *r);

/* ---- files --------------------------------------------------------------- */

/* write(2) all n bytes (EINTR retried): 0, or -1 with errno set (ENOSPC
 * when the device takes nothing). */
int nn_write_all(int fd, const void *buf, size_t n);
/* fsync a directory (so a rename in it is durable): 0 or -1 with errno. */
int nn_fsync_dir(const char *dir);

/* Writes the file's bytes to fd; returns 0, or -1 with a message in err. */
typedef int (*nn_file_writer)(int fd, void *ctx, char *err, size_t errlen);

/* Crash-safe write of path: writer(fd, ctx) into tmp (NULL: path + ".tmp";
 * it must be in path's directory), fsync, close, rename over path, fsync
 * the directory. Returns 0, or -1 with err: the writer's own message, or
 * "cannot create|fsync|close|rename TMP: reason", or "cannot fsync
 * directory DIR: reason" (then the new file is in place but its name may
 * not survive a crash). tmp is never left behind; path keeps its old
 * contents on every failure before the rename. */
int nn_file_write_atomic(const char *path, const char *tmp, nn_file_writer writer, void *ctx,
                         char *err, size_t errlen);
/* The same for bytes already in memory. */
int nn_file_write_bytes(const char *path, const void *buf, size_t len, char *err, size_t errlen);

/* Read at most max bytes of path into a new buffer (*buf, caller frees;
 * *len bytes). Pass one more than the length you expect to notice a longer
 * file. 0, or -1 with "PATH: cannot open: reason" / "PATH: read error" /
 * "PATH: out of memory" in err. */
int nn_file_read(const char *path, size_t max, uint8_t **buf, size_t *len, char *err, size_t errlen);

#endif
