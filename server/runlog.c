/* runlog.c - the run log's writer: a small thread that, every
 * SRV_RUNLOG_FLUSH_MS, copies what the trainer published into srv_state
 * (metrics points, quality passes, state changes, timeline snapshots) into
 * the run's append-only metrics.log, its timeline/ PNGs and run.json's
 * summary; and the log's line format, written here and parsed by the readers
 * (runs_read.c). runs.h has the design and the format.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include "checkpoint.h"
#include "runs.h"
#include "runs_priv.h"
#include "../nn/binio.h"

#define SUMMARY_EVERY_S 2.0

static double unix_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- log lines -------------------------------------------------------------- */

static size_t fmt_point(char *b, size_t room, const srv_point *p) {
    const gan_metrics *m = &p->m;
    int n = snprintf(b, room, "P %ld %ld %.17g %.9g %.9g %.9g %.9g %.9g %.9g %.9g\n", p->iteration,
                     p->count, p->time_s, (double)m->d_loss, (double)m->g_loss, (double)m->d_acc,
                     (double)m->d_acc_real, (double)m->d_acc_fake, (double)m->d_real,
                     (double)m->d_fake);
    return n < 0 ? 0 : (size_t)n < room ? (size_t)n : room - 1;
}

static size_t fmt_pass(char *b, size_t room, const srv_quality_pass *q) {
    int n = snprintf(b, room, "Q %ld %.17g %.9g %.9g %.9g %.9g", q->iteration, q->time_s,
                     (double)q->confidence, (double)q->inception_score, (double)q->frechet,
                     (double)q->nn_ratio);
    for (int k = 0; k < GAN_CLASSES && n > 0 && (size_t)n < room; k++)
        n += snprintf(b + n, room - (size_t)n, " %.9g", (double)q->histogram[k]);
    if (n > 0 && (size_t)n < room)
        n += snprintf(b + n, room - (size_t)n, " %d %d", q->mode_collapse, q->copying);
    if (n > 0 && (size_t)n < room && q->has_as_asked)     /* conditional runs: the readable share */
        n += snprintf(b + n, room - (size_t)n, " %.9g", (double)q->as_asked);
    if (n > 0 && (size_t)n < room) n += snprintf(b + n, room - (size_t)n, "\n");
    return n < 0 ? 0 : (size_t)n < room ? (size_t)n : room - 1;
}

/* strtod/strtol over a line, failing on anything missing. */
typedef struct { const char *s; int bad; } cursor;
static double cur_num(cursor *c) {
    char *end;
    errno = 0;
    double v = strtod(c->s, &end);
    if (end == c->s) { c->bad = 1; return 0; }
    c->s = end;
    return v;
}
static long cur_long(cursor *c) {
    char *end;
    long v = strtol(c->s, &end, 10);
    if (end == c->s) { c->bad = 1; return 0; }
    c->s = end;
    return v;
}

int srv_runlog_parse(const char *line, srv_point *p, srv_quality_pass *q) {
    size_t len = strlen(line);
    if (len < 2 || line[len - 1] != '\n' || line[1] != ' ') return 0;
    cursor c = {line + 2, 0};
    if (line[0] == 'P' && p) {
        memset(p, 0, sizeof *p);
        p->iteration = cur_long(&c);
        p->count = cur_long(&c);
        p->time_s = cur_num(&c);
        float *f[] = {&p->m.d_loss, &p->m.g_loss, &p->m.d_acc, &p->m.d_acc_real,
                      &p->m.d_acc_fake, &p->m.d_real, &p->m.d_fake};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) *f[i] = (float)cur_num(&c);
        return c.bad ? 0 : 'P';
    }
    if (line[0] == 'Q' && q) {
        memset(q, 0, sizeof *q);
        q->iteration = cur_long(&c);
        q->time_s = cur_num(&c);
        q->confidence = (float)cur_num(&c);
        q->inception_score = (float)cur_num(&c);
        q->frechet = (float)cur_num(&c);
        q->nn_ratio = (float)cur_num(&c);
        for (int k = 0; k < GAN_CLASSES; k++) q->histogram[k] = (float)cur_num(&c);
        q->mode_collapse = (int)cur_long(&c);
        q->copying = (int)cur_long(&c);
        while (*c.s == ' ') c.s++;
        if (!c.bad && *c.s != '\n') {                      /* as_asked: logs before it lack it */
            q->as_asked = (float)cur_num(&c);
            q->has_as_asked = 1;
        }
        return c.bad ? 0 : 'Q';
    }
    if (line[0] == 'S') return 'S';
    if (line[0] == 'T') {
        srv_run_snap t;
        return srv_runlog_parse_snap(line, &t);
    }
    return 0;
}

