/* trainer.h - one DCGAN training run: data, model, random stream, one
 * iteration and the progress grid. The loop around it, shared by `ganlive
 * train` and `ganlive serve`, is loop.h; what the rest of the server shares
 * about a run (grid sizes, pixel ranges, data and classifier paths) is run.h.
 */
#ifndef GANLIVE_TRAINER_H
#define GANLIVE_TRAINER_H

#include <signal.h>
#include "config.h"
#include "run.h"
#include "state.h"
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
} srv_trainer;

/* Load data, build and initialise the model, set BLAS threads. 0, or -1 with
 * a message (exit status 2 material: missing data, bad config). */
int srv_trainer_init(srv_trainer *t, const srv_config *cfg, char *err, size_t errlen);
void srv_trainer_free(srv_trainer *t);
/* Give the calling thread the run's layer threads (cfg.threads); the thread
 * that trains calls it when it is not the one that built t. */
void srv_trainer_use_threads(const srv_trainer *t);
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

#endif
