/* ckptrun.c - checkpoints in the run directory: crash-safe writes, keep-N
 * rotation, finding the newest good one, and the glue the trainer and the
 * command line use (save now, resume at start, restore after divergence,
 * `ganlive sample`).
 *
 * The design is simple: a save streams the checkpoint (ckpt_write.c, a
 * 64 KB buffer, never the whole file in memory) into
 * ".ckpt-<iteration>.bin.tmp" in the run directory, fsyncs it, renames it
 * over "ckpt-<iteration>.bin" and fsyncs the directory, so after a crash at any moment the directory holds either the
 * old set of files or the old set plus the new one, never a torn file. Only
 * after that are files beyond the newest `keep` unlinked. Names carry the
 * iteration in 9+ digits and are ordered by its value, so "newest" is the
 * highest iteration. A failed save leaves the older files as they were.
 *
 * Loading goes newest first; a damaged file is named with its reason and the
 * next older one is tried; a file of another format version or architecture
 * stops the search (refused, never loaded into the wrong shapes).
 *
 * A lock file (flock, released by the kernel when the process dies, even by
 * kill -9) keeps a second ganlive out of a run directory in use.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "checkpoint.h"
#include "png.h"
#include "../nn/binio.h"

static double mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int srv_mkdir_p(const char *dir) {
    char p[1024];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) { errno = ENAMETOOLONG; return -1; }
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) return -1;
        *s = '/';
    }
    if (mkdir(p, 0755) < 0 && errno != EEXIST) return -1;
    return 0;
}

int srv_ckpt_lock_dir(const char *dir, char *err, size_t errlen) {
    char path[1024];
    if (srv_mkdir_p(dir) < 0) {
        snprintf(err, errlen, "cannot create run directory %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, errlen, "run directory %s is in use by another ganlive (%s is locked); "
                 "give this one another --run-dir", dir, path);
        close(fd);
        return -1;
    }
    return 0;   /* fd stays open: the lock lasts as long as the process */
}

/* Iteration of a checkpoint file name "ckpt-<digits>.bin", or -1. */
static long name_iteration(const char *name) {
    if (strncmp(name, "ckpt-", 5) != 0) return -1;
    const char *d = name + 5;
    size_t n = strspn(d, "0123456789");
    if (n < 1 || n > 15 || strcmp(d + n, ".bin") != 0) return -1;
    return strtol(d, NULL, 10);
}

static int by_iteration_desc(const void *a, const void *b) {
    long x = name_iteration(*(char *const *)a), y = name_iteration(*(char *const *)b);
    return x < y ? 1 : x > y ? -1 : 0;
}

void srv_ckpt_names_free(char **names, int n) {
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

int srv_ckpt_list(const char *dir, char ***names) {
    *names = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 0, rc = 0;
    char **v = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (name_iteration(e->d_name) < 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv) { rc = -1; break; }
            v = nv;
        }
        if (!(v[n] = strdup(e->d_name))) { rc = -1; break; }
        n++;
    }
    closedir(d);
    if (rc < 0) { srv_ckpt_names_free(v, n); return -1; }
    if (n) qsort(v, (size_t)n, sizeof *v, by_iteration_desc);
    *names = v;
    return n;
}

void srv_ckpt_clean_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, ".ckpt-", 6) == 0 && n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

/* The checkpoint streamed into the temporary file of nn_file_write_atomic. */
typedef struct { const srv_ckpt_src *src; const char *tmp; size_t len; } ckpt_sink;

static int write_checkpoint(int fd, void *ctx, char *err, size_t errlen) {
    ckpt_sink *k = ctx;
    return srv_ckpt_write_fd(k->src, fd, k->tmp, &k->len, err, errlen);
}

