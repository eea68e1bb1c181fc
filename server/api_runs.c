/* api_runs.c - every run under the runs root, read from its files (runs.h).
 *
 *   GET /api/runs                          every run: name, preset, what differs,
 *                                          iteration, wall time, images/s, state
 *                                          (current | stopped | diverged), last quality
 *   GET /api/runs/<name>                   one of those ("current": this server's run)
 *   GET /api/runs/<name>/metrics?since&limit   its points, as /api/metrics
 *   GET /api/runs/<name>/metrics.csv       all of them, as /api/metrics.csv (streamed)
 *   GET /api/runs/<name>/quality           its quality passes (the newest 1024)
 *   GET /api/runs/<name>/timeline          its timeline snapshots, oldest first (at most
 *                                          400, thinned evenly keeping first and last)
 *   GET /api/runs/<name>/timeline/<N>.png  one of them (ETag, If-None-Match -> 304)
 *
 * <name> is "<run>" or "<run>/old-<time>"; anything else is 400 (libmicrohttpd
 * has already decoded %2e%2e into ".."), a well-formed name that is no run
 * 404. Runs are opened through srv_run_open (O_NOFOLLOW below the root), so
 * nothing outside the root is reachable. Memory is bounded: one page of
 * points (limit), the CSV streamed through a 64 KiB block, SRV_QUALITY_MAX
 * passes, SRV_RUN_TIMELINE_MAX snapshots (from the T records of the log, or
 * an older run's newest checkpoint), one PNG of at most SRV_RUN_PNG_MAX. The run this server trains is read from its log too (at most one
 * flush, a second, behind), with the live iteration, images/s and state.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "api.h"
#include "runs.h"

static const char *root_of(srv_http *h) {
    return h->cfg.runs_root[0] ? h->cfg.runs_root : "runs";
}

static enum MHD_Result query_check(srv_call *c, const char *const *allowed) {
    const char *bad = srv_query_unknown(c->conn, allowed);
    if (bad)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST,
                               "unknown or repeated query parameter: %.64s", bad);
    return MHD_YES;
}

/* The live figures of this server's own run over what its files say. */
static void live_overlay(srv_http *h, cJSON *o) {
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "this_server"))) return;
    srv_status s;
    srv_state_status(h->st, &s);
    cJSON_ReplaceItemInObjectCaseSensitive(o, "iteration", cJSON_CreateNumber((double)s.iteration));
    if (isfinite(s.images_per_sec)) {
        char b[32];
        snprintf(b, sizeof b, "%.6g", s.images_per_sec);
        cJSON_ReplaceItemInObjectCaseSensitive(o, "images_per_sec", cJSON_CreateNumber(strtod(b, NULL)));
    }
    srv_point p;
    if (srv_state_latest_point(h->st, &p) == 0 && isfinite(p.time_s)) {
        char b[32];
        snprintf(b, sizeof b, "%.10g", p.time_s);
        cJSON_ReplaceItemInObjectCaseSensitive(o, "time_s", cJSON_CreateNumber(strtod(b, NULL)));
    }
    const cJSON *batch = cJSON_GetObjectItemCaseSensitive(o, "batch");
    if (cJSON_IsNumber(batch))
        cJSON_ReplaceItemInObjectCaseSensitive(o, "images_seen",
                                               cJSON_CreateNumber((double)s.iteration * batch->valuedouble));
    cJSON_ReplaceItemInObjectCaseSensitive(o, "state",
                                           cJSON_CreateString(s.state == SRV_DIVERGED ? "diverged" : "current"));
    cJSON_DeleteItemFromObjectCaseSensitive(o, "diverged_reason");
    if (s.state == SRV_DIVERGED) cJSON_AddStringToObject(o, "diverged_reason", s.diverged_reason);
}

enum MHD_Result srv_api_runs(srv_call *c) {
    static const char *const allowed[] = {NULL};
    if (srv_query_unknown(c->conn, allowed)) return query_check(c, allowed);
    cJSON *arr = srv_runs_list(root_of(c->h), c->h->cfg.run_dir);
    if (!arr) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    cJSON *r;
    cJSON_ArrayForEach(r, arr) live_overlay(c->h, r);
    cJSON *o = cJSON_CreateObject();
    if (!o) { cJSON_Delete(arr); return srv_reply_json(c->conn, MHD_HTTP_OK, NULL); }
    cJSON_AddItemToObject(o, "runs", arr);
    cJSON_AddStringToObject(o, "current", c->h->cfg.run_name);
    return srv_reply_json(c->conn, MHD_HTTP_OK, o);
}

