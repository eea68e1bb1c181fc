/* test_state.c - srv_state with a fake trainer thread: pause parks it, step
 * runs exactly n iterations, resume releases it, config patches reach it at
 * a boundary (all or nothing), the generator snapshot is always whole, the
 * timeline thins evenly, divergence parks until resume, quit ends it all.
 * Every wait is bounded: an alarm ends the run if something hangs. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../server/state.h"
#include "testhelp.h"

typedef struct {
    srv_state *s;
    atomic_long it;              /* iterations completed */
    atomic_int cfg_changes;
    atomic_long diverge_at;      /* set diverged after this iteration (0 = never) */
    float last_lr_d;             /* written by the trainer at a boundary */
    size_t np, nb;
    float *gp, *gb;
} fake_trainer;

static void *fake_run(void *arg) {
    fake_trainer *f = arg;
    uint8_t pixels[16];
    for (;;) {
        srv_config cfg;
        int changed = 0;
        srv_action act = srv_state_boundary(f->s, &cfg, &changed);
        if (act == SRV_QUIT) break;
        if (act == SRV_RESTORE) {                /* resume after divergence */
            srv_state_restore_done(f->s, 0, NULL);
            continue;
        }
        if (changed) {
            f->cfg_changes++;
            f->last_lr_d = cfg.model.lr_d;
        }
        usleep(300);                             /* "train" */
        long it = ++f->it;
        for (size_t i = 0; i < f->np; i++) f->gp[i] = (float)it;
        for (size_t i = 0; i < f->nb; i++) f->gb[i] = (float)-it;
        gan_metrics m = {.d_loss = (float)it, .g_loss = 1.0f, .d_acc = 0.5f};
        if (f->diverge_at && it == f->diverge_at) {
            srv_state_set_diverged(f->s, it, "test divergence");
            continue;
        }
        srv_state_publish(f->s, it, (double)it / 100.0, &m, f->gp, f->gb, NULL, NULL);
        if (it % 5 == 0) {
            memset(pixels, (int)(it & 0xff), sizeof pixels);
            srv_state_add_timeline(f->s, it, pixels, 4, 4);
        }
    }
    return NULL;
}

static void small_config(srv_config *c) {
    srv_config_default(c);
    c->model.nz = 4;
    c->model.ngf = 2;
    c->model.ndf = 2;
    c->model.batch = 8;
    c->history_max_points = 100;
    c->timeline_every = 5;
    c->timeline_max = 4;
}

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Wait (bounded) until the published iteration reaches `target`. */
static long wait_iteration(srv_state *s, long target, double timeout_s) {
    double end = mono() + timeout_s;
    srv_status st;
    srv_state_status(s, &st);
    while (st.iteration < target && mono() < end) {
        srv_state_wait(s, st.seq, 100);
        srv_state_status(s, &st);
    }
    return st.iteration;
}

typedef struct { srv_state *s; int n; int rc; } step_job;
static void *step_thread(void *arg) {
    step_job *j = arg;
    long it;
    j->rc = srv_state_step(j->s, j->n, &it);
    return NULL;
}

static int start(fake_trainer *f, pthread_t *th) {
    srv_config c;
    small_config(&c);
    memset(f, 0, sizeof *f);
    f->s = srv_state_new(&c);
    if (!f->s) return -1;
    f->np = gan_gparam_count(&c.model);
    f->nb = gan_gbuffer_count(&c.model);
    f->gp = calloc(f->np, sizeof(float));
    f->gb = calloc(f->nb, sizeof(float));
    return pthread_create(th, NULL, fake_run, f);
}

static void stop(fake_trainer *f, pthread_t th) {
    srv_state_quit(f->s);
    pthread_join(th, NULL);
    srv_state_free(f->s);
    free(f->gp);
    free(f->gb);
}