int srv_runlog_parse_snap(const char *line, srv_run_snap *t) {
    size_t len = strlen(line);
    if (len < 2 || line[len - 1] != '\n' || line[0] != 'T' || line[1] != ' ') return 0;
    cursor c = {line + 2, 0};
    t->iteration = cur_long(&c);
    t->time_s = cur_num(&c);
    while (*c.s == ' ') c.s++;
    return c.bad || *c.s != '\n' || t->iteration < 0 ? 0 : 'T';
}
/* ---- the writer --------------------------------------------------------------- */

struct srv_runlog {
    srv_state *st;
    srv_config cfg;
    char dir[512];
    int fd;
    int dfd;                              /* the run directory, -1 if it cannot be opened */
    int tfd;                              /* its timeline/ (O_NOFOLLOW), -1 until made */
    long last_p, last_q, last_t;          /* newest logged point, pass, snapshot (-1: none) */
    long *tl_its;                         /* [tl_max] iterations of the in-memory timeline */
    int tl_max, tl_failed;
    int last_state;
    long last_seq_summary;
    double created, last_summary;
    double ips;                           /* the last images/s while it trained */
    int summary_dirty, write_failed;
    srv_point *pts;
    srv_quality_pass *passes;
    char *buf;
    size_t len, cap;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    long period_ms;                       /* SRV_RUNLOG_FLUSH_MS, or the test hook's */
};

#define PTS_CHUNK 4096

static void lb_add(srv_runlog *l, const char *s, size_t n) {
    if (l->len + n > l->cap) {
        size_t cap = l->cap * 2 > l->len + n ? l->cap * 2 : l->len + n;
        char *b = realloc(l->buf, cap);
        if (!b) return;                                  /* dropped; next tick goes on */
        l->buf = b;
        l->cap = cap;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void lb_flush(srv_runlog *l) {
    size_t off = 0;
    while (off < l->len) {
        ssize_t w = write(l->fd, l->buf + off, l->len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (!l->write_failed)
                fprintf(stderr, "ganlive: cannot append to %s/metrics.log: %s; training goes on\n",
                        l->dir, strerror(errno));
            l->write_failed = 1;
            break;
        }
        off += (size_t)w;
    }
    l->len = 0;
}

/* The settings of cfg that differ from its preset's, as an object. */
static cJSON *differs_json(const srv_config *cfg) {
    static const char *const keys[][2] = {
        {"data", "dataset"}, {"model", "nz"}, {"model", "ngf"}, {"model", "ndf"},
        {"model", "g_output"}, {"model", "conditional"}, {"train", "batch"}, {"train", "lr_d"},
        {"train", "lr_g"}, {"train", "beta1"}, {"train", "beta2"}, {"train", "adam_eps"},
        {"train", "d_steps"}, {"train", "g_steps"}, {"train", "balance"},
    };
    srv_config base;
    srv_config_default(&base);
    srv_config_preset(&base, cfg->preset);
    cJSON *a = srv_config_to_json(cfg), *b = srv_config_to_json(&base), *o = cJSON_CreateObject();
    for (size_t i = 0; a && b && o && i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *va = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, keys[i][0]), keys[i][1]);
        const cJSON *vb = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, keys[i][0]), keys[i][1]);
        if (va && (!vb || !cJSON_Compare(va, vb, 1)))
            cJSON_AddItemToObject(o, keys[i][1], cJSON_Duplicate(va, 1));
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    return o;
}