/* ---- one run ------------------------------------------------------------------ */

static enum MHD_Result run_metrics(srv_call *c, int dfd) {
    static const char *const allowed[] = {"since", "limit", NULL};
    if (srv_query_unknown(c->conn, allowed)) return query_check(c, allowed);
    long since = -1, limit = 1000, last = 0;
    if (srv_query_long(c->conn, "since", LONG_MIN, LONG_MAX, &since) < 0)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "since: must be an integer");
    if (srv_query_long(c->conn, "limit", 1, 10000, &limit) < 0)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "limit: must be an integer in 1..10000");
    srv_point *pts = malloc((size_t)limit * sizeof *pts);
    if (!pts) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    int n = srv_run_points(dfd, since, (int)limit, pts, &last);
    if (n < 0) n = 0;                                    /* a run without log: no points */
    cJSON *o = srv_api_points_json(last, pts, n);
    free(pts);
    return srv_reply_json(c->conn, MHD_HTTP_OK, o);
}

static enum MHD_Result run_quality(srv_call *c, int dfd) {
    static const char *const allowed[] = {NULL};
    if (srv_query_unknown(c->conn, allowed)) return query_check(c, allowed);
    srv_quality_pass *q = malloc(SRV_QUALITY_MAX * sizeof *q);
    if (!q) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    int n = srv_run_quality(dfd, q, SRV_QUALITY_MAX);
    cJSON *o = cJSON_CreateObject(), *arr = o ? cJSON_AddArrayToObject(o, "passes") : NULL;
    for (int i = 0; arr && i < n; i++) cJSON_AddItemToArray(arr, srv_api_quality_pass_json(&q[i]));
    free(q);
    return srv_reply_json(c->conn, MHD_HTTP_OK, o);
}

/* {"run": name, "source": "log"|"checkpoint"|null, "items": [{"iteration",
 * "time_s", "url"}, ...]}: the snapshots on disk, oldest first. */
static enum MHD_Result run_timeline(srv_call *c, int dfd, const char *name) {
    static const char *const allowed[] = {NULL};
    if (srv_query_unknown(c->conn, allowed)) return query_check(c, allowed);
    srv_run_snap *v = malloc(SRV_RUN_TIMELINE_MAX * sizeof *v);
    if (!v) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    int from_ckpt = 0;
    int n = srv_run_timeline(dfd, v, SRV_RUN_TIMELINE_MAX, &from_ckpt);
    cJSON *o = cJSON_CreateObject(), *arr = NULL;
    if (!o || !cJSON_AddStringToObject(o, "run", name)) goto fail;
    if (n < 0) cJSON_AddNullToObject(o, "source");
    else cJSON_AddStringToObject(o, "source", from_ckpt ? "checkpoint" : "log");
    arr = cJSON_AddArrayToObject(o, "items");
    if (!arr) goto fail;
    for (int i = 0; i < n; i++) {
        char url[SRV_RUN_NAME_MAX + 64];
        snprintf(url, sizeof url, "/api/runs/%s/timeline/%ld.png", name, v[i].iteration);
        cJSON *it = cJSON_CreateObject();
        if (!it) goto fail;
        cJSON_AddItemToArray(arr, it);
        cJSON_AddNumberToObject(it, "iteration", (double)v[i].iteration);
        srv_json_number(it, "time_s", v[i].time_s);      /* null when unknown */
        if (!cJSON_AddStringToObject(it, "url", url)) goto fail;
    }
    free(v);
    return srv_reply_json(c->conn, MHD_HTTP_OK, o);
fail:
    free(v);
    cJSON_Delete(o);
    return srv_reply_json(c->conn, MHD_HTTP_OK, NULL);   /* 500 out of memory */
}

/* "<digits>.png": 1..18 digits, no sign, no leading zero but "0" itself.
 * 0 with *it, or -1. */
