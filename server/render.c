/* render.c - the render worker, its queue, budget and cache (see render.h).
 *
 * One mutex guards everything here; the worker drops it while it copies a
 * snapshot or runs a job. Requests wait on one condition variable (done)
 * for their job or for the cache entry they coalesced on; the worker waits
 * on another (work) for jobs, for the next live tick or for its budget.
 *
 * Cache entries live in one LRU list (most recent first). An entry is
 * RENDERING from the moment a request created it until the worker filled
 * it; then READY (or FAILED, which only its waiters see). A lookup matches
 * a READY entry of the current version, or an entry still rendering with
 * the same key whatever its version (it will render with the newest
 * snapshot). Entries of older versions can never match again and are
 * dropped when the version moves; the rest is bounded by cache_mb, oldest
 * unused first. References (srv_rendered_release) keep an entry's bytes
 * alive while a reply is built from them.
 *
 * The budget is a token bucket in CPU seconds: it fills at render_share
 * times the number of cores per second of wall time, up to BURST_S, and
 * each job takes its own thread CPU time out of it. While it is negative
 * (and training runs) the worker waits.
 *
 * The worker draws with its own copy of G and D (draw.h). While training
 * does not run (paused, stepped, diverged, finished) the cores are free,
 * and a request of two sampler chunks or more is split with the drawer's
 * helper thread, with the same bytes; a 64-digit grid takes about half the
 * time. The helper's CPU time is charged to the job with the worker's own.
 */
#ifdef _OPENMP
#include <omp.h>
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "clock.h"
#include "draw.h"
#include "hash.h"
#include "render.h"
#include "run.h"

#define BURST_S 0.25          /* CPU seconds the budget may save up */
#define MAX_CLIENTS 256       /* addresses tracked for fairness at once */
#define WAIT_MAX_MS 250       /* the worker looks at the state at least this often */

typedef enum { E_RENDERING, E_READY, E_FAILED } entry_state;

struct srv_rendered {
    char key[SRV_RENDER_KEY_MAX];
    uint64_t hash;
    long version, iteration;
    entry_state state;
    int status;                      /* E_FAILED: the job's HTTP status */
    char err[200];
    unsigned char *data;
    size_t len;
    const char *type;
    char etag[64];
    int refs;
    int linked;                      /* in the LRU list */
    struct srv_rendered *prev, *next;
};

typedef struct job {
    srv_render_fn fn;
    void *arg;
    srv_rendered *e;                 /* the cache entry it fills */
    int status, done;
    char err[200];
    int client;                      /* index into r->clients */
    struct job *next;
} job;

typedef struct {
    char addr[48];
    int pending;                     /* queued or running jobs */
} client_slot;

struct srv_render {
    srv_state *st;
    srv_config cfg;
    srv_render_audience audience;         /* viewers NULL: nobody to broadcast to */
    srv_live_fn live_fn;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    int stop;
    /* queue */
    job *head, *tail;
    int queue_len;
    client_slot clients[MAX_CLIENTS];
    /* cache */
    srv_rendered *lru_head, *lru_tail;
    size_t cache_bytes, cache_cap;
    int cache_entries;
    /* snapshot (worker thread only, except version/iteration under mu) */
    srv_draw *draw;                        /* G and D's copy, and drawing with it */
    int idle;                              /* training is not running: the cores are free */
    long version, iteration;
    double last_refresh;
    int pending_refresh;                   /* newer weights wait for live_every_ms */
    cls_model *classifier;
    /* live grid */
    char live_key[SRV_RENDER_KEY_MAX];
    uint64_t live_seed;
    long live_iteration, live_version;
    /* budget */
    double tokens, last_fill;
    int ncpu;
    /* run identity and counters */
    uint64_t runid;
    srv_render_stats stats;
};

/* ---- small helpers --------------------------------------------------------- */

