/* test_binio.c - nn/binio.h: little-endian values, the bounded reader, and
 * crash-safe writes (a failed write leaves the old file and no temporary). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "testhelp.h"
#include "../nn/binio.h"

TEST(binio_values_round_trip) {
    uint8_t b[8];
    nn_put_u32(b, 0x11223344u);
    CHECK(b[0] == 0x44 && b[1] == 0x33 && b[2] == 0x22 && b[3] == 0x11);   /* little-endian */
    CHECK(nn_get_u32(b) == 0x11223344u);
    nn_put_u64(b, 0x0102030405060708ull);
    CHECK(b[0] == 0x08 && b[7] == 0x01 && nn_get_u64(b) == 0x0102030405060708ull);
    const float fs[] = {0.0f, -0.0f, 1.5f, -3.25e-7f, INFINITY, 3.4028235e38f, 1e-45f};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        nn_put_f32(b, fs[i]);
        const float g = nn_get_f32(b);
        CHECKF(memcmp(&g, &fs[i], 4) == 0, "f32 %g", (double)fs[i]);
    }
    nn_put_f32(b, 1.0f);
    CHECK(b[0] == 0x00 && b[1] == 0x00 && b[2] == 0x80 && b[3] == 0x3f);
    const float nan = NAN;                         /* bits kept, NaN included */
    nn_put_f32(b, nan);
    const float gn = nn_get_f32(b);
    CHECK(memcmp(&gn, &nan, 4) == 0);
    const double ds[] = {0.1, -1e300, 4.9e-324};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        nn_put_f64(b, ds[i]);
        CHECK(nn_get_f64(b) == ds[i]);
    }
    float x[5] = {1, -2, 0.5f, 1e10f, -0.0f}, y[5];
    uint8_t raw[20];
    nn_put_f32s(raw, x, 5);
    CHECK(nn_get_f32(raw + 8) == 0.5f);
    nn_get_f32s(y, raw, 5);
    CHECK(memcmp(x, y, sizeof x) == 0);
}

TEST(binio_reader_stops_at_the_end) {
    uint8_t b[16];
    nn_put_u32(b, 7);
    nn_put_u64(b + 4, (uint64_t)-5);
    nn_put_u32(b + 12, 0xffff);                    /* only 2 of its bytes are in range */
    nn_reader r = nn_reader_of(b, 14);
    CHECK(nn_read_u32(&r) == 7 && nn_read_i64(&r) == -5 && !r.bad && r.pos == 12);
    CHECK(nn_read_f32(&r) == 0.0f && r.bad);       /* past the end: 0, bad */
    CHECK(r.pos == 12);
    CHECK(nn_read_bytes(&r, 0) == NULL && nn_read_u32(&r) == 0 && r.bad);   /* sticky */
    nn_reader e = nn_reader_of(b, 4);
    CHECK(nn_read_i32(&e) == 7 && nn_read_bytes(&e, 0) != NULL && !e.bad);
    CHECK(nn_read_f64(&e) == 0.0 && e.bad);
}

static char *slurp(const char *path, size_t *n) {
    uint8_t *b;
    char err[256];
    if (nn_file_read(path, 1 << 20, &b, n, err, sizeof err) < 0) return NULL;
    return (char *)b;
}

/* Files in dir other than . and .. */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static int fail_halfway(int fd, void *ctx, char *err, size_t errlen) {
    (void)ctx;
    nn_write_all(fd, "half", 4);
    snprintf(err, errlen, "writer gave up");
    return -1;
}

static int write_hello(int fd, void *ctx, char *err, size_t errlen) {
    (void)err; (void)errlen;
    return nn_write_all(fd, ctx, strlen(ctx));
}

/* The old contents of path are still there, whole, and nothing else is in dir. */
static void expect_old(const char *dir, const char *path, const char *what) {
    size_t n = 0;
    char *got = slurp(path, &n);
    CHECKF(got && n == 3 && memcmp(got, "old", 3) == 0, "%s: the old file changed", what);
    free(got);
    CHECKF(count_entries(dir) == 1, "%s: %d files left in the directory", what, count_entries(dir));
}

