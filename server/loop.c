/* loop.c - the training loop of `train` and `serve` (see loop.h). */
#include <stdio.h>
#include <time.h>
#include "checkpoint.h"
#include "diverge.h"
#include "loop.h"

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void publish(srv_trainer *t, srv_state *st, const srv_loop *o, const gan_metrics *m) {
    const gan_model *g = t->model;
    if (o->publish_weights)
        srv_state_publish(st, t->iteration, gan_batcher_epoch(&t->batcher), m, gan_sample_gparams(g),
                          gan_sample_gbuffers(g), g->d_mem, g->d_buf_mem);
    else
        srv_state_publish(st, t->iteration, gan_batcher_epoch(&t->batcher), m, NULL, NULL, NULL, NULL);
}

int srv_run_loop(srv_trainer *t, srv_state *st, const srv_loop *o) {
    srv_state_set_fixed_noise(st, t->fixed_noise, srv_fixed_n(&t->model->cfg));
    srv_state_set_dataset(st, &t->data);   /* read-only for /api/real.png */
    publish(t, st, o, NULL);
    srv_trainer_publish_timeline(t, st);
    const double began = mono_s();
    double last_save = began;
    long saved_at = t->iteration;          /* resumed from (or fresh at) this one */
    int diverged = 0;
    for (;;) {
        if ((o->stop && *o->stop) || (o->stop_at >= 0 && t->iteration >= o->stop_at)) break;
        if (o->stop_after_s > 0 && mono_s() - began >= o->stop_after_s) break;
        srv_config cfg;
        int changed = 0;
        srv_action act = srv_state_boundary(st, &cfg, &changed);
        if (act == SRV_QUIT) break;
        if (act == SRV_SAVE || act == SRV_RESTORE) {
            if (act == SRV_SAVE && srv_ckpt_save_run(t, st, 1) == 0) saved_at = t->iteration;
            if (act == SRV_RESTORE && srv_ckpt_restore_run(t, st) == 0) {
                diverged = 0;
                saved_at = t->iteration;
            }
            last_save = mono_s();
            continue;
        }
        if (changed) srv_trainer_apply_live(t, &cfg);
        int rejected = srv_trainer_iteration(t) < 0;
        if (rejected || srv_loss_exploded(&t->last)) {   /* diverge.h */
            diverged = 1;
            char why[160];
            srv_diverge_reason(&t->last, rejected, rejected ? t->iteration + 1 : t->iteration,
                               why, sizeof why);
            srv_state_set_diverged(st, t->iteration, why);
            if (o->end_on_divergence) {
                fprintf(stderr, "ganlive: training diverged: %s\n", why);
                break;
            }
            continue;
        }
        publish(t, st, o, &t->last);
        if (t->bal_new) {
            srv_state_add_balance(st, &t->bal_event, t->skipping);
            t->bal_new = 0;
        }
        if (t->iteration % t->cfg.timeline_every == 0) srv_trainer_publish_timeline(t, st);
        if (t->cfg.checkpoint_every_s > 0 && t->cfg.run_dir[0] &&
            mono_s() - last_save >= t->cfg.checkpoint_every_s) {
            if (srv_ckpt_save_run(t, st, 0) == 0) saved_at = t->iteration;
            last_save = mono_s();
        }
        if (o->progress) o->progress(t, o->arg);
    }
    /* a clean end (--iters, a signal, quit): save, unless diverged or nothing new */
    if (!diverged && t->cfg.run_dir[0] && t->iteration != saved_at) srv_ckpt_save_run(t, st, 0);
    return diverged && o->end_on_divergence ? 1 : 0;
}

void *srv_trainer_thread(void *arg) {
    srv_trainer_job *job = arg;
    srv_trainer_use_threads(job->trainer);   /* this thread trains, not the one that built it */
    const srv_loop serve = {.stop_at = -1, .publish_weights = 1};
    srv_run_loop(job->trainer, job->state, &serve);
    return NULL;
}
