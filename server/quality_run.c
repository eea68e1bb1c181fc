/* quality_run.c - the quality thread of `ganlive serve`: scores the
 * generator every quality_every iterations, at low priority.
 *
 * Start: load the classifier (srv_classifier_load) and the test set, score
 * the real test digits once (the ceiling the dashboard draws: confidence,
 * Inception-style score, the Frechet distance between the two halves of the
 * test set, and the median distance from test digits to their nearest
 * training digit), keep the test set's feature mean and covariance, and
 * free the test images. Without a classifier or test set the thread
 * publishes why and ends; training is not affected.
 *
 * A pass: copy the latest generator out of srv_state, generate
 * quality_samples digits from noise of a fixed stream (labels i % 10 for a
 * conditional model, so every class is asked for equally), classify them,
 * and compute mean confidence, Inception-style score, class histogram and
 * Frechet distance to the test set; then the nearest training digit of the
 * first QR_NN_SUBSET samples (BLAS over all training images, nn_nearest)
 * and the ratio of their median distance to the test digits' median. Each
 * pass goes into srv_state (srv_state_add_quality) with its mode-collapse
 * and copying flags.
 *
 * Cadence: every quality_every iterations, and below quality.early_until
 * (2000) every quality.early_every (100) too (next_due), so the moment the digits
 * become readable (srv_quality_readable) is seen; those early passes score
 * half the samples.
 *
 * Cost and priority: the thread runs one OpenMP thread at nice +10, so the
 * trainer keeps the cores; a pass of 1,000 samples costs about 75 GFLOP,
 * a few seconds every few minutes at the defaults. The early cadence keeps
 * it busy for most of the first 2,000 iterations, so early passes run on a
 * helper thread at nice +19 (run_pass_low); bench/quality_cadence.py
 * measures what they cost training.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "../nn/quality.h"
#include "quality_run.h"
#include "run.h"

#define QR_NN_SUBSET 200          /* samples (and test digits) searched for neighbours */
#define QR_CHUNK 4                /* samples generated and classified at a time */
#define QR_NOISE_STREAM 0x9a11e7ULL
#define QR_EARLY_MIN_SAMPLES 100  /* early passes: half of quality_samples, at least this many */
#define QR_EARLY_NICE 19          /* early passes run on a helper thread at this niceness */

typedef struct {
    srv_state *st;
    srv_config cfg;
    cls_model *cls;
    gan_sampler *sampler;
    int n;                        /* samples per pass */
    float *gp, *gb;               /* generator copy */
    float *z;                     /* [n][nz] */
    uint8_t *labels;              /* [n] */
    float *images;                /* [QR_CHUNK][784], one chunk at a time */
    float *probs;                 /* [n][10] */
    float *feats;                 /* [n][CLS_FEAT] */
    double *mean, *cov;           /* generated: [CLS_FEAT], [CLS_FEAT][CLS_FEAT] */
    double *test_mean, *test_cov; /* test set */
    float nn_q[QR_NN_SUBSET * GAN_PIX];
    float nn_dist[QR_NN_SUBSET];
    int32_t nn_idx[QR_NN_SUBSET];
    float test_median;
} scorer;

static void scorer_free(scorer *q) {
    cls_model_free(q->cls);
    gan_sampler_free(q->sampler);
    free(q->gp); free(q->gb); free(q->z); free(q->labels); free(q->images);
    free(q->probs); free(q->feats); free(q->mean); free(q->cov);
    free(q->test_mean); free(q->test_cov);
}

/* Median distance from the first m images x [m][784] (pixel scale [0, 1])
 * to their nearest training digits; -1 on no memory. */
static float nn_median_of(scorer *q, const gan_dataset *train, const float *x, int m) {
    if (nn_nearest(train->images, train->n, GAN_PIX, x, m, q->nn_idx, q->nn_dist) < 0) return -1.0f;
    return nn_median(q->nn_dist, m);
}

/* Score the real test digits: the ceiling. Also keeps the test features'
 * statistics. 0, or -1 with a reason. */