TEST(binio_atomic_write) {
    char dir[256], path[300], tmp[320], sub[320], err[512] = "";
    snprintf(dir, sizeof dir, "%s/ganlive-binio-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/f.bin", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    /* new file, then an overwrite; no temporary left */
    CHECKF(nn_file_write_bytes(path, "new file", 8, err, sizeof err) == 0, "%s", err);
    size_t n = 0;
    char *got = slurp(path, &n);
    CHECK(got && n == 8 && memcmp(got, "new file", 8) == 0);
    free(got);
    CHECKF(nn_file_write_bytes(path, "old", 3, err, sizeof err) == 0, "%s", err);
    expect_old(dir, path, "overwrite");
    CHECK(nn_file_write_bytes(path, "", 0, err, sizeof err) == 0);   /* empty is a file too */
    got = slurp(path, &n);
    CHECK(got && n == 0);
    free(got);
    CHECK(nn_file_write_bytes(path, "old", 3, err, sizeof err) == 0);

    /* the writer fails halfway: old file intact, temporary removed */
    err[0] = 0;
    CHECK(nn_file_write_atomic(path, NULL, fail_halfway, NULL, err, sizeof err) == -1);
    CHECKF(strcmp(err, "writer gave up") == 0, "%s", err);
    expect_old(dir, path, "writer failure");

    /* the temporary lands on a full device (a symlink in its place) */
    CHECK(symlink("/dev/full", tmp) == 0);
    CHECK(nn_file_write_bytes(path, "new contents", 12, err, sizeof err) == -1);
    CHECKF(strstr(err, "cannot write") && strstr(err, tmp) && strstr(err, "No space left on device"),
           "%s", err);
    expect_old(dir, path, "full device");

    /* the temporary cannot be created (a directory in its place) */
    CHECK(mkdir(tmp, 0755) == 0);
    CHECK(nn_file_write_bytes(path, "new contents", 12, err, sizeof err) == -1);
    CHECKF(strstr(err, "cannot create") && strstr(err, tmp) && strstr(err, "Is a directory"), "%s", err);
    CHECK(rmdir(tmp) == 0);
    expect_old(dir, path, "temporary is a directory");

    /* rename onto a directory fails after the data was written and synced */
    snprintf(sub, sizeof sub, "%s/d", dir);
    CHECK(mkdir(sub, 0755) == 0);
    CHECK(nn_file_write_atomic(sub, tmp, write_hello, "hello", err, sizeof err) == -1);
    CHECKF(strstr(err, "cannot rename") && strstr(err, tmp), "%s", err);
    CHECK(access(tmp, F_OK) != 0 && count_entries(sub) == 0);
    CHECK(rmdir(sub) == 0);

    /* a read-only directory (root may write anyway: then the write succeeds) */
    if (geteuid() != 0) {
        CHECK(chmod(dir, 0555) == 0);
        CHECK(nn_file_write_bytes(path, "new contents", 12, err, sizeof err) == -1);
        CHECKF(strstr(err, "cannot create") && strstr(err, "Permission denied"), "%s", err);
        CHECK(chmod(dir, 0755) == 0);
        expect_old(dir, path, "read-only directory");
    }

    /* an impossible path: nothing is created anywhere */
    char nodir[340];
    snprintf(nodir, sizeof nodir, "%s/missing/f.bin", dir);
    CHECK(nn_file_write_bytes(nodir, "x", 1, err, sizeof err) == -1);
    CHECKF(strstr(err, "cannot create") && strstr(err, "No such file or directory"), "%s", err);
    expect_old(dir, path, "impossible path");

    /* a named temporary (the checkpoint's ".ckpt-N.bin.tmp" style) */
    char named[340], other[340];
    snprintf(named, sizeof named, "%s/.f.bin.part", dir);
    snprintf(other, sizeof other, "%s/g.bin", dir);
    CHECKF(nn_file_write_atomic(other, named, write_hello, "hello", err, sizeof err) == 0, "%s", err);
    got = slurp(other, &n);
    CHECK(got && n == 5 && memcmp(got, "hello", 5) == 0 && access(named, F_OK) != 0);
    free(got);
    remove(other);

    /* relative path: the directory is "." */
    char cwd[1024];
    CHECK(getcwd(cwd, sizeof cwd) != NULL && chdir(dir) == 0);
    CHECKF(nn_file_write_bytes("rel.bin", "abc", 3, err, sizeof err) == 0, "%s", err);
    CHECK(access("rel.bin", F_OK) == 0 && access("rel.bin.tmp", F_OK) != 0);
    remove("rel.bin");
    CHECK(chdir(cwd) == 0);

    remove(path);
    CHECK(rmdir(dir) == 0);
}

TEST(binio_file_read) {
    char dir[256], path[300], err[512] = "";
    snprintf(dir, sizeof dir, "%s/ganlive-binio-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/r.bin", dir);
    uint8_t *b = (uint8_t *)"x";
    size_t n = 9;
    CHECK(nn_file_read(path, 10, &b, &n, err, sizeof err) == -1 && b == NULL && n == 0);
    CHECKF(strstr(err, path) && strstr(err, "cannot open") && strstr(err, "No such file"), "%s", err);
    CHECK(nn_file_write_bytes(path, "0123456789", 10, err, sizeof err) == 0);
    CHECK(nn_file_read(path, 11, &b, &n, err, sizeof err) == 0 && n == 10 && memcmp(b, "0123456789", 10) == 0);
    free(b);
    CHECK(nn_file_read(path, 4, &b, &n, err, sizeof err) == 0 && n == 4 && memcmp(b, "0123", 4) == 0);
    free(b);
    CHECK(nn_file_read(path, 0, &b, &n, err, sizeof err) == 0 && n == 0);
    free(b);
    remove(path);
    rmdir(dir);
}
