/* runs.c - run names, the run log writer, and reading runs back from disk
 * (see runs.h for the design and the log format).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include "checkpoint.h"
#include "png.h"
#include "runs.h"
#include "../nn/binio.h"

#define LINE_MAX_BYTES 1024              /* a log line is far shorter */
#define RUN_JSON_MAX (256 * 1024)
#define SUMMARY_EVERY_S 2.0

static double unix_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- names ------------------------------------------------------------------ */

static int seg_valid(const char *s, size_t n) {
    if (n == 0 || n > SRV_RUN_SEG_MAX || !isalnum((unsigned char)s[0])) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '.' && ch != '_' && ch != '-') return 0;
    }
    return 1;
}

static int old_seg_valid(const char *s) {
    if (strncmp(s, "old-", 4) != 0 || !s[4] || strlen(s) > 24) return 0;
    for (const char *p = s + 4; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    return 1;
}

int srv_run_name_valid(const char *name) {
    if (!name) return 0;
    const char *slash = strchr(name, '/');
    if (!slash) return seg_valid(name, strlen(name));
    return seg_valid(name, (size_t)(slash - name)) && old_seg_valid(slash + 1);
}

static int is_dir(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Write text to path through a temp file and rename (no fsync). */
static int write_atomic(const char *path, const char *text) {
    char tmp[1200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return -1;
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) < 0) { unlink(tmp); return -1; }
    return 0;
}

/* 0 when dir's run.json names another preset than `preset` (a run of
 * another recipe is not resumed by default: its checkpoints would be
 * refused), else 1. */
static int same_preset(const char *dir, const char *preset) {
    char path[1200];
    snprintf(path, sizeof path, "%s/run.json", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 1;
    char *b = malloc(RUN_JSON_MAX);
    size_t n = b ? fread(b, 1, RUN_JSON_MAX, f) : 0;
    fclose(f);
    cJSON *o = b ? cJSON_ParseWithLength(b, n) : NULL;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "preset");
    int same = !cJSON_IsString(p) || strcmp(p->valuestring, preset) == 0;
    cJSON_Delete(o);
    free(b);
    return same;
}

void srv_run_new_name(const char *root, const char *preset, char *name, size_t len) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32], path[1100];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    for (int k = 1; k < 1000; k++) {
        if (k == 1) snprintf(name, len, "%.16s-%s", preset, stamp);
        else snprintf(name, len, "%.16s-%s-%d", preset, stamp, k);
        snprintf(path, sizeof path, "%s/%s", root, name);
        if (access(path, F_OK) != 0) break;
    }
}

