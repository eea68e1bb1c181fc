/* checkpoint.h - ganlive checkpoints: the file format (checkpoint.c reads,
 * ckpt_write.c writes) and the run directory that holds them (ckptrun.c).
 *
 * One file per checkpoint holds everything needed to continue a run bit for
 * bit: architecture and recipe, G and D weights, BatchNorm running
 * statistics, both Adam states, the training RNG, the data order (epoch,
 * position, permutation), the fixed noise of the progress grids, iteration,
 * the metrics history and the timeline snapshots, with a CRC32 over it all.
 * Loading is two-phase: srv_ckpt_parse validates every byte of a buffer into
 * a srv_ckpt without touching any model, srv_ckpt_check compares it with the
 * run at hand, and only then do the srv_ckpt_apply_* functions copy it in.
 *
 * Run directory: runs/<name>/ckpt-<iteration, 9 digits>.bin, written through
 * a temporary file, fsync, rename and fsync of the directory; the newest
 * `keep` are kept. A lock file (flock) keeps two processes out of one run
 * directory.
 */
#ifndef GANLIVE_CHECKPOINT_H
#define GANLIVE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "history.h"
#include "state.h"
#include "trainer.h"

/* Version 2 added gan_config.conditional to CONF; version 3 the recipe's
 * G EMA, loss, real label and learning-rate schedule to CONF and the GEMA
 * section; version 4 spectral_norm to CONF (and its vectors to DBUF). Older files are still read (as the classic recipe; version 1 as
 * unconditional models). */
#define SRV_CKPT_VERSION 4
#define SRV_CKPT_VERSION_MIN 1
#define SRV_CKPT_MAX_BYTES ((size_t)1 << 34)   /* 16 GiB: larger files are refused */

/* Format constants shared by the reader and the writer. */
#define SRV_CKPT_TAG(a, b, c, d) \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define SRV_CKPT_MAGIC "GANLCKPT"             /* 8 bytes, no NUL in the file */
#define SRV_CKPT_HEADER_BYTES 24              /* magic, u32 version, u32 0, u64 length */
#define SRV_CKPT_POINT_BYTES 52               /* one history point on disk */

/* Why a checkpoint cannot be used. DAMAGED: fall back to an older file;
 * VERSION and ARCH: refuse (never load into the wrong shapes). */
typedef enum {
    SRV_CKPT_OK = 0,
    SRV_CKPT_DAMAGED = -1,
    SRV_CKPT_VERSION_MISMATCH = -2,
    SRV_CKPT_ARCH_MISMATCH = -3,
    SRV_CKPT_NOMEM = -4,
} srv_ckpt_result;

/* A parsed, fully validated checkpoint. The float blocks point into the
 * buffer given to srv_ckpt_parse (little-endian IEEE bytes, maybe unaligned),
 * which must outlive the srv_ckpt; history and timeline are owned copies. */
typedef struct {
    gan_config model;                 /* architecture and recipe */
    uint64_t seed;
    char dataset[16];
    int timeline_every;
    long iteration, g_t, d_t;
    nn_rng rng;
    long batch_epoch;                 /* batcher: completed epochs */
    int data_n, data_pos;             /* batcher: dataset size, position */
    const uint8_t *order;             /* data_n uint32 */
    const uint8_t *fixed_noise;       /* srv_fixed_n(&model) * nz floats */
    size_t g_count, d_count, gbuf_count, dbuf_count;
    const uint8_t *g, *g_buf, *g_m, *g_v, *d, *d_buf, *d_m, *d_v;
    const uint8_t *g_ema, *g_ema_buf;  /* the G EMA (GEMA), NULL when the recipe keeps none */
    srv_point *points;                /* owned */
    int npoints;
    srv_snapshot *timeline;           /* owned, with pixels */
    int ntimeline;
    long tl_mult;
    uint8_t *owned;                   /* file bytes when loaded from a file */
    size_t owned_len;
} srv_ckpt;

/* Flags of srv_ckpt_parse. SKIP_CRC is for fuzzers only, so they reach the
 * section parsers behind the checksum; never use it on real files. */
#define SRV_CKPT_SKIP_CRC 1u

/* Validate buf[0..len) and fill *ck. On failure returns the result code,
 * a message in err and leaves *ck empty (nothing to free). On success the
 * caller owns *ck (srv_ckpt_free) and keeps buf alive while using it. */
srv_ckpt_result srv_ckpt_parse(const uint8_t *buf, size_t len, unsigned flags, srv_ckpt *ck,
                               char *err, size_t errlen);
void srv_ckpt_free(srv_ckpt *ck);

/* Read and parse a file; *ck owns the bytes. Same results as parse (an
 * unreadable file is DAMAGED, with the errno text). */
srv_ckpt_result srv_ckpt_load_file(const char *path, srv_ckpt *ck, char *err, size_t errlen);
/* The same from an open file, read with pread from offset 0 (the fd's
 * position is neither used nor moved); ck->owned_len is the file size. */
srv_ckpt_result srv_ckpt_load_fd(int fd, srv_ckpt *ck, char *err, size_t errlen);

/* Can ck continue this run? Compares architecture (nz, ngf, ndf, g_output,
 * conditional, batch), dataset name and size. SRV_CKPT_OK or SRV_CKPT_ARCH_MISMATCH with
 * a message naming both values. */
srv_ckpt_result srv_ckpt_check(const srv_ckpt *ck, const srv_config *cfg, int data_n,
                               char *err, size_t errlen);

/* Copy a checked checkpoint into the trainer: weights, BN statistics, Adam,
 * RNG, data order, fixed noise, iteration, and recipe. keep_live: keep the
 * trainer's live settings (lr, betas, steps, timeline_every...) instead of
 * the checkpoint's (a restore after divergence keeps what the person set). */
