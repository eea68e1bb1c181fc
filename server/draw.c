/* draw.c - the render worker's copy of G and D, and drawing with it on one
 * thread or two (see draw.h).
 *
 * The helper thread lives as long as the drawer. The worker hands it one
 * part at a time through `part` under `mu` and waits on `cv` until the
 * helper sets it back to NULL; the helper waits on the same condition
 * variable for the next part or for stop. Keeping the thread (rather than
 * one per split request) keeps its GEMM pack buffers, which a thread maps
 * and touches on its first GEMM (gemm.c keeps them per thread): a thread per
 * request cost ~800 page faults per 64-digit grid on a paused server, the
 * kept one ~180, nearly all of them the worker's own request buffers
 * (malloc, the PNG encoder: main.c maps blocks above 256 KB per request on
 * purpose, to give them back), by `perf record -e page-faults` per thread.
 */
#ifdef _OPENMP
#include <omp.h>
#endif
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include "clock.h"
#include "draw.h"

/* Draw images [0, n) of a request and, with verdict, D's verdicts on them. */
typedef struct {
    const srv_draw *d;
    gan_sampler *s;
    const float *z;            /* [n][nz] */
    const uint8_t *labels;     /* [n] or NULL: i % 10 */
    int n;
    float *images;             /* [n][784] */
    float *verdict;            /* [n] or NULL */
    double cpu_s;              /* out: the drawing thread's CPU time */
} draw_part;

struct srv_draw {
    gan_config model;
    float *gparams, *gbuf;     /* G's snapshot: gan_gparam_count, gan_gbuffer_count floats */
    float *dparams, *dbuf;     /* D's, the same way */
    int has_d;                 /* D was copied with the newest G */
    gan_sampler *sampler;      /* the worker's */
    gan_sampler *helper;       /* the helper thread's; NULL: none */
    srv_draw_counts counts;
    pthread_t thread;
    int started;               /* the helper thread runs */
    pthread_mutex_t mu;        /* guards part and stop */
    pthread_cond_t cv;         /* a part given, a part drawn, or stop */
    draw_part *part;           /* given and not yet drawn; NULL: none */
    int stop;
};

static void judge(const srv_draw *d, gan_sampler *s, const float *images, const uint8_t *labels,
                  int n, float *verdict) {
    if (d->has_d) gan_sampler_judge(s, d->dparams, d->dbuf, images, labels, n, verdict);
    else for (int i = 0; i < n; i++) verdict[i] = NAN;
}

static void draw(const draw_part *p) {
    gan_sampler_generate(p->s, p->d->gparams, p->d->gbuf, p->z, p->labels, p->n, p->images);
    if (p->verdict) judge(p->d, p->s, p->images, p->labels, p->n, p->verdict);
}

/* The helper thread: draws each part it is given, until stopped. */
static void *helper_main(void *arg) {
    srv_draw *d = arg;
#ifdef _OPENMP
    omp_set_num_threads(1);          /* a new thread starts with all cores */
#endif
    pthread_setname_np(pthread_self(), "ganlive-draw");
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->part && !d->stop) pthread_cond_wait(&d->cv, &d->mu);
        if (d->stop) break;
        draw_part *p = d->part;
        pthread_mutex_unlock(&d->mu);
        const double c0 = srv_thread_cpu_s();
        draw(p);
        p->cpu_s = srv_thread_cpu_s() - c0;
        pthread_mutex_lock(&d->mu);
        d->part = NULL;              /* drawn: the worker may read it */
        pthread_cond_broadcast(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* The second half of a big request on the helper thread. 0 when it did not
 * apply (no helper, one chunk, no memory for the labels). */
static int draw_split(srv_draw *d, const float *z, const uint8_t *labels, int n, float *images,
                      float *verdict) {
    const int chunks = (n + GAN_SAMPLER_CHUNK - 1) / GAN_SAMPLER_CHUNK;
    if (!d->started || chunks < 2) return 0;
    uint8_t *own = NULL;
    if (!labels) {   /* i % 10 over the whole request, as one call would have it */
        if (!(own = malloc((size_t)n))) return 0;
        for (int i = 0; i < n; i++) own[i] = (uint8_t)(i % GAN_CLASSES);
        labels = own;
    }
    const int n1 = (chunks + 1) / 2 * GAN_SAMPLER_CHUNK, nz = d->model.nz;
    draw_part first = {d, d->sampler, z, labels, n1, images, verdict, 0.0};
    draw_part second = {d, d->helper, z + (size_t)n1 * nz, labels + n1, n - n1,
                        images + (size_t)n1 * GAN_PIX, verdict ? verdict + n1 : NULL, 0.0};
    pthread_mutex_lock(&d->mu);
    d->part = &second;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    draw(&first);
    pthread_mutex_lock(&d->mu);
    while (d->part) pthread_cond_wait(&d->cv, &d->mu);
    pthread_mutex_unlock(&d->mu);
    free(own);
    d->counts.helper_cpu_s += second.cpu_s;
    d->counts.splits++;
    return 1;
}

void srv_draw_generate(srv_draw *d, const float *z, const uint8_t *labels, int n, float *images,
                       float *verdict, int one_by_one, int split) {
    if (!one_by_one) {
        if (!split || !draw_split(d, z, labels, n, images, verdict))
            draw(&(draw_part){d, d->sampler, z, labels, n, images, verdict, 0.0});
        return;
    }
    for (int i = 0; i < n; i++)
        gan_sampler_generate(d->sampler, d->gparams, d->gbuf, z + (size_t)i * d->model.nz,
                             labels ? labels + i : NULL, 1, images + (size_t)i * GAN_PIX);
    if (verdict) judge(d, d->sampler, images, labels, n, verdict);
}

long srv_draw_copy_snapshot(srv_draw *d, srv_state *st) {
    long it = srv_state_copy_generator(st, d->gparams, d->gbuf);
    if (it >= 0) d->has_d = srv_state_copy_discriminator(st, d->dparams, d->dbuf) >= 0;
    return it;
}

srv_draw_counts srv_draw_counts_now(const srv_draw *d) {
    return d->counts;
}

srv_draw *srv_draw_new(const gan_config *c, int ncpu) {
    srv_draw *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->model = *c;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    d->sampler = gan_sampler_new(c, GAN_SAMPLER_CHUNK);
    d->gparams = malloc(gan_gparam_count(c) * sizeof(float));
    d->gbuf = malloc((gan_gbuffer_count(c) + 1) * sizeof(float));
    d->dparams = malloc(gan_dparam_count(c) * sizeof(float));
    d->dbuf = malloc((gan_dbuffer_count(c) + 1) * sizeof(float));
    if (!d->sampler || !d->gparams || !d->gbuf || !d->dparams || !d->dbuf) {
        srv_draw_free(d);
        return NULL;
    }
    if (ncpu >= 2) {                 /* optional, as draw.h says */
        d->helper = gan_sampler_new(c, GAN_SAMPLER_CHUNK);
        d->started = d->helper && pthread_create(&d->thread, NULL, helper_main, d) == 0;
    }
    return d;
}

void srv_draw_free(srv_draw *d) {
    if (!d) return;
    if (d->started) {                /* the worker is not drawing: no part is out */
        pthread_mutex_lock(&d->mu);
        d->stop = 1;
        pthread_cond_broadcast(&d->cv);
        pthread_mutex_unlock(&d->mu);
        pthread_join(d->thread, NULL);
    }
    gan_sampler_free(d->sampler);
    gan_sampler_free(d->helper);
    free(d->gparams);
    free(d->gbuf);
    free(d->dparams);
    free(d->dbuf);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