static int score_test_set(scorer *q, const gan_dataset *test, const gan_dataset *train,
                          srv_quality_info *info, char *err, size_t errlen) {
    const int n = test->n, chunk = 500;       /* images converted at a time */
    float *x = malloc((size_t)chunk * GAN_PIX * sizeof(float));
    float *probs = malloc((size_t)n * GAN_CLASSES * sizeof(float));
    float *feats = malloc((size_t)n * CLS_FEAT * sizeof(float));
    double *m2 = malloc(CLS_FEAT * sizeof(double)), *c2 = malloc(CLS_FEAT * CLS_FEAT * sizeof(double));
    int rc = -1;
    if (!x || !probs || !feats || !m2 || !c2) { snprintf(err, errlen, "out of memory"); goto done; }
    for (int i0 = 0; i0 < n; i0 += chunk) {
        if (srv_state_quitting(q->st)) { snprintf(err, errlen, "stopped"); goto done; }
        const int m = n - i0 < chunk ? n - i0 : chunk;
        const uint8_t *src = test->images + (size_t)i0 * GAN_PIX;
        for (size_t i = 0; i < (size_t)m * GAN_PIX; i++) x[i] = src[i] / 127.5f - 1.0f;
        cls_classify(q->cls, x, m, probs + (size_t)i0 * GAN_CLASSES, feats + (size_t)i0 * CLS_FEAT);
    }
    const int half = n / 2;
    if (nn_feature_stats(feats, n, CLS_FEAT, q->test_mean, q->test_cov) < 0 ||
        nn_feature_stats(feats, half, CLS_FEAT, q->mean, q->cov) < 0 ||
        nn_feature_stats(feats + (size_t)half * CLS_FEAT, n - half, CLS_FEAT, m2, c2) < 0) {
        snprintf(err, errlen, "test set too small (%d images)", n);
        goto done;
    }
    info->confidence = (float)nn_mean_confidence(probs, n, GAN_CLASSES);
    info->inception_score = (float)nn_inception_score(probs, n, GAN_CLASSES);
    info->frechet = (float)nn_frechet(q->mean, q->cov, m2, c2, CLS_FEAT);
    /* held-out digits to the training set, in [0, 1] pixels */
    const int m = n < QR_NN_SUBSET ? n : QR_NN_SUBSET;
    for (size_t i = 0; i < (size_t)m * GAN_PIX; i++) q->nn_q[i] = test->images[i] / 255.0f;
    q->test_median = nn_median_of(q, train, q->nn_q, m);
    if (q->test_median < 0) { snprintf(err, errlen, "out of memory"); goto done; }
    info->test_median = q->test_median;
    info->nn_ratio = 1.0f;
    info->has_ceiling = 1;
    rc = 0;
done:
    free(x); free(probs); free(feats); free(m2); free(c2);
    return rc;
}

/* One pass of n samples (at most q->n) over the generator of iteration
 * `it` (already in q->gp/gb). 0, -1 on no memory, -2 when the server is
 * stopping (checked between chunks, so a stop never waits for a whole
 * pass). */
static int run_pass(scorer *q, const gan_dataset *train, long it, int n, srv_quality_pass *p) {
    const gan_config *mc = &q->cfg.model;
    nn_rng rng;
    nn_rng_seed(&rng, q->cfg.seed ^ QR_NOISE_STREAM);   /* same noise every pass */
    nn_rng_fill_normal(&rng, q->z, (size_t)n * (size_t)mc->nz, 0.0f, 1.0f);
    for (int i = 0; i < n; i++) q->labels[i] = (uint8_t)(i % GAN_CLASSES);
    const int m = n < QR_NN_SUBSET ? n : QR_NN_SUBSET;
    for (int i0 = 0; i0 < n; i0 += QR_CHUNK) {   /* chunks: only probs and features stay */
        if (srv_state_quitting(q->st)) return -2;
        const int k = n - i0 < QR_CHUNK ? n - i0 : QR_CHUNK;
        gan_sampler_generate(q->sampler, q->gp, q->gb, q->z + (size_t)i0 * (size_t)mc->nz,
                             q->labels + i0, k, q->images);
        if (i0 < m)                                      /* [0, 1] pixels for the search */
            srv_images_to_unit(mc, q->images, q->nn_q + (size_t)i0 * GAN_PIX,
                               (size_t)((m - i0 < k ? m - i0 : k)) * GAN_PIX);
        srv_images_to_classifier(mc, q->images, (size_t)k * GAN_PIX);
        cls_classify(q->cls, q->images, k, q->probs + (size_t)i0 * GAN_CLASSES,
                     q->feats + (size_t)i0 * CLS_FEAT);
    }
    memset(p, 0, sizeof *p);
    p->iteration = it;
    p->confidence = (float)nn_mean_confidence(q->probs, n, GAN_CLASSES);
    p->inception_score = (float)nn_inception_score(q->probs, n, GAN_CLASSES);
    double share[GAN_CLASSES];
    nn_class_histogram(q->probs, n, GAN_CLASSES, share);
    for (int k = 0; k < GAN_CLASSES; k++) {
        p->histogram[k] = (float)share[k];
        if (share[k] < SRV_CLASS_MIN || share[k] > SRV_CLASS_MAX) p->mode_collapse = 1;
    }
    if (nn_feature_stats(q->feats, n, CLS_FEAT, q->mean, q->cov) < 0) return -1;
    p->frechet = (float)nn_frechet(q->mean, q->cov, q->test_mean, q->test_cov, CLS_FEAT);
    float med = nn_median_of(q, train, q->nn_q, m);
    if (med < 0 || p->frechet < 0) return -1;
    p->nn_ratio = q->test_median > 0 ? med / q->test_median : NAN;
    p->copying = p->nn_ratio < SRV_NN_RATIO_MIN;
    if (mc->conditional) {        /* the share read as the digit asked for */
        int hit = 0;
        for (int i = 0; i < n; i++) {
            int top;
            cls_argmax(q->probs + (size_t)i * GAN_CLASSES, 1, &top);
            hit += top == q->labels[i];
        }
        p->has_as_asked = 1;
        p->as_asked = (float)hit / (float)n;
    }
    return 0;
}

