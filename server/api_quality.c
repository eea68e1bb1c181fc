/* api_quality.c - what the insight panels read, and the new-run switch.
 *
 *   GET  /api/quality         quality passes (quality_run.c) and their ceiling
 *   GET  /api/nearest         nearest training digit of generated samples
 *   GET  /api/nearest.png     the same as image pairs: sample | nearest real
 *   GET  /api/balance         balance decisions (trainer.c) and current skip
 *   GET  /api/presets         what a new run of each preset would train with
 *   POST /api/run             start a new run with a preset (main.c restarts)
 * and the quality, warning and balance fields of /api/status.
 *
 * The nearest-neighbour search runs on the render worker (render.h) over the
 * training set the trainer loaded (srv_state_dataset: immutable, shared by
 * const pointer), one thread, BLAS inside nn_nearest: about 94 MFLOP per
 * sample, so the default n = 8 answers in tens of milliseconds. Answers are
 * cached per model snapshot and query like the sample grids.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../nn/quality.h"
#include "api.h"
#include "json_strict.h"
#include "png.h"
#include "runs.h"
#include "run.h"

#define NEAREST_MAX 64

static cJSON *pass_json(const srv_quality_pass *p) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "iteration", (double)p->iteration);
    srv_json_number(o, "time", p->time_s);
    srv_json_float(o, "confidence", p->confidence);
    srv_json_float(o, "inception_score", p->inception_score);
    srv_json_float(o, "frechet", p->frechet);
    srv_json_float(o, "nn_ratio", p->nn_ratio);
    cJSON *h = cJSON_AddArrayToObject(o, "histogram");
    for (int k = 0; h && k < GAN_CLASSES; k++) {
        char v[16];
        snprintf(v, sizeof v, "%.4f", (double)p->histogram[k]);
        cJSON_AddItemToArray(h, cJSON_CreateNumber(strtod(v, NULL)));
    }
    cJSON_AddBoolToObject(o, "mode_collapse", p->mode_collapse);
    cJSON_AddBoolToObject(o, "copying", p->copying);
    if (p->has_as_asked) srv_json_float(o, "as_asked", p->as_asked);   /* conditional runs */
    else cJSON_AddNullToObject(o, "as_asked");
    return o;
}

cJSON *srv_api_quality_pass_json(const srv_quality_pass *p) { return pass_json(p); }

/* The warnings of a pass, as {"kind", "message"} objects added to arr. */
static void add_warnings(cJSON *arr, const srv_quality_pass *p, const srv_config *cfg) {
    char msg[200];
    if (p->mode_collapse) {
        int worst = 0;
        float dev = -1.0f;
        for (int k = 0; k < GAN_CLASSES; k++) {
            float d = p->histogram[k] < SRV_CLASS_MIN ? SRV_CLASS_MIN - p->histogram[k]
                    : p->histogram[k] > SRV_CLASS_MAX ? p->histogram[k] - SRV_CLASS_MAX : 0.0f;
            if (d > dev) { dev = d; worst = k; }
        }
        const int low = p->histogram[worst] < SRV_CLASS_MIN;
        snprintf(msg, sizeof msg, "mode collapse? class %s is %.1f%% of samples (%s %.0f%%) at iteration %ld",
                 srv_class_name(cfg, worst), 100.0 * p->histogram[worst], low ? "under" : "over",
                 100.0 * (low ? SRV_CLASS_MIN : SRV_CLASS_MAX), p->iteration);
        cJSON *w = cJSON_CreateObject();
        cJSON_AddStringToObject(w, "kind", "mode_collapse");
        cJSON_AddStringToObject(w, "message", msg);
        cJSON_AddItemToArray(arr, w);
    }
    if (p->copying) {
        snprintf(msg, sizeof msg, "copying? samples sit %.2fx as far from their nearest training digit "
                 "as test digits do (under %.2f) at iteration %ld", (double)p->nn_ratio,
                 (double)SRV_NN_RATIO_MIN, p->iteration);
        cJSON *w = cJSON_CreateObject();
        cJSON_AddStringToObject(w, "kind", "copying");
        cJSON_AddStringToObject(w, "message", msg);
        cJSON_AddItemToArray(arr, w);
    }
}

