/* state.c - the meeting point of the trainer thread and the HTTP threads.
 *
 * The design is simple: one mutex guards everything in struct srv_state, and
 * three condition variables carry the waiting:
 *
 *   trainer_cv  the trainer sleeps on it inside srv_state_boundary while the
 *               run is paused (with no step budget) or diverged;
 *   done_cv     HTTP threads sleep on it until the trainer has done what they
 *               asked: parked (pause), left the boundary (resume), or come
 *               back from the iterations they requested (step);
 *   seq_cv      SSE streams sleep on it until `seq` moves (srv_state_wait).
 *
 * `state` is the requested run state. Pause sets it and waits for `parked`;
 * resume clears it and waits until the trainer has left the boundary. Steps
 * are tickets: a step of n adds n to `step_requested` and waits until
 * `step_completed` reaches that total; the trainer grants one iteration at a
 * time (`step_granted`) and counts it completed when it is back at the
 * boundary. One step at a time: while one is unfinished another is refused
 * at once (409), never queued behind it. Resume and divergence cancel
 * budget not yet granted.
 *
 * Config patches are validated with srv_config_apply_live_json into a copy,
 * which becomes the effective config at once (what GET /api/config shows)
 * and is handed to the trainer at its next boundary (`cfg_dirty`).
 *
 * The generator and discriminator have one published copy each, written by
 * the trainer and read by the others under the lock. A publish holds the
 * mutex for the copy, about a millisecond for the default model's 7.7 MB
 * (0.4% of an iteration); a second, double buffer would make that
 * microseconds but costs 7.7 MB of the 250 MB a server may use.
 *
 * Checkpoints are tickets too: POST /api/checkpoint adds one to
 * `ckpt_requested` and waits on done_cv; the boundary hands the trainer
 * SRV_SAVE (even while parked), and one save answers every ticket taken
 * before it started (`ckpt_serving`). POST /api/resume of a diverged run
 * takes a restore ticket the same way (SRV_RESTORE); the trainer reloads the
 * last good checkpoint and srv_state_restore_done sets the run going again.
 *
 * The timeline keeps raw grey grids (PNG encoding happens on request). It is
 * due every `timeline_every * timeline_mult` iterations; when full, every
 * other snapshot is dropped (the first one stays) and timeline_mult doubles,
 * so the kept snapshots stay evenly spaced over the whole run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "png.h"
#include "state.h"
#include "state_priv.h"

double srv_state_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *srv_run_state_name(srv_run_state s) {
    switch (s) {
    case SRV_RUNNING: return "running";
    case SRV_PAUSED: return "paused";
    case SRV_DIVERGED: return "diverged";
    }
    return "unknown";
}

/* Something changed: wake SSE waiters. Call with the mutex held. */
void srv_state_bump(srv_state *s, int state_change) {
    s->seq++;
    if (state_change) s->state_seq++;
    pthread_cond_broadcast(&s->seq_cv);
}

srv_state *srv_state_new(const srv_config *cfg) {
    srv_state *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cfg = *cfg;
    s->t0 = srv_state_now();
    s->gen_iteration = -1;
    s->tl_mult = 1;
    /* snapshot uids start at a random multiple of 2^20 below 2^52, so a URL
     * naming one (immutable in browsers' caches) never names another run's */
    s->tl_uid_next = (long)((((uint64_t)time(NULL) * 2654435761u) ^ ((uint64_t)getpid() << 16)) %
                            (1ULL << 32)) << 20;
    s->tl_cap = cfg->timeline_max > 0 ? cfg->timeline_max : 1;
    s->gp_count = gan_gparam_count(&cfg->model);
    s->gb_count = gan_gbuffer_count(&cfg->model);
    s->gp_front = malloc(s->gp_count * sizeof(float));
    s->gb_front = malloc((s->gb_count ? s->gb_count : 1) * sizeof(float));
    s->dis_iteration = -1;
    s->dp_count = gan_dparam_count(&cfg->model);
    s->db_count = gan_dbuffer_count(&cfg->model);
    s->dp_front = malloc(s->dp_count * sizeof(float));
    s->db_front = malloc((s->db_count ? s->db_count : 1) * sizeof(float));
    s->timeline = calloc((size_t)s->tl_cap, sizeof *s->timeline);
    int hist = srv_history_init(&s->history, cfg->history_max_points);

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->trainer_cv, &ca);
    pthread_cond_init(&s->done_cv, &ca);
    pthread_cond_init(&s->seq_cv, &ca);
    pthread_condattr_destroy(&ca);

    if (!s->gp_front || !s->gb_front || !s->dp_front || !s->db_front || !s->timeline ||
        hist != 0) {
        srv_state_free(s);
        return NULL;
    }
    return s;
}

