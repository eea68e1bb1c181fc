/* api.c - the JSON and PNG endpoints of the HTTP API.
 *
 * Every handler follows one shape: check the query (unknown or malformed
 * parameters answer 400 naming the parameter), copy what it needs out of
 * srv_state (which holds the state mutex only for the copy), do the heavy
 * work (JSON building, sampling, PNG encoding) outside it, and queue one
 * reply. cJSON objects are built with single-exit cleanup.
 *
 * Sampling happens on the render worker (render.h, api_samples.c), never
 * in a connection thread. Noise for a given seed comes from nn_rng seeded
 * with it and is drawn for all n images before the sampler generates them
 * in chunks, so the same seed and weights always give the same bytes.
 */
#include <limits.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "api.h"
#include "png.h"

/* ---- status, metrics, config ------------------------------------------- */

/* The one rule for query strings, on every endpoint: a parameter the
 * endpoint does not take, or one given twice, is a 400 naming it (never
 * silently ignored). For endpoints that take none. 1 with the reply queued
 * in *reply, or 0. */
static int query_refused(srv_call *c, enum MHD_Result *reply) {
    static const char *const none[] = {NULL};
    const char *bad = srv_query_unknown(c->conn, none);
    if (!bad) return 0;
    *reply = srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST,
                             "unknown or repeated query parameter: %.64s", bad);
    return 1;
}


int srv_api_classroom_figures(srv_http *h, srv_figure out[SRV_CLASSROOM_FIGURES]) {
    srv_render_stats r;
    srv_render_get_stats(h->render, &r);
    const srv_figure f[SRV_CLASSROOM_FIGURES] = {
        {"viewers", "Event streams (dashboards) connected now.", 0, srv_events_viewers(h->events)},
        {"viewers_dropped", "Event streams ended because they fell too far behind.", 1,
         (double)srv_events_dropped(h->events)},
        {"renders", "Generator or classifier jobs the render worker ran.", 1, (double)r.renders},
        {"renders_split", "Of them, jobs drawn on two cores while training did not run.", 1,
         (double)r.split},
        {"render_cache_hits", "Answers served from the render cache.", 1, (double)r.cache_hits},
        {"render_coalesced", "Requests that waited for an identical render in flight.", 1,
         (double)r.coalesced},
        {"render_not_modified", "304 answers to If-None-Match.", 1, (double)r.not_modified},
        {"render_rejected_busy", "503 answers: the render queue was full.", 1, (double)r.rejected_busy},
        {"render_rejected_unfair", "429 answers: one address asked more than its share.", 1,
         (double)r.rejected_unfair},
        {"render_queue", "Render jobs waiting now.", 0, r.queue_len},
        {"render_cache_bytes", "Bytes held by the render cache.", 0, (double)r.cache_bytes},
        {"render_cpu_seconds", "CPU time the render worker spent on jobs.", 1, r.cpu_s},
        {"render_snapshot_iteration", "Training iteration of the weights renders use.", 0,
         (double)r.iteration},
    };
    memcpy(out, f, sizeof f);
    return SRV_CLASSROOM_FIGURES;
}

static cJSON *classroom_json(srv_http *h) {
    srv_figure f[SRV_CLASSROOM_FIGURES];
    int n = srv_api_classroom_figures(h, f);
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < n; i++)
        if (!cJSON_AddNumberToObject(o, f[i].name, f[i].value)) {
            cJSON_Delete(o);
            return NULL;
        }
    return o;
}

/* The status "quality" object (the newest pass, when there is one) gets
 * the readable moment of the run:
 *   "as_asked": share of that pass's samples read as the digit asked for
 *               (null: unconditional model, or a pass restored without it),
 *   "readable_since": {"iteration", "time_s"} of the first readable pass, or null,
 *   "readable": {"metric": "as_asked" | "inception_score", "threshold",
 *                "best", "best_iteration"} (best so far; null before any).
 * 0, or -1 on no memory. */
static int status_readable(srv_http *h, cJSON *o) {
    cJSON *q = cJSON_GetObjectItemCaseSensitive(o, "quality");
    if (!cJSON_IsObject(q)) return 0;                 /* no pass yet: "quality" is null */
    srv_quality_pass p;
    srv_quality_readable r;
    const int have = srv_state_quality(h->st, NULL, &p, 1);
    srv_state_quality_readable(h->st, &r);
    if (have && p.has_as_asked) srv_json_float(q, "as_asked", p.as_asked);
    else if (!cJSON_AddNullToObject(q, "as_asked")) return -1;
    if (r.reached) {
        cJSON *rs = cJSON_AddObjectToObject(q, "readable_since");
        if (!rs || !cJSON_AddNumberToObject(rs, "iteration", (double)r.iteration)) return -1;
        srv_json_number(rs, "time_s", r.time_s);
    } else if (!cJSON_AddNullToObject(q, "readable_since")) {
        return -1;
    }
    cJSON *rd = cJSON_AddObjectToObject(q, "readable");
    if (!rd || !cJSON_AddStringToObject(rd, "metric", r.conditional ? "as_asked" : "inception_score"))
        return -1;
    srv_json_float(rd, "threshold", r.threshold);
    if (r.has_best) {
        srv_json_float(rd, "best", r.best);
        cJSON_AddNumberToObject(rd, "best_iteration", (double)r.best_iteration);
    } else {
        cJSON_AddNullToObject(rd, "best");
        cJSON_AddNullToObject(rd, "best_iteration");
    }
    return 0;
}