static cJSON *pass_summary_json(const srv_quality_pass *q) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "iteration", (double)q->iteration);
#define NUM(k, v) do { double x_ = (v); if (isfinite(x_)) { char b_[32]; snprintf(b_, sizeof b_, "%.7g", x_); \
        cJSON_AddNumberToObject(o, k, strtod(b_, NULL)); } else cJSON_AddNullToObject(o, k); } while (0)
    NUM("confidence", q->confidence);
    NUM("inception_score", q->inception_score);
    NUM("frechet", q->frechet);
    NUM("nn_ratio", q->nn_ratio);
#undef NUM
    cJSON_AddBoolToObject(o, "mode_collapse", q->mode_collapse);
    cJSON_AddBoolToObject(o, "copying", q->copying);
    return o;
}

static void add_num(cJSON *o, const char *k, double v, int digits) {
    if (!isfinite(v)) { cJSON_AddNullToObject(o, k); return; }
    char b[40];
    snprintf(b, sizeof b, "%.*g", digits, v);
    cJSON_AddNumberToObject(o, k, strtod(b, NULL));
}

static void write_summary(srv_runlog *l, const srv_status *s, const srv_quality_pass *lastq,
                          double time_s) {
    srv_config cfg;
    srv_state_config(l->st, &cfg);
    cJSON *o = cJSON_CreateObject();
    if (!o) return;
    cJSON_AddStringToObject(o, "name", l->cfg.run_name);
    cJSON_AddStringToObject(o, "preset", l->cfg.preset);
    add_num(o, "created", l->created, 13);
    add_num(o, "updated", unix_now(), 13);
    cJSON_AddStringToObject(o, "dataset", l->cfg.dataset);
    cJSON_AddNumberToObject(o, "batch", cfg.model.batch);
    cJSON_AddBoolToObject(o, "conditional", cfg.model.conditional);
    cJSON_AddItemToObject(o, "differs", differs_json(&cfg));
    cJSON_AddNumberToObject(o, "iteration", (double)s->iteration);
    add_num(o, "time_s", time_s, 10);
    /* a run too short for a rate: its mean */
    add_num(o, "images_per_sec", l->ips > 0 ? l->ips : time_s > 0 ? (double)s->iteration * cfg.model.batch / time_s : NAN, 6);
    cJSON_AddStringToObject(o, "state", srv_run_state_name(s->state));
    if (s->state == SRV_DIVERGED) cJSON_AddStringToObject(o, "diverged_reason", s->diverged_reason);
    if (lastq) cJSON_AddItemToObject(o, "quality", pass_summary_json(lastq));
    else cJSON_AddNullToObject(o, "quality");
    cJSON *c = srv_config_to_json(&cfg);
    if (c) cJSON_DeleteItemFromObjectCaseSensitive(c, "server");
    if (c) cJSON_AddItemToObject(o, "config", c);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return;
    char path[1100];
    snprintf(path, sizeof path, "%s/run.json", l->dir);
    if (srv_run_write_atomic(path, text) < 0 && !l->write_failed)
        fprintf(stderr, "ganlive: cannot write %s: %s\n", path, strerror(errno));
    free(text);
}

/* The run's wall time at iteration `it`: its point's (or the bucket that
 * holds it, once merged), 0 for iteration 0, else the newest point's. */
static double snap_time(srv_runlog *l, long it) {
    srv_point p;
    long cur;
    if (it <= 0) return 0;
    if (srv_state_metrics(l->st, it - 1, 1, &p, &cur) == 1) return p.time_s;
    return srv_state_latest_point(l->st, &p) == 0 ? p.time_s : NAN;
}

/* Write snapshot `it` as timeline/<it>.png (temp file + rename, nothing
 * followed through a symlink). 0, or -1 (reported once; skipped). */
