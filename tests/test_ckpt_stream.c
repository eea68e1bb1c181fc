/* test_ckpt_stream.c - the streaming checkpoint writer (server/ckpt_write.c):
 * the file a save streams to disk holds exactly the bytes of the in-memory
 * serialization; a write that fails (a full device) is reported with the
 * errno text, leaves no temporary file and the older checkpoints untouched;
 * and format version 2 is version 1 plus CONF's `conditional`, nothing else.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "ckpt_test.h"
#include "testhelp.h"
#include "../server/checkpoint.h"

/* A small model on MNIST, a few iterations in, with history and timeline. */
static int stream_run(srv_trainer *t, srv_state **st, uint64_t seed, int iters) {
    srv_config c;
    char err[512];
    srv_config_default(&c);
    snprintf(c.data_dir, sizeof c.data_dir, "data/mnist");
    c.model.nz = 32;
    c.model.ngf = 32;
    c.model.ndf = 16;
    c.model.batch = 16;
    c.seed = seed;
    c.threads = 1;
    c.timeline_every = 2;
    c.timeline_max = 4;
    if (srv_trainer_init(t, &c, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (!(*st = srv_state_new(&t->cfg))) return -1;
    for (int i = 0; i < iters && srv_trainer_iteration(t) == 0; i++) {
        srv_state_publish(*st, t->iteration, gan_batcher_epoch(&t->batcher), &t->last,
                          t->model->g_mem, t->model->g_buf_mem, t->model->d_mem, t->model->d_buf_mem);
        if (t->iteration % t->cfg.timeline_every == 0) srv_trainer_publish_timeline(t, *st);
    }
    return 0;
}

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    *len = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *p = n > 0 ? malloc((size_t)n) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) { free(p); p = NULL; }
    fclose(f);
    *len = p ? (size_t)n : 0;
    return p;
}

/* Entries of dir whose name starts with ".ckpt-" (temporary files). */
static int count_tmp(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        n += strncmp(e->d_name, ".ckpt-", 6) == 0;
    if (d) closedir(d);
    return n;
}

static void rm_dir(const char *dir) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