void srv_ckpt_apply_trainer(const srv_ckpt *ck, srv_trainer *t, int keep_live);
/* Replace the state's history, timeline and counters. 0 or -1 (no memory). */
int srv_ckpt_apply_state(const srv_ckpt *ck, srv_state *st);

/* What goes into a checkpoint: the trainer plus the state's history and
 * timeline (copied out by the caller; may be empty). */
typedef struct {
    const srv_trainer *t;
    const srv_point *points;
    int npoints;
    const srv_snapshot *timeline;
    int ntimeline;
    long tl_mult;
    int version;             /* format to write: 0 = SRV_CKPT_VERSION; 1 is for
                                tests (old runs), and refuses conditional models */
} srv_ckpt_src;

/* ---- writing (ckpt_write.c) ------------------------------------------------ */

/* Stream the checkpoint into fd at its current position through a 64 KB
 * buffer, CRC32 computed on the way (the model is never copied whole). 0
 * with *len bytes written, or -1 with err naming `name` and the errno text
 * ("cannot write NAME: No space left on device") or "out of memory"; the
 * file then holds a partial checkpoint that the caller must remove. */
int srv_ckpt_write_fd(const srv_ckpt_src *src, int fd, const char *name, size_t *len,
                      char *err, size_t errlen);
/* The same bytes into *buf (malloc'd, caller frees) of *len bytes: tests and
 * tools. 0, or -1 with err (no memory). */
int srv_ckpt_serialize(const srv_ckpt_src *src, uint8_t **buf, size_t *len,
                       char *err, size_t errlen);
/* 1 when every weight, statistic and Adam value of the model is finite. */
int srv_ckpt_model_finite(const gan_model *m);

/* ---- run directory (ckptrun.c) ------------------------------------------- */

/* Create dir (and parents) and take its lock file for this process's life.
 * 0, or -1 with err (another ganlive holds it, or no permission). */
int srv_ckpt_lock_dir(const char *dir, char *err, size_t errlen);
/* Checkpoint file names of dir, newest (highest iteration) first. *names is
 * malloc'd, each entry too (srv_ckpt_names_free). Returns the count; 0 when
 * the directory is missing; -1 on no memory. */
int srv_ckpt_list(const char *dir, char ***names);
void srv_ckpt_names_free(char **names, int n);
/* mkdir -p: 0, or -1 with errno set (run and runs-root directories). */
int srv_mkdir_p(const char *dir);
/* Write t (and the history and timeline of st, when st != NULL) as
 * dir/ckpt-<iteration>.bin crash-safely, then keep only the newest `keep`.
 * Refuses a model with non-finite values. 0 with path, or -1 with err; on
 * failure the older files are untouched. *bytes gets the file size. */
int srv_ckpt_save(const char *dir, int keep, const srv_trainer *t, srv_state *st,
                  char *path, size_t pathlen, size_t *bytes, char *err, size_t errlen);
/* Find the newest checkpoint of dir that parses and fits cfg/data_n, naming
 * each damaged newer one and why on `log`. Returns 1 with *ck (caller frees)
 * and its path, 0 when there is none usable, -1 when the newest readable one
 * is of another architecture or format version (message in err). */
int srv_ckpt_find(const char *dir, const srv_config *cfg, int data_n, srv_ckpt *ck,
                  char *path, size_t pathlen, FILE *log, char *err, size_t errlen);
/* --fresh: move every checkpoint of dir into dir/old-<unix time>/ (nothing is
 * deleted). Returns how many moved, -1 with err on failure. */
int srv_ckpt_set_aside(const char *dir, char *moved_to, size_t len, char *err, size_t errlen);
/* Remove temporary files left by a crash in the middle of a save. */
void srv_ckpt_clean_tmp(const char *dir);

/* Trainer thread (and `ganlive train`): save now into t->cfg.run_dir, log
 * one line, report to st when not NULL (requested: it answers SRV_SAVE).
 * 0 or -1; training goes on either way. */
int srv_ckpt_save_run(srv_trainer *t, srv_state *st, int requested);
/* Trainer thread after SRV_RESTORE: reload the newest good checkpoint
 * keeping the live settings, publish it, and report to st. 0 or -1 (the
 * run stays diverged with restore_error set). */
int srv_ckpt_restore_run(srv_trainer *t, srv_state *st);
/* At start: take the run directory's lock, drop crash leftovers, then with
 * `fresh` set old checkpoints aside, else resume t from the newest usable one
 * (its live settings too) and print one line. *ck holds the checkpoint for
 * srv_ckpt_apply_state (caller frees; empty and path "" when starting anew).
 * 0, or -1 with err (locked, refused checkpoint): exit status 2. */
int srv_ckpt_startup(srv_trainer *t, int fresh, srv_ckpt *ck, char *path, size_t pathlen,
                     char *err, size_t errlen);
/* The generator a checkpoint's samples come from, as the dashboard draws
 * them (the G EMA when the run keeps one, else G), decoded into gp
 * [ck->g_count] and gb [ck->gbuf_count]. */
void srv_ckpt_sample_weights(const srv_ckpt *ck, float *gp, float *gb);
/* `ganlive sample`: n eval-mode samples of a checkpoint's generator from
 * noise of `seed`, as a PNG grid. 0, or an exit status with err: 2 for an
 * unusable checkpoint, 1 for no memory or an unwritable PNG. */
int srv_ckpt_sample(const char *file, int n, uint64_t seed, const char *out,
                    char *err, size_t errlen);

#endif