int srv_api_status_insight(srv_http *h, cJSON *o) {
    const srv_config *cfg = &h->cfg;
    cJSON_AddBoolToObject(o, "conditional", cfg->model.conditional);
    cJSON *cl = cJSON_AddArrayToObject(o, "classes");
    for (int k = 0; cl && k < GAN_CLASSES; k++)
        cJSON_AddItemToArray(cl, cJSON_CreateString(srv_class_name(cfg, k)));
    cJSON_AddStringToObject(o, "preset", cfg->preset);
    srv_quality_pass p;
    int have = srv_state_quality(h->st, NULL, &p, 1);
    if (have) cJSON_AddItemToObject(o, "quality", pass_json(&p));
    else cJSON_AddNullToObject(o, "quality");
    cJSON *w = cJSON_AddArrayToObject(o, "warnings");
    if (w && have) add_warnings(w, &p, cfg);
    srv_config live;
    srv_state_config(h->st, &live);
    int skipping = 0;
    srv_state_balance(h->st, NULL, 0, &skipping);
    cJSON *b = cJSON_AddObjectToObject(o, "balance");
    if (b) {
        cJSON_AddStringToObject(b, "mode", live.balance ? "auto" : "off");
        if (skipping) cJSON_AddStringToObject(b, "skipping", skipping == 'd' ? "d" : "g");
        else cJSON_AddNullToObject(b, "skipping");
    }
    return cl && w && b ? 0 : -1;
}

enum MHD_Result srv_api_quality(srv_call *c) {
    static const char *const allowed[] = {NULL};
    const char *bad = srv_query_unknown(c->conn, allowed);
    if (bad) return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "unknown or repeated query parameter: %.64s", bad);
    srv_quality_pass *passes = malloc(SRV_QUALITY_MAX * sizeof *passes);
    if (!passes) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    srv_quality_info info;
    int n = srv_state_quality(c->h->st, &info, passes, SRV_QUALITY_MAX);
    srv_config live;
    srv_state_config(c->h->st, &live);
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddNumberToObject(o, "every", live.quality_every);
        cJSON_AddNumberToObject(o, "samples", live.quality_samples);
        cJSON_AddBoolToObject(o, "available", info.available);
        if (!info.reason[0]) cJSON_AddNullToObject(o, "reason");
        else cJSON_AddStringToObject(o, "reason", info.reason);
        if (info.has_ceiling) {
            cJSON *ce = cJSON_AddObjectToObject(o, "ceiling");
            srv_json_float(ce, "confidence", info.confidence);
            srv_json_float(ce, "inception_score", info.inception_score);
            srv_json_float(ce, "frechet", info.frechet);
            srv_json_float(ce, "nn_ratio", info.nn_ratio);
            srv_json_float(ce, "test_median", info.test_median);
        } else {
            cJSON_AddNullToObject(o, "ceiling");
        }
        cJSON *th = cJSON_AddObjectToObject(o, "thresholds");
        srv_json_float(th, "class_min", SRV_CLASS_MIN);
        srv_json_float(th, "class_max", SRV_CLASS_MAX);
        srv_json_float(th, "nn_ratio_min", SRV_NN_RATIO_MIN);
        cJSON *arr = cJSON_AddArrayToObject(o, "passes");
        for (int i = 0; arr && i < n; i++) {
            cJSON *p = pass_json(&passes[i]);
            if (!p || !cJSON_AddItemToArray(arr, p)) { cJSON_Delete(p); cJSON_Delete(o); o = NULL; break; }
        }
    }
    free(passes);
    return srv_reply_json(c->conn, MHD_HTTP_OK, o);
}

