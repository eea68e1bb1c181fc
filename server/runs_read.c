/* runs_read.c - reading a run back from its files, with bounded memory:
 * a page of metrics points found by binary search over the log's byte
 * offsets, the newest quality passes, the timeline thinned to a maximum,
 * and one snapshot's PNG (with an etag). A run set aside before runs kept a
 * log is read from its newest checkpoint instead, one such read at a time.
 * runs.h has the design and the format.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include "checkpoint.h"
#include "png.h"
#include "runs.h"
#include "runs_priv.h"

/* ---- the log and the points ------------------------------------------------ */

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
    char line[SRV_RUNLOG_LINE_MAX];
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

/* The newest checkpoint of a run: its file name and stat (a regular file,
 * not followed through a symlink). 0, or -1 when there is none. */
static int newest_ckpt_file(int dfd, char *fname, size_t room, struct stat *sb) {
    long it = srv_run_newest_ckpt(dfd);
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
    char line[SRV_RUNLOG_LINE_MAX];
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
    char line[SRV_RUNLOG_LINE_MAX];
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
    char line[SRV_RUNLOG_LINE_MAX];
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
