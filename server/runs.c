/* runs.c - run names and directories: which run a server trains
 * (srv_runs_resolve), opening a run by name below the runs root, and the
 * listing of every run kept there (GET /api/runs, `ganlive runs`). The run
 * log's writer is runlog.c's and reading a run back is runs_read.c's; runs.h
 * has the design and the on-disk format, runs_priv.h what the three share.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include "checkpoint.h"
#include "runs.h"
#include "runs_priv.h"

/* ---- names ------------------------------------------------------------------ */

static int seg_valid(const char *s, size_t n) {
    if (n == 0 || n > SRV_RUN_SEG_MAX || !isalnum((unsigned char)s[0])) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '.' && ch != '_' && ch != '-') return 0;
    }
    return 1;
}

int srv_run_old_seg_valid(const char *s) {
    if (strncmp(s, "old-", 4) != 0 || !s[4] || strlen(s) > 24) return 0;
    for (const char *p = s + 4; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    return 1;
}

int srv_run_name_valid(const char *name) {
    if (!name) return 0;
    const char *slash = strchr(name, '/');
    if (!slash) return seg_valid(name, strlen(name));
    return seg_valid(name, (size_t)(slash - name)) && srv_run_old_seg_valid(slash + 1);
}

static int is_dir(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int srv_run_write_atomic(const char *path, const char *text) {
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
    char *b = malloc(SRV_RUN_JSON_MAX);
    size_t n = b ? fread(b, 1, SRV_RUN_JSON_MAX, f) : 0;
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
            srv_run_write_atomic(at, text);
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
        srv_run_write_atomic(path, text);
    }
    return 0;
}

/* ---- a run's directory -------------------------------------------------------- */

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

long srv_run_newest_ckpt(int dfd) {
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
    char *b = malloc(SRV_RUN_JSON_MAX);
    ssize_t n = b ? read(fd, b, SRV_RUN_JSON_MAX) : -1;
    close(fd);
    cJSON *o = n > 0 && n < SRV_RUN_JSON_MAX ? cJSON_ParseWithLength(b, (size_t)n) : NULL;
    free(b);
    if (o && !cJSON_IsObject(o)) { cJSON_Delete(o); o = NULL; }
    return o;
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
    long ck = srv_run_newest_ckpt(dfd);
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
            if (!srv_run_old_seg_valid(s->d_name)) continue;
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
