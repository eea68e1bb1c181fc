/* state.h - the one place where the trainer thread and the HTTP threads meet.
 *
 * The design is simple: the trainer owns the model and never shares it. At
 * each iteration boundary it calls srv_state_boundary(), which is where it
 * parks while paused, picks up config changes and step requests, and where
 * it publishes what the HTTP side may read: the new metrics point, a copy of
 * the generator's parameters and BatchNorm running statistics (so samples
 * always come from whole, never half-updated weights), counters, and now and
 * then a timeline grid. Everything here is guarded by one mutex; the HTTP
 * side only ever copies data out under it and does its heavy work (sampling,
 * PNG encoding, JSON) outside.
 *
 * Waiting: pause and step requests block the calling HTTP thread on a
 * condition variable until the trainer has done what was asked; SSE streams
 * wait on another for "something new" (srv_state_wait).
 */
#ifndef GANLIVE_STATE_H
#define GANLIVE_STATE_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "history.h"
#include "../nn/data.h"
#include "../nn/gan.h"

typedef enum { SRV_RUNNING = 0, SRV_PAUSED = 1, SRV_DIVERGED = 2 } srv_run_state;
const char *srv_run_state_name(srv_run_state s);

typedef struct srv_state srv_state;

/* A consistent copy of the small figures, for /api/status. */
typedef struct {
    srv_run_state state;
    long iteration;
    double epoch;
    double images_per_sec;       /* over the last few seconds of running */
    double uptime_s;
    long seq;                    /* bumps on every change (see srv_state_wait) */
    long state_seq;              /* bumps on pause/resume/step/config changes */
    char diverged_reason[128];
    /* checkpoints (see checkpoint.h) */
    int has_checkpoint;          /* last_checkpoint below is set */
    long ckpt_iteration;
    double ckpt_time;            /* unix seconds the file became durable */
    char ckpt_path[512];
    char ckpt_error[256];        /* "" unless the last save failed */
    char restore_error[256];     /* "" unless the last restore (resume) failed */
} srv_status;

/* One timeline snapshot copied out of or into the state (checkpoints). */
typedef struct {
    long iteration;
    int width, height;
    uint8_t *pixels;             /* width * height grey bytes, owned */
} srv_snapshot;

/* What the trainer must do after srv_state_boundary returns. */
/* SRV_SAVE: write a checkpoint now (POST /api/checkpoint), SRV_RESTORE:
 * reload the last good checkpoint (POST /api/resume while diverged); after
 * either the trainer reports with srv_state_checkpoint_done or
 * srv_state_restore_done and calls srv_state_boundary again. */
typedef enum { SRV_GO = 0, SRV_QUIT = 1, SRV_SAVE = 2, SRV_RESTORE = 3 } srv_action;

/* Create with the run's config (copied) and the sizes of the generator blocks.
 * Caller owns the result (srv_state_free). NULL on no memory. */
srv_state *srv_state_new(const srv_config *cfg);
void srv_state_free(srv_state *s);

/* ---- trainer side -------------------------------------------------------- */

/* Publish the iteration just finished: metrics point, copies of the
 * generator and discriminator (so both are always seen from the same
 * iteration), counters. gparams/gbuf as in gan_sampler_generate, dparams/
 * dbuf blocks of gan_dparam_count / gan_dbuffer_count floats; NULL pairs
 * leave the published copy as it was. */
void srv_state_publish(srv_state *s, long iteration, double epoch, const gan_metrics *m,
                       const float *gparams, const float *gbuf,
                       const float *dparams, const float *dbuf);
/* Store the fixed-noise grid of this iteration (grey pixels, width x height)
 * in the timeline if it is due; thins the timeline evenly when full. */
void srv_state_add_timeline(srv_state *s, long iteration, const uint8_t *pixels,
                            int width, int height);
/* Called between iterations. Blocks while paused with no step pending.
 * Copies the live config into *cfg when it changed (returns through *changed).
 * Returns SRV_QUIT once srv_state_quit was called. */
srv_action srv_state_boundary(srv_state *s, srv_config *cfg, int *changed);
/* Mark the run diverged (the trainer then waits at the boundary). */
void srv_state_set_diverged(srv_state *s, long iteration, const char *reason);

/* ---- HTTP side ----------------------------------------------------------- */

void srv_state_status(srv_state *s, srv_status *out);
/* Copy of the current config (the effective one, with pending live changes). */
void srv_state_config(srv_state *s, srv_config *out);
/* Validate and queue a flat JSON object of live settings; applied at the next
 * iteration boundary. 0 and *out = the new config, or -1 and err. */
int srv_state_patch_config(srv_state *s, const cJSON *patch, srv_config *out,
                           char *err, size_t errlen);

/* Pause / resume: return once the trainer is parked (pause) or released
 * (resume). Idempotent. *iteration is where it stands. Returns the state. */
