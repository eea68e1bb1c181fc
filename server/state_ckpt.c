/* state_ckpt.c - the checkpoint side of srv_state: save and restore
 * tickets, the last_checkpoint / checkpoint_error figures, and the copies of
 * the history and timeline that go into a checkpoint and come back from one.
 *
 * The design is simple and the same as steps in state.c: an HTTP thread
 * takes a ticket under the state mutex and waits on done_cv; the trainer is
 * handed SRV_SAVE or SRV_RESTORE by srv_state_boundary (even while parked),
 * does the file work with no lock held (checkpoint.c, ckptrun.c), and
 * reports back here, which completes every ticket taken before it started.
 * Copies are made under the mutex and are plain memcpy; no file work ever
 * happens with the mutex held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "state.h"
#include "state_priv.h"

int srv_state_checkpoint(srv_state *s, char *path, size_t pathlen, long *iteration,
                         char *err, size_t errlen) {
    int rc;
    pthread_mutex_lock(&s->mu);
    if (s->state == SRV_DIVERGED && !s->quitting) {
        rc = 409;
        snprintf(err, errlen, "run diverged at iteration %ld: POST /api/resume restores the "
                 "last good checkpoint first", s->iteration);
    } else {
        long ticket = ++s->ckpt_requested;
        pthread_cond_broadcast(&s->trainer_cv);
        while (s->ckpt_completed < ticket && !s->quitting)
            pthread_cond_wait(&s->done_cv, &s->mu);
        rc = s->ckpt_completed < ticket ? 503 : s->req_rc;
        if (rc == 503) snprintf(err, errlen, "shutting down");
        else if (rc) snprintf(err, errlen, "%s", s->req_err);
        snprintf(path, pathlen, "%s", s->req_path);
        *iteration = s->req_iteration;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void srv_state_checkpoint_done(srv_state *s, int rc, int requested, const char *path,
                               long iteration, const char *err) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&s->mu);
    if (rc == 0) {
        s->have_ckpt = 1;
        s->ckpt_iteration = iteration;
        s->ckpt_time = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
        snprintf(s->ckpt_path, sizeof s->ckpt_path, "%s", path);
        s->ckpt_error[0] = '\0';
    } else {
        snprintf(s->ckpt_error, sizeof s->ckpt_error, "%s", err ? err : "save failed");
    }
    if (requested) {
        s->ckpt_completed = s->ckpt_serving;
        s->req_rc = rc == 0 ? 0 : 500;
        s->req_iteration = iteration;
        snprintf(s->req_path, sizeof s->req_path, "%s", rc == 0 ? path : "");
        snprintf(s->req_err, sizeof s->req_err, "%s", rc == 0 ? "" : s->ckpt_error);
        pthread_cond_broadcast(&s->done_cv);
    }
    srv_state_bump(s, 1);
    pthread_mutex_unlock(&s->mu);
}

void srv_state_set_last_checkpoint(srv_state *s, const char *path, long iteration,
                                   double unix_time) {
    pthread_mutex_lock(&s->mu);
    s->have_ckpt = 1;
    s->ckpt_iteration = iteration;
    s->ckpt_time = unix_time;
    snprintf(s->ckpt_path, sizeof s->ckpt_path, "%s", path);
    pthread_mutex_unlock(&s->mu);
}

void srv_state_restore_done(srv_state *s, int rc, const char *msg) {
    pthread_mutex_lock(&s->mu);
    s->restore_completed = s->restore_requested;
    if (rc == 0) {
        s->state = SRV_RUNNING;
        s->diverged_reason[0] = '\0';
        s->restore_error[0] = '\0';
        s->step_requested = s->step_granted;
    } else {
        snprintf(s->restore_error, sizeof s->restore_error, "%s", msg ? msg : "restore failed");
    }
    srv_state_bump(s, 1);
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
}

int srv_state_history_copy(srv_state *s, srv_point **out) {
    pthread_mutex_lock(&s->mu);
    int n = s->history.len;
    srv_point *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    if (p && n) memcpy(p, s->history.points, (size_t)n * sizeof *p);
    pthread_mutex_unlock(&s->mu);
    *out = p;
    return p ? n : -1;
}

void srv_snapshots_free(srv_snapshot *v, int n) {
    for (int i = 0; v && i < n; i++) free(v[i].pixels);
    free(v);
}

int srv_state_timeline_copy(srv_state *s, srv_snapshot **out, long *tl_mult) {
    pthread_mutex_lock(&s->mu);
    int n = s->tl_len, ok = 1;
    srv_snapshot *v = calloc((size_t)(n ? n : 1), sizeof *v);
    for (int i = 0; v && i < n && ok; i++) {
        const tl_snap *t = &s->timeline[i];
        size_t bytes = (size_t)t->width * (size_t)t->height;
        v[i] = (srv_snapshot){t->iteration, t->width, t->height, malloc(bytes)};
        if (v[i].pixels) memcpy(v[i].pixels, t->pixels, bytes);
        else ok = 0;
    }
    *tl_mult = s->tl_mult;
    pthread_mutex_unlock(&s->mu);
    if (!v || !ok) { srv_snapshots_free(v, n); *out = NULL; return -1; }
    *out = v;
    return n;
}

int srv_state_restore(srv_state *s, long iteration, double epoch, const srv_point *pts,
                      int npts, const srv_snapshot *tl, int ntl, long tl_mult) {
    srv_history h;                                /* built outside the lock */
    if (srv_history_init(&h, s->cfg.history_max_points) != 0) return -1;
    for (int i = 0; i < npts; i++) srv_history_append(&h, &pts[i]);
    tl_snap *snaps = calloc((size_t)s->tl_cap, sizeof *snaps);
    if (!snaps) { srv_history_free(&h); return -1; }
    pthread_mutex_lock(&s->mu);
    srv_history_free(&s->history);
    s->history = h;
    for (int i = 0; i < s->tl_len; i++) srv_state_tl_free(&s->timeline[i]);
    free(s->timeline);
    s->timeline = snaps;
    s->tl_len = 0;
    s->tl_mult = tl_mult > 0 ? tl_mult : 1;
    for (int i = 0; i < ntl; i++) {
        size_t bytes = (size_t)tl[i].width * (size_t)tl[i].height;
        uint8_t *copy = malloc(bytes ? bytes : 1);
        if (!copy) continue;                      /* a missing snapshot is no harm */
        memcpy(copy, tl[i].pixels, bytes);
        if (s->tl_len == s->tl_cap) srv_state_timeline_thin(s);
        s->timeline[s->tl_len++] = srv_state_tl_snap(s, tl[i].iteration, tl[i].width, tl[i].height, copy);
    }
    double last = npts > 0 ? pts[npts - 1].time_s : 0.0;
    s->time_base = last - (srv_state_now() - s->t0);
    s->iteration = iteration;
    s->epoch = epoch;
    srv_state_bump(s, 1);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