static int parse_png_name(const char *s, long *it) {
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 18 || strcmp(s + n, ".png") != 0 || (s[0] == '0' && n > 1)) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
    *it = v;
    return 0;
}

/* One snapshot's PNG, revalidated by its ETag (a file may be rewritten when
 * a crashed run repeats iterations, so it is not immutable). */
static enum MHD_Result run_timeline_png(srv_call *c, int dfd, const char *name, const char *file) {
    static const char *const allowed[] = {NULL};
    if (srv_query_unknown(c->conn, allowed)) return query_check(c, allowed);
    long it;
    if (parse_png_name(file, &it) < 0)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST,
                               "timeline: \"%.40s\" is not <iteration>.png (1..18 digits, no sign, "
                               "no leading zero)", file);
    const char *inm = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "If-None-Match");
    unsigned char *png = NULL;
    size_t len = 0;
    char etag[96] = "";
    int rc = srv_run_timeline_png(dfd, it, inm, &png, &len, etag, sizeof etag);
    if (rc == -1)
        return srv_reply_error(c->conn, MHD_HTTP_NOT_FOUND, "iteration %ld is not in the timeline of %s",
                               it, name);
    if (rc < 0) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the snapshot");
    struct MHD_Response *r;
    unsigned status = MHD_HTTP_OK;
    if (rc == 1) {
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_NOT_MODIFIED;
    } else {
        r = MHD_create_response_from_buffer(len, png, MHD_RESPMEM_MUST_FREE);
        if (!r) free(png);
        else MHD_add_response_header(r, "Content-Type", "image/png");
    }
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    return srv_reply(c->conn, status, r);
}

/* The CSV, streamed from the log one block at a time. */
typedef struct {
    FILE *f;
    char row[512];
    size_t len, off;                      /* the row being sent */
    int header_sent;
} csv_stream;

static const char csv_header[] =
    "iteration,count,time_s,d_loss,g_loss,d_acc,d_acc_real,d_acc_fake,d_real,d_fake\n";

/* As api_insight.c writes a row: empty fields for figures that are not finite. */
static size_t csv_row(char *p, size_t room, const srv_point *pt) {
    size_t n = (size_t)snprintf(p, room, "%ld,%ld", pt->iteration, pt->count);
    const double f[] = {pt->time_s, pt->m.d_loss, pt->m.g_loss, pt->m.d_acc, pt->m.d_acc_real,
                        pt->m.d_acc_fake, pt->m.d_real, pt->m.d_fake};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!isfinite(f[i])) n += (size_t)snprintf(p + n, room - n, ",");
        else n += (size_t)snprintf(p + n, room - n, ",%.*g", i == 0 ? 10 : 7, f[i]);
    }
    n += (size_t)snprintf(p + n, room - n, "\n");
    return n;
}

static ssize_t csv_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    csv_stream *s = cls;
    size_t out = 0;
    while (out < max) {
        if (s->off < s->len) {
            size_t k = s->len - s->off < max - out ? s->len - s->off : max - out;
            memcpy(buf + out, s->row + s->off, k);
            out += k;
            s->off += k;
            continue;
        }
        s->off = s->len = 0;
        if (!s->header_sent) {
            s->len = sizeof csv_header - 1;
            memcpy(s->row, csv_header, s->len);
            s->header_sent = 1;
            continue;
        }
        char line[1024];
        srv_point p;
        int got = 0;
        while (s->f && fgets(line, sizeof line, s->f))
            if (srv_runlog_parse(line, &p, NULL) == 'P') { got = 1; break; }
        if (!got) break;
        s->len = csv_row(s->row, sizeof s->row, &p);
    }
    if (out == 0) return MHD_CONTENT_READER_END_OF_STREAM;
    return (ssize_t)out;
}

static void csv_free(void *cls) {
    csv_stream *s = cls;
    if (s->f) fclose(s->f);
    free(s);
}