srv_run_state srv_state_pause(srv_state *s, long *iteration);
srv_run_state srv_state_resume(srv_state *s, long *iteration);
/* Run exactly n iterations while paused and wait for them. Returns 0 on
 * success with *iteration, else at once one of these (409; 503 quitting):
 * not paused, another client's step still running (steps never queue
 * behind each other: a second one would wait unboundedly), the run is
 * diverged (only resume, which restores, gets it going), or quitting. */
enum { SRV_STEP_NOT_PAUSED = -1, SRV_STEP_BUSY = -2, SRV_STEP_DIVERGED = -3,
       SRV_STEP_QUITTING = -4 };
int srv_state_step(srv_state *s, int n, long *iteration);

/* Metrics points with iteration > since, oldest first, at most max.
 * Returns how many were copied into out; *current is the latest iteration. */
int srv_state_metrics(srv_state *s, long since, int max, srv_point *out, long *current);

/* Copy the latest published generator (blocks of gan_gparam_count and
 * gan_gbuffer_count floats). Returns the iteration it belongs to, or -1 if
 * nothing was published yet. Holds the mutex only for the copy. */
long srv_state_copy_generator(srv_state *s, float *gparams, float *gbuf);
/* The same for the discriminator published with it (-1 until one was). */
long srv_state_copy_discriminator(srv_state *s, float *dparams, float *dbuf);
/* The fixed noise of the run, [64][nz], set once by the trainer. */
void srv_state_set_fixed_noise(srv_state *s, const float *z, int n);
int srv_state_copy_fixed_noise(srv_state *s, float *z, int max);

/* The newest metrics point: 0 and *out, or -1 when the history is empty. */
int srv_state_latest_point(srv_state *s, srv_point *out);

/* The loaded training set, for read-only use by the HTTP side (real digits,
 * /api/real.png). The trainer thread sets it once when it starts, before its
 * first publish; it is NULL until then. The dataset is immutable after load
 * and outlives the HTTP server (serve stops the server before freeing the
 * trainer), so the const pointer is shared without copying: readers take it
 * under the mutex and then read the pixels freely. */
void srv_state_set_dataset(srv_state *s, const gan_dataset *d);
const gan_dataset *srv_state_dataset(srv_state *s);

/* Timeline: iterations kept, oldest first, with each snapshot's uid (uids
 * may be NULL; returns count, at most max), and a PNG of one (malloc'd,
 * caller frees; encoded once per snapshot) with its uid: 0, -1 when that
 * iteration is not kept, -2 on no memory. A uid never names two different
 * pictures (restores give new ones), so URLs carrying it are immutable. */
int srv_state_timeline_list(srv_state *s, long *iterations, long *uids, int max);
int srv_state_timeline_png(srv_state *s, long iteration, long *uid, unsigned char **png,
                           size_t *len);

/* Wait until seq moves past `seen` or timeout_ms passes. Returns the current
 * seq. Used by SSE streams. */
long srv_state_wait(srv_state *s, long seen, int timeout_ms);

/* ---- checkpoints (the file work is in checkpoint.c / ckptrun.c) -------- */

/* HTTP side: have the trainer write a checkpoint at its next boundary
 * (paused or running) and wait until it is durable. 0 with path and
 * *iteration; else the HTTP status to answer (409 diverged, 503 quitting,
 * 500 failed) with a message in err. */
int srv_state_checkpoint(srv_state *s, char *path, size_t pathlen, long *iteration,
                         char *err, size_t errlen);
/* Trainer side: a save is done (rc 0) or failed (err). `requested`: it
 * answered SRV_SAVE (wakes the waiters); periodic saves pass 0. Updates
 * last_checkpoint / checkpoint_error of the status either way. */
void srv_state_checkpoint_done(srv_state *s, int rc, int requested, const char *path,
                               long iteration, const char *err);
/* Trainer side, after SRV_RESTORE: rc 0 runs on (state running), else the
 * run stays diverged and msg becomes restore_error. */
void srv_state_restore_done(srv_state *s, int rc, const char *msg);
/* Copies for a checkpoint. History: *out malloc'd (caller frees), returns
 * the count or -1 on no memory. Timeline: *out malloc'd with owned pixels
 * (srv_snapshots_free), *tl_mult its thinning factor; count or -1. */
int srv_state_history_copy(srv_state *s, srv_point **out);
int srv_state_timeline_copy(srv_state *s, srv_snapshot **out, long *tl_mult);
void srv_snapshots_free(srv_snapshot *v, int n);
/* Replace history, timeline (copied; thinned when over timeline.max) and the
 * iteration counters with a checkpoint's. Point times continue from the last
 * restored point. 0, or -1 on no memory (state unchanged). */
int srv_state_restore(srv_state *s, long iteration, double epoch, const srv_point *pts,
                      int npts, const srv_snapshot *tl, int ntl, long tl_mult);
/* The checkpoint the run started from (or the latest save): path, iteration,
 * unix time. Shown as last_checkpoint. */
void srv_state_set_last_checkpoint(srv_state *s, const char *path, long iteration,
                                   double unix_time);