TEST(state_pause_step_resume) {
    alarm(60);
    fake_trainer f;
    pthread_t th;
    CHECK(start(&f, &th) == 0);
    srv_state *s = f.s;
    CHECK(wait_iteration(s, 10, 10) >= 10);

    long it1 = -1;
    CHECK(srv_state_pause(s, &it1) == SRV_PAUSED);
    CHECK(it1 == f.it);                          /* parked: nothing in flight */
    long it_again = -1;
    CHECK(srv_state_pause(s, &it_again) == SRV_PAUSED && it_again == it1);   /* idempotent */
    usleep(100 * 1000);
    srv_status st;
    srv_state_status(s, &st);
    CHECK(st.state == SRV_PAUSED && st.iteration == it1 && f.it == it1);
    CHECK_CLOSE(st.epoch, it1 / 100.0, 1e-12, 0);

    long it2 = -1;
    CHECK(srv_state_step(s, 5, &it2) == 0);
    CHECK(it2 == it1 + 5);
    usleep(50 * 1000);
    srv_state_status(s, &st);
    CHECK(st.state == SRV_PAUSED && st.iteration == it1 + 5 && f.it == it1 + 5);
    for (int i = 0; i < 3; i++) CHECK(srv_state_step(s, 1, &it2) == 0);
    CHECK(it2 == it1 + 8);

    /* a second client stepping during a long step is refused at once (it
     * used to queue behind it); the first step still runs all its
     * iterations, none more */
    step_job a = {s, 1000, -1};
    pthread_t ta;
    pthread_create(&ta, NULL, step_thread, &a);
    CHECK(wait_iteration(s, it1 + 10, 10) >= it1 + 10);
    double t_busy = mono();
    long it_busy = -1;
    CHECK(srv_state_step(s, 4, &it_busy) == SRV_STEP_BUSY);
    CHECK(mono() - t_busy < 0.05);
    pthread_join(ta, NULL);
    CHECK(a.rc == 0);
    usleep(20 * 1000);
    CHECK(f.it == it1 + 1008);
    CHECK(srv_state_step(s, 7, &it2) == 0 && it2 == it1 + 1015);   /* free again */

    /* state_seq moved for pause and steps; seq waits time out when idle */
    srv_state_status(s, &st);
    double t0 = mono();
    long seq = srv_state_wait(s, st.seq, 80);
    CHECK(seq == st.seq && mono() - t0 >= 0.07);

    long it3 = -1;
    CHECK(srv_state_resume(s, &it3) == SRV_RUNNING);
    CHECK(it3 >= it1 + 1015);
    CHECK(wait_iteration(s, it1 + 1030, 10) >= it1 + 1030);
    CHECK(srv_state_step(s, 1, &it3) == SRV_STEP_NOT_PAUSED);   /* 409 */
    srv_state_status(s, &st);
    CHECK(st.images_per_sec > 0 && st.uptime_s > 0);
    CHECK(srv_state_resume(s, &it3) == SRV_RUNNING);   /* idempotent */
    stop(&f, th);
    alarm(0);
}

TEST(state_config_patch) {
    alarm(60);
    fake_trainer f;
    pthread_t th;
    CHECK(start(&f, &th) == 0);
    srv_state *s = f.s;
    CHECK(wait_iteration(s, 3, 10) >= 3);
    long it;
    CHECK(srv_state_pause(s, &it) == SRV_PAUSED);
    srv_status before;
    srv_state_status(s, &before);

    char err[256] = "";
    srv_config out;
    cJSON *p = cJSON_Parse("{\"lr_d\": 0.001, \"d_steps\": 2}");
    CHECK(srv_state_patch_config(s, p, &out, err, sizeof err) == 0);
    cJSON_Delete(p);
    CHECK_CLOSE(out.model.lr_d, 0.001, 1e-9, 0);
    srv_config now;
    srv_state_config(s, &now);
    CHECK_CLOSE(now.model.lr_d, 0.001, 1e-9, 0);
    CHECK(now.model.d_steps == 2);
    srv_status after;
    srv_state_status(s, &after);
    CHECK(after.state_seq > before.state_seq);
    CHECK(f.cfg_changes == 0);                   /* parked: not yet applied */
    CHECK(srv_state_step(s, 1, &it) == 0);
    CHECK(f.cfg_changes == 1);                   /* picked up at the boundary */
    CHECK_CLOSE(f.last_lr_d, 0.001, 1e-9, 0);

    /* one good and one bad field: nothing changes */
    p = cJSON_Parse("{\"lr_d\": 0.003, \"no_such_setting\": 1}");
    err[0] = '\0';
    CHECK(srv_state_patch_config(s, p, &out, err, sizeof err) == -1);
    cJSON_Delete(p);
    CHECKF(strstr(err, "no_such_setting") != NULL, "err = %s", err);
    p = cJSON_Parse("{\"lr_d\": 0.003, \"d_steps\": 0}");
    CHECK(srv_state_patch_config(s, p, &out, err, sizeof err) == -1);
    cJSON_Delete(p);
    CHECKF(strstr(err, "d_steps") != NULL, "err = %s", err);
    p = cJSON_Parse("{\"nz\": 8}");              /* not live */
    CHECK(srv_state_patch_config(s, p, &out, err, sizeof err) == -1);
    cJSON_Delete(p);
    srv_state_config(s, &now);
    CHECK_CLOSE(now.model.lr_d, 0.001, 1e-9, 0);
    CHECK(now.model.d_steps == 2 && now.model.nz == 4);
    CHECK(srv_state_step(s, 2, &it) == 0);
    CHECK(f.cfg_changes == 1);                   /* nothing new was handed over */
    stop(&f, th);
    alarm(0);
}