/* ---- nearest neighbours ------------------------------------------------- */

/* A nearest query (JSON and PNG): rendered on the worker, cached by key. */
typedef struct {
    srv_sample_query q;
    const gan_dataset *train;
    float test_median;                     /* NaN when the ceiling is not known yet */
} nearest_job;

typedef struct {
    float images[NEAREST_MAX * GAN_PIX];   /* generated, model range */
    float unit[NEAREST_MAX * GAN_PIX];     /* the same in [0, 1] */
    int32_t idx[NEAREST_MAX];
    float dist[NEAREST_MAX];
} nearest_found;

/* Generate and search (on the render worker, one thread). NULL with err on
 * no memory. */
static nearest_found *nearest_search(srv_render_ctx *x, const nearest_job *j, char *err,
                                     size_t errlen) {
    const gan_config *mc = &x->cfg->model;
    const int n = (int)j->q.n;
    nearest_found *f = malloc(sizeof *f);
    float *z = malloc((size_t)n * (size_t)mc->nz * sizeof(float));
    uint8_t labels[NEAREST_MAX];
    if (!f || !z) goto oom;
    srv_api_draw(mc, &j->q, z, labels);
    srv_render_generate(x, z, labels, n, f->images, NULL, 0);
    srv_images_to_unit(mc, f->images, f->unit, (size_t)n * GAN_PIX);
    if (nn_nearest(j->train->images, j->train->n, GAN_PIX, f->unit, n, f->idx, f->dist) < 0) goto oom;
    free(z);
    return f;
oom:
    free(f);
    free(z);
    snprintf(err, errlen, "out of memory");
    return NULL;
}

static int render_nearest_json(srv_render_ctx *x, void *arg, srv_render_out *out, char *err,
                               size_t errlen) {
    const nearest_job *j = arg;
    nearest_found *f = nearest_search(x, j, err, errlen);
    if (!f) return 500;
    cJSON *o = cJSON_CreateObject();
    cJSON *items = o ? cJSON_AddArrayToObject(o, "items") : NULL;
    if (items) {
        cJSON_AddNumberToObject(o, "iteration", (double)x->iteration);
        srv_json_seed(o, "seed", j->q.seed);   /* exact: a string past 2^53 */
        cJSON_AddNumberToObject(o, "n", (double)j->q.n);
        if (isfinite(j->test_median)) srv_json_float(o, "test_median", j->test_median);
        else cJSON_AddNullToObject(o, "test_median");
        for (int i = 0; i < (int)j->q.n; i++) {
            cJSON *it = cJSON_CreateObject();
            if (!it || !cJSON_AddItemToArray(items, it)) { cJSON_Delete(it); cJSON_Delete(o); o = NULL; break; }
            cJSON_AddNumberToObject(it, "index", i);
            cJSON_AddNumberToObject(it, "train_index", f->idx[i]);
            srv_json_float(it, "distance", f->dist[i]);
            cJSON_AddNumberToObject(it, "train_label", j->train->labels[f->idx[i]]);
        }
    }
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    free(f);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return 500;
    }
    out->data = (unsigned char *)text;
    out->len = strlen(text);
    out->type = "application/json";
    return 0;
}

static int render_nearest_png(srv_render_ctx *x, void *arg, srv_render_out *out, char *err,
                              size_t errlen) {
    const nearest_job *j = arg;
    const int n = (int)j->q.n;
    nearest_found *f = nearest_search(x, j, err, errlen);
    float *pairs = f ? malloc((size_t)2 * n * GAN_PIX * sizeof(float)) : NULL;  /* rows: sample, nearest */
    int rc = 500;
    if (pairs) {
        for (int i = 0; i < n; i++) {
            memcpy(pairs + (size_t)(2 * i) * GAN_PIX, f->unit + (size_t)i * GAN_PIX, GAN_PIX * sizeof(float));
            const uint8_t *r = j->train->images + (size_t)f->idx[i] * GAN_PIX;
            for (int p = 0; p < GAN_PIX; p++) pairs[(size_t)(2 * i + 1) * GAN_PIX + p] = r[p] / 255.0f;
        }
        if (srv_grid_png(pairs, 2 * n, 2, (int)j->q.scale, 0.0f, 1.0f, &out->data, &out->len) == 0) rc = 0;
        out->type = "image/png";
    }
    if (rc != 0) snprintf(err, errlen, "out of memory");
    free(pairs);
    free(f);
    return rc;
}

