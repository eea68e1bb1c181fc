/* test_checkpoint.c - checkpoints on a small model and real MNIST: a round
 * trip restores every bit (weights, BN statistics, Adam, RNG, data order,
 * history, timeline) and training continued after a load is bit-identical
 * to training that never stopped; other architectures and format versions
 * are refused; truncated and bit-flipped files are all refused and never
 * loaded; the newest damaged file falls back to an older one; keep-N
 * rotation; failed saves report an error and leave older files loadable;
 * version-1 files (before `conditional`) still resume; conditional models
 * round-trip and are refused by unconditional runs; the save/restore
 * tickets of srv_state. (The streaming writer: test_ckpt_stream.c.)
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "ckpt_test.h"
#include "testhelp.h"
#include "../server/checkpoint.h"
#include "../server/png.h"
#include "../server/run.h"

static void small_config(srv_config *c, uint64_t seed) {
    srv_config_default(c);
    snprintf(c->data_dir, sizeof c->data_dir, "data/mnist");
    c->model.nz = 32;
    c->model.ngf = 32;
    c->model.ndf = 16;
    c->model.batch = 16;
    c->seed = seed;
    c->threads = 1;
    c->timeline_every = 2;
    c->timeline_max = 4;
}

/* Trainer and state; 0 or -1. */
static int make_run_sn(srv_trainer *t, srv_state **st, uint64_t seed, int ngf, int spectral_norm) {
    srv_config c;
    char err[512];
    small_config(&c, seed);
    c.model.ngf = ngf;
    c.model.spectral_norm = spectral_norm;
    if (srv_trainer_init(t, &c, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    *st = srv_state_new(&t->cfg);
    return *st ? 0 : -1;
}

static int make_run(srv_trainer *t, srv_state **st, uint64_t seed, int ngf) {
    return make_run_sn(t, st, seed, ngf, 0);
}

/* n iterations, published like the serve loop does. */
static void run_iters(srv_trainer *t, srv_state *st, int n) {
    for (int i = 0; i < n; i++) {
        if (srv_trainer_iteration(t) < 0) return;
        srv_state_publish(st, t->iteration, gan_batcher_epoch(&t->batcher), &t->last,
                          t->model->g_mem, t->model->g_buf_mem, t->model->d_mem, t->model->d_buf_mem);
        if (t->iteration % t->cfg.timeline_every == 0) srv_trainer_publish_timeline(t, st);
    }
}

static void free_run(srv_trainer *t, srv_state *st) {
    srv_state_free(st);
    srv_trainer_free(t);
}

static char *make_tmpdir(char *buf, size_t len) {
    snprintf(buf, len, "%s/ganlive-ckpt-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(buf);
}

static void rm_rf(const char *dir) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

static int same_floats(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

static int same_model(const srv_trainer *a, const srv_trainer *b) {
    const gan_model *x = a->model, *y = b->model;
    const size_t gb = gan_gbuffer_count(&x->cfg), db = gan_dbuffer_count(&x->cfg);
    return same_floats(x->g_mem, y->g_mem, x->g_count) &&
           same_floats(x->g_m_mem, y->g_m_mem, x->g_count) &&
           same_floats(x->g_v_mem, y->g_v_mem, x->g_count) &&
           same_floats(x->g_buf_mem, y->g_buf_mem, gb) &&
           same_floats(x->d_mem, y->d_mem, x->d_count) &&
           same_floats(x->d_m_mem, y->d_m_mem, x->d_count) &&
           same_floats(x->d_v_mem, y->d_v_mem, x->d_count) &&
           same_floats(x->d_buf_mem, y->d_buf_mem, db) && x->g_t == y->g_t && x->d_t == y->d_t &&
           (x->cfg.ema == 0.0f || same_floats(x->g_ema_mem, y->g_ema_mem, x->g_count + gb));
}

uint8_t *ckpt_test_serialize(const srv_trainer *t, srv_state *st, int version, size_t *len) {
    srv_point *pts = NULL;
    srv_snapshot *tl = NULL;
    long mult = 1;
    int np = srv_state_history_copy(st, &pts), nt = srv_state_timeline_copy(st, &tl, &mult);
    srv_ckpt_src src = {t, pts, np, tl, nt, mult, version};
    uint8_t *buf = NULL;
    char err[256];
    if (np < 0 || nt < 0 || srv_ckpt_serialize(&src, &buf, len, err, sizeof err) < 0) buf = NULL;
    free(pts);
    srv_snapshots_free(tl, nt);
    return buf;
}

TEST(checkpoint_round_trip_is_bit_identical) {
    srv_trainer a, b;
    srv_state *sa, *sb;
    char dir[256], path[1024], err[512];
    size_t bytes;
    if (make_run(&a, &sa, 3, 32) < 0 || make_run(&b, &sb, 99, 32) < 0 || !make_tmpdir(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    run_iters(&a, sa, 11);                       /* timeline 2,4,6,8 full: 2,6,10 */
    CHECKF(srv_ckpt_save(dir, 3, &a, sa, path, sizeof path, &bytes, err, sizeof err) == 0, "%s", err);
    CHECK(strstr(path, "/ckpt-000000011.bin") != NULL && bytes > 0);
    srv_ckpt ck;
    char found[1024];
    CHECKF(srv_ckpt_find(dir, &b.cfg, b.data.n, &ck, found, sizeof found, stderr, err, sizeof err) == 1,
           "%s", err);
    CHECK(strcmp(found, path) == 0);
    srv_ckpt_apply_trainer(&ck, &b, 0);
    CHECK(srv_ckpt_apply_state(&ck, sb) == 0);
    srv_ckpt_free(&ck);

    CHECK(same_model(&a, &b));
    CHECK(memcmp(&a.rng, &b.rng, sizeof a.rng) == 0);
    CHECK(a.iteration == 11 && b.iteration == 11 && b.cfg.seed == 3);
    CHECK(a.batcher.pos == b.batcher.pos && a.batcher.epoch == b.batcher.epoch);
    CHECK(memcmp(a.batcher.order, b.batcher.order, (size_t)a.data.n * sizeof *a.batcher.order) == 0);
    CHECK(same_floats(a.fixed_noise, b.fixed_noise, (size_t)SRV_FIXED_N * 32));
    srv_point *pa, *pb;
    int na = srv_state_history_copy(sa, &pa), nb = srv_state_history_copy(sb, &pb);
    CHECK(na == 11 && nb == na);
    int same = 1;                                 /* field by field: srv_point has padding */
    for (int i = 0; i < na && i < nb; i++)
        same &= pa[i].iteration == pb[i].iteration && pa[i].count == pb[i].count &&
                pa[i].time_s == pb[i].time_s && !memcmp(&pa[i].m, &pb[i].m, sizeof pa[i].m);
    CHECK(same);
    free(pa);
    free(pb);
    srv_snapshot *ta, *tb;
    long ma, mb;
    na = srv_state_timeline_copy(sa, &ta, &ma);
    nb = srv_state_timeline_copy(sb, &tb, &mb);
    CHECKF(na >= 3 && nb == na && ma == mb && ma > 1, "timeline %d/%d mult %ld/%ld", na, nb, ma, mb);
    for (int i = 0; i < na && i < nb; i++)
        CHECK(ta[i].iteration == tb[i].iteration && ta[i].width == tb[i].width &&
              memcmp(ta[i].pixels, tb[i].pixels, (size_t)ta[i].width * ta[i].height) == 0);
    srv_snapshots_free(ta, na);
    srv_snapshots_free(tb, nb);

    /* training on: the loaded run and the one that never stopped agree */
    run_iters(&a, sa, 5);
    run_iters(&b, sb, 5);
    CHECK(a.iteration == 16 && b.iteration == 16);
    CHECK(memcmp(&a.last, &b.last, sizeof a.last) == 0);
    CHECK(same_model(&a, &b));
    free_run(&a, sa);
    free_run(&b, sb);
    rm_rf(dir);
}

TEST(checkpoint_refuses_other_architecture_and_version) {
    srv_trainer a, other;
    srv_state *sa, *so;
    char dir[256], path[1024], err[512];
    size_t bytes, len;
    if (make_run(&a, &sa, 4, 32) < 0 || make_run(&other, &so, 4, 16) < 0 || !make_tmpdir(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    run_iters(&a, sa, 2);
    CHECK(srv_ckpt_save(dir, 3, &a, sa, path, sizeof path, &bytes, err, sizeof err) == 0);
    float before = other.model->g_mem[0];
    srv_ckpt ck;
    char found[1024];
    err[0] = '\0';
    CHECK(srv_ckpt_find(dir, &other.cfg, other.data.n, &ck, found, sizeof found, NULL, err,
                        sizeof err) == -1);
    CHECKF(strstr(err, "ngf 32") && strstr(err, "ngf 16"), "%s", err);
    CHECK(other.model->g_mem[0] == before && other.iteration == 0);   /* untouched */
    CHECK(srv_ckpt_load_file(path, &ck, err, sizeof err) == SRV_CKPT_OK);
    CHECK(srv_ckpt_check(&ck, &a.cfg, a.data.n, err, sizeof err) == SRV_CKPT_OK);
    CHECK(srv_ckpt_check(&ck, &a.cfg, 1000, err, sizeof err) == SRV_CKPT_ARCH_MISMATCH);
    srv_config cond = a.cfg;                             /* same shapes, but conditional */
    cond.model.conditional = 1;
    CHECK(srv_ckpt_check(&ck, &cond, a.data.n, err, sizeof err) == SRV_CKPT_ARCH_MISMATCH);
    CHECKF(strstr(err, "g_output tanh unconditional batch 16; this run has") &&
           strstr(err, "g_output tanh conditional batch 16"), "%s", err);
    /* the message says how to resume it: the settings that differ ... */
    CHECKF(strstr(err, "; to resume it, add --set model.conditional=false"), "%s", err);
    CHECK(srv_ckpt_check(&ck, &other.cfg, a.data.n, err, sizeof err) == SRV_CKPT_ARCH_MISMATCH);
    CHECKF(strstr(err, "to resume it, add --set model.ngf=32") && !strstr(err, "model.ndf"), "%s", err);
    /* ... or the preset that makes it; a projection D is not one with label planes */
    srv_config fast;
    srv_config_default(&fast);
    srv_config_preset(&fast, "fast");
    ck.model = fast.model;
    CHECK(srv_ckpt_check(&ck, &a.cfg, a.data.n, err, sizeof err) == SRV_CKPT_ARCH_MISMATCH);
    CHECKF(strstr(err, "conditional projection batch 16; this run has") &&
           strstr(err, "to resume it, start with --preset fast"), "%s", err);
    cond = fast;
    cond.model.projection = 0;
    CHECK(srv_ckpt_check(&ck, &cond, a.data.n, err, sizeof err) == SRV_CKPT_ARCH_MISMATCH);
    ck.model.projection = 0;
    CHECK(srv_ckpt_check(&ck, &fast, a.data.n, err, sizeof err) == SRV_CKPT_ARCH_MISMATCH);
    CHECKF(strstr(err, "to resume it, add --set model.projection=false"), "%s", err);
    srv_ckpt_free(&ck);

    uint8_t *buf = ckpt_test_serialize(&a, sa, 0, &len);
    CHECK(buf != NULL);
    if (buf) {
        CHECK(buf[8] == SRV_CKPT_VERSION);
        buf[8] = SRV_CKPT_VERSION + 1;                   /* a future version, valid CRC */
        uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(len - 4));
        for (int i = 0; i < 4; i++) buf[len - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
        CHECK(srv_ckpt_parse(buf, len, 0, &ck, err, sizeof err) == SRV_CKPT_VERSION_MISMATCH);
        char want[64];
        snprintf(want, sizeof want, "reads versions 1 to %d", SRV_CKPT_VERSION);
        char future[64];
        snprintf(future, sizeof future, "version %d", SRV_CKPT_VERSION + 1);
        CHECKF(strstr(err, future) && strstr(err, want), "%s", err);
        buf[8] = 0;                                      /* and one before version 1 */
        crc = (uint32_t)crc32(0L, buf, (uInt)(len - 4));
        for (int i = 0; i < 4; i++) buf[len - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
        CHECK(srv_ckpt_parse(buf, len, 0, &ck, err, sizeof err) == SRV_CKPT_VERSION_MISMATCH);
        buf[len - 1] ^= 1;                               /* and with a broken one: damage */
        CHECK(srv_ckpt_parse(buf, len, 0, &ck, err, sizeof err) == SRV_CKPT_DAMAGED);
    }
    free(buf);
    free_run(&a, sa);
    free_run(&other, so);
    rm_rf(dir);
}

/* A checkpoint whose recipe is out of the settings table's ranges (a valid
 * CRC, written by something else) is refused, naming the setting. */
TEST(checkpoint_refuses_settings_out_of_the_table_range) {
    srv_trainer a;
    srv_state *sa;
    char err[512];
    size_t len;
    if (make_run(&a, &sa, 4, 32) < 0) {
        CHECK(0);
        return;
    }
    static const char *const names[] = {"train.d_steps", "train.lr_d", "train.seed"};
    for (int i = 0; i < 3; i++) {
        gan_config keep = a.model->cfg;
        uint64_t seed = a.cfg.seed;
        if (i == 0) a.model->cfg.d_steps = 101;
        if (i == 1) a.model->cfg.lr_d = 1.5f;
        if (i == 2) a.cfg.seed = (uint64_t)SRV_SEED_MAX + 1;
        uint8_t *buf = ckpt_test_serialize(&a, sa, 0, &len);
        a.model->cfg = keep;
        a.cfg.seed = seed;
        CHECK(buf != NULL);
        if (!buf) continue;
        srv_ckpt ck;
        err[0] = '\0';
        CHECKF(srv_ckpt_parse(buf, len, 0, &ck, err, sizeof err) != SRV_CKPT_OK && strstr(err, names[i]),
               "%s: \"%s\"", names[i], err);
        free(buf);
    }
    free_run(&a, sa);
}

TEST(checkpoint_damaged_files_are_all_refused) {
    srv_trainer a;
    srv_state *sa;
    size_t len;
    char err[512];
    if (make_run(&a, &sa, 5, 32) < 0) { CHECK(0); return; }
    run_iters(&a, sa, 4);
    uint8_t *buf = ckpt_test_serialize(&a, sa, 0, &len);
    uint8_t *bad = buf ? malloc(len) : NULL;
    if (!bad) { CHECK(0); free(buf); free_run(&a, sa); return; }
    srv_ckpt ck;
    CHECK(srv_ckpt_parse(buf, len, 0, &ck, err, sizeof err) == SRV_CKPT_OK);
    srv_ckpt_free(&ck);
    nn_rng r;
    nn_rng_seed(&r, 2024);
    int loaded = 0, tries = 0;
    /* truncation at random offsets, and at every header byte */
    for (int i = 0; i < 300; i++) {
        size_t cut = i < 40 ? (size_t)i : (size_t)nn_rng_below(&r, (uint32_t)len);
        memcpy(bad, buf, cut);
        tries++;
        if (srv_ckpt_parse(bad, cut, 0, &ck, err, sizeof err) == SRV_CKPT_OK) loaded++;
        if (ck.points || ck.timeline || ck.g) loaded++;   /* refused means empty */
    }
    /* one to eight random bit flips */
    for (int i = 0; i < 300; i++) {
        memcpy(bad, buf, len);
        int flips = 1 + (int)nn_rng_below(&r, 8);
        for (int f = 0; f < flips; f++) {
            size_t at = (size_t)nn_rng_below(&r, (uint32_t)len);
            bad[at] ^= (uint8_t)(1u << nn_rng_below(&r, 8));
        }
        tries++;
        if (memcmp(bad, buf, len) == 0) continue;        /* flips cancelled out */
        if (srv_ckpt_parse(bad, len, 0, &ck, err, sizeof err) == SRV_CKPT_OK) loaded++;
    }
    CHECKF(loaded == 0, "%d of %d damaged checkpoints loaded", loaded, tries);
    /* behind the CRC (as the fuzzer sees it): garbage anywhere never crashes
     * and a parse either fails cleanly or yields a consistent checkpoint */
    int ok = 0;
    for (int i = 0; i < 300; i++) {
        memcpy(bad, buf, len);
        size_t at = 8 + (size_t)nn_rng_below(&r, 400);   /* header, CONF, STAT */
        bad[at] ^= (uint8_t)(1u << nn_rng_below(&r, 8));
        if (srv_ckpt_parse(bad, len, SRV_CKPT_SKIP_CRC, &ck, err, sizeof err) == SRV_CKPT_OK) {
            ok++;
            CHECK(ck.g_count == gan_gparam_count(&ck.model));
            srv_ckpt_free(&ck);
        }
    }
    CHECKF(ok < 300, "every flip in the header sections passed validation (%d)", ok);
    free(bad);
    free(buf);
    free_run(&a, sa);
}

TEST(checkpoint_falls_back_to_older_and_rotates) {
    srv_trainer a, b;
    srv_state *sa, *sb;
    char dir[256], path[1024], err[512], found[1024];
    size_t bytes;
    if (make_run(&a, &sa, 6, 32) < 0 || make_run(&b, &sb, 7, 32) < 0 || !make_tmpdir(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    for (int i = 0; i < 4; i++) {                 /* keep 2: iterations 3 and 4 stay */
        run_iters(&a, sa, 1);
        CHECK(srv_ckpt_save(dir, 2, &a, sa, path, sizeof path, &bytes, err, sizeof err) == 0);
    }
    char **names;
    int n = srv_ckpt_list(dir, &names);
    CHECKF(n == 2 && !strcmp(names[0], "ckpt-000000004.bin") && !strcmp(names[1], "ckpt-000000003.bin"),
           "%d files, first %s", n, n > 0 ? names[0] : "-");
    srv_ckpt_names_free(names, n);
    /* damage the newest on disk: the search names it and takes iteration 3 */
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (f) { fseek(f, 3000, SEEK_SET); fputc(0x5a, f); fclose(f); }
    FILE *log = tmpfile();
    srv_ckpt ck;
    CHECK(srv_ckpt_find(dir, &b.cfg, b.data.n, &ck, found, sizeof found, log, err, sizeof err) == 1);
    CHECK(ck.iteration == 3 && strstr(found, "ckpt-000000003.bin") != NULL);
    srv_ckpt_free(&ck);
    char text[1024] = "";
    if (log) { rewind(log); size_t got = fread(text, 1, sizeof text - 1, log); text[got] = '\0'; fclose(log); }
    CHECKF(strstr(text, "ckpt-000000004.bin is damaged (checksum mismatch") != NULL, "%s", text);
    free_run(&a, sa);
    free_run(&b, sb);
    rm_rf(dir);
}

TEST(checkpoint_failed_save_reports_and_keeps_older) {
    srv_trainer a;
    srv_state *sa;
    char dir[256], path[1024], err[512] = "", tmp[1100], found[1024];
    size_t bytes;
    if (make_run(&a, &sa, 8, 32) < 0 || !make_tmpdir(dir, sizeof dir)) { CHECK(0); return; }
    run_iters(&a, sa, 2);
    CHECK(srv_ckpt_save(dir, 3, &a, sa, path, sizeof path, &bytes, err, sizeof err) == 0);
    run_iters(&a, sa, 1);
    /* the temporary file cannot be created (works as root too) */
    snprintf(tmp, sizeof tmp, "%s/.ckpt-000000003.bin.tmp", dir);
    CHECK(mkdir(tmp, 0755) == 0);
    CHECK(srv_ckpt_save(dir, 3, &a, sa, path, sizeof path, &bytes, err, sizeof err) == -1);
    CHECKF(strstr(err, "cannot create") && strstr(err, "Is a directory"), "%s", err);
    rmdir(tmp);
    srv_ckpt ck;
    CHECK(srv_ckpt_find(dir, &a.cfg, a.data.n, &ck, found, sizeof found, NULL, err, sizeof err) == 1);
    CHECK(ck.iteration == 2);
    srv_ckpt_free(&ck);
    /* a run directory that cannot exist */
    snprintf(tmp, sizeof tmp, "%s/ckpt-000000002.bin/sub", dir);
    CHECK(srv_ckpt_save(tmp, 3, &a, sa, path, sizeof path, &bytes, err, sizeof err) == -1);
    CHECKF(strstr(err, "Not a directory") != NULL, "%s", err);
    /* never save a poisoned model */
    float keep = a.model->d_v_mem[5];
    a.model->d_v_mem[5] = NAN;
    CHECK(srv_ckpt_save(dir, 3, &a, sa, path, sizeof path, &bytes, err, sizeof err) == -1);
    CHECKF(strstr(err, "NaN or Inf") != NULL, "%s", err);
    a.model->d_v_mem[5] = keep;
    char **names;
    int n = srv_ckpt_list(dir, &names);
    CHECK(n == 1 && !strcmp(names[0], "ckpt-000000002.bin"));
    srv_ckpt_names_free(names, n);
    free_run(&a, sa);
    rm_rf(dir);
}

/* The recipe of version 3 (G EMA, hinge loss, label smoothing, lr schedule)
 * round-trips: the loaded run has the file's recipe and its G EMA, and trains
 * on bit for bit with the run that never stopped. The recipe comes from the
 * file, not from the resuming run's settings; such a model is never written
 * in an older format, and a classic one written as version 2 still loads. */
TEST(checkpoint_round_trip_recipe_and_ema) {
    srv_trainer a, b;
    srv_state *sa, *sb;
    char dir[256], path[1024], err[512], found[1024];
    size_t bytes, len;
    if (make_run(&a, &sa, 21, 32) < 0 || make_run(&b, &sb, 22, 32) < 0 || !make_tmpdir(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    gan_config *c = &a.model->cfg;
    c->ema = 0.9f; c->loss = GAN_LOSS_HINGE; c->real_label = 0.9f; c->lr_warmup = 3; c->lr_half_life = 50;
    a.cfg.model = *c;
    run_iters(&a, sa, 6);
    CHECK(memcmp(a.model->g_ema_mem, a.model->g_mem, a.model->g_count * sizeof(float)) != 0);
    CHECKF(srv_ckpt_save(dir, 3, &a, sa, path, sizeof path, &bytes, err, sizeof err) == 0, "%s", err);
    srv_ckpt ck;
    CHECKF(srv_ckpt_find(dir, &b.cfg, b.data.n, &ck, found, sizeof found, stderr, err, sizeof err) == 1,
           "%s", err);
    CHECK(ck.owned[8] == SRV_CKPT_VERSION && ck.g_ema != NULL && ck.model.ema == 0.9f && ck.model.loss == GAN_LOSS_HINGE &&
          ck.model.real_label == 0.9f && ck.model.lr_warmup == 3 && ck.model.lr_half_life == 50);
    srv_ckpt_apply_trainer(&ck, &b, 0);
    srv_ckpt_apply_state(&ck, sb);
    srv_ckpt_free(&ck);
    const gan_config *k = &b.model->cfg;
    CHECK(k->ema == 0.9f && k->loss == GAN_LOSS_HINGE && k->real_label == 0.9f && k->lr_warmup == 3 &&
          k->lr_half_life == 50);
    CHECK(same_model(&a, &b));
    CHECK(gan_sample_gparams(b.model) == b.model->g_ema_mem);
    run_iters(&a, sa, 4);
    run_iters(&b, sb, 4);
    CHECK(same_model(&a, &b) && memcmp(&a.last, &b.last, sizeof a.last) == 0);
    CHECK(ckpt_test_serialize(&a, sa, 2, &len) == NULL);      /* not as version 2 */
    /* a classic model as version 2 (as ganlive wrote them before) loads as classic */
    free_run(&b, sb);
    free_run(&a, sa);
    if (make_run(&a, &sa, 23, 32) < 0) { CHECK(0); rm_rf(dir); return; }
    run_iters(&a, sa, 3);
    uint8_t *v2 = ckpt_test_serialize(&a, sa, 2, &len);
    CHECK(v2 && v2[8] == 2);
    CHECK(v2 && srv_ckpt_parse(v2, len, 0, &ck, err, sizeof err) == SRV_CKPT_OK);
    if (v2) {
        CHECK(ck.g_ema == NULL && ck.model.ema == 0.0f && ck.model.loss == GAN_LOSS_BCE &&
              ck.model.real_label == 1.0f && ck.model.lr_warmup == 0 && ck.model.lr_half_life == 0);
        srv_ckpt_free(&ck);
    }
    free(v2);
    free_run(&a, sa);
    rm_rf(dir);
}

/* Spectral normalisation (version 4): D's power-iteration vectors travel in
 * DBUF, so a resumed run trains on bit for bit with the one that never
 * stopped; such a model is never written as version 3, and a run without it
 * is told how to resume it. */
TEST(checkpoint_round_trip_spectral_norm) {
    srv_trainer a, b, plain;
    srv_state *sa, *sb, *sp;
    char dir[256], path[1024], err[512], found[1024];
    size_t bytes, len;
    if (make_run_sn(&a, &sa, 31, 32, 1) < 0 || make_run_sn(&b, &sb, 32, 32, 1) < 0 ||
        make_run(&plain, &sp, 33, 32) < 0 || !make_tmpdir(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    const gan_config *c = &a.model->cfg;
    CHECK(gan_dbuffer_count(c) > gan_dbuffer_count(&plain.model->cfg));
    const float u0 = a.model->d_buf.sn_u[1][0];
    run_iters(&a, sa, 5);
    CHECK(a.model->d_buf.sn_u[1][0] != u0);       /* the power iteration moved u */
    CHECKF(srv_ckpt_save(dir, 3, &a, sa, path, sizeof path, &bytes, err, sizeof err) == 0, "%s", err);
    srv_ckpt ck;
    CHECKF(srv_ckpt_find(dir, &b.cfg, b.data.n, &ck, found, sizeof found, stderr, err, sizeof err) == 1,
           "%s", err);
    CHECK(ck.owned[8] == SRV_CKPT_VERSION && ck.model.spectral_norm == 1);
    CHECK(srv_ckpt_check(&ck, &plain.cfg, plain.data.n, err, sizeof err) == SRV_CKPT_ARCH_MISMATCH);
    CHECKF(strstr(err, "unconditional spectral-norm batch") &&
           strstr(err, "to resume it, add --set model.spectral_norm=true"), "%s", err);
    srv_ckpt_apply_trainer(&ck, &b, 0);
    srv_ckpt_apply_state(&ck, sb);
    srv_ckpt_free(&ck);
    CHECK(same_model(&a, &b));
    run_iters(&a, sa, 4);
    run_iters(&b, sb, 4);
    CHECK(same_model(&a, &b) && memcmp(&a.last, &b.last, sizeof a.last) == 0);
    CHECK(ckpt_test_serialize(&a, sa, 3, &len) == NULL);      /* not as version 3 */
    uint8_t *v3 = ckpt_test_serialize(&plain, sp, 3, &len);     /* one without it still is */
    CHECK(v3 && v3[8] == 3 && srv_ckpt_parse(v3, len, 0, &ck, err, sizeof err) == SRV_CKPT_OK);
    if (v3) {
        CHECK(ck.model.spectral_norm == 0);
        srv_ckpt_free(&ck);
    }
    free(v3);
    free_run(&plain, sp);
    free_run(&b, sb);
    free_run(&a, sa);
    rm_rf(dir);
}

/* A version-1 file, as ganlive wrote them before `conditional` existed
 * (the writer's test hook, and the fuzz seeds the old writer made), still
 * resumes bit for bit as an unconditional run; the next save is the current version. */
TEST(checkpoint_reads_version_1) {
    srv_trainer a, b;
    srv_state *sa, *sb;
    char dir[256], path[1100], err[512], found[1024];
    size_t len, bytes;
    if (make_run(&a, &sa, 12, 32) < 0 || make_run(&b, &sb, 13, 32) < 0 || !make_tmpdir(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    run_iters(&a, sa, 7);
    uint8_t *v1 = ckpt_test_serialize(&a, sa, 1, &len);
    CHECK(v1 != NULL && v1[8] == 1);
    snprintf(path, sizeof path, "%s/ckpt-000000007.bin", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f && v1 && fwrite(v1, 1, len, f) == len);
    if (f) fclose(f);
    free(v1);
    srv_ckpt ck;
    CHECKF(srv_ckpt_find(dir, &b.cfg, b.data.n, &ck, found, sizeof found, stderr, err, sizeof err) == 1,
           "%s", err);
    CHECK(ck.model.conditional == 0 && ck.iteration == 7);
    srv_ckpt_apply_trainer(&ck, &b, 0);
    CHECK(srv_ckpt_apply_state(&ck, sb) == 0);
    srv_ckpt_free(&ck);
    CHECK(same_model(&a, &b) && memcmp(&a.rng, &b.rng, sizeof a.rng) == 0);
    CHECK(same_floats(a.fixed_noise, b.fixed_noise, (size_t)SRV_FIXED_N * 32));
    run_iters(&a, sa, 3);                                /* and trains on identically */
    run_iters(&b, sb, 3);
    CHECK(same_model(&a, &b) && b.iteration == 10);
    CHECK(srv_ckpt_save(dir, 3, &b, sb, path, sizeof path, &bytes, err, sizeof err) == 0);
    CHECK(srv_ckpt_load_file(path, &ck, err, sizeof err) == SRV_CKPT_OK && ck.owned[8] == SRV_CKPT_VERSION &&
          ck.model.conditional == 0 && ck.iteration == 10);
    srv_ckpt_free(&ck);
    /* the writer never writes a conditional model as version 1 */
    a.model->cfg.conditional = 1;
    CHECK(ckpt_test_serialize(&a, sa, 1, &len) == NULL);
    a.model->cfg.conditional = 0;
    static const char *seeds[] = {"fuzz/corpus/ckpt/tiny-iter3.bin", "fuzz/corpus/ckpt/tiny-iter7.bin",
                                  "fuzz/corpus/ckpt/tiny-timeline.bin"};
    for (int i = 0; i < 3; i++) {
        CHECKF(srv_ckpt_load_file(seeds[i], &ck, err, sizeof err) == SRV_CKPT_OK, "%s: %s", seeds[i], err);
        CHECK(ck.owned && ck.owned[8] == 1 && ck.model.conditional == 0);
        srv_ckpt_free(&ck);
    }
    free_run(&a, sa);
    free_run(&b, sb);
    rm_rf(dir);
}

/* Room for the conditional grid's SRV_FIXED_MAX rows of fixed noise (a no-op
 * once srv_trainer_init allocates them itself). 0 or -1. */
static int widen_fixed_noise(srv_trainer *t, float fill) {
    const size_t nz = (size_t)t->cfg.model.nz;
    float *p = realloc(t->fixed_noise, (size_t)SRV_FIXED_MAX * nz * sizeof *p);
    if (!p) return -1;
    t->fixed_noise = p;
    for (size_t i = (size_t)SRV_FIXED_N * nz; i < (size_t)SRV_FIXED_MAX * nz; i++)
        p[i] = fill + (float)i * 1e-3f;
    return 0;
}

/* A conditional model: CONF carries the flag, FIXN its 80 rows, the blocks
 * gan_gparam_count's sizes; an unconditional run refuses it. */
TEST(checkpoint_conditional_round_trip) {
    srv_config c;
    srv_trainer a, b, plain;
    srv_state *sp;
    char dir[256], path[1024], err[512], found[1024];
    size_t bytes;
    small_config(&c, 31);
    c.model.conditional = 1;
    if (srv_trainer_init(&a, &c, err, sizeof err) < 0) { CHECKF(0, "%s", err); return; }
    c.seed = 32;
    if (srv_trainer_init(&b, &c, err, sizeof err) < 0) { CHECKF(0, "%s", err); srv_trainer_free(&a); return; }
    if (widen_fixed_noise(&a, 1.0f) < 0 || widen_fixed_noise(&b, -1.0f) < 0 ||
        make_run(&plain, &sp, 31, 32) < 0 || !make_tmpdir(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    CHECK(srv_ckpt_save(dir, 3, &a, NULL, path, sizeof path, &bytes, err, sizeof err) == 0);
    srv_ckpt ck;
    CHECKF(srv_ckpt_find(dir, &b.cfg, b.data.n, &ck, found, sizeof found, stderr, err, sizeof err) == 1,
           "%s", err);
    CHECK(ck.owned[8] == SRV_CKPT_VERSION && ck.model.conditional == 1);
    CHECK(ck.g_count == a.model->g_count && ck.d_count == a.model->d_count);
    srv_ckpt_apply_trainer(&ck, &b, 0);
    srv_ckpt_free(&ck);
    CHECK(same_model(&a, &b));
    CHECK(same_floats(a.fixed_noise, b.fixed_noise, (size_t)SRV_FIXED_MAX * 32));
    err[0] = '\0';
    CHECK(srv_ckpt_find(dir, &plain.cfg, plain.data.n, &ck, found, sizeof found, NULL, err,
                        sizeof err) == -1);
    CHECKF(strstr(err, "tanh conditional") && strstr(err, "tanh unconditional"), "%s", err);
    /* `ganlive sample` of a conditional model: one column per digit over the
     * whole grid (it restarted the labels every 64 samples): the same grid
     * drawn here with labels i % 10 given outright, byte for byte */
    char got[1100], want[1100];
    snprintf(got, sizeof got, "%s/got.png", dir);
    snprintf(want, sizeof want, "%s/want.png", dir);
    CHECKF(srv_ckpt_sample(path, 100, 5, got, err, sizeof err) == 0, "%s", err);
    {
        const gan_config *mc = &a.model->cfg;
        float *z = malloc((size_t)100 * mc->nz * sizeof(float)), *img = malloc((size_t)100 * GAN_PIX * sizeof(float));
        uint8_t lab[100];
        gan_sampler *smp = gan_sampler_new(mc, 100);
        nn_rng r;
        nn_rng_seed(&r, 5);
        nn_rng_fill_normal(&r, z, (size_t)100 * mc->nz, 0.0f, 1.0f);
        for (int i = 0; i < 100; i++) lab[i] = (uint8_t)(i % GAN_CLASSES);
        float lo, hi;
        srv_output_range(mc, &lo, &hi);
        if (z && img && smp) {
            gan_sampler_generate(smp, gan_sample_gparams(a.model), gan_sample_gbuffers(a.model), z, lab, 100, img);
            CHECK(srv_grid_png_write(want, img, 100, 10, 1, lo, hi) == 0);
        }
        CHECK(z && img && smp);
        gan_sampler_free(smp);
        free(z); free(img);
        FILE *fg = fopen(got, "rb"), *fw = fopen(want, "rb");
        static unsigned char bg[1 << 20], bw[1 << 20];
        size_t ng = fg ? fread(bg, 1, sizeof bg, fg) : 0, nw = fw ? fread(bw, 1, sizeof bw, fw) : 0;
        if (fg) fclose(fg);
        if (fw) fclose(fw);
        CHECKF(ng > 0 && ng == nw && memcmp(bg, bw, ng) == 0,
               "sample --n 100 of a conditional model is not one column per digit (%zu vs %zu bytes)", ng, nw);
    }
    srv_trainer_free(&a);
    srv_trainer_free(&b);
    free_run(&plain, sp);
    rm_rf(dir);
}

/* ---- the tickets of srv_state -------------------------------------------- */

typedef struct { srv_state *s; int saves, restores; } fake_trainer;

static void *fake_loop(void *arg) {
    fake_trainer *f = arg;
    long it = 0;
    for (;;) {
        srv_config cfg;
        int changed;
        srv_action act = srv_state_boundary(f->s, &cfg, &changed);
        if (act == SRV_QUIT) break;
        if (act == SRV_SAVE) {
            f->saves++;
            srv_state_checkpoint_done(f->s, 0, 1, "runs/t/ckpt-x.bin", it, NULL);
            continue;
        }
        if (act == SRV_RESTORE) {
            f->restores++;
            srv_state_restore_done(f->s, f->restores == 1 ? -1 : 0, "no checkpoint to restore");
            continue;
        }
        it++;
        srv_state_publish(f->s, it, 0.0, NULL, NULL, NULL, NULL, NULL);
        if (it == 50) srv_state_set_diverged(f->s, it, "test");
        usleep(200);
    }
    return NULL;
}

TEST(checkpoint_state_tickets) {
    srv_config c;
    small_config(&c, 1);
    fake_trainer f = {srv_state_new(&c), 0, 0};
    pthread_t th;
    if (!f.s || pthread_create(&th, NULL, fake_loop, &f) != 0) { CHECK(0); return; }
    char path[256], err[256];
    long it = -1;
    CHECK(srv_state_checkpoint(f.s, path, sizeof path, &it, err, sizeof err) == 0);
    CHECK(strcmp(path, "runs/t/ckpt-x.bin") == 0 && it >= 0);
    srv_status st;
    srv_state_status(f.s, &st);
    CHECK(st.has_checkpoint && st.ckpt_iteration == it && st.ckpt_error[0] == '\0');
    long paused_at;
    srv_state_pause(f.s, &paused_at);
    CHECK(srv_state_checkpoint(f.s, path, sizeof path, &it, err, sizeof err) == 0);
    CHECK(it == paused_at);                              /* works while paused */
    srv_state_status(f.s, &st);
    CHECK(st.state == SRV_PAUSED);
    srv_state_resume(f.s, NULL);
    while (st.state != SRV_DIVERGED) { usleep(1000); srv_state_status(f.s, &st); }
    CHECK(srv_state_checkpoint(f.s, path, sizeof path, &it, err, sizeof err) == 409);
    CHECK(srv_state_resume(f.s, NULL) == SRV_DIVERGED);  /* first restore fails */
    srv_state_status(f.s, &st);
    CHECK(strcmp(st.restore_error, "no checkpoint to restore") == 0);
    CHECK(srv_state_resume(f.s, NULL) == SRV_RUNNING);   /* second one works */
    srv_state_status(f.s, &st);
    CHECK(st.state == SRV_RUNNING && st.restore_error[0] == '\0' && st.diverged_reason[0] == '\0');
    srv_state_quit(f.s);
    pthread_join(th, NULL);
    CHECK(f.saves == 2 && f.restores == 2);
    srv_state_free(f.s);
}