static uint64_t random_runid(void) {
    uint64_t v = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &v, sizeof v) != (ssize_t)sizeof v) v = 0;
        close(fd);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return v ^ srv_mix64((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^
           srv_mix64((uint64_t)getpid());
}

static void make_etag(const srv_render *r, long version, uint64_t hash, char *out, size_t len) {
    snprintf(out, len, "\"%016llx-%ld-%016llx\"", (unsigned long long)r->runid, version,
             (unsigned long long)hash);
}

void srv_render_samples_key(char *key, size_t len, const char *endpoint, long n, long scale,
                            uint64_t seed, int digit, int all_digits, int annotate) {
    int k = snprintf(key, len, "%s?n=%ld&scale=%ld&seed=%llu", endpoint, n, scale,
                     (unsigned long long)seed);
    if (k < 0 || (size_t)k >= len) return;
    if (digit >= 0) k += snprintf(key + k, len - (size_t)k, "&digit=%d", digit);
    else if (all_digits) k += snprintf(key + k, len - (size_t)k, "&digits=all");
    if (annotate && k > 0 && (size_t)k < len) snprintf(key + k, len - (size_t)k, "&annotate=1");
}

/* ---- the snapshot ---------------------------------------------------------- */

void srv_render_generate(srv_render_ctx *x, const float *z, const uint8_t *labels, int n,
                         float *images, float *verdict, int one_by_one) {
    srv_draw_generate(x->r->draw, z, labels, n, images, verdict, one_by_one, x->r->idle);
}

/* ---- cache (mutex held) ------------------------------------------------------ */

static void lru_unlink(srv_render *r, srv_rendered *e) {
    if (!e->linked) return;
    if (e->prev) e->prev->next = e->next; else r->lru_head = e->next;
    if (e->next) e->next->prev = e->prev; else r->lru_tail = e->prev;
    e->prev = e->next = NULL;
    e->linked = 0;
    r->cache_bytes -= e->len;
    r->cache_entries--;
}

static void lru_push_front(srv_render *r, srv_rendered *e) {
    e->prev = NULL;
    e->next = r->lru_head;
    if (r->lru_head) r->lru_head->prev = e; else r->lru_tail = e;
    r->lru_head = e;
    e->linked = 1;
    r->cache_bytes += e->len;
    r->cache_entries++;
}

static void entry_free(srv_rendered *e) {
    free(e->data);
    free(e);
}

static void entry_put(srv_render *r, srv_rendered *e) {
    if (--e->refs == 0 && !e->linked) entry_free(e);
    (void)r;
}

/* Drop unused entries: any of an older version, then the oldest until the
 * cache fits its cap. */
static void evict(srv_render *r) {
    for (srv_rendered *e = r->lru_tail, *p; e; e = p) {
        p = e->prev;
        int stale = e->state != E_RENDERING && e->version < r->version;
        if (!stale && r->cache_bytes <= r->cache_cap) continue;
        if (e->state == E_RENDERING) continue;
        lru_unlink(r, e);
        if (e->refs == 0) entry_free(e);
    }
}

static srv_rendered *lookup(srv_render *r, const char *key, uint64_t hash) {
    for (srv_rendered *e = r->lru_head; e; e = e->next)
        if (e->hash == hash && strcmp(e->key, key) == 0 &&
            (e->state == E_RENDERING || (e->state == E_READY && e->version == r->version)))
            return e;
    return NULL;
}

/* ---- queue and fairness (mutex held) ------------------------------------------- */

static int client_slot_of(srv_render *r, const char *addr) {
    int free_slot = -1;
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (r->clients[i].pending > 0 && strcmp(r->clients[i].addr, addr) == 0) return i;
        if (r->clients[i].pending == 0 && free_slot < 0) free_slot = i;
    }
    if (free_slot >= 0) snprintf(r->clients[free_slot].addr, sizeof r->clients[0].addr, "%s", addr);
    return free_slot;
}

/* The most one address may have queued: a quarter of the queue, at least 2. */
static int fair_share(const srv_render *r) {
    int q = r->cfg.render_queue > 0 ? r->cfg.render_queue : 1;
    return q / 4 > 2 ? q / 4 : 2;
}

/* Admit a job: 0, or 429/503 with *retry_s. */
static int admit(srv_render *r, job *j, const char *client, int *retry_s) {
    int slot = client_slot_of(r, client ? client : "?");
    if (r->queue_len >= r->cfg.render_queue || slot < 0) {
        r->stats.rejected_busy++;
        *retry_s = 1 + r->queue_len / 8;
        return SRV_RENDER_BUSY;
    }
    if (r->clients[slot].pending >= fair_share(r)) {
        r->stats.rejected_unfair++;
        *retry_s = 2;
        return SRV_RENDER_UNFAIR;
    }
    r->clients[slot].pending++;
    j->client = slot;
    j->next = NULL;
    if (r->tail) r->tail->next = j; else r->head = j;
    r->tail = j;
    r->queue_len++;
    pthread_cond_signal(&r->work);
    return 0;
}

/* ---- requests ---------------------------------------------------------------- */

const unsigned char *srv_rendered_data(const srv_rendered *e, size_t *len, const char **type) {
    *len = e->len;
    *type = e->type;
    return e->data;
}
const char *srv_rendered_etag(const srv_rendered *e) { return e->etag; }
long srv_rendered_iteration(const srv_rendered *e) { return e->iteration; }