/* Parse the query; 0, or -1 with the reply queued. */
static int nearest_query(srv_call *c, nearest_job *j, const char *const *allowed,
                         enum MHD_Result *reply) {
    if (srv_api_sample_query(c, allowed, &j->q, reply) < 0) return -1;
    if (!MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "n")) {
        j->q.n = 8;                               /* the default of this endpoint */
    } else if (j->q.n > NEAREST_MAX) {
        *reply = srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "n: must be an integer in 1..%d", NEAREST_MAX);
        return -1;
    }
    j->train = srv_state_dataset(c->h->st);
    if (!j->train) {
        *reply = srv_reply_error(c->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no generator published yet");
        return -1;
    }
    srv_quality_info info;
    srv_state_quality(c->h->st, &info, NULL, 0);
    j->test_median = info.has_ceiling ? info.test_median : NAN;
    return 0;
}

enum MHD_Result srv_api_nearest(srv_call *c) {
    static const char *const allowed[] = {"n", "seed", "digit", "digits", NULL};
    nearest_job j;
    enum MHD_Result reply;
    if (nearest_query(c, &j, allowed, &reply) != 0) return reply;
    char key[SRV_RENDER_KEY_MAX];
    srv_render_samples_key(key, sizeof key, "nearest", j.q.n, 1, j.q.seed, j.q.digit, j.q.all_digits, 0);
    if (isfinite(j.test_median)) {             /* the ceiling arrives once, after the first pass */
        size_t k = strlen(key);
        snprintf(key + k, sizeof key - k, "&median=1");
    }
    return srv_reply_rendered(c, key, render_nearest_json, &j);
}

enum MHD_Result srv_api_nearest_png(srv_call *c) {
    static const char *const allowed[] = {"n", "seed", "scale", "digit", "digits", NULL};
    nearest_job j;
    enum MHD_Result reply;
    if (nearest_query(c, &j, allowed, &reply) != 0) return reply;
    char key[SRV_RENDER_KEY_MAX];
    srv_render_samples_key(key, sizeof key, "nearest.png", j.q.n, j.q.scale, j.q.seed, j.q.digit,
                           j.q.all_digits, 0);
    return srv_reply_rendered(c, key, render_nearest_png, &j);
}

/* ---- balance and new runs ------------------------------------------------ */

cJSON *srv_api_balance_event_json(const srv_balance_event *e) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "iteration", (double)e->iteration);
    cJSON_AddStringToObject(o, "action", srv_balance_action_name(e->action));
    srv_json_float(o, "d_acc", e->d_acc);
    return o;
}

enum MHD_Result srv_api_balance(srv_call *c) {
    static const char *const allowed[] = {NULL};
    const char *bad = srv_query_unknown(c->conn, allowed);
    if (bad) return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "unknown or repeated query parameter: %.64s", bad);
    srv_balance_event ev[SRV_BALANCE_EVENTS];
    int skipping = 0;
    int n = srv_state_balance(c->h->st, ev, SRV_BALANCE_EVENTS, &skipping);
    srv_config live;
    srv_state_config(c->h->st, &live);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "events") : NULL;
    if (arr) {
        cJSON_AddStringToObject(o, "mode", live.balance ? "auto" : "off");
        if (skipping) cJSON_AddStringToObject(o, "skipping", skipping == 'd' ? "d" : "g");
        else cJSON_AddNullToObject(o, "skipping");
        for (int i = 0; i < n; i++) {
            cJSON *e = srv_api_balance_event_json(&ev[i]);
            if (!e || !cJSON_AddItemToArray(arr, e)) { cJSON_Delete(e); cJSON_Delete(o); o = NULL; break; }
        }
    }
    return srv_reply_json(c->conn, MHD_HTTP_OK, o);
}

