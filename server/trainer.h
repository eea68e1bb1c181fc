/* trainer.h - one DCGAN training run: data, model, random stream, and the
 * iteration loop shared by `ganlive train` (headless) and `ganlive serve`
 * (a background thread that meets the HTTP side only through srv_state).
 */
#ifndef GANLIVE_TRAINER_H
#define GANLIVE_TRAINER_H

#include <signal.h>
#include "config.h"
#include "state.h"
#include "../nn/classifier.h"
#include "../nn/data.h"
#include "../nn/gan.h"

#define SRV_BALANCE_WINDOW_MAX 10000   /* config balance_window's upper bound */

typedef struct {
    srv_config cfg;
    gan_dataset data;
    gan_batcher batcher;
    gan_model *model;
    gan_sampler *sampler;    /* eval-mode grids (fixed noise, final PNG) */
    nn_rng rng;              /* data order and training noise */
    float *real;             /* [B][784] */
    float *noise;            /* [B][nz] */
    uint8_t *real_labels;    /* [B] dataset labels of the real batch */
    uint8_t *fake_labels;    /* [B] labels asked of G (conditional: uniform draws) */
    float *fixed_noise;      /* [SRV_FIXED_MAX][nz], drawn once from its own seed */
    float *grid;             /* [SRV_FIXED_MAX][784] eval-mode images */
    long iteration;          /* completed iterations */
    gan_metrics last;
    char data_dir[512];      /* where the data came from */
    /* balance (config balance "auto"): d_acc of the last iterations */
    float bal_window[SRV_BALANCE_WINDOW_MAX];
    int bal_len, bal_pos;
    int skipping;            /* 0, 'd' (D frozen) or 'g' (G frozen) */
    srv_balance_event bal_event;   /* the last decision, when bal_new */
    int bal_new;
    long poison_at;          /* TEST HOOK (GANLIVE_TEST_POISON_AT): iteration that
                                gets a NaN in its real batch, once; 0 = never */
    const char *poison_rest; /* TEST HOOK: the rest of the list, or NULL */
} srv_trainer;

#define SRV_FIXED_N 64
/* Progress grids: 8x8 digits, or for a conditional model 8 rows of one
 * column per class (label = index % GAN_CLASSES). */
#define SRV_FIXED_MAX (8 * GAN_CLASSES)
int srv_fixed_n(const gan_config *c);
int srv_fixed_cols(const gan_config *c);

/* The classifier file of a run: quality.classifier, or next to the data
 * (<dir>/classifier.bin for --data DIR, data/mnist/classifier.bin,
 * data/fashion-mnist-classifier.bin). */
void srv_classifier_path(const srv_config *cfg, char *out, size_t len);
/* Load it into a new eval-only model of the given batch: the model, or NULL
 * with the reason in err (missing, damaged, no memory). */
cls_model *srv_classifier_load(const srv_config *cfg, int batch, char *err, size_t errlen);
/* Resolve the data directory of cfg (dataset name or explicit dir). */
void srv_data_dir(const srv_config *cfg, char *out, size_t len);

/* Load data, build and initialise the model, set BLAS threads. 0, or -1 with
 * a message (exit status 2 material: missing data, bad config). */
int srv_trainer_init(srv_trainer *t, const srv_config *cfg, char *err, size_t errlen);
void srv_trainer_free(srv_trainer *t);
/* Take the live-tunable settings of cfg. */
void srv_trainer_apply_live(srv_trainer *t, const srv_config *cfg);
/* One iteration: d_steps D updates, then g_steps G updates. Returns 0, or -1
 * when a loss or gradient came out NaN/Inf; that update is not applied and
 * the iteration does not count (earlier steps of it may have been). */
int srv_trainer_iteration(srv_trainer *t);
/* 64 eval-mode samples of the fixed noise (or fresh noise) into t->grid. */
void srv_trainer_sample_grid(srv_trainer *t, int fresh);
/* Render the fixed-noise grid into the state's timeline (when due). */
void srv_trainer_publish_timeline(srv_trainer *t, srv_state *st);
/* Data range of the model's output: [-1, 1] (tanh) or [0, 1] (relu). */
void srv_output_range(const gan_config *c, float *lo, float *hi);
/* Generated images from the model's range to [0, 1] pixels (clamped) into
 * out (the nearest-neighbour search's scale), and in place to the
 * classifier's [-1, 1]. n values. */
void srv_images_to_unit(const gan_config *c, const float *images, float *out, size_t n);
void srv_images_to_classifier(const gan_config *c, float *images, size_t n);

/* The serve loop: runs until srv_state_quit. arg is {srv_trainer*, srv_state*}.
 * Writes checkpoints every cfg.checkpoint_every_s, on SRV_SAVE and on the
 * way out (unless diverged); restores the last good one on SRV_RESTORE. */
typedef struct { srv_trainer *trainer; srv_state *state; } srv_trainer_job;
void *srv_trainer_thread(void *job);

#endif