/* The iteration the pass after one at `last` (-1: none yet) is due at:
 * every quality.every iterations, and below quality.early_until every
 * quality.early_every as well (when that is more often), so the moment the
 * digits become readable is seen to within early_every iterations. */
static long next_due(long last, const srv_config *cfg) {
    const long every = cfg->quality_every, early = cfg->quality_early_every;
    long due = last < 0 ? every : (last / every + 1) * every;
    if (cfg->quality_early_until > 0 && every > early) {
        long e = last < 0 ? early : (last / early + 1) * early;
        if (e <= cfg->quality_early_until && e < due) due = e;
    }
    return due;
}

/* An early pass on a helper thread at nice QR_EARLY_NICE: back to back, as
 * the early cadence keeps them, passes at the quality thread's nice +10
 * took about 5% of the trainer's speed on two cores (CFS gives a nice +10
 * thread ~10% of a core it shares); at +19 they mostly run in the time the
 * trainer's threads wait. A thread's niceness cannot be lowered again
 * without privileges, hence a thread per pass rather than renicing the
 * quality thread. */
typedef struct {
    scorer *q;
    const gan_dataset *train;
    long it;
    int n, rc;
    srv_quality_pass *p;
} low_pass;

static void *low_pass_thread(void *arg) {
    low_pass *j = arg;
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), QR_EARLY_NICE);
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    j->rc = run_pass(j->q, j->train, j->it, j->n, j->p);
    return NULL;
}

/* run_pass at nice QR_EARLY_NICE; on this thread when no thread can be made. */
static int run_pass_low(scorer *q, const gan_dataset *train, long it, int n, srv_quality_pass *p) {
    low_pass j = {q, train, it, n, -1, p};
    pthread_t t;
    if (pthread_create(&t, NULL, low_pass_thread, &j) != 0) return run_pass(q, train, it, n, p);
    pthread_join(t, NULL);
    return j.rc;
}