void srv_rendered_release(srv_render *r, srv_rendered *e) {
    if (!e) return;
    pthread_mutex_lock(&r->mu);
    entry_put(r, e);
    pthread_mutex_unlock(&r->mu);
}

int srv_render_cached(srv_render *r, const char *client, const char *key,
                      const char *if_none_match, srv_render_fn fn, void *arg,
                      srv_rendered **out, char *etag_out, size_t etag_len, int *retry_s,
                      char *err, size_t errlen) {
    const uint64_t hash = srv_fnv1a(key);
    int rc;
    *out = NULL;
    pthread_mutex_lock(&r->mu);
    if (if_none_match && r->version > 0) {
        char tag[64];
        make_etag(r, r->version, hash, tag, sizeof tag);
        if (strstr(if_none_match, tag)) {
            r->stats.not_modified++;
            snprintf(etag_out, etag_len, "%s", tag);
            pthread_mutex_unlock(&r->mu);
            return SRV_RENDER_NOT_MODIFIED;
        }
    }
    srv_rendered *e = lookup(r, key, hash);
    if (e && e->state == E_READY) {
        r->stats.cache_hits++;
        lru_unlink(r, e);                  /* most recently used */
        lru_push_front(r, e);
    } else if (e) {
        r->stats.coalesced++;
    } else {
        e = calloc(1, sizeof *e);
        if (!e) {
            pthread_mutex_unlock(&r->mu);
            snprintf(err, errlen, "out of memory");
            return 500;
        }
        snprintf(e->key, sizeof e->key, "%s", key);
        e->hash = hash;
        e->state = E_RENDERING;
        e->version = r->version;
        job j = {.fn = fn, .arg = arg, .e = e};
        rc = admit(r, &j, client, retry_s);
        if (rc != 0) {
            free(e);
            pthread_mutex_unlock(&r->mu);
            snprintf(err, errlen, rc == SRV_RENDER_BUSY
                                      ? "the render queue is full: try again shortly"
                                      : "too many renders asked from this address at once");
            return rc;
        }
        e->refs = 1;                       /* the job's, handed to us when done */
        lru_push_front(r, e);
        while (!j.done) pthread_cond_wait(&r->done, &r->mu);
        goto ready;
    }
    e->refs++;
    while (e->state == E_RENDERING) pthread_cond_wait(&r->done, &r->mu);
ready:
    if (e->state == E_FAILED) {
        rc = e->status;
        snprintf(err, errlen, "%s", e->err);
        entry_put(r, e);
        pthread_mutex_unlock(&r->mu);
        return rc;
    }
    pthread_mutex_unlock(&r->mu);
    *out = e;
    return 0;
}

int srv_render_live(srv_render *r, char *key, size_t keylen, uint64_t *seed, long *iteration) {
    pthread_mutex_lock(&r->mu);
    int ok = r->live_key[0] != '\0';
    if (ok) {
        snprintf(key, keylen, "%s", r->live_key);
        *seed = r->live_seed;
        *iteration = r->live_iteration;
    }
    pthread_mutex_unlock(&r->mu);
    return ok ? 0 : -1;
}

void srv_render_get_stats(srv_render *r, srv_render_stats *s) {
    pthread_mutex_lock(&r->mu);
    *s = r->stats;
    s->queue_len = r->queue_len;
    s->cache_bytes = r->cache_bytes;
    s->cache_entries = r->cache_entries;
    s->version = r->version;
    s->iteration = r->iteration;
    pthread_mutex_unlock(&r->mu);
}

/* ---- the worker ---------------------------------------------------------------- */

/* A job's CPU time, charged to the budget: the worker's own and, when the
 * job was split, the drawer's helper's. Start with the mutex not held,
 * charge with it held. */
typedef struct {
    double cpu_s;
    srv_draw_counts draw;
} charge_mark;

static charge_mark charge_start(srv_render *r) {
    return (charge_mark){srv_thread_cpu_s(), srv_draw_counts_now(r->draw)};
}

static void charge(srv_render *r, charge_mark m) {
    const srv_draw_counts now = srv_draw_counts_now(r->draw);
    const double cpu = srv_thread_cpu_s() - m.cpu_s + (now.helper_cpu_s - m.draw.helper_cpu_s);
    r->tokens -= cpu;
    r->stats.cpu_s += cpu;
    r->stats.renders++;
    r->stats.split += now.splits > m.draw.splits;
}