void srv_state_free(srv_state *s) {
    if (!s) return;
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->trainer_cv);
    pthread_cond_destroy(&s->done_cv);
    pthread_cond_destroy(&s->seq_cv);
    srv_history_free(&s->history);
    free(s->gp_front);
    free(s->gb_front);
    free(s->dp_front); free(s->db_front);
    free(s->q_ring);
    free(s->fixed_z);
    for (int i = 0; i < s->tl_len; i++) srv_state_tl_free(&s->timeline[i]);
    free(s->timeline);
    free(s);
}

/* ---- trainer side -------------------------------------------------------- */

/* Note a publish for the throughput figure. Mutex held. */
static void rate_add(srv_state *s, double t) {
    s->last_publish_t = t;
    if (s->rate_len == 0 || t - s->rate[s->rate_head].t >= RATE_SPACING_S) {
        s->rate_head = (s->rate_head + 1) % RATE_SAMPLES;
        s->rate[s->rate_head] = (rate_sample){t, s->images_total};
        if (s->rate_len < RATE_SAMPLES) s->rate_len++;
    }
}

/* Images per second over the last RATE_WINDOW_S of wall time: images
 * published since the oldest sample inside the window, over the time from
 * that sample to the latest publish. 0 when idle (paused). Mutex held. */
static double rate_get(const srv_state *s, double now) {
    if (s->rate_len == 0 || now - s->last_publish_t > RATE_WINDOW_S) return 0.0;
    const rate_sample *oldest = NULL;
    for (int k = 0; k < s->rate_len; k++) {
        const rate_sample *r = &s->rate[(s->rate_head + RATE_SAMPLES - k) % RATE_SAMPLES];
        if (now - r->t > RATE_WINDOW_S) break;
        oldest = r;
    }
    if (!oldest) return 0.0;
    double dt = s->last_publish_t - oldest->t;
    if (dt < 0.05) return 0.0;
    return (s->images_total - oldest->images) / dt;
}

void srv_state_publish(srv_state *s, long iteration, double epoch, const gan_metrics *m,
                       const float *gparams, const float *gbuf,
                       const float *dparams, const float *dbuf) {
    int have_gen = gparams && gbuf;
    double t = srv_state_now();
    pthread_mutex_lock(&s->mu);
    if (have_gen) {
        memcpy(s->gp_front, gparams, s->gp_count * sizeof(float));
        memcpy(s->gb_front, gbuf, s->gb_count * sizeof(float));
        s->gen_iteration = iteration;
    }
    if (dparams && dbuf) {
        memcpy(s->dp_front, dparams, s->dp_count * sizeof(float));
        memcpy(s->db_front, dbuf, s->db_count * sizeof(float));
        s->dis_iteration = iteration;
    }
    long done = s->published ? iteration - s->iteration : 0;
    if (done < 0) done = 0;
    s->published++;
    s->images_total += (double)done * (double)s->cfg.model.batch;
    s->iteration = iteration;
    s->epoch = epoch;
    if (m) {
        srv_point p = {.iteration = iteration, .count = 1, .time_s = t - s->t0 + s->time_base,
                       .m = *m};
        srv_history_append(&s->history, &p);
    }
    rate_add(s, t);
    srv_state_bump(s, 0);
    pthread_mutex_unlock(&s->mu);
}