int srv_runs_resolve(srv_config *cfg, int run_dir_given, int fresh, char *err, size_t errlen) {
    if (!run_dir_given && !cfg->run_name[0] && !cfg->run_dir[0]) return 0;   /* checkpoints off */
    if (run_dir_given || (!cfg->run_name[0] && strcmp(cfg->run_dir, "runs/default") != 0)) {
        cfg->run_dir_fixed = 1;
        const int named = cfg->run_name[0] != '\0';
        const char *base = strrchr(cfg->run_dir, '/');
        base = base && base[1] ? base + 1 : cfg->run_dir;
        if (!cfg->run_name[0]) snprintf(cfg->run_name, sizeof cfg->run_name, "%.127s", base);
        if (strcmp(cfg->runs_root, "runs") == 0 || !cfg->runs_root[0]) {   /* its parent lists it */
            if (base == cfg->run_dir) snprintf(cfg->runs_root, sizeof cfg->runs_root, ".");
            else snprintf(cfg->runs_root, sizeof cfg->runs_root, "%.*s",
                          (int)(base - 1 - cfg->run_dir) ? (int)(base - 1 - cfg->run_dir) : 1, cfg->run_dir);
        }
        /* a named run placed at <root>/<name> outright (POST /api/run's
         * restart does that): the run started last, as below */
        char at[1100], text[80];
        if (named && seg_valid(cfg->run_name, strlen(cfg->run_name)) && strcmp(cfg->run_name, "current") != 0 &&
            snprintf(at, sizeof at, "%s/%s", cfg->runs_root, cfg->run_name) < (int)sizeof at &&
            strcmp(at, cfg->run_dir) == 0 && srv_mkdir_p(cfg->runs_root) == 0) {
            snprintf(at, sizeof at, "%s/current", cfg->runs_root);
            snprintf(text, sizeof text, "%s\n", cfg->run_name);
            write_atomic(at, text);
        }
        return 0;
    }
    const char *root = cfg->runs_root[0] ? cfg->runs_root : "runs";
    char name[SRV_RUN_SEG_MAX + 1] = "", path[1100];
    if (cfg->run_name[0]) {
        if (!seg_valid(cfg->run_name, strlen(cfg->run_name))) {
            snprintf(err, errlen, "--run-name \"%.64s\": a name is 1..64 letters, digits, '.', '_' "
                     "or '-', starting with a letter or digit", cfg->run_name);
            return -1;
        }
        if (strcmp(cfg->run_name, "current") == 0) {
            snprintf(err, errlen, "--run-name: \"current\" is taken (it names the run a server trains)");
            return -1;
        }
        snprintf(name, sizeof name, "%s", cfg->run_name);
    }
    if (!name[0] && !fresh) {
        snprintf(path, sizeof path, "%s/current", root);
        FILE *f = fopen(path, "r");
        if (f) {
            char line[128] = "";
            if (fgets(line, sizeof line, f)) {
                line[strcspn(line, "\r\n")] = '\0';
                snprintf(path, sizeof path, "%s/%s", root, line);
                if (seg_valid(line, strlen(line)) && is_dir(path) && same_preset(path, cfg->preset))
                    snprintf(name, sizeof name, "%s", line);
            }
            fclose(f);
        }
        snprintf(path, sizeof path, "%s/default", root);
        if (!name[0] && is_dir(path)) snprintf(name, sizeof name, "default");
    }
    if (!name[0]) srv_run_new_name(root, cfg->preset, name, sizeof name);   /* a new run */
    snprintf(cfg->run_name, sizeof cfg->run_name, "%s", name);
    if (snprintf(cfg->run_dir, sizeof cfg->run_dir, "%s/%s", root, name) >= (int)sizeof cfg->run_dir) {
        snprintf(err, errlen, "--runs-root: path too long");
        return -1;
    }
    if (srv_mkdir_p(root) == 0) {
        char text[80];
        snprintf(path, sizeof path, "%s/current", root);
        snprintf(text, sizeof text, "%s\n", name);
        write_atomic(path, text);
    }
    return 0;
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
    if (write_atomic(path, text) < 0 && !l->write_failed)
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
    char line[LINE_MAX_BYTES];
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
        if (!old_seg_valid(e->d_name)) continue;
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
    char line[LINE_MAX_BYTES];
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
    char *b = malloc(RUN_JSON_MAX + 1);
    size_t n = b ? fread(b, 1, RUN_JSON_MAX, f) : 0;
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

/* ---- readers -------------------------------------------------------------------- */

int srv_run_open(const char *root, const char *name) {
    if (!srv_run_name_valid(name)) { errno = EINVAL; return -1; }
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0) { errno = ENOENT; return -1; }
    char seg[SRV_RUN_NAME_MAX + 1];
    snprintf(seg, sizeof seg, "%s", name);
    char *slash = strchr(seg, '/');
    if (slash) *slash = '\0';
    int dfd = openat(rfd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(rfd);
    if (dfd >= 0 && slash) {
        int sub = openat(dfd, slash + 1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(dfd);
        dfd = sub;
    }
    if (dfd < 0) { errno = ENOENT; return -1; }
    return dfd;
}

FILE *srv_run_log_open(int dfd) {
    int fd = openat(dfd, "metrics.log", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) { close(fd); errno = ENOENT; return NULL; }
    FILE *f = fdopen(fd, "r");
    if (!f) close(fd);
    return f;
}

/* The iteration of the first whole P line at or after byte off (off > 0:
 * after the next newline), or LONG_MAX at the end. */
static long p_after(FILE *f, long off) {
    char line[LINE_MAX_BYTES];
    srv_point p;
    if (fseek(f, off, SEEK_SET) < 0) return LONG_MAX;
    if (off > 0 && !fgets(line, sizeof line, f)) return LONG_MAX;
    while (fgets(line, sizeof line, f))
        if (srv_runlog_parse(line, &p, NULL) == 'P') return p.iteration;
    return LONG_MAX;
}

/* The last whole P line's iteration (0 when none): read backwards in blocks. */
static long last_p(FILE *f, long size) {
    enum { BLK = 65536 };
    char *b = malloc(BLK + 2);
    if (!b) return 0;
    long from = size, found = 0;
    while (from > 0 && !found) {
        long start = from > BLK ? from - BLK : 0;
        if (fseek(f, start, SEEK_SET) < 0) break;
        size_t n = fread(b, 1, (size_t)(from - start), f);
        b[n] = '\0';
        size_t i0 = 0;
        if (start > 0) {                                 /* the first line may be partial */
            char *nl = memchr(b, '\n', n);
            if (!nl) { from = start; continue; }
            i0 = (size_t)(nl - b) + 1;
        }
        for (size_t i = i0; i < n;) {
            char *nl = memchr(b + i, '\n', n - i);
            if (!nl) break;                              /* a torn last line */
            char save = nl[1];
            nl[1] = '\0';
            srv_point p;
            if (srv_runlog_parse(b + i, &p, NULL) == 'P') found = p.iteration;
            nl[1] = save;
            i = (size_t)(nl - b) + 1;
        }
        if (start == 0) break;
        from = start + (long)i0 < from ? start + (long)i0 : start;   /* always moves back */
    }
    free(b);
    return found;
}

static long newest_ckpt(int dfd);

/* The newest checkpoint of a run: its file name and stat (a regular file,
 * not followed through a symlink). 0, or -1 when there is none. */
static int newest_ckpt_file(int dfd, char *fname, size_t room, struct stat *sb) {
    long it = newest_ckpt(dfd);
    if (it < 0) return -1;
    snprintf(fname, room, "ckpt-%09ld.bin", it);
    if (fstatat(dfd, fname, sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb->st_mode)) return -1;
    return 0;
}

/* Run fn on the run's newest checkpoint, loaded whole (its size bounds the
 * memory; one such read at a time, under ckpt_read_mu). fn's result, or -1
 * when there is no readable checkpoint. */
static pthread_mutex_t ckpt_read_mu = PTHREAD_MUTEX_INITIALIZER;
static int with_newest_ckpt(int dfd, int (*fn)(const srv_ckpt *ck, void *arg), void *arg) {
    char fname[64], path[128], why[256];
    struct stat sb;
    if (newest_ckpt_file(dfd, fname, sizeof fname, &sb) < 0) return -1;
    snprintf(path, sizeof path, "/proc/self/fd/%d/%s", dfd, fname);   /* through the checked dfd */
    pthread_mutex_lock(&ckpt_read_mu);
    srv_ckpt ck;
    int n = -1;
    if (srv_ckpt_load_file(path, &ck, why, sizeof why) == SRV_CKPT_OK) {
        n = fn(&ck, arg);
        srv_ckpt_free(&ck);
    }
    pthread_mutex_unlock(&ckpt_read_mu);
    return n;
}

typedef struct {
    long since;
    int max;
    srv_point *out;
    long *last;
} ckpt_points_arg;

static int ckpt_points_fn(const srv_ckpt *ck, void *arg) {
    ckpt_points_arg *a = arg;
    int n = 0;
    for (int i = 0; i < ck->npoints && n < a->max; i++)
        if (ck->points[i].iteration > a->since) a->out[n++] = ck->points[i];
    *a->last = ck->npoints > 0 ? ck->points[ck->npoints - 1].iteration : 0;
    return n;
}

/* A run without a log (set aside before runs kept one): the history its
 * newest checkpoint holds. Count, or -1. */
static int ckpt_points(int dfd, long since, int max, srv_point *out, long *last) {
    ckpt_points_arg a = {since, max, out, last};
    return with_newest_ckpt(dfd, ckpt_points_fn, &a);
}

int srv_run_points(int dfd, long since, int max, srv_point *out, long *last) {
    FILE *f = srv_run_log_open(dfd);
    *last = 0;
    if (!f) return ckpt_points(dfd, since, max, out, last);
    struct stat sb;
    long size = fstat(fileno(f), &sb) == 0 ? (long)sb.st_size : 0;
    *last = last_p(f, size);
    /* binary search: lo's next P line has iteration <= since (or lo is 0) */
    long lo = 0, hi = size;
    while (hi - lo > 8192) {
        long mid = lo + (hi - lo) / 2;
        if (p_after(f, mid) > since) hi = mid;
        else lo = mid;
    }
    int n = 0;
    char line[LINE_MAX_BYTES];
    if (fseek(f, lo, SEEK_SET) == 0 && (lo == 0 || fgets(line, sizeof line, f))) {
        while (n < max && fgets(line, sizeof line, f)) {
            if (srv_runlog_parse(line, &out[n], NULL) == 'P' && out[n].iteration > since) n++;
        }
    }
    fclose(f);
    return n;
}

int srv_run_quality(int dfd, srv_quality_pass *out, int max) {
    FILE *f = srv_run_log_open(dfd);
    if (!f) return -1;
    char line[LINE_MAX_BYTES];
    long total = 0;
    srv_quality_pass q;
    while (fgets(line, sizeof line, f))
        if (srv_runlog_parse(line, NULL, &q) == 'Q' && max > 0) out[total++ % max] = q;
    fclose(f);
    if (total <= max) return (int)total;
    /* rotate the ring so the oldest kept comes first */
    int start = (int)(total % max);
    srv_quality_pass *tmp = malloc((size_t)max * sizeof *tmp);
    if (!tmp) return -1;
    for (int i = 0; i < max; i++) tmp[i] = out[(start + i) % max];
    memcpy(out, tmp, (size_t)max * sizeof *tmp);
    free(tmp);
    return max;
}

/* ---- timeline on disk ----------------------------------------------------------------- */

/* Keep at most max of v[0..n) (max >= 2), evenly spread, the first and the
 * last always among them. In place; the new count. */
static int thin_evenly(srv_run_snap *v, int n, int max) {
    if (n <= max) return n;
    for (int k = 0; k < max; k++) {              /* index k*(n-1)/(max-1), rounded; increasing */
        long long i = ((long long)k * (n - 1) + (max - 1) / 2) / (max - 1);
        v[k] = v[i];
    }
    return max;
}

/* One pass over the log's T records: every stride-th is kept in work
 * (2 * max entries, record j * stride in work[j]; when full, every other
 * one goes and stride doubles), and the last one besides. Then, when there
 * were more than max, the entries nearest to max evenly spaced record
 * indices are picked, the last record always (and a pick too close before
 * it left out). The count (<= max), in work. */
static int log_timeline(FILE *f, srv_run_snap *work, int max) {
    const int cap = 2 * max;
    char line[LINE_MAX_BYTES];
    long seen = 0, stride = 1, prev = -1;
    srv_run_snap t, last = {-1, 0};
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (srv_runlog_parse_snap(line, &t) != 'T' || t.iteration <= prev) continue;
        prev = t.iteration;
        last = t;
        if (seen % stride == 0 && n == cap) {
            for (int i = 0; i < cap / 2; i++) work[i] = work[2 * i];
            n = cap / 2;
            stride *= 2;
        }
        if (seen % stride == 0) work[n++] = t;
        seen++;
    }
    if (seen <= max) return n;                   /* all of them (stride 1) */
    const double step = (double)(seen - 1) / (max - 1);   /* records between picks, > 1 */
    long prev_j = -1;
    int out = 0;
    for (int k = 0; k < max - 1; k++) {
        long j = lround((double)k * step / (double)stride);
        if (j > n - 1) j = n - 1;
        if (j <= prev_j || 2.0 * (double)(seen - 1 - j * stride) < step) continue;
        work[out++] = work[j];                   /* out <= j: in place */
        prev_j = j;
    }
    work[out++] = last;
    return out;
}

/* The run wall time at iteration it from a checkpoint's history: the first
 * point (or bucket) at or after it; 0 for iteration 0; NAN past the end. */
static double ckpt_time_at(const srv_ckpt *ck, long it) {
    if (it <= 0) return 0;
    int lo = 0, hi = ck->npoints;                /* first point with iteration >= it */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (ck->points[mid].iteration < it) lo = mid + 1;
        else hi = mid;
    }
    return lo < ck->npoints ? ck->points[lo].time_s : NAN;
}