static enum MHD_Result run_csv(srv_call *c, int dfd, const char *name) {
    static const char *const allowed[] = {NULL};
    if (srv_query_unknown(c->conn, allowed)) return query_check(c, allowed);
    csv_stream *s = calloc(1, sizeof *s);
    if (!s) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    s->f = srv_run_log_open(dfd);                        /* none: the header alone */
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, csv_read,
                                                               s, csv_free);
    if (!r) { csv_free(s); return MHD_NO; }
    char disp[256], fname[SRV_RUN_NAME_MAX + 1];
    snprintf(fname, sizeof fname, "%s", name);
    for (char *p = fname; *p; p++)
        if (*p == '/') *p = '_';
    snprintf(disp, sizeof disp, "attachment; filename=\"ganlive-%s.csv\"", fname);
    MHD_add_response_header(r, "Content-Type", "text/csv; charset=utf-8");
    MHD_add_response_header(r, "Content-Disposition", disp);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    return srv_reply(c->conn, MHD_HTTP_OK, r);
}

enum MHD_Result srv_api_runs_item(srv_call *c) {
    const char *rest = c->url + strlen("/api/runs/");
    char name[SRV_RUN_NAME_MAX + 1];
    const char *action = "";
    if (strlen(rest) > SRV_RUN_NAME_MAX + 40)          /* "<name>/timeline/<N>.png" */
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "run name: too long");
    static const char *const actions[] = {"metrics", "metrics.csv", "quality", "timeline"};
    static const char tl_dir[] = "/timeline";
    const char *slash = strrchr(rest, '/'), *png_file = NULL;
    size_t nlen = strlen(rest);
    if (slash) {
        for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
            if (strcmp(slash + 1, actions[i]) == 0) { action = actions[i]; nlen = (size_t)(slash - rest); }
        const size_t k = sizeof tl_dir - 1;            /* "<name>/timeline/<file>" */
        if (!action[0] && (size_t)(slash - rest) > k && strncmp(slash - k, tl_dir, k) == 0) {
            action = "timeline.png";
            png_file = slash + 1;
            nlen = (size_t)(slash - k - rest);
        }
    }
    if (nlen > SRV_RUN_NAME_MAX) return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "run name: too long");
    memcpy(name, rest, nlen);
    name[nlen] = '\0';
    if (strcmp(name, "current") == 0) {                  /* the run this server trains */
        if (!c->h->cfg.run_name[0])
            return srv_reply_error(c->conn, MHD_HTTP_NOT_FOUND, "this server trains no run (checkpoints are off)");
        snprintf(name, sizeof name, "%s", c->h->cfg.run_name);
    }
    if (!srv_run_name_valid(name)) {
        /* "<run>/<something else>": an unknown endpoint of a good name */
        char head[SRV_RUN_NAME_MAX + 1];
        const char *s2 = strchr(name, '/');
        snprintf(head, sizeof head, "%.*s", s2 ? (int)(s2 - name) : (int)nlen, name);
        if (!action[0] && s2 && srv_run_name_valid(head) && !strchr(s2 + 1, '/'))
            return srv_reply_error(c->conn, MHD_HTTP_NOT_FOUND, "not found: %.200s", c->url);
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST,
                               "run name: \"%.80s\" is not a run name (letters, digits, '.', '_', '-'; "
                               "or <run>/old-<time>)", name);
    }
    int dfd = srv_run_open(root_of(c->h), name);
    if (dfd < 0) return srv_reply_error(c->conn, MHD_HTTP_NOT_FOUND, "no run named %s", name);
    enum MHD_Result ret;
    if (!action[0]) {
        static const char *const allowed[] = {NULL};
        if (srv_query_unknown(c->conn, allowed)) {
            ret = query_check(c, allowed);
        } else {
            cJSON *o = srv_run_info(root_of(c->h), name, c->h->cfg.run_dir);
            if (o) live_overlay(c->h, o);
            ret = o ? srv_reply_json(c->conn, MHD_HTTP_OK, o)
                    : srv_reply_error(c->conn, MHD_HTTP_NOT_FOUND, "no run named %s", name);
        }
    } else if (!strcmp(action, "metrics")) {
        ret = run_metrics(c, dfd);
    } else if (!strcmp(action, "metrics.csv")) {
        ret = run_csv(c, dfd, name);
    } else if (!strcmp(action, "timeline")) {
        ret = run_timeline(c, dfd, name);
    } else if (!strcmp(action, "timeline.png")) {
        ret = run_timeline_png(c, dfd, name, png_file);
    } else {
        ret = run_quality(c, dfd);
    }
    close(dfd);
    return ret;
}