/* Drop every other snapshot, keeping the first. Mutex held. */
void srv_state_timeline_thin(srv_state *s) {
    int out = 0;
    for (int i = 0; i < s->tl_len; i++) {
        if (i % 2 == 0) s->timeline[out++] = s->timeline[i];
        else srv_state_tl_free(&s->timeline[i]);
    }
    s->tl_len = out;
    s->tl_mult *= 2;
}

void srv_state_add_timeline(srv_state *s, long iteration, const uint8_t *pixels,
                            int width, int height) {
    if (width <= 0 || height <= 0) return;
    size_t bytes = (size_t)width * (size_t)height;
    pthread_mutex_lock(&s->mu);
    long every = (long)(s->cfg.timeline_every > 0 ? s->cfg.timeline_every : 1) * s->tl_mult;
    int due = s->tl_len == 0 ||
              (iteration > s->timeline[s->tl_len - 1].iteration &&
               iteration - s->timeline[s->tl_len - 1].iteration >= every);
    if (due) {
        uint8_t *copy = malloc(bytes);
        if (copy) {
            memcpy(copy, pixels, bytes);
            if (s->tl_len == s->tl_cap) srv_state_timeline_thin(s);
            s->timeline[s->tl_len++] = srv_state_tl_snap(s, iteration, width, height, copy);
            srv_state_bump(s, 0);
        }
    }
    pthread_mutex_unlock(&s->mu);
}