/* GET /api/presets: {"presets": [{"name", "model": {...}, "train": {...}}]},
 * in the table's order: the model and training settings a new run of each
 * preset starts with (POST /api/run: this server's settings, then the
 * preset's), as a config file names them. The dashboard's New-run dialog
 * takes its choices and placeholders from here. */
enum MHD_Result srv_api_presets(srv_call *c) {
    static const char *const allowed[] = {NULL};
    const char *bad = srv_query_unknown(c->conn, allowed);
    if (bad) return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "unknown or repeated query parameter: %.64s", bad);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "presets") : NULL;
    const char *name;
    for (int i = 0; arr && (name = srv_config_preset_name(i)) != NULL; i++) {
        srv_config next = c->h->cfg;
        srv_config_preset(&next, name);
        cJSON *p = cJSON_CreateObject();
        if (!p || !cJSON_AddItemToArray(arr, p)) {   /* from here on o owns p */
            cJSON_Delete(p);
            cJSON_Delete(o);
            o = NULL;
            break;
        }
        cJSON *all = srv_config_to_json(&next);
        cJSON *model = all ? cJSON_DetachItemFromObjectCaseSensitive(all, "model") : NULL;
        cJSON *train = all ? cJSON_DetachItemFromObjectCaseSensitive(all, "train") : NULL;
        cJSON_Delete(all);
        int ok = cJSON_AddStringToObject(p, "name", name) != NULL && model && train;
        if (ok && cJSON_AddItemToObject(p, "model", model)) model = NULL; else ok = 0;
        if (ok && cJSON_AddItemToObject(p, "train", train)) train = NULL; else ok = 0;
        cJSON_Delete(model);   /* whatever was not handed over */
        cJSON_Delete(train);
        if (!ok) {
            cJSON_Delete(o);
            o = NULL;
            break;
        }
    }
    return srv_reply_json(c->conn, MHD_HTTP_OK, o);
}

/* The sections a new run may set: the model and its recipe, and what is
 * recorded about it; not where it lives nor how it is served. */
static int run_section_ok(const char *name) {
    static const char *const ok[] = {"model.", "train.", "quality.", "timeline.", "history.", NULL};
    for (int i = 0; ok[i]; i++)
        if (strncmp(name, ok[i], strlen(ok[i])) == 0) return 1;
    return 0;
}

/* POST /api/run {"preset", "name"?, "settings"?: {"section.key": value}}:
 * every part is checked here (the settings by the settings table, against
 * the preset), so the restart that follows cannot fail on them. */