enum MHD_Result srv_api_status(srv_call *c) {
    enum MHD_Result refused;
    if (query_refused(c, &refused)) return refused;
    srv_status s;
    srv_config cfg;
    srv_state_status(c->h->st, &s);
    srv_state_config(c->h->st, &cfg);
    cJSON *o = srv_api_status_json(&s);
    if (o) {
        cJSON_AddStringToObject(o, "dataset", cfg.dataset);
        cJSON *cj = srv_config_to_json(&cfg);
        if (!cj || !cJSON_AddItemToObject(o, "config", cj)) {
            cJSON_Delete(cj);
            cJSON_Delete(o);
            o = NULL;
        } else if (srv_api_status_insight(c->h, o) < 0 || status_readable(c->h, o) < 0 ||
                   !cJSON_AddItemToObject(o, "classroom", classroom_json(c->h)) ||
                   !cJSON_AddItemToObject(o, "access", srv_api_access_json(c->h, c->conn))) {
            cJSON_Delete(o);
            o = NULL;
        }
    }
    return srv_reply_json(c->conn, MHD_HTTP_OK, o);
}

enum MHD_Result srv_api_metrics(srv_call *c) {
    static const char *const allowed[] = {"since", "limit", NULL};
    const char *bad = srv_query_unknown(c->conn, allowed);
    if (bad) return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "unknown or repeated query parameter: %.64s", bad);
    long since = -1, limit = 1000, current = 0;
    if (srv_query_long(c->conn, "since", LONG_MIN, LONG_MAX, &since) < 0)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "since: must be an integer");
    if (srv_query_long(c->conn, "limit", 1, 10000, &limit) < 0)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST,
                               "limit: must be an integer in 1..10000");
    srv_point *pts = malloc((size_t)limit * sizeof *pts);
    if (!pts) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    int n = srv_state_metrics(c->h->st, since, (int)limit, pts, &current);
    cJSON *o = srv_api_points_json(current, pts, n);
    free(pts);
    return srv_reply_json(c->conn, MHD_HTTP_OK, o);
}

enum MHD_Result srv_api_config_get(srv_call *c) {
    enum MHD_Result refused;
    if (query_refused(c, &refused)) return refused;
    srv_config cfg;
    srv_state_config(c->h->st, &cfg);
    return srv_reply_json(c->conn, MHD_HTTP_OK, srv_config_live_to_json(&cfg));
}

enum MHD_Result srv_api_config_patch(srv_call *c) {
    enum MHD_Result refused;
    if (query_refused(c, &refused)) return refused;
    if (!c->body) return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "body: a JSON object of settings is required");
    srv_config cfg;
    char err[256] = "invalid config";
    if (srv_state_patch_config(c->h->st, c->body, &cfg, err, sizeof err) != 0)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "%s", err);
    return srv_reply_json(c->conn, MHD_HTTP_OK, srv_config_live_to_json(&cfg));
}

/* ---- pause, resume, step ------------------------------------------------- */

static enum MHD_Result reply_run_state(srv_call *c, srv_run_state st, long iteration) {
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "state", srv_run_state_name(st));
        cJSON_AddNumberToObject(o, "iteration", (double)iteration);
    }
    return srv_reply_json(c->conn, MHD_HTTP_OK, o);
}

enum MHD_Result srv_api_pause(srv_call *c) {
    enum MHD_Result refused;
    if (query_refused(c, &refused)) return refused;
    long it = 0;
    srv_run_state st = srv_state_pause(c->h->st, &it);
    return reply_run_state(c, st, it);
}

enum MHD_Result srv_api_resume(srv_call *c) {
    enum MHD_Result refused;
    if (query_refused(c, &refused)) return refused;
    long it = 0;
    srv_run_state st = srv_state_resume(c->h->st, &it);
    if (st == SRV_DIVERGED) {               /* no good checkpoint to restore */
        srv_status s;
        srv_state_status(c->h->st, &s);
        return srv_reply_error(c->conn, MHD_HTTP_CONFLICT, "cannot resume: %s",
                               s.restore_error[0] ? s.restore_error : "the run is diverged");
    }
    return reply_run_state(c, st, it);
}