static int scorer_init(scorer *q, srv_quality_info *info, const gan_dataset *train) {
    char err[sizeof info->reason];
    const gan_config *mc = &q->cfg.model;
    q->cls = srv_classifier_load(&q->cfg, QR_CHUNK, err, sizeof err);
    if (!q->cls) {
        memcpy(info->reason, err, sizeof err);
        return -1;
    }
    q->n = q->cfg.quality_samples;
    q->sampler = gan_sampler_new(mc, QR_CHUNK);
    q->gp = malloc(gan_gparam_count(mc) * sizeof(float));
    q->gb = malloc((gan_gbuffer_count(mc) + 1) * sizeof(float));
    q->z = malloc((size_t)q->n * (size_t)mc->nz * sizeof(float));
    q->labels = malloc((size_t)q->n);
    q->images = malloc((size_t)QR_CHUNK * GAN_PIX * sizeof(float));
    q->probs = malloc((size_t)q->n * GAN_CLASSES * sizeof(float));
    q->feats = malloc((size_t)q->n * CLS_FEAT * sizeof(float));
    q->mean = malloc(CLS_FEAT * sizeof(double));
    q->cov = malloc(CLS_FEAT * CLS_FEAT * sizeof(double));
    q->test_mean = malloc(CLS_FEAT * sizeof(double));
    q->test_cov = malloc(CLS_FEAT * CLS_FEAT * sizeof(double));
    if (!q->sampler || !q->gp || !q->gb || !q->z || !q->labels || !q->images || !q->probs ||
        !q->feats || !q->mean || !q->cov || !q->test_mean || !q->test_cov) {
        snprintf(info->reason, sizeof info->reason, "out of memory for quality passes");
        return -1;
    }
    char dir[512];
    gan_dataset test;
    srv_data_dir(&q->cfg, dir, sizeof dir);
    if (gan_dataset_load(&test, dir, "t10k", err, sizeof err) < 0) {
        snprintf(info->reason, sizeof info->reason, "no test set: %.280s", err);
        return -1;
    }
    int rc = score_test_set(q, &test, train, info, err, sizeof err);
    gan_dataset_free(&test);                 /* only its statistics are kept */
    if (rc < 0) snprintf(info->reason, sizeof info->reason, "scoring the test set: %.280s", err);
    return rc;
}

void *srv_quality_thread(void *arg) {
    srv_quality_job *job = arg;
    scorer q;
    memset(&q, 0, sizeof q);
    q.st = job->state;
    q.cfg = job->cfg;
    srv_quality_info info;
    memset(&info, 0, sizeof info);
    /* low priority: the trainer and the HTTP threads come first */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    const gan_dataset *train = NULL;
    long seen = 0;
    snprintf(info.reason, sizeof info.reason, "starting: scoring the real test digits first");
    srv_state_set_quality_info(q.st, &info);
    while (!(train = srv_state_dataset(q.st)) && !srv_state_quitting(q.st))
        seen = srv_state_wait(q.st, seen, 200);
    if (!train || scorer_init(&q, &info, train) < 0) {
        if (train && !srv_state_quitting(q.st))
            fprintf(stderr, "ganlive: no quality passes: %s\n", info.reason);
        srv_state_set_quality_info(q.st, &info);
        scorer_free(&q);
        return NULL;
    }
    info.available = 1;
    info.reason[0] = '\0';
    srv_state_set_quality_info(q.st, &info);
    long last = -1;
    while (!srv_state_quitting(q.st)) {
        seen = srv_state_wait(q.st, seen, 1000);
        srv_config cfg;
        srv_state_config(q.st, &cfg);                 /* quality_every is live */
        if (cfg.quality_every <= 0) continue;
        if (last < 0) {               /* a resumed run's passes (restored): go on after them */
            srv_quality_pass lp;
            if (srv_state_quality(q.st, NULL, &lp, 1) == 1) last = lp.iteration;
        }
        srv_status s;
        srv_state_status(q.st, &s);
        if (s.iteration < next_due(last, &cfg)) continue;
        long it = srv_state_copy_generator(q.st, q.gp, q.gb);
        if (it < 0) continue;
        srv_point at;                 /* the run time of the iteration scored (restores continue it) */
        const int have_at = srv_state_latest_point(q.st, &at) == 0;
        srv_quality_pass p;
        /* a pass of the early cadence scores half the samples (the first
         * half of the same noise): it costs half as much and the cadence
         * keeps up with training */
        const int early_pass = cfg.quality_every > cfg.quality_early_every && it < cfg.quality_early_until;
        int n = q.n;
        if (early_pass) {
            n = q.n / 2;
            if (n < QR_EARLY_MIN_SAMPLES) n = q.n < QR_EARLY_MIN_SAMPLES ? q.n : QR_EARLY_MIN_SAMPLES;
        }
        int rc = early_pass ? run_pass_low(&q, train, it, n, &p) : run_pass(&q, train, it, n, &p);
        if (rc == -2) break;
        if (rc < 0) {
            fprintf(stderr, "ganlive: quality pass at iteration %ld: out of memory\n", it);
            break;
        }
        srv_state_status(q.st, &s);
        p.time_s = have_at ? at.time_s : s.uptime_s;
        srv_state_add_quality(q.st, &p);
        last = it;
    }
    scorer_free(&q);
    return NULL;
}