srv_action srv_state_boundary(srv_state *s, srv_config *cfg, int *changed) {
    srv_action act = SRV_GO;
    if (changed) *changed = 0;
    pthread_mutex_lock(&s->mu);
    if (s->in_step) {                     /* back from a granted step */
        s->in_step = 0;
        s->step_completed++;
        pthread_cond_broadcast(&s->done_cv);
    }
    for (;;) {
        if (s->quitting) { act = SRV_QUIT; break; }
        if (s->restore_completed < s->restore_requested) { act = SRV_RESTORE; break; }
        if (s->ckpt_completed < s->ckpt_requested) {
            s->ckpt_serving = s->ckpt_requested;
            act = SRV_SAVE;
            break;
        }
        if (s->state == SRV_RUNNING) break;
        if (s->state == SRV_PAUSED && s->step_granted < s->step_requested) {
            s->step_granted++;
            s->in_step = 1;
            break;
        }
        if (!s->parked) {
            /* Parking is a state change too: a pause has taken effect or a
             * step is done, and status now shows the final iteration. */
            s->parked = 1;
            srv_state_bump(s, s->state == SRV_PAUSED);
            pthread_cond_broadcast(&s->done_cv);
        }
        pthread_cond_wait(&s->trainer_cv, &s->mu);
    }
    if (act == SRV_SAVE || act == SRV_RESTORE) {   /* stays parked meanwhile */
        pthread_mutex_unlock(&s->mu);
        return act;
    }
    if (s->parked) {
        s->parked = 0;
        pthread_cond_broadcast(&s->done_cv);
    }
    if (act == SRV_GO && s->cfg_dirty) {
        if (cfg) *cfg = s->cfg;
        if (changed) *changed = 1;
        s->cfg_dirty = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return act;
}

void srv_state_set_diverged(srv_state *s, long iteration, const char *reason) {
    pthread_mutex_lock(&s->mu);
    s->state = SRV_DIVERGED;
    if (iteration > s->iteration) s->iteration = iteration;
    snprintf(s->diverged_reason, sizeof s->diverged_reason, "%s", reason ? reason : "diverged");
    s->step_requested = s->step_granted;  /* cancel budget not yet granted */
    if (s->ckpt_completed < s->ckpt_requested) {   /* never save a diverged run */
        s->ckpt_completed = s->ckpt_requested;
        s->req_rc = 409;
        snprintf(s->req_err, sizeof s->req_err, "run diverged at iteration %ld; not saved",
                 iteration);
    }
    srv_state_bump(s, 1);
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
}

/* ---- HTTP side ----------------------------------------------------------- */

void srv_state_status(srv_state *s, srv_status *out) {
    double t = srv_state_now();
    pthread_mutex_lock(&s->mu);
    out->state = s->state;
    out->iteration = s->iteration;
    out->epoch = s->epoch;
    out->images_per_sec = rate_get(s, t);
    out->uptime_s = t - s->t0;
    out->seq = s->seq;
    out->state_seq = s->state_seq;
    memcpy(out->diverged_reason, s->diverged_reason, sizeof out->diverged_reason);
    if (s->state != SRV_DIVERGED) out->diverged_reason[0] = '\0';
    out->has_checkpoint = s->have_ckpt;
    out->ckpt_iteration = s->ckpt_iteration;
    out->ckpt_time = s->ckpt_time;
    memcpy(out->ckpt_path, s->ckpt_path, sizeof out->ckpt_path);
    memcpy(out->ckpt_error, s->ckpt_error, sizeof out->ckpt_error);
    memcpy(out->restore_error, s->restore_error, sizeof out->restore_error);
    if (s->state != SRV_DIVERGED) out->restore_error[0] = '\0';
    pthread_mutex_unlock(&s->mu);
}

void srv_state_config(srv_state *s, srv_config *out) {
    pthread_mutex_lock(&s->mu);
    *out = s->cfg;
    pthread_mutex_unlock(&s->mu);
}

int srv_state_patch_config(srv_state *s, const cJSON *patch, srv_config *out,
                           char *err, size_t errlen) {
    pthread_mutex_lock(&s->mu);
    srv_config c = s->cfg;
    int rc = srv_config_apply_live_json(&c, patch, err, errlen);
    if (rc == 0) {
        s->cfg = c;
        s->cfg_dirty = 1;
        srv_state_bump(s, 1);
        if (out) *out = c;
    }
    pthread_mutex_unlock(&s->mu);
    return rc == 0 ? 0 : -1;
}

srv_run_state srv_state_pause(srv_state *s, long *iteration) {
    pthread_mutex_lock(&s->mu);
    if (s->state == SRV_RUNNING) {
        s->state = SRV_PAUSED;
        srv_state_bump(s, 1);
    }
    /* Wait until the trainer is parked (no step of another client running). */
    while (s->state == SRV_PAUSED && !s->quitting &&
           !(s->parked && s->step_granted == s->step_requested))
        pthread_cond_wait(&s->done_cv, &s->mu);
    srv_run_state st = s->state;
    if (iteration) *iteration = s->iteration;
    pthread_mutex_unlock(&s->mu);
    return st;
}

srv_run_state srv_state_resume(srv_state *s, long *iteration) {
    pthread_mutex_lock(&s->mu);
    if (s->state == SRV_DIVERGED && !s->quitting) {
        /* the trainer restores the last good checkpoint (srv_state_restore_done) */
        if (s->restore_requested == s->restore_completed) s->restore_requested++;
        long ticket = s->restore_requested;
        pthread_cond_broadcast(&s->trainer_cv);
        while (s->restore_completed < ticket && !s->quitting)
            pthread_cond_wait(&s->done_cv, &s->mu);
    } else if (s->state != SRV_RUNNING) {
        s->state = SRV_RUNNING;
        s->diverged_reason[0] = '\0';
        s->step_requested = s->step_granted;
        srv_state_bump(s, 1);
        pthread_cond_broadcast(&s->trainer_cv);
        pthread_cond_broadcast(&s->done_cv);  /* step waiters give up */
    }
    while (s->state == SRV_RUNNING && s->parked && !s->quitting)
        pthread_cond_wait(&s->done_cv, &s->mu);
    srv_run_state st = s->state;
    if (iteration) *iteration = s->iteration;
    pthread_mutex_unlock(&s->mu);
    return st;
}

int srv_state_step(srv_state *s, int n, long *iteration) {
    if (n < 1) n = 1;
    pthread_mutex_lock(&s->mu);
    int why = s->quitting ? SRV_STEP_QUITTING
            : s->state == SRV_DIVERGED ? SRV_STEP_DIVERGED
            : s->state != SRV_PAUSED ? SRV_STEP_NOT_PAUSED
            : s->step_completed < s->step_requested ? SRV_STEP_BUSY : 0;
    if (why) {
        if (iteration) *iteration = s->iteration;
        pthread_mutex_unlock(&s->mu);
        return why;
    }
    s->step_requested += n;
    long ticket = s->step_requested;
    pthread_cond_broadcast(&s->trainer_cv);
    while (s->step_completed < ticket && s->state == SRV_PAUSED && !s->quitting)
        pthread_cond_wait(&s->done_cv, &s->mu);
    if (iteration) *iteration = s->iteration;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int srv_state_metrics(srv_state *s, long since, int max, srv_point *out, long *current) {
    pthread_mutex_lock(&s->mu);
    int first = srv_history_first_after(&s->history, since);
    int n = s->history.len - first;
    if (n > max) n = max;
    if (n < 0) n = 0;
    if (n > 0) memcpy(out, s->history.points + first, (size_t)n * sizeof *out);
    if (current) *current = s->iteration;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int srv_state_latest_point(srv_state *s, srv_point *out) {
    pthread_mutex_lock(&s->mu);
    int n = s->history.len;
    if (n > 0) *out = s->history.points[n - 1];
    pthread_mutex_unlock(&s->mu);
    return n > 0 ? 0 : -1;
}

void srv_state_set_dataset(srv_state *s, const gan_dataset *d) {
    pthread_mutex_lock(&s->mu);
    s->dataset = d;
    pthread_mutex_unlock(&s->mu);
}

const gan_dataset *srv_state_dataset(srv_state *s) {
    pthread_mutex_lock(&s->mu);
    const gan_dataset *d = s->dataset;
    pthread_mutex_unlock(&s->mu);
    return d;
}

long srv_state_copy_discriminator(srv_state *s, float *dparams, float *dbuf) {
    pthread_mutex_lock(&s->mu);
    long it = s->dis_iteration;
    if (it >= 0) {
        memcpy(dparams, s->dp_front, s->dp_count * sizeof(float));
        memcpy(dbuf, s->db_front, s->db_count * sizeof(float));
    }
    pthread_mutex_unlock(&s->mu);
    return it;
}

long srv_state_copy_generator(srv_state *s, float *gparams, float *gbuf) {
    pthread_mutex_lock(&s->mu);
    long it = s->gen_iteration;
    if (it >= 0) {
        memcpy(gparams, s->gp_front, s->gp_count * sizeof(float));
        memcpy(gbuf, s->gb_front, s->gb_count * sizeof(float));
    }
    pthread_mutex_unlock(&s->mu);
    return it;
}

/* n is the number of noise vectors (rows of nz floats), as in [64][nz]. */
void srv_state_set_fixed_noise(srv_state *s, const float *z, int n) {
    size_t floats = (size_t)(n > 0 ? n : 0) * (size_t)s->cfg.model.nz;
    float *copy = floats ? malloc(floats * sizeof(float)) : NULL;
    if (copy) memcpy(copy, z, floats * sizeof(float));
    pthread_mutex_lock(&s->mu);
    free(s->fixed_z);
    s->fixed_z = copy;
    s->fixed_n = copy ? n : 0;
    pthread_mutex_unlock(&s->mu);
}

/* Copies at most max rows of nz floats; returns the number of rows. */
int srv_state_copy_fixed_noise(srv_state *s, float *z, int max) {
    pthread_mutex_lock(&s->mu);
    int n = s->fixed_n < max ? s->fixed_n : max;
    if (n > 0) memcpy(z, s->fixed_z, (size_t)n * (size_t)s->cfg.model.nz * sizeof(float));
    pthread_mutex_unlock(&s->mu);
    return n > 0 ? n : 0;
}

tl_snap srv_state_tl_snap(srv_state *s, long iteration, int width, int height, uint8_t *pixels) {
    return (tl_snap){iteration, width, height, pixels, s->tl_uid_next++, NULL, 0};
}

void srv_state_tl_free(tl_snap *t) {
    free(t->pixels);
    free(t->png);
    t->pixels = NULL;
    t->png = NULL;
}

int srv_state_timeline_list(srv_state *s, long *iterations, long *uids, int max) {
    pthread_mutex_lock(&s->mu);
    int n = s->tl_len < max ? s->tl_len : max;
    for (int i = 0; i < n; i++) {
        iterations[i] = s->timeline[i].iteration;
        if (uids) uids[i] = s->timeline[i].uid;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

static tl_snap *find_snapshot(srv_state *s, long iteration) {
    for (int i = 0; i < s->tl_len; i++)
        if (s->timeline[i].iteration == iteration) return &s->timeline[i];
    return NULL;
}

/* The PNG is encoded once per snapshot (outside the lock) and kept. */
int srv_state_timeline_png(srv_state *s, long iteration, long *uid, unsigned char **png,
                           size_t *len) {
    uint8_t *pixels = NULL;
    int w = 0, h = 0;
    long id = -1;
    *png = NULL;
    *len = 0;
    pthread_mutex_lock(&s->mu);
    tl_snap *t = find_snapshot(s, iteration);
    if (t && t->png) {
        *png = malloc(t->png_len);
        if (*png) memcpy(*png, t->png, t->png_len);
        *len = t->png_len;
        if (uid) *uid = t->uid;
        pthread_mutex_unlock(&s->mu);
        return *png ? 0 : -2;
    }
    if (t) {
        w = t->width;
        h = t->height;
        id = t->uid;
        pixels = malloc((size_t)w * (size_t)h);
        if (pixels) memcpy(pixels, t->pixels, (size_t)w * (size_t)h);
    }
    pthread_mutex_unlock(&s->mu);
    if (!t) return -1;
    if (!pixels || srv_png_encode_gray(pixels, w, h, png, len) != 0) {
        free(pixels);
        return -2;
    }
    free(pixels);
    if (uid) *uid = id;
    unsigned char *keep = malloc(*len);
    if (keep) memcpy(keep, *png, *len);
    pthread_mutex_lock(&s->mu);
    t = find_snapshot(s, iteration);
    if (t && t->uid == id && !t->png && keep) {
        t->png = keep;
        t->png_len = *len;
        keep = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    free(keep);
    return 0;
}

long srv_state_wait(srv_state *s, long seen, int timeout_ms) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (timeout_ms < 0) timeout_ms = 0;
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (s->seq == seen && !s->quitting) {
        if (pthread_cond_timedwait(&s->seq_cv, &s->mu, &dl) == ETIMEDOUT) break;
    }
    long seq = s->seq;
    pthread_mutex_unlock(&s->mu);
    return seq;
}

void srv_state_quit(srv_state *s) {
    pthread_mutex_lock(&s->mu);
    s->quitting = 1;
    srv_state_bump(s, 1);
    pthread_cond_broadcast(&s->trainer_cv);
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
}

int srv_state_quitting(srv_state *s) {
    pthread_mutex_lock(&s->mu);
    int q = s->quitting;
    pthread_mutex_unlock(&s->mu);
    return q;
}