typedef struct {
    srv_run_snap *out;
    int max;
} ckpt_tl_arg;

static int ckpt_timeline_fn(const srv_ckpt *ck, void *arg) {
    ckpt_tl_arg *a = arg;
    srv_run_snap *work = malloc(((size_t)ck->ntimeline + 1) * sizeof *work);
    if (!work) return -1;
    int n = 0;
    for (int i = 0; i < ck->ntimeline; i++)
        if (n == 0 || ck->timeline[i].iteration > work[n - 1].iteration)
            work[n++] = (srv_run_snap){ck->timeline[i].iteration, ckpt_time_at(ck, ck->timeline[i].iteration)};
    n = thin_evenly(work, n, a->max);
    memcpy(a->out, work, (size_t)n * sizeof *work);
    free(work);
    return n;
}

/* 1 when the run keeps its timeline on disk (a timeline/ entry of any
 * kind: a symlink there is refused later, not a reason to look elsewhere). */
static int has_disk_timeline(int dfd) {
    struct stat sb;
    return fstatat(dfd, "timeline", &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

int srv_run_timeline(int dfd, srv_run_snap *out, int max, int *from_ckpt) {
    if (max < 2) return -1;
    *from_ckpt = !has_disk_timeline(dfd);
    if (*from_ckpt) {
        ckpt_tl_arg a = {out, max};
        return with_newest_ckpt(dfd, ckpt_timeline_fn, &a);
    }
    FILE *f = srv_run_log_open(dfd);
    if (!f) return 0;                            /* a timeline/ without log: nothing listed */
    srv_run_snap *work = malloc(((size_t)max * 2 + 1) * sizeof *work);
    int n = -1;
    if (work) {
        n = log_timeline(f, work, max);
        memcpy(out, work, (size_t)n * sizeof *work);
    }
    free(work);
    fclose(f);
    return n;
}

/* The whole of a regular file (fd), at most SRV_RUN_PNG_MAX bytes. 0 or -2. */
static int read_whole(int fd, const struct stat *sb, unsigned char **png, size_t *len) {
    if (sb->st_size <= 0 || sb->st_size > SRV_RUN_PNG_MAX) return -2;
    const size_t want = (size_t)sb->st_size;
    unsigned char *b = malloc(want);
    size_t got = 0;
    while (b && got < want) {
        ssize_t r = pread(fd, b + got, want - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    if (!b || got != want) { free(b); return -2; }
    *png = b;
    *len = want;
    return 0;
}

static int etag_matches(const char *inm, const char *etag) {
    return inm && (strstr(inm, etag) != NULL || strcmp(inm, "*") == 0);
}

typedef struct {
    long iteration;
    unsigned char **png;
    size_t *len;
} ckpt_png_arg;

static int ckpt_png_fn(const srv_ckpt *ck, void *arg) {
    ckpt_png_arg *a = arg;
    for (int i = 0; i < ck->ntimeline; i++) {
        const srv_snapshot *t = &ck->timeline[i];
        if (t->iteration == a->iteration)
            return srv_png_encode_gray(t->pixels, t->width, t->height, a->png, a->len) == 0 ? 0 : -2;
    }
    return -3;                                   /* no such snapshot (-1 is "no checkpoint") */
}

int srv_run_timeline_png(int dfd, long iteration, const char *if_none_match, unsigned char **png,
                         size_t *len, char *etag, size_t etaglen) {
    struct stat sb;
    int rc = -1, tfd = -1, fd = -1;
    *png = NULL;
    *len = 0;
    if (iteration < 0) goto done;
    if (!has_disk_timeline(dfd)) {               /* an older run: its checkpoint's pixels */
        char fname[64];
        if (newest_ckpt_file(dfd, fname, sizeof fname, &sb) < 0) goto done;
        snprintf(etag, etaglen, "\"ck-%lx-%lx-%lx.%09ld-%ld\"", (unsigned long)sb.st_ino,
                 (unsigned long)sb.st_size, (unsigned long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec,
                 iteration);
        if (etag_matches(if_none_match, etag)) { rc = 1; goto done; }
        ckpt_png_arg a = {iteration, png, len};
        rc = with_newest_ckpt(dfd, ckpt_png_fn, &a);
        if (rc == -3) rc = -1;
        goto done;
    }
    char name[40];
    snprintf(name, sizeof name, "%ld.png", iteration);
    tfd = openat(dfd, "timeline", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tfd < 0) goto done;
    fd = openat(tfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);   /* no FIFO wait */
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) goto done;
    snprintf(etag, etaglen, "\"tl-%lx-%lx-%lx.%09ld\"", (unsigned long)sb.st_ino,
             (unsigned long)sb.st_size, (unsigned long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec);
    if (etag_matches(if_none_match, etag)) { rc = 1; goto done; }
    rc = read_whole(fd, &sb, png, len);
done:
    if (fd >= 0) close(fd);
    if (tfd >= 0) close(tfd);
    return rc;
}

/* ---- listing -------------------------------------------------------------------- */

/* 1 when some process holds a flock on dfd's "lock" file (/proc/locks). */
static int lock_held(int dfd) {
    struct stat sb;
    if (fstatat(dfd, "lock", &sb, AT_SYMLINK_NOFOLLOW) < 0) return 0;
    FILE *f = fopen("/proc/locks", "r");
    if (!f) return 0;
    char line[256];
    int held = 0;
    while (!held && fgets(line, sizeof line, f)) {
        if (!strstr(line, "FLOCK")) continue;
        unsigned maj, min;
        unsigned long ino;
        for (char *p = line; *p && !held; p++) {
            if (*p != ' ' || sscanf(p + 1, "%x:%x:%lu", &maj, &min, &ino) != 3) continue;
            if (ino == (unsigned long)sb.st_ino && maj == major(sb.st_dev) && min == minor(sb.st_dev))
                held = 1;
        }
    }
    fclose(f);
    return held;
}

static cJSON *read_run_json(int dfd) {
    int fd = openat(dfd, "run.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return NULL;
    char *b = malloc(RUN_JSON_MAX);
    ssize_t n = b ? read(fd, b, RUN_JSON_MAX) : -1;
    close(fd);
    cJSON *o = n > 0 && n < RUN_JSON_MAX ? cJSON_ParseWithLength(b, (size_t)n) : NULL;
    free(b);
    if (o && !cJSON_IsObject(o)) { cJSON_Delete(o); o = NULL; }
    return o;
}

/* Newest checkpoint's iteration from its file name (-1: none). */
static long newest_ckpt(int dfd) {
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) { if (fd >= 0) close(fd); return -1; }
    rewinddir(d);                        /* a dup shares the offset a former read left at the end */
    long best = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        long it;
        char tail[8];
        if (sscanf(e->d_name, "ckpt-%ld.bi%1[n]", &it, tail) == 2 && it > best) best = it;
    }
    closedir(d);
    return best;
}

static int same_dir(int dfd, const char *path) {
    struct stat a, b;
    return path && path[0] && fstat(dfd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

cJSON *srv_run_info(const char *root, const char *name, const char *this_dir) {
    int dfd = srv_run_open(root, name);
    if (dfd < 0) return NULL;
    cJSON *rj = read_run_json(dfd);
    struct stat sb;
    int has_log = fstatat(dfd, "metrics.log", &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode);
    long ck = newest_ckpt(dfd);
    if (!rj && !has_log && ck < 0) { close(dfd); return NULL; }   /* not a run */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    const int mine = same_dir(dfd, this_dir), live = mine || lock_held(dfd);
    const cJSON *v;
#define COPY(k) do { v = rj ? cJSON_GetObjectItemCaseSensitive(rj, k) : NULL; \
        cJSON_AddItemToObject(o, k, v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull()); } while (0)
    COPY("preset");
    COPY("differs");
    COPY("created");
    COPY("updated");
    COPY("dataset");
    COPY("batch");
    COPY("conditional");
    v = rj ? cJSON_GetObjectItemCaseSensitive(rj, "iteration") : NULL;
    long it = cJSON_IsNumber(v) ? (long)v->valuedouble : ck > 0 ? ck : 0;
    if (ck > it) it = ck;
    cJSON_AddNumberToObject(o, "iteration", (double)it);
    COPY("time_s");
    COPY("images_per_sec");
    v = rj ? cJSON_GetObjectItemCaseSensitive(rj, "batch") : NULL;
    if (cJSON_IsNumber(v)) cJSON_AddNumberToObject(o, "images_seen", (double)it * v->valuedouble);
    else cJSON_AddNullToObject(o, "images_seen");
    v = rj ? cJSON_GetObjectItemCaseSensitive(rj, "state") : NULL;
    const int diverged = cJSON_IsString(v) && strcmp(v->valuestring, "diverged") == 0;
    cJSON_AddStringToObject(o, "state", diverged ? "diverged" : live ? "current" : "stopped");
    cJSON_AddBoolToObject(o, "live", live);
    cJSON_AddBoolToObject(o, "this_server", mine);
    if (diverged) COPY("diverged_reason");
    COPY("quality");
    cJSON_AddBoolToObject(o, "log", has_log);
    if (ck >= 0) cJSON_AddNumberToObject(o, "checkpoint_iteration", (double)ck);
    else cJSON_AddNullToObject(o, "checkpoint_iteration");
#undef COPY
    const char *old = strstr(name, "/old-");
    if (old && !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "created")))   /* old-<unix time> */
        cJSON_ReplaceItemInObjectCaseSensitive(o, "created", cJSON_CreateNumber((double)atol(old + 5)));
    cJSON_Delete(rj);
    close(dfd);
    return o;
}

static int cmp_created(const void *a, const void *b) {
    const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
    const cJSON *cx = cJSON_GetObjectItemCaseSensitive(x, "created");
    const cJSON *cy = cJSON_GetObjectItemCaseSensitive(y, "created");
    double vx = cJSON_IsNumber(cx) ? cx->valuedouble : 0, vy = cJSON_IsNumber(cy) ? cy->valuedouble : 0;
    if (vx != vy) return vx < vy ? 1 : -1;
    return strcmp(cJSON_GetObjectItemCaseSensitive(x, "name")->valuestring,
                  cJSON_GetObjectItemCaseSensitive(y, "name")->valuestring);
}

cJSON *srv_runs_list(const char *root, const char *this_dir) {
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return NULL;
    cJSON **items = calloc(SRV_RUNS_MAX, sizeof *items);
    if (!items) { cJSON_Delete(arr); return NULL; }
    int n = 0;
    DIR *d = opendir(root);
    struct dirent *e;
    while (d && n < SRV_RUNS_MAX && (e = readdir(d))) {
        if (!seg_valid(e->d_name, strlen(e->d_name))) continue;
        cJSON *o = srv_run_info(root, e->d_name, this_dir);
        if (o) items[n++] = o;
        int dfd = srv_run_open(root, e->d_name);         /* its old-<time>/ runs */
        int fd2 = dfd >= 0 ? dup(dfd) : -1;
        DIR *sub = fd2 >= 0 ? fdopendir(fd2) : NULL;
        if (!sub && fd2 >= 0) close(fd2);
        struct dirent *s;
        while (sub && n < SRV_RUNS_MAX && (s = readdir(sub))) {
            if (!old_seg_valid(s->d_name)) continue;
            char name[SRV_RUN_NAME_MAX + 1];
            snprintf(name, sizeof name, "%s/%s", e->d_name, s->d_name);
            cJSON *so = srv_run_info(root, name, this_dir);
            if (so) items[n++] = so;
        }
        if (sub) closedir(sub);
        if (dfd >= 0) close(dfd);
    }
    if (d) closedir(d);
    qsort(items, (size_t)n, sizeof *items, cmp_created);
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(arr, items[i]);
    free(items);
    return arr;
}

/* ---- `ganlive runs` --------------------------------------------------------------- */

int srv_runs_main(const srv_config *cfg) {
    const char *root = cfg->runs_root[0] ? cfg->runs_root : "runs";
    cJSON *arr = srv_runs_list(root, "");
    if (!arr) { fprintf(stderr, "ganlive: out of memory\n"); return 1; }
    printf("%-34s %-8s %-9s %9s %9s %8s %6s  %s\n", "NAME", "PRESET", "STATE", "ITERATION",
           "TIME", "IMG/S", "IS", "DIFFERS FROM PRESET");
    const cJSON *r;
    int n = 0;
    cJSON_ArrayForEach(r, arr) {
        const cJSON *pre = cJSON_GetObjectItemCaseSensitive(r, "preset");
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(r, "time_s");
        const cJSON *ips = cJSON_GetObjectItemCaseSensitive(r, "images_per_sec");
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(r, "quality");
        const cJSON *is = q ? cJSON_GetObjectItemCaseSensitive(q, "inception_score") : NULL;
        const cJSON *dif = cJSON_GetObjectItemCaseSensitive(r, "differs");
        char tbuf[16] = "-", ibuf[16] = "-", isbuf[16] = "-", dbuf[256] = "";
        if (cJSON_IsNumber(ts)) snprintf(tbuf, sizeof tbuf, "%.0f s", ts->valuedouble);
        if (cJSON_IsNumber(ips)) snprintf(ibuf, sizeof ibuf, "%.0f", ips->valuedouble);
        if (cJSON_IsNumber(is)) snprintf(isbuf, sizeof isbuf, "%.2f", is->valuedouble);
        const cJSON *kv;
        size_t len = 0;
        cJSON_ArrayForEach(kv, dif) {
            char val[48];
            if (cJSON_IsNumber(kv)) snprintf(val, sizeof val, "%g", kv->valuedouble);
            else if (cJSON_IsString(kv)) snprintf(val, sizeof val, "%s", kv->valuestring);
            else snprintf(val, sizeof val, "%s", cJSON_IsTrue(kv) ? "true" : "false");
            int w = snprintf(dbuf + len, sizeof dbuf - len, "%s%s=%s", len ? " " : "", kv->string, val);
            if (w < 0 || (size_t)w >= sizeof dbuf - len) break;
            len += (size_t)w;
        }
        printf("%-34s %-8s %-9s %9.0f %9s %8s %6s  %s\n",
               cJSON_GetObjectItemCaseSensitive(r, "name")->valuestring,
               cJSON_IsString(pre) ? pre->valuestring : "-",
               cJSON_GetObjectItemCaseSensitive(r, "state")->valuestring,
               cJSON_GetObjectItemCaseSensitive(r, "iteration")->valuedouble, tbuf, ibuf, isbuf, dbuf);
        n++;
    }
    printf("%d run%s in %s\n", n, n == 1 ? "" : "s", root);
    cJSON_Delete(arr);
    return 0;
}