/* Run one job (mutex not held) and charge its CPU time to the budget. */
static void run_job(srv_render *r, job *j) {
    srv_render_ctx x = {&r->cfg, r->version, r->iteration, r->st, r->classifier, r};
    srv_render_out out = {0};
    const charge_mark c0 = charge_start(r);
    if (r->version == 0) {
        j->status = 503;
        snprintf(j->err, sizeof j->err, "no generator published yet");
    } else {
        j->status = j->fn(&x, j->arg, &out, j->err, sizeof j->err);
    }
    pthread_mutex_lock(&r->mu);
    charge(r, c0);
    srv_rendered *e = j->e;
    e->version = r->version;
    e->iteration = r->iteration;
    if (j->status == 0) {
        lru_unlink(r, e);                  /* re-linked with its size */
        e->data = out.data;
        e->len = out.len;
        e->type = out.type;
        make_etag(r, e->version, e->hash, e->etag, sizeof e->etag);
        e->state = E_READY;
        lru_push_front(r, e);
    } else {
        free(out.data);
        e->state = E_FAILED;
        e->status = j->status;
        snprintf(e->err, sizeof e->err, "%s", j->err);
        lru_unlink(r, e);
    }
    evict(r);
    r->clients[j->client].pending--;
    j->done = 1;
    pthread_cond_broadcast(&r->done);
    pthread_mutex_unlock(&r->mu);
}

/* Render the live grid of this version and announce it (mutex not held). */
static void render_live(srv_render *r) {
    uint64_t seed = srv_mix64(r->runid ^ (uint64_t)r->version) >> 11;   /* < 2^53: exact in JSON */
    char key[SRV_RENDER_KEY_MAX], err[200];
    srv_render_out out = {0};
    srv_render_ctx x = {&r->cfg, r->version, r->iteration, r->st, r->classifier, r};
    const charge_mark c0 = charge_start(r);
    int rc = r->live_fn(&x, seed, key, sizeof key, &out, err, sizeof err);
    pthread_mutex_lock(&r->mu);
    charge(r, c0);
    srv_rendered *e = rc == 0 ? calloc(1, sizeof *e) : NULL;
    if (!e) {
        free(out.data);
        r->live_version = r->version;     /* no retry loop; the next snapshot tries again */
        pthread_mutex_unlock(&r->mu);
        return;
    }
    snprintf(e->key, sizeof e->key, "%s", key);
    e->hash = srv_fnv1a(key);
    e->version = r->version;
    e->iteration = r->iteration;
    e->data = out.data;
    e->len = out.len;
    e->type = out.type;
    make_etag(r, e->version, e->hash, e->etag, sizeof e->etag);
    e->state = E_READY;
    srv_rendered *old = lookup(r, key, e->hash);
    if (old && old->state == E_READY) {        /* a request was faster */
        lru_unlink(r, old);
        if (old->refs == 0) entry_free(old);
    }
    lru_push_front(r, e);
    snprintf(r->live_key, sizeof r->live_key, "%s", key);
    r->live_seed = seed;
    r->live_iteration = r->iteration;
    r->live_version = r->version;
    long version = r->version, iteration = r->iteration;
    evict(r);
    pthread_mutex_unlock(&r->mu);
    if (r->audience.announce) r->audience.announce(r->audience.ctx, version, iteration, seed, key);
}

static double live_every_s(srv_render *r) {
    srv_config cfg;
    srv_state_config(r->st, &cfg);
    r->cfg.render_share = cfg.render_share;     /* the live settings */
    r->cfg.live_every_ms = cfg.live_every_ms;
    return cfg.live_every_ms / 1000.0;
}

/* Move the snapshot to the newest published weights when it is due: at
 * most every live_every_ms while training runs, at once when paused,
 * stepped or restored (mutex not held). Returns whether training runs. */
static int refresh_snapshot(srv_render *r, double every) {
    srv_status s;
    srv_state_status(r->st, &s);
    /* the budget holds while training runs (not once the run ends, so a
     * stopping server never waits for it) */
    int running = s.state == SRV_RUNNING && !srv_state_quitting(r->st);
    double now = srv_now_s();
    if ((s.iteration != r->iteration || r->version == 0) &&
        (!running || r->version == 0 || now - r->last_refresh >= every)) {
        long it = srv_draw_copy_snapshot(r->draw, r->st);
        if (it >= 0) {
            pthread_mutex_lock(&r->mu);
            r->version++;
            r->iteration = it;
            r->last_refresh = now;
            evict(r);
            pthread_mutex_unlock(&r->mu);
        }
    }
    r->pending_refresh = s.iteration != r->iteration && running;
    return running;
}