int srv_ckpt_save(const char *dir, int keep, const srv_trainer *t, srv_state *st,
                  char *path, size_t pathlen, size_t *bytes, char *err, size_t errlen) {
    srv_point *pts = NULL;
    srv_snapshot *tl = NULL;
    int npts = 0, ntl = 0, rc = -1;
    long mult = 1;
    char tmp[1100];
    *bytes = 0;
    if (!dir[0]) { snprintf(err, errlen, "checkpoints are off (run.dir is empty)"); return -1; }
    if (!srv_ckpt_model_finite(t->model)) {
        snprintf(err, errlen, "the model holds NaN or Inf values at iteration %ld; not saved",
                 t->iteration);
        return -1;
    }
    if (st && ((npts = srv_state_history_copy(st, &pts)) < 0 ||
               (ntl = srv_state_timeline_copy(st, &tl, &mult)) < 0)) {
        snprintf(err, errlen, "out of memory copying history and timeline");
        goto done;
    }
    srv_ckpt_src src = {t, pts, npts, tl, ntl, mult, 0};
    if (srv_mkdir_p(dir) < 0) {
        snprintf(err, errlen, "cannot create run directory %s: %s", dir, strerror(errno));
        goto done;
    }
    snprintf(path, pathlen, "%s/ckpt-%09ld.bin", dir, t->iteration);
    snprintf(tmp, sizeof tmp, "%s/.ckpt-%09ld.bin.tmp", dir, t->iteration);
    /* tmp -> fsync -> rename -> fsync(dir): binio.h; tmp never left behind */
    ckpt_sink sink = {&src, tmp, 0};
    if (nn_file_write_atomic(path, tmp, write_checkpoint, &sink, err, errlen) < 0) goto done;
    *bytes = sink.len;
    rc = 0;
    char **names;                                  /* rotation: only after success */
    int n = srv_ckpt_list(dir, &names);
    for (int i = keep > 0 ? keep : 1; i < n; i++) {
        char old[1100];
        snprintf(old, sizeof old, "%s/%s", dir, names[i]);
        unlink(old);
    }
    srv_ckpt_names_free(names, n > 0 ? n : 0);
done:
    if (rc < 0) *bytes = 0;
    free(pts);
    srv_snapshots_free(tl, ntl > 0 ? ntl : 0);
    return rc;
}

int srv_ckpt_find(const char *dir, const srv_config *cfg, int data_n, srv_ckpt *ck,
                  char *path, size_t pathlen, FILE *log, char *err, size_t errlen) {
    char **names;
    int n = srv_ckpt_list(dir, &names), found = 0;
    memset(ck, 0, sizeof *ck);
    if (n < 0) { snprintf(err, errlen, "out of memory listing %s", dir); return -1; }
    for (int i = 0; i < n && !found; i++) {
        char why[400];
        snprintf(path, pathlen, "%s/%s", dir, names[i]);
        srv_ckpt_result r = srv_ckpt_load_file(path, ck, why, sizeof why);
        if (r == SRV_CKPT_OK && (r = srv_ckpt_check(ck, cfg, data_n, why, sizeof why)) != SRV_CKPT_OK)
            srv_ckpt_free(ck);
        if (r == SRV_CKPT_OK) {
            found = 1;
        } else if (r == SRV_CKPT_VERSION_MISMATCH || r == SRV_CKPT_ARCH_MISMATCH) {
            snprintf(err, errlen, "%s: %s (refused; use another --run-dir, or --fresh to set the "
                     "old checkpoints aside)", path, why);
            found = -1;
        } else if (log) {
            fprintf(log, "ganlive: %s is damaged (%s); trying an older checkpoint\n", path, why);
        }
    }
    srv_ckpt_names_free(names, n);
    return found;
}