static int save_snapshot(srv_runlog *l, long it) {
    unsigned char *png = NULL;
    size_t len = 0;
    char name[40], tmp[48];
    int fd = -1, rc = -1, made = 0;
    const char *what = "make";
    if (l->tfd < 0 && l->dfd >= 0) {
        char path[1100];
        snprintf(path, sizeof path, "%s/timeline", l->dir);
        if (srv_mkdir_p(path) == 0)
            l->tfd = openat(l->dfd, "timeline", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (l->tfd < 0) goto done;
    what = "encode";
    int got = srv_state_timeline_png(l->st, it, NULL, &png, &len);
    if (got == -1) { rc = 0; errno = 0; goto done; }   /* thinned away meanwhile: nothing to keep */
    if (got != 0) { errno = ENOMEM; goto done; }
    what = "write";
    snprintf(name, sizeof name, "%ld.png", it);
    snprintf(tmp, sizeof tmp, "%ld.png.tmp", it);
    fd = openat(l->tfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) goto done;
    made = 1;
    if (nn_write_all(fd, png, len) < 0) goto done;
    int cl = close(fd);
    fd = -1;
    if (cl != 0 || renameat(l->tfd, tmp, l->tfd, name) < 0) goto done;
    made = 0;
    rc = 1;
done:
    if (fd >= 0) close(fd);
    if (made) unlinkat(l->tfd, tmp, 0);
    if (rc < 0 && !l->tl_failed) {
        fprintf(stderr, "ganlive: cannot %s %s/timeline/%ld.png: %s; timeline snapshots are not "
                "kept on disk, training goes on\n", what, l->dir, it, errno ? strerror(errno) : "no memory");
        l->tl_failed = 1;
    }
    free(png);
    return rc;
}

/* Every snapshot of the in-memory timeline newer than the last one logged:
 * its PNG, then its T record. 1 when a record was added. */
static int log_snapshots(srv_runlog *l, char *line, size_t room) {
    int added = 0;
    int n = l->tl_its ? srv_state_timeline_list(l->st, l->tl_its, NULL, l->tl_max) : 0;
    for (int i = 0; i < n; i++) {
        const long it = l->tl_its[i];
        if (it <= l->last_t) continue;
        if (save_snapshot(l, it) == 1) {
            int k = snprintf(line, room, "T %ld %.17g\n", it, snap_time(l, it));
            if (k > 0 && (size_t)k < room) lb_add(l, line, (size_t)k);
            added = 1;
        }
        l->last_t = it;                                  /* a failed one is not retried */
    }
    return added;
}

static void tick(srv_runlog *l, int final) {
    char line[SRV_RUNLOG_LINE_MAX];
    long cur = 0;
    double time_s = NAN;
    int added = 0;
    for (;;) {
        int n = srv_state_metrics(l->st, l->last_p, PTS_CHUNK, l->pts, &cur);
        for (int i = 0; i < n; i++) lb_add(l, line, fmt_point(line, sizeof line, &l->pts[i]));
        if (n > 0) { l->last_p = l->pts[n - 1].iteration; added = 1; }
        if (n < PTS_CHUNK) break;
    }
    srv_point lp;
    if (srv_state_latest_point(l->st, &lp) == 0) time_s = lp.time_s;
    srv_quality_info info;
    int nq = srv_state_quality(l->st, &info, l->passes, SRV_QUALITY_MAX);
    for (int i = 0; i < nq; i++) {
        if (l->passes[i].iteration <= l->last_q) continue;
        lb_add(l, line, fmt_pass(line, sizeof line, &l->passes[i]));
        l->last_q = l->passes[i].iteration;
        added = 1;
    }
    if (log_snapshots(l, line, sizeof line)) added = 1;
    srv_status s;
    srv_state_status(l->st, &s);
    if (s.state == SRV_RUNNING && isfinite(s.images_per_sec) && s.images_per_sec > 0) l->ips = s.images_per_sec;
    if ((int)s.state != l->last_state) {
        int n = snprintf(line, sizeof line, "S %.3f %ld %s%s%.200s\n", unix_now(), s.iteration,
                         srv_run_state_name(s.state), s.state == SRV_DIVERGED ? " " : "",
                         s.state == SRV_DIVERGED ? s.diverged_reason : "");
        for (char *p = line + 2; p < line + n - 1; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
        lb_add(l, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        l->last_state = (int)s.state;
        added = 1;
    }
    lb_flush(l);
    if (added || s.state_seq != l->last_seq_summary) l->summary_dirty = 1;
    double now = unix_now();
    if (l->summary_dirty && (final || now - l->last_summary >= SUMMARY_EVERY_S)) {
        write_summary(l, &s, nq > 0 ? &l->passes[nq - 1] : NULL, time_s);
        l->summary_dirty = 0;
        l->last_summary = now;
        l->last_seq_summary = s.state_seq;
    }
}

static void *writer_main(void *arg) {
    srv_runlog *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        pthread_mutex_unlock(&l->mu);
        tick(l, 0);
        pthread_mutex_lock(&l->mu);
        if (l->stop) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += l->period_ms % 1000 * 1000000L;
        ts.tv_sec += l->period_ms / 1000 + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Move dir's log and run.json into the old-<time>/ that srv_ckpt_startup
 * made at or after `since` (or a new one). */
static void set_log_aside(const char *dir, time_t since) {
    char log[1100], js[1100], tl[1100];
    snprintf(log, sizeof log, "%s/metrics.log", dir);
    snprintf(js, sizeof js, "%s/run.json", dir);
    snprintf(tl, sizeof tl, "%s/timeline", dir);
    struct stat sb;
    const int has_tl = lstat(tl, &sb) == 0;
    if (access(log, F_OK) != 0 && access(js, F_OK) != 0 && !has_tl) return;
    long best = -1;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!srv_run_old_seg_valid(e->d_name)) continue;
        long t = atol(e->d_name + 4);
        if (t >= (long)since && t > best) best = t;
    }
    if (d) closedir(d);
    if (best < 0) best = (long)time(NULL);
    char aside[1100], to[1200];
    snprintf(aside, sizeof aside, "%s/old-%ld", dir, best);
    if (mkdir(aside, 0755) < 0 && errno != EEXIST) return;
    snprintf(to, sizeof to, "%s/metrics.log", aside);
    if (access(log, F_OK) == 0 && rename(log, to) < 0)
        fprintf(stderr, "ganlive: cannot move %s aside: %s\n", log, strerror(errno));
    snprintf(to, sizeof to, "%s/run.json", aside);
    if (access(js, F_OK) == 0) rename(js, to);
    snprintf(to, sizeof to, "%s/timeline", aside);
    if (has_tl && rename(tl, to) < 0)
        fprintf(stderr, "ganlive: cannot move %s aside: %s\n", tl, strerror(errno));
}

/* Last P, Q and T iterations of an existing log, cutting off a torn last
 * line; its newest passes go into ring[0..max) (*nq: how many were read). */
static void scan_existing(int fd, long *last_p, long *last_q, long *last_t, srv_quality_pass *ring,
                          int max, long *nq) {
    struct stat sb;
    if (fstat(fd, &sb) < 0 || sb.st_size == 0) return;
    char ch;
    if (pread(fd, &ch, 1, sb.st_size - 1) == 1 && ch != '\n') {
        off_t end = sb.st_size;                          /* cut back to the last newline */
        char b[4096];
        while (end > 0) {
            off_t from = end > (off_t)sizeof b ? end - (off_t)sizeof b : 0;
            ssize_t n = pread(fd, b, (size_t)(end - from), from);
            if (n <= 0) { end = 0; break; }
            ssize_t i = n - 1;
            while (i >= 0 && b[i] != '\n') i--;
            if (i >= 0) { end = from + i + 1; break; }
            end = from;
        }
        if (ftruncate(fd, end) < 0) { /* the reader ignores a torn line anyway */ }
    }
    int dfd = dup(fd);
    FILE *f = dfd >= 0 ? fdopen(dfd, "r") : NULL;
    if (!f) { if (dfd >= 0) close(dfd); return; }
    rewind(f);
    char line[SRV_RUNLOG_LINE_MAX];
    srv_point p;
    srv_quality_pass q;
    srv_run_snap t;
    while (fgets(line, sizeof line, f)) {
        int k = srv_runlog_parse(line, &p, &q);
        if (k == 'P' && p.iteration > *last_p) *last_p = p.iteration;
        if (k == 'Q' && q.iteration > *last_q) {
            *last_q = q.iteration;
            ring[(*nq)++ % max] = q;
        }
        if (k == 'T' && srv_runlog_parse_snap(line, &t) == 'T' && t.iteration > *last_t)
            *last_t = t.iteration;
    }
    fclose(f);
}

static void read_created(const char *dir, double *created) {
    char path[1100];
    snprintf(path, sizeof path, "%s/run.json", dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    char *b = malloc(SRV_RUN_JSON_MAX + 1);
    size_t n = b ? fread(b, 1, SRV_RUN_JSON_MAX, f) : 0;
    fclose(f);
    if (!b) return;
    cJSON *o = cJSON_ParseWithLength(b, n);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "created");
    if (cJSON_IsNumber(c)) *created = c->valuedouble;
    cJSON_Delete(o);
    free(b);
}

srv_runlog *srv_runlog_start(srv_state *st, const srv_config *cfg, int fresh, time_t since) {
    if (!cfg->run_dir[0]) return NULL;
    srv_runlog *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->st = st;
    l->cfg = *cfg;
    snprintf(l->dir, sizeof l->dir, "%s", cfg->run_dir);
    l->last_state = -1;
    l->last_seq_summary = -1;
    l->fd = l->dfd = l->tfd = -1;
    l->last_t = -1;
    l->period_ms = SRV_RUNLOG_FLUSH_MS;
    /* TEST HOOK: GANLIVE_TEST_RUNLOG_MS=N flushes every N ms instead (a long
     * period leaves the log to the final flush at the end, which the run
     * suite checks that way) */
    const char *hook = getenv("GANLIVE_TEST_RUNLOG_MS");
    if (hook && atol(hook) >= 10) l->period_ms = atol(hook);
    l->created = unix_now();
    l->pts = malloc(PTS_CHUNK * sizeof *l->pts);
    l->passes = malloc(SRV_QUALITY_MAX * sizeof *l->passes);
    l->tl_max = cfg->timeline_max > 0 ? cfg->timeline_max : 1;
    l->tl_its = malloc((size_t)l->tl_max * sizeof *l->tl_its);
    if (!l->pts || !l->passes || !l->tl_its) goto fail;
    if (fresh) set_log_aside(l->dir, since);
    else read_created(l->dir, &l->created);
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.log", l->dir);
    l->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (l->fd < 0) {
        fprintf(stderr, "ganlive: cannot open %s: %s; the run is not logged\n", path, strerror(errno));
        goto fail;
    }
    long nq = 0;
    scan_existing(l->fd, &l->last_p, &l->last_q, &l->last_t, l->passes, SRV_QUALITY_MAX, &nq);
    if (!fresh && nq > 0) {                              /* the passes from before the restart */
        srv_status s;
        srv_state_status(st, &s);
        const long from = nq > SRV_QUALITY_MAX ? nq - SRV_QUALITY_MAX : 0;
        for (long i = from; i < nq; i++) {
            const srv_quality_pass *q = &l->passes[i % SRV_QUALITY_MAX];
            if (q->iteration <= s.iteration) srv_state_add_quality(st, q);
        }
    }
    l->dfd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat sb;
    if (fstat(l->fd, &sb) == 0 && sb.st_size == 0) {
        static const char head[] =
            "# ganlive run log v1 (runs.h): P iteration count time_s d_loss g_loss d_acc d_acc_real "
            "d_acc_fake d_real d_fake | Q iteration time_s confidence inception_score frechet nn_ratio "
            "h0..h9 mode_collapse copying | S unix_time iteration state [reason] | T iteration time_s\n";
        lb_add(l, head, sizeof head - 1);
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (pthread_create(&l->thread, NULL, writer_main, l) != 0) {
        fprintf(stderr, "ganlive: cannot start the run log writer; the run is not logged\n");
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
        goto fail;
    }
    return l;
fail:
    if (l->fd >= 0) close(l->fd);
    if (l->dfd >= 0) close(l->dfd);
    free(l->pts);
    free(l->passes);
    free(l->tl_its);
    free(l->buf);
    free(l);
    return NULL;
}

void srv_runlog_stop(srv_runlog *l) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    tick(l, 1);
    close(l->fd);
    if (l->dfd >= 0) close(l->dfd);
    if (l->tfd >= 0) close(l->tfd);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l->pts);
    free(l->passes);
    free(l->tl_its);
    free(l->buf);
    free(l);
}