static void *worker(void *arg) {
    srv_render *r = arg;
#ifdef _OPENMP
    omp_set_num_threads(1);                 /* one core; bit-identical answers */
#endif
    pthread_setname_np(pthread_self(), "ganlive-render");
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        pthread_mutex_unlock(&r->mu);
        double every = live_every_s(r);
        int running = refresh_snapshot(r, every);
        r->idle = !running;
        /* the shared live grid of this snapshot, while anyone watches */
        if (r->version > 0 && r->live_version != r->version && r->audience.viewers &&
            r->audience.viewers(r->audience.ctx) > 0)
            render_live(r);
        pthread_mutex_lock(&r->mu);
        /* budget: fill, and wait while spent (only while training runs) */
        double now = srv_now_s();
        double rate = r->cfg.render_share * r->ncpu;
        r->tokens += (now - r->last_fill) * rate;
        if (r->tokens > BURST_S) r->tokens = BURST_S;
        if (!running) r->tokens = r->tokens < 0 ? 0 : r->tokens;
        r->last_fill = now;
        r->stats.share = r->cfg.render_share;
        double wait_ms = WAIT_MAX_MS;
        if (r->version > 0 && r->pending_refresh) {
            double due = (r->last_refresh + every - now) * 1000.0;
            if (due < wait_ms) wait_ms = due;
        }
        if (r->head && (r->tokens >= 0 || !running)) {
            job *j = r->head;
            r->head = j->next;
            if (!r->head) r->tail = NULL;
            r->queue_len--;
            pthread_mutex_unlock(&r->mu);
            /* Again, now: a request admitted after a pause (or step, or
             * restore) returned must see its weights, even if the check
             * above ran before it, while the previous job or the live grid
             * was rendering. */
            refresh_snapshot(r, every);
            run_job(r, j);
            pthread_mutex_lock(&r->mu);
            continue;
        }
        if (r->head && rate > 0) {           /* budget spent: wait until it is back */
            double ms = -r->tokens / rate * 1000.0;
            if (ms < wait_ms) wait_ms = ms;
        }
        if (wait_ms < 1) wait_ms = 1;
        struct timespec ts = srv_deadline_ms(wait_ms);
        if (!r->stop) pthread_cond_timedwait(&r->work, &r->mu, &ts);
    }
    /* fail whatever is still queued */
    while (r->head) {
        job *j = r->head;
        r->head = j->next;
        r->queue_len--;
        j->status = 503;
        snprintf(j->err, sizeof j->err, "the server is stopping");
        j->e->state = E_FAILED;
        j->e->status = 503;
        snprintf(j->e->err, sizeof j->e->err, "the server is stopping");
        lru_unlink(r, j->e);
        r->clients[j->client].pending--;
        j->done = 1;
    }
    r->tail = NULL;
    pthread_cond_broadcast(&r->done);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- start and stop ----------------------------------------------------------------- */

srv_render *srv_render_start(srv_state *st, const srv_config *cfg, const srv_render_audience *audience,
                             srv_live_fn live_fn, char *err, size_t errlen) {
    srv_render *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->st = st;
    r->cfg = *cfg;
    if (audience) r->audience = *audience;
    r->live_fn = live_fn;
    r->cache_cap = (size_t)(cfg->cache_mb > 0 ? cfg->cache_mb : 1) << 20;
    r->runid = random_runid();
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    r->ncpu = n > 0 ? (int)n : 1;
    r->last_fill = srv_now_s();
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->work, NULL);
    pthread_cond_init(&r->done, NULL);
    r->draw = srv_draw_new(&cfg->model, r->ncpu);
    if (!r->draw) {
        snprintf(err, errlen, "out of memory for the render worker");
        goto fail;
    }
    {   /* optional: without it samples.json has no labels */
        char why[700];
        r->classifier = srv_classifier_load(cfg, GAN_SAMPLER_CHUNK, why, sizeof why);
        if (!r->classifier) fprintf(stderr, "ganlive: samples get no class labels: %s\n", why);
    }
    if (pthread_create(&r->thread, NULL, worker, r) != 0) {
        snprintf(err, errlen, "cannot start the render worker");
        goto fail;
    }
    r->started = 1;
    return r;
fail:
    srv_render_stop(r);
    return NULL;
}

void srv_render_stop(srv_render *r) {
    if (!r) return;
    if (r->started) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_cond_signal(&r->work);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
    }
    for (srv_rendered *e = r->lru_head, *next; e; e = next) {
        next = e->next;
        entry_free(e);                  /* no reply holds one: HTTP stopped first */
    }
    srv_draw_free(r->draw);             /* after the worker: it draws no more */
    cls_model_free(r->classifier);
    pthread_cond_destroy(&r->work);
    pthread_cond_destroy(&r->done);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