int srv_ckpt_set_aside(const char *dir, char *moved_to, size_t len, char *err, size_t errlen) {
    char **names;
    int n = srv_ckpt_list(dir, &names), rc = n;
    if (n <= 0) return n;
    snprintf(moved_to, len, "%s/old-%ld", dir, (long)time(NULL));
    if (mkdir(moved_to, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", moved_to, strerror(errno));
        rc = -1;
    }
    for (int i = 0; i < n && rc >= 0; i++) {
        char from[1100], to[1100];
        snprintf(from, sizeof from, "%s/%s", dir, names[i]);
        snprintf(to, sizeof to, "%s/%s", moved_to, names[i]);
        if (rename(from, to) < 0) {
            snprintf(err, errlen, "cannot move %s to %s: %s", from, to, strerror(errno));
            rc = -1;
        }
    }
    if (rc >= 0) { nn_fsync_dir(moved_to); nn_fsync_dir(dir); }
    srv_ckpt_names_free(names, n);
    return rc;
}

/* ---- glue for the trainer and the command line ---------------------------- */

int srv_ckpt_save_run(srv_trainer *t, srv_state *st, int requested) {
    char path[1024], err[512];
    size_t bytes = 0;
    double t0 = mono_ms();
    int rc = srv_ckpt_save(t->cfg.run_dir, t->cfg.checkpoint_keep, t, st, path, sizeof path,
                           &bytes, err, sizeof err);
    if (rc == 0) {
        printf("ganlive: checkpoint %s (iteration %ld, %.1f MB, %.0f ms)\n", path, t->iteration,
               (double)bytes / 1e6, mono_ms() - t0);
        fflush(stdout);
    } else {
        fprintf(stderr, "ganlive: checkpoint at iteration %ld failed: %s; training goes on\n",
                t->iteration, err);
    }
    if (st) srv_state_checkpoint_done(st, rc, requested, path, t->iteration, err);
    return rc;
}

int srv_ckpt_restore_run(srv_trainer *t, srv_state *st) {
    srv_ckpt ck;
    char path[1024], err[1200] = "";
    int found = t->cfg.run_dir[0]
                    ? srv_ckpt_find(t->cfg.run_dir, &t->cfg, t->data.n, &ck, path, sizeof path,
                                    stderr, err, sizeof err)
                    : 0;
    if (found == 0)
        snprintf(err, sizeof err, "no checkpoint to restore in %s; restart ganlive with --fresh "
                 "to start over", t->cfg.run_dir[0] ? t->cfg.run_dir : "(checkpoints are off)");
    if (found == 1 && srv_ckpt_apply_state(&ck, st) < 0) {
        snprintf(err, sizeof err, "out of memory restoring %s", path);
        srv_ckpt_free(&ck);
        found = -1;
    }
    if (found != 1) {
        fprintf(stderr, "ganlive: cannot resume: %s\n", err);
        srv_state_restore_done(st, -1, err);
        return -1;
    }
    srv_ckpt_apply_trainer(&ck, t, 1);
    srv_ckpt_free(&ck);
    srv_state_publish(st, t->iteration, gan_batcher_epoch(&t->batcher), NULL,
                      gan_sample_gparams(t->model), gan_sample_gbuffers(t->model), t->model->d_mem,
                      t->model->d_buf_mem);
    printf("ganlive: restored %s at iteration %ld after divergence\n", path, t->iteration);
    fflush(stdout);
    srv_state_restore_done(st, 0, NULL);
    return 0;
}

int srv_ckpt_startup(srv_trainer *t, int fresh, srv_ckpt *ck, char *path, size_t pathlen,
                     char *err, size_t errlen) {
    const char *dir = t->cfg.run_dir;
    memset(ck, 0, sizeof *ck);
    path[0] = '\0';
    if (!dir[0]) return 0;
    if (srv_ckpt_lock_dir(dir, err, errlen) < 0) return -1;
    srv_ckpt_clean_tmp(dir);
    if (fresh) {
        char moved[1100];
        int n = srv_ckpt_set_aside(dir, moved, sizeof moved, err, errlen);
        if (n < 0) return -1;
        if (n > 0) printf("ganlive: --fresh: moved %d old checkpoint%s to %s\n", n,
                          n == 1 ? "" : "s", moved);
        return 0;
    }
    int found = srv_ckpt_find(dir, &t->cfg, t->data.n, ck, path, pathlen, stderr, err, errlen);
    if (found < 0) return -1;
    if (found == 0) { path[0] = '\0'; return 0; }
    srv_ckpt_apply_trainer(ck, t, 0);
    printf("ganlive: resumed from %s at iteration %ld\n", path, t->iteration);
    fflush(stdout);
    return 0;
}

void srv_ckpt_sample_weights(const srv_ckpt *ck, float *gp, float *gb) {
    nn_get_f32s(gp, ck->g_ema ? ck->g_ema : ck->g, ck->g_count);
    nn_get_f32s(gb, ck->g_ema ? ck->g_ema_buf : ck->g_buf, ck->gbuf_count);
}

int srv_ckpt_sample(const char *file, int n, uint64_t seed, const char *out,
                    char *err, size_t errlen) {
    srv_ckpt ck;
    char why[400];
    if (srv_ckpt_load_file(file, &ck, why, sizeof why) != SRV_CKPT_OK) {
        snprintf(err, errlen, "%s: %s", file, why);
        return 2;
    }
    const gan_config *c = &ck.model;
    const int chunk = 64;
    int rc = 1;
    float *gp = malloc(ck.g_count * sizeof(float));
    float *gb = malloc((ck.gbuf_count + 1) * sizeof(float));
    float *z = malloc((size_t)n * (size_t)c->nz * sizeof(float));
    float *img = malloc((size_t)n * GAN_PIX * sizeof(float));
    gan_sampler *s = gan_sampler_new(c, chunk);
    if (!gp || !gb || !z || !img || !s) { snprintf(err, errlen, "out of memory"); goto done; }
    srv_ckpt_sample_weights(&ck, gp, gb);
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    nn_rng_fill_normal(&rng, z, (size_t)n * (size_t)c->nz, 0.0f, 1.0f);
    /* one call: it works in chunks itself, and a conditional model's labels
     * run i % 10 over the whole grid, so each column is one digit */
    gan_sampler_generate(s, gp, gb, z, NULL, n, img);
    int cols = 1;
    while (cols * cols < n) cols++;
    float lo, hi;
    srv_output_range(c, &lo, &hi);
    if (srv_grid_png_write(out, img, n, cols, 1, lo, hi) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", out, strerror(errno));
        goto done;
    }
    printf("wrote %s (%d samples of %s, iteration %ld)\n", out, n, file, ck.iteration);
    rc = 0;
done:
    gan_sampler_free(s);
    free(gp); free(gb); free(z); free(img);
    srv_ckpt_free(&ck);
    return rc;
}
