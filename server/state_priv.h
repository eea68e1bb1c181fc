/* state_priv.h - the inside of struct srv_state, shared by state.c (run
 * control, figures, timeline) and state_ckpt.c (checkpoint tickets, copies
 * and restores). Nothing else includes it; see state.h for the contract and
 * state.c for the design note.
 */
#ifndef GANLIVE_STATE_PRIV_H
#define GANLIVE_STATE_PRIV_H

#include <pthread.h>
#include "state.h"

#define RATE_SAMPLES 64        /* ring of (time, images) samples */
#define RATE_SPACING_S 0.1     /* at most one sample per this much time */
#define RATE_WINDOW_S 5.0      /* images_per_sec over the last this many seconds */

typedef struct {
    long iteration;
    int width, height;
    uint8_t *pixels;
    long uid;                    /* unique in this process and unlikely in any other */
    unsigned char *png;          /* encoded on first request, then kept */
    size_t png_len;
} tl_snap;

typedef struct {
    double t;
    double images;
} rate_sample;

struct srv_state {
    pthread_mutex_t mu;
    pthread_cond_t trainer_cv, done_cv, seq_cv;

    srv_config cfg;              /* effective config (pending changes included) */
    int cfg_dirty;               /* cfg changed since the trainer last took it */
    double t0;                   /* monotonic start time */
    double time_base;            /* point times: t - t0 + time_base (restores) */

    /* run state */
    srv_run_state state;
    int parked;                  /* trainer sleeps in srv_state_boundary */
    int quitting;
    long step_requested, step_granted, step_completed;
    int in_step;                 /* the trainer is running a granted step */
    char diverged_reason[128];

    /* checkpoints: tickets, the answer to the last requested save, status */
    long ckpt_requested, ckpt_serving, ckpt_completed;
    int req_rc;
    long req_iteration;
    char req_path[512], req_err[256];
    long restore_requested, restore_completed;
    int have_ckpt;
    long ckpt_iteration;
    double ckpt_time;
    char ckpt_path[512], ckpt_error[256], restore_error[256];

    /* figures */
    long iteration;
    double epoch;
    long seq, state_seq;
    srv_history history;
    rate_sample rate[RATE_SAMPLES];
    int rate_head, rate_len;     /* head = index of the newest sample */
    double images_total, last_publish_t;
    long published;              /* publishes so far */

    /* the published generator */
    size_t gp_count, gb_count;
    float *gp_front, *gb_front;
    long gen_iteration;          /* -1 until the first publish */
    /* the published discriminator, copied in with the generator */
    size_t dp_count, db_count;
    float *dp_front, *db_front;
    long dis_iteration;          /* -1 until a D was published */

    float *fixed_z;              /* [fixed_n][nz] */
    int fixed_n;

    const gan_dataset *dataset;  /* training data, read-only; set once at start */

    /* quality passes: a ring of the newest SRV_QUALITY_MAX */
    srv_quality_info q_info;
    srv_quality_pass *q_ring;    /* [SRV_QUALITY_MAX], allocated on first pass */
    int q_head, q_len;           /* head = index of the oldest */

    /* balance decisions: ring of the newest SRV_BALANCE_EVENTS */
    srv_balance_event bal[SRV_BALANCE_EVENTS];
    int bal_head, bal_len;
    long bal_seq;                /* events recorded so far */
    int bal_skipping;            /* 0, 'd' or 'g' */

    srv_restart restart;         /* preset "" unless POST /api/run asked for a new run */

    tl_snap *timeline;
    long tl_uid_next;            /* the next snapshot's uid */
    int tl_len, tl_cap;
    long tl_mult;                /* effective interval = timeline_every * tl_mult */
};

/* Helpers of state.c. bump and timeline_thin: mutex held. */
void srv_state_bump(srv_state *s, int state_change);
void srv_state_timeline_thin(srv_state *s);
/* A snapshot of pixels (owned from now on) with a fresh uid; free one. */
tl_snap srv_state_tl_snap(srv_state *s, long iteration, int width, int height, uint8_t *pixels);
void srv_state_tl_free(tl_snap *t);
double srv_state_now(void);           /* monotonic seconds */

#endif