enum MHD_Result srv_api_step(srv_call *c) {
    enum MHD_Result refused;
    if (query_refused(c, &refused)) return refused;
    const cJSON *n = c->body ? cJSON_GetObjectItemCaseSensitive(c->body, "n") : NULL;
    if (!cJSON_IsNumber(n) || n->valuedouble != floor(n->valuedouble) ||
        n->valuedouble < 1 || n->valuedouble > 1000)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "n: must be an integer in 1..1000");
    for (const cJSON *it = c->body->child; it; it = it->next)
        if (!it->string || strcmp(it->string, "n") != 0)
            return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "unknown field: %.64s",
                                   it->string ? it->string : "?");
    long iteration = 0;
    srv_status s;
    switch (srv_state_step(c->h->st, (int)n->valuedouble, &iteration)) {
    case 0: break;
    case SRV_STEP_BUSY:
        return srv_reply_error(c->conn, MHD_HTTP_CONFLICT,
                               "busy: another step is still running; try again when it is done");
    case SRV_STEP_DIVERGED:
        srv_state_status(c->h->st, &s);
        return srv_reply_error(c->conn, MHD_HTTP_CONFLICT,
                               "the run is diverged (%.200s); POST /api/resume restores the last "
                               "good checkpoint", s.diverged_reason);
    case SRV_STEP_QUITTING:
        return srv_reply_error(c->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is stopping");
    default:
        return srv_reply_error(c->conn, MHD_HTTP_CONFLICT, "not paused: pause before stepping");
    }
    srv_state_status(c->h->st, &s);
    return reply_run_state(c, s.state, iteration);
}

/* ---- timeline ------------------------------------------------------------ */

enum MHD_Result srv_api_timeline(srv_call *c) {
    enum MHD_Result refused;
    if (query_refused(c, &refused)) return refused;
    int max = c->h->cfg.timeline_max > 0 ? c->h->cfg.timeline_max : 1;
    long *its = malloc((size_t)max * sizeof *its);
    long *uids = malloc((size_t)max * sizeof *uids);
    if (!its || !uids) {
        free(its);
        free(uids);
        return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    int n = srv_state_timeline_list(c->h->st, its, uids, max);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "snapshots") : NULL;
    if (!arr) goto fail;
    for (int i = 0; i < n; i++) {
        char url[64];
        snprintf(url, sizeof url, "/api/timeline/%ld.png?v=%ld", its[i], uids[i]);
        cJSON *s = cJSON_CreateObject();
        if (!s) goto fail;
        cJSON_AddItemToArray(arr, s);
        if (!cJSON_AddNumberToObject(s, "iteration", (double)its[i]) ||
            !cJSON_AddStringToObject(s, "url", url))
            goto fail;
    }
    free(its);
    free(uids);
    return srv_reply_json(c->conn, MHD_HTTP_OK, o);
fail:
    free(its);
    free(uids);
    cJSON_Delete(o);
    return srv_reply_json(c->conn, MHD_HTTP_OK, NULL);   /* 500 out of memory */
}

/* A snapshot never changes: with ?v=<uid> (the URL /api/timeline lists) it
 * is immutable for caches; without, it is revalidated by its ETag. A v that
 * no longer names the kept snapshot is 404. */
enum MHD_Result srv_api_timeline_png(srv_call *c) {
    static const char *const allowed[] = {"v", NULL};
    const char *bad = srv_query_unknown(c->conn, allowed);
    if (bad)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST,
                               "unknown or repeated query parameter: %.64s", bad);
    uint64_t want = 0;
    int has_v = srv_query_u64(c->conn, "v", &want);
    if (has_v < 0) return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "v: must be a snapshot id");
    const char *name = c->url + strlen("/api/timeline/");
    size_t len = strlen(name);
    uint64_t it;
    /* "<digits>.png", no sign, no leading zeros (except "0" itself) */
    if (len < 5 || strcmp(name + len - 4, ".png") != 0 ||
        (name[0] == '0' && len > 5) || srv_parse_u64(name, len - 4, &it) != 0 ||
        it > (uint64_t)LONG_MAX)
        return srv_reply_error(c->conn, MHD_HTTP_NOT_FOUND, "not found");
    unsigned char *png;
    size_t plen;
    long uid = -1;
    int rc = srv_state_timeline_png(c->h->st, (long)it, &uid, &png, &plen);
    if (rc == -2) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    if (rc != 0 || (has_v == 0 && (uint64_t)uid != want)) {
        free(rc == 0 ? png : NULL);
        return srv_reply_error(c->conn, MHD_HTTP_NOT_FOUND, "iteration %lu not in the timeline",
                               (unsigned long)it);
    }
    char etag[40];
    snprintf(etag, sizeof etag, "\"tl-%ld\"", uid);
    const char *inm = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "If-None-Match");
    struct MHD_Response *r;
    unsigned status = MHD_HTTP_OK;
    if (inm && strstr(inm, etag)) {
        free(png);
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_NOT_MODIFIED;
    } else {
        r = MHD_create_response_from_buffer(plen, png, MHD_RESPMEM_MUST_FREE);
        if (!r) free(png);
        else MHD_add_response_header(r, "Content-Type", "image/png");
    }
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Cache-Control",
                            has_v == 0 ? "public, max-age=31536000, immutable" : "no-cache");
    return srv_reply(c->conn, status, r);
}