enum MHD_Result srv_api_run(srv_call *c) {
    static const char *const none[] = {NULL};
    const char *bad = srv_query_unknown(c->conn, none);
    if (bad) return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST,
                                    "unknown or repeated query parameter: %.64s", bad);
    const cJSON *p = c->body ? cJSON_GetObjectItemCaseSensitive(c->body, "preset") : NULL;
    int known = 0;
    const char *preset;
    for (int i = 0; cJSON_IsString(p) && p->valuestring && (preset = srv_config_preset_name(i)) != NULL; i++)
        known |= strcmp(p->valuestring, preset) == 0;
    if (!known) {
        char err[160];
        srv_config_preset_error(err, sizeof err);
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "%s", err);
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c->body, "name");
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(c->body, "settings");
    for (const cJSON *it = c->body->child; it; it = it->next)
        if (!it->string || (strcmp(it->string, "preset") != 0 && strcmp(it->string, "name") != 0 &&
                            strcmp(it->string, "settings") != 0))
            return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "unknown field: %.64s",
                                   it->string ? it->string : "?");
    if (!c->h->cfg.run_dir[0])
        return srv_reply_error(c->conn, MHD_HTTP_CONFLICT,
                               "this server keeps no checkpoints (run.dir is empty), so a new run "
                               "would lose the current one; restart it with --preset instead");
    srv_restart r = {0};
    snprintf(r.preset, sizeof r.preset, "%s", p->valuestring);
    const char *root = c->h->cfg.runs_root[0] ? c->h->cfg.runs_root : "runs";
    if (name && !cJSON_IsNull(name)) {
        if (!cJSON_IsString(name) || !name->valuestring)
            return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "name: must be a string or null");
        if (name->valuestring[0] && (!srv_run_name_valid(name->valuestring) || strchr(name->valuestring, '/')))
            return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "name: must be 1-64 of [A-Za-z0-9._-], "
                                   "starting with a letter or digit");
        if (strcmp(name->valuestring, "current") == 0)
            return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "name: \"current\" is taken (it names "
                                   "the run a server trains)");
        int dfd = name->valuestring[0] ? srv_run_open(root, name->valuestring) : -1;
        if (dfd >= 0) {
            close(dfd);
            return srv_reply_error(c->conn, MHD_HTTP_CONFLICT, "name: a run named \"%s\" exists; runs are "
                                   "never overwritten, choose another name", name->valuestring);
        }
        snprintf(r.name, sizeof r.name, "%s", name->valuestring);
    }
    if (settings && !cJSON_IsNull(settings)) {
        if (!cJSON_IsObject(settings))
            return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST,
                                   "settings: must be an object of \"section.key\": value");
        srv_config next = c->h->cfg;
        srv_config_preset(&next, r.preset);
        for (const cJSON *it = settings->child; it; it = it->next) {
            char text[64], err[300];
            if (!srv_config_known(it->string))
                return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "settings.%.64s: unknown setting", it->string);
            if (!run_section_ok(it->string))
                return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "settings.%.64s: not a setting of the "
                                       "model or its recipe (a new run keeps how it is served)", it->string);
            if (r.nsets == SRV_RESTART_SETS)
                return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "settings: at most %d", SRV_RESTART_SETS);
            /* its text as a flag would give it, then the table's check */
            if (cJSON_IsString(it) && it->valuestring) {
                if (snprintf(text, sizeof text, "%s", it->valuestring) >= (int)sizeof text)
                    return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "settings.%.64s: too long", it->string);
            }
            else if (cJSON_IsBool(it)) snprintf(text, sizeof text, "%s", cJSON_IsTrue(it) ? "true" : "false");
            else if (cJSON_IsNumber(it)) snprintf(text, sizeof text, "%.17g", it->valuedouble);
            else return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST,
                                        "settings.%.64s: must be a number, a string or true/false", it->string);
            if (srv_config_set_text(&next, it->string, text, err, sizeof err) < 0)
                return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "settings.%s", err);
            if (snprintf(r.sets[r.nsets], sizeof r.sets[0], "%s=%s", it->string, text) >= (int)sizeof r.sets[0])
                return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "settings.%.64s: too long", it->string);
            r.nsets++;
        }
    }
    /* Without a name: a run whose directory was named outright starts over
     * in it (its old files moved aside); any other gets <preset>-<time>. */
    if (!r.name[0] && !c->h->cfg.run_dir_fixed) srv_run_new_name(root, r.preset, r.name, sizeof r.name);
    srv_state_request_restart(c->h->st, &r);
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "preset", r.preset);
        cJSON_AddStringToObject(o, "name", r.name[0] ? r.name : c->h->cfg.run_name);   /* given, made, or kept */
        if (settings && cJSON_IsObject(settings))
            cJSON_AddItemToObject(o, "settings", cJSON_Duplicate(settings, 1));
        cJSON_AddBoolToObject(o, "restarting", 1);
    }
    return srv_reply_json(c->conn, MHD_HTTP_ACCEPTED, o);
}