/* ---- quality passes (state_quality.c; written by the quality thread) ---- */

#define SRV_QUALITY_MAX 1024         /* passes kept (the newest) */
#define SRV_CLASS_MIN 0.02f          /* a class under this share: mode collapse */
#define SRV_CLASS_MAX 0.30f          /* ... or over this one */
#define SRV_NN_RATIO_MIN 0.6f        /* nearest-neighbour ratio under this: copying */

/* One pass over freshly generated samples (see quality_run.c). */
typedef struct {
    long iteration;
    double time_s;                   /* run time of the pass (like metrics points) */
    float confidence, inception_score, frechet, nn_ratio;
    float histogram[GAN_CLASSES];    /* share of samples per classified class */
    int mode_collapse, copying;      /* the thresholds above were crossed */
    int has_as_asked;                /* as_asked is known: a conditional model's pass made
                                      * here (0 when unconditional, or when restored from a
                                      * log that does not carry it) */
    float as_asked;                  /* share of samples read as the digit asked for */
} srv_quality_pass;

/* "Readable": the first pass at which >= quality.readable_as_asked (0.8) of
 * the samples are read as the digit asked for (conditional model), or
 * whose Inception-style score is >= quality.readable_score (7.0)
 * (unconditional). Kept by srv_state from the passes as they are added
 * (srv_state_add_quality), so passes read back from a run's log give the
 * same moment back; once reached it stays for the run. */
typedef struct {
    int conditional;                 /* metric: as_asked (1) or inception_score (0) */
    float threshold;                 /* the value the metric must reach */
    int reached;                     /* iteration and time_s below are set */
    long iteration;                  /* the first readable pass's iteration */
    double time_s;                   /* ... and run time */
    int has_best;                    /* best and best_iteration are set */
    float best;                      /* the metric's best value so far */
    long best_iteration;
} srv_quality_readable;

/* What the passes are measured against. */
typedef struct {
    int available;                   /* a classifier is loaded and passes run */
    char reason[320];                /* why not, when !available */
    int has_ceiling;                 /* real test digits scored */
    float confidence, inception_score, frechet, nn_ratio;   /* of real test digits */
    float test_median;               /* median NN distance test -> train */
    srv_quality_readable readable;   /* kept by srv_state (srv_state_quality_readable) */
} srv_quality_info;

/* Set the info (the thread's own copy; the readable figures in srv_state
 * are kept as they are). */
void srv_state_set_quality_info(srv_state *s, const srv_quality_info *info);
/* Add the newest pass; updates the readable moment (see above). */
void srv_state_add_quality(srv_state *s, const srv_quality_pass *p);
/* The readable moment and the best figure so far (see above). */
void srv_state_quality_readable(srv_state *s, srv_quality_readable *out);
/* Whether pass p is readable under r's metric and threshold. */
int srv_quality_pass_readable(const srv_quality_readable *r, const srv_quality_pass *p);
/* Copy the info and the newest passes (oldest first, at most max; out may
 * be NULL with max 0). Returns how many passes were copied. */
int srv_state_quality(srv_state *s, srv_quality_info *info, srv_quality_pass *out, int max);

/* ---- balance (written by the trainer) ----------------------------------- */

#define SRV_BALANCE_EVENTS 256       /* decisions kept (the newest) */
typedef enum { SRV_BAL_RESUME = 0, SRV_BAL_SKIP_D = 1, SRV_BAL_SKIP_G = 2 } srv_balance_action;
typedef struct {
    long iteration;
    srv_balance_action action;
    float d_acc;                     /* windowed accuracy that triggered it */
} srv_balance_event;
const char *srv_balance_action_name(srv_balance_action a);
/* Record a decision (wakes SSE streams); skipping: 0 none, 'd' or 'g'. */
void srv_state_add_balance(srv_state *s, const srv_balance_event *e, int skipping);
/* Copy the newest events (oldest first) and what is skipped now. */
int srv_state_balance(srv_state *s, srv_balance_event *out, int max, int *skipping);
/* Events with a sequence number > since (for SSE); *last gets the newest one. */
int srv_state_balance_since(srv_state *s, long since, srv_balance_event *out, int max, long *last);

/* ---- a new run (POST /api/run) ------------------------------------------ */

/* What a new run starts from: a preset, a name ("" = made from the preset
 * and the time) and settings that override the preset ("section.key=value"
 * each, checked by the settings table before they get here). */
#define SRV_RESTART_SETS 16
typedef struct {
    char preset[16];
    char name[72];
    int nsets;
    char sets[SRV_RESTART_SETS][96];
} srv_restart;

/* HTTP side: ask the main thread to end this run and start a new one. The
 * main thread polls srv_state_restart_wanted (1 and *r filled when asked). */
void srv_state_request_restart(srv_state *s, const srv_restart *r);
int srv_state_restart_wanted(srv_state *s, srv_restart *r);

/* Ask the trainer to end (wakes every waiter). */
void srv_state_quit(srv_state *s);
int srv_state_quitting(srv_state *s);

#endif