TEST(state_metrics_and_generator) {
    alarm(60);
    fake_trainer f;
    pthread_t th;
    CHECK(start(&f, &th) == 0);
    srv_state *s = f.s;
    float *gp = malloc(f.np * sizeof(float)), *gb = malloc(f.nb * sizeof(float));
    /* snapshots taken while training runs are whole: every float the same */
    int whole = 1, tries = 0;
    double end = mono() + 1.0;
    while (mono() < end || tries < 50) {
        long it = srv_state_copy_generator(s, gp, gb);
        tries++;
        if (it < 0) continue;
        for (size_t i = 0; i < f.np; i++) if (gp[i] != (float)it) whole = 0;
        for (size_t i = 0; i < f.nb; i++) if (gb[i] != (float)-it) whole = 0;
        if (tries > 100000) break;
    }
    CHECK(whole);
    CHECK(wait_iteration(s, 250, 10) >= 250);    /* more than history_max_points */
    long it;
    srv_state_pause(s, &it);
    srv_point *pts = malloc(200 * sizeof *pts);
    long cur = -1;
    int n = srv_state_metrics(s, -1, 200, pts, &cur);
    CHECK(cur == it);
    CHECK(n > 0 && n <= 100);
    CHECK(pts[n - 1].iteration == it && pts[n - 1].count == 1);
    long sum = 0;
    int ordered = 1;
    for (int i = 0; i < n; i++) {
        sum += pts[i].count;
        if (i && pts[i].iteration <= pts[i - 1].iteration) ordered = 0;
    }
    CHECK(ordered && sum == it);
    n = srv_state_metrics(s, it - 3, 200, pts, &cur);
    CHECK(n == 3 && pts[0].iteration == it - 2);
    CHECK_CLOSE(pts[0].m.d_loss, (double)(it - 2), 1e-3, 0);
    n = srv_state_metrics(s, -1, 2, pts, &cur);  /* limit: the oldest first */
    CHECK(n == 2 && pts[0].iteration < pts[1].iteration);
    CHECK(srv_state_metrics(s, it, 200, pts, &cur) == 0);
    CHECK(srv_state_copy_generator(s, gp, gb) == it);

    float z[3 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, back[64 * 4];
    CHECK(srv_state_copy_fixed_noise(s, back, 64) == 0);
    srv_state_set_fixed_noise(s, z, 3);          /* rows of nz = 4 floats */
    CHECK(srv_state_copy_fixed_noise(s, back, 64) == 3);
    CHECK(memcmp(back, z, sizeof z) == 0);
    CHECK(srv_state_copy_fixed_noise(s, back, 2) == 2);
    free(pts);
    free(gp);
    free(gb);
    stop(&f, th);
    alarm(0);
}

TEST(state_timeline_thinning) {
    srv_config c;
    small_config(&c);                            /* every 5, max 4 */
    srv_state *s = srv_state_new(&c);
    CHECK(s != NULL);
    if (!s) return;
    long its[16];
    uint8_t px[6] = {1, 2, 3, 4, 5, 6};
    CHECK(srv_state_copy_generator(s, NULL, NULL) == -1);   /* nothing yet */
    for (long it = 0; it <= 40; it += 5) srv_state_add_timeline(s, it, px, 3, 2);
    /* 0 5 10 15 | 20: thin to 0 10, +20 | 30 | 40: thin to 0 20, +40 */
    long uids[16];
    int n = srv_state_timeline_list(s, its, uids, 16);
    CHECK(n == 3);
    CHECK(uids[0] != uids[1] && uids[1] != uids[2]);
    CHECK(its[0] == 0 && its[1] == 20 && its[2] == 40);
    for (long it = 45; it <= 200; it += 5) srv_state_add_timeline(s, it, px, 3, 2);
    n = srv_state_timeline_list(s, its, uids, 16);
    CHECK(n >= 2 && n <= 4);
    int even = 1;
    for (int i = 2; i < n; i++)
        if (its[i] - its[i - 1] != its[1] - its[0]) even = 0;
    CHECKF(even, "n %d: %ld %ld %ld %ld", n, its[0], its[1], its[2], its[3]);
    unsigned char *png = NULL;
    size_t len = 0;
    long uid = -1;
    CHECK(srv_state_timeline_png(s, its[n - 1], &uid, &png, &len) == 0);
    CHECK(png && len > 8 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G');
    CHECK(uid == uids[n - 1]);
    unsigned char *again = NULL;   /* the second answer comes from the kept PNG */
    size_t len2 = 0;
    CHECK(srv_state_timeline_png(s, its[n - 1], NULL, &again, &len2) == 0);
    CHECK(again && len2 == len && memcmp(again, png, len) == 0);
    free(again);
    free(png);
    CHECK(srv_state_timeline_png(s, 5, NULL, &png, &len) == -1 && png == NULL);
    CHECK(srv_state_timeline_list(s, its, NULL, 1) == 1);
    srv_state_free(s);
}

TEST(state_diverged_and_quit) {
    alarm(60);
    fake_trainer f;
    pthread_t th;
    CHECK(start(&f, &th) == 0);
    srv_state *s = f.s;
    f.diverge_at = 20;
    srv_status st;
    double end = mono() + 10;
    do {
        srv_state_status(s, &st);
        if (st.state != SRV_DIVERGED) srv_state_wait(s, st.seq, 100);
    } while (st.state != SRV_DIVERGED && mono() < end);
    CHECK(st.state == SRV_DIVERGED);
    CHECK(strcmp(st.diverged_reason, "test divergence") == 0);
    CHECK(strcmp(srv_run_state_name(st.state), "diverged") == 0);
    CHECK(st.iteration == 20);
    usleep(50 * 1000);
    CHECK(f.it == 20);                           /* parked at the boundary */
    long it;
    CHECK(srv_state_step(s, 1, &it) == SRV_STEP_DIVERGED);   /* not "pause first" */
    CHECK(srv_state_pause(s, &it) == SRV_DIVERGED);
    f.diverge_at = 0;
    CHECK(srv_state_resume(s, &it) == SRV_RUNNING);
    CHECK(wait_iteration(s, 30, 10) >= 30);
    srv_state_status(s, &st);
    CHECK(st.state == SRV_RUNNING && st.diverged_reason[0] == '\0');

    /* quit wakes a paused trainer and any waiter */
    CHECK(srv_state_pause(s, &it) == SRV_PAUSED);
    CHECK(!srv_state_quitting(s));
    srv_state_quit(s);
    CHECK(srv_state_quitting(s));
    pthread_join(th, NULL);                      /* the trainer saw SRV_QUIT */
    srv_state_status(s, &st);
    double t0 = mono();
    srv_state_wait(s, st.seq, 5000);             /* returns at once */
    CHECK(mono() - t0 < 1.0);
    srv_state_free(s);
    free(f.gp);
    free(f.gb);
    alarm(0);
}