TEST(ckpt_stream_file_equals_memory) {
    srv_trainer t;
    srv_state *st;
    char dir[256], path[1024], err[512];
    size_t bytes, mlen, flen;
    snprintf(dir, sizeof dir, "%s/ganlive-stream-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (stream_run(&t, &st, 41, 9) < 0 || !mkdtemp(dir)) { CHECK(0); return; }
    CHECKF(srv_ckpt_save(dir, 3, &t, st, path, sizeof path, &bytes, err, sizeof err) == 0, "%s", err);
    uint8_t *mem = ckpt_test_serialize(&t, st, 0, &mlen), *file = read_all(path, &flen);
    /* > 64 KB: the stream went through many buffer flushes */
    CHECKF(mem && file && mlen == flen && bytes == flen && flen > ((size_t)4 << 16),
           "memory %zu, file %zu, reported %zu", mlen, flen, bytes);
    CHECK(mem && file && mlen == flen && memcmp(mem, file, mlen) == 0);
    CHECK(count_tmp(dir) == 0);
    srv_ckpt ck;
    CHECK(mem && srv_ckpt_parse(mem, mlen, 0, &ck, err, sizeof err) == SRV_CKPT_OK && ck.iteration == 9);
    srv_ckpt_free(&ck);
    free(mem);
    free(file);
    srv_state_free(st);
    srv_trainer_free(&t);
    rm_dir(dir);
}

TEST(ckpt_stream_write_failure_leaves_no_tmp) {
    srv_trainer t;
    srv_state *st;
    char dir[256], path[1024], err[512] = "", tmp[1100], found[1024];
    size_t bytes = 1;
    snprintf(dir, sizeof dir, "%s/ganlive-stream-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (stream_run(&t, &st, 42, 2) < 0 || !mkdtemp(dir)) { CHECK(0); return; }
    CHECK(srv_ckpt_save(dir, 3, &t, st, path, sizeof path, &bytes, err, sizeof err) == 0);
    srv_trainer_iteration(&t);
    /* straight into a full device: every flush fails with ENOSPC */
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    srv_ckpt_src src = {&t, NULL, 0, NULL, 0, 1, 0};
    CHECK(fd >= 0 && srv_ckpt_write_fd(&src, fd, "/dev/full", &bytes, err, sizeof err) == -1);
    CHECKF(strstr(err, "cannot write /dev/full: No space left on device") && bytes == 0, "%s", err);
    if (fd >= 0) close(fd);
    /* a save whose temporary file lands on the full device (a symlink in
     * its place): the error names it, the symlink is gone, no file is added */
    snprintf(tmp, sizeof tmp, "%s/.ckpt-000000003.bin.tmp", dir);
    CHECK(symlink("/dev/full", tmp) == 0);
    bytes = 1;
    CHECK(srv_ckpt_save(dir, 3, &t, st, path, sizeof path, &bytes, err, sizeof err) == -1);
    CHECKF(strstr(err, "cannot write") && strstr(err, ".ckpt-000000003.bin.tmp") &&
           strstr(err, "No space left on device") && bytes == 0, "%s", err);
    CHECK(count_tmp(dir) == 0);
    char **names;
    int n = srv_ckpt_list(dir, &names);
    CHECK(n == 1 && !strcmp(names[0], "ckpt-000000002.bin"));
    srv_ckpt_names_free(names, n);
    srv_ckpt ck;
    CHECK(srv_ckpt_find(dir, &t.cfg, t.data.n, &ck, found, sizeof found, NULL, err, sizeof err) == 1);
    CHECK(ck.iteration == 2);
    srv_ckpt_free(&ck);
    /* and the next save goes through */
    CHECK(srv_ckpt_save(dir, 3, &t, st, path, sizeof path, &bytes, err, sizeof err) == 0);
    CHECK(strstr(path, "ckpt-000000003.bin") && count_tmp(dir) == 0);
    srv_state_free(st);
    srv_trainer_free(&t);
    rm_dir(dir);
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static void put_u64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

/* Version 2 = version 1 with the version field, CONF's length, the total
 * length and the CRC updated and i32 conditional (0) after CONF's body. */
TEST(ckpt_stream_version_2_is_version_1_plus_conditional) {
    srv_trainer t;
    srv_state *st;
    size_t l1, l2;
    if (stream_run(&t, &st, 43, 5) < 0) { CHECK(0); return; }
    uint8_t *v1 = ckpt_test_serialize(&t, st, 1, &l1), *v2 = ckpt_test_serialize(&t, st, 2, &l2);
    uint8_t *want = v1 ? malloc(l1 + 4) : NULL;
    CHECK(v1 && v2 && want && l2 == l1 + 4);
    if (v1 && v2 && want && l2 == l1 + 4) {
        const size_t conf = 24;                          /* CONF: tag, u64 length, body */
        const uint64_t conf_len = get_u64(v1 + conf + 4);
        const size_t body_end = conf + 12 + (size_t)conf_len;
        memcpy(want, v1, body_end);
        memset(want + body_end, 0, 4);
        memcpy(want + body_end + 4, v1 + body_end, l1 - body_end);
        want[8] = 2;
        put_u64(want + 16, l1 + 4);
        put_u64(want + conf + 4, conf_len + 4);
        uint32_t crc = (uint32_t)crc32(0L, want, (uInt)(l2 - 4));
        for (int i = 0; i < 4; i++) want[l2 - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
        CHECK(conf_len == 92 && memcmp(v1 + conf, "CONF", 4) == 0);
        CHECK(memcmp(want, v2, l2) == 0);
    }
    free(want);
    free(v1);
    free(v2);
    srv_state_free(st);
    srv_trainer_free(&t);
}
