/* config.c - the settings table and everything that reads or shows it.
 *
 * Each row of `settings` names one setting once: JSON section and key, the
 * flat name used by live updates, type, range and whether it is live-tunable.
 * Readers validate into a copy and commit only when every key passed, so a
 * bad file or PATCH never leaves a half-applied config behind.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "json_strict.h"

typedef enum { T_INT, T_LONG, T_U64, T_FLOAT, T_STR, T_ENUM, T_BOOL } setting_type;

typedef struct {
    const char *section, *key, *flat;
    setting_type type;
    size_t offset;           /* into srv_config */
    double min, max;         /* numbers: inclusive range; strings: length range */
    int live;                /* 1 live-tunable, 0 fixed at start, HIDDEN secret */
    const char *choices[4];  /* T_ENUM: accepted names, index = stored int;
                                T_STR: when set, the only strings accepted */
} setting;

#define OFF(f) offsetof(srv_config, f)
#define HIDDEN 2                      /* `live` value: never shown nor patched (secrets) */

static const setting settings[] = {
    {"server",   "bind",               "bind",               T_STR,   OFF(bind), 0, 63, 0, {0}},
    {"server",   "port",               "port",               T_INT,   OFF(port), 0, 65535, 0, {0}},
    {"server",   "token",              "token",              T_STR,   OFF(token), 0, 128, HIDDEN, {0}},
    {"server",   "allowed_hosts",      "allowed_hosts",      T_STR,   OFF(allowed_hosts), 0, 255, 0, {0}},
    {"server",   "max_body",           "max_body",           T_INT,   OFF(max_body), 1024, 1048576, 0, {0}},
    {"server",   "events_interval_ms", "events_interval_ms", T_INT,   OFF(events_interval_ms), 50, 10000, 1, {0}},
    {"server",   "live_every_ms",      "live_every_ms",      T_INT,   OFF(live_every_ms), 100, 60000, 1, {0}},
    {"server",   "render_share",       "render_share",       T_FLOAT, OFF(render_share), 0.01, 1, 1, {0}},
    {"server",   "render_queue",       "render_queue",       T_INT,   OFF(render_queue), 1, 1024, 0, {0}},
    {"server",   "cache_mb",           "cache_mb",           T_INT,   OFF(cache_mb), 1, 4096, 0, {0}},
    {"data",     "dataset",            "dataset",            T_STR,   OFF(dataset), 0, 15, 0, {"mnist", "fashion"}},
    {"data",     "dir",                "dir",                T_STR,   OFF(data_dir), 0, 511, 0, {0}},
    {"model",    "nz",                 "nz",                 T_INT,   OFF(model.nz), 1, GAN_NZ_MAX, 0, {0}},
    {"model",    "ngf",                "ngf",                T_INT,   OFF(model.ngf), 1, GAN_WIDTH_MAX, 0, {0}},
    {"model",    "ndf",                "ndf",                T_INT,   OFF(model.ndf), 1, GAN_WIDTH_MAX, 0, {0}},
    {"model",    "g_output",           "g_output",           T_ENUM,  OFF(model.g_output), 0, 0, 0, {"tanh", "relu"}},
    {"model",    "conditional",        "conditional",        T_BOOL,  OFF(model.conditional), 0, 1, 0, {0}},
    {"model",    "projection",         "projection",         T_BOOL,  OFF(model.projection), 0, 1, 0, {0}},
    {"model",    "spectral_norm",      "spectral_norm",      T_BOOL,  OFF(model.spectral_norm), 0, 1, 0, {0}},
    {"train",    "batch",              "batch",              T_INT,   OFF(model.batch), 1, GAN_BATCH_MAX, 0, {0}},
    {"train",    "lr_d",               "lr_d",               T_FLOAT, OFF(model.lr_d), 0, 1, 1, {0}},
    {"train",    "lr_g",               "lr_g",               T_FLOAT, OFF(model.lr_g), 0, 1, 1, {0}},
    {"train",    "beta1",              "beta1",              T_FLOAT, OFF(model.beta1), 0, 0.9999, 1, {0}},
    {"train",    "beta2",              "beta2",              T_FLOAT, OFF(model.beta2), 0, 0.99999, 1, {0}},
    {"train",    "adam_eps",           "adam_eps",           T_FLOAT, OFF(model.adam_eps), 1e-12, 1, 0, {0}},
    {"train",    "d_steps",            "d_steps",            T_INT,   OFF(model.d_steps), 1, 100, 1, {0}},
    {"train",    "g_steps",            "g_steps",            T_INT,   OFF(model.g_steps), 1, 100, 1, {0}},
    {"train",    "ema",                "ema",                T_FLOAT, OFF(model.ema), 0, 0.99999, 0, {0}},
    {"train",    "loss",               "loss",               T_ENUM,  OFF(model.loss), 0, 0, 0, {"bce", "hinge"}},
    {"train",    "real_label",         "real_label",         T_FLOAT, OFF(model.real_label), 0.5, 1, 0, {0}},
    {"train",    "lr_warmup",          "lr_warmup",          T_INT,   OFF(model.lr_warmup), 0, 1000000000, 0, {0}},
    {"train",    "lr_half_life",       "lr_half_life",       T_INT,   OFF(model.lr_half_life), 0, 1000000000, 0, {0}},
    {"train",    "seed",               "seed",               T_U64,   OFF(seed), 0, SRV_SEED_MAX, 0, {0}},
    {"train",    "threads",            "threads",            T_INT,   OFF(threads), 0, 256, 0, {0}},
    {"train",    "iters",              "iters",              T_LONG,  OFF(iters), 0, 1e12, 0, {0}},
    {"train",    "seconds",            "seconds",            T_INT,   OFF(seconds), 0, 100000000, 0, {0}},
    {"train",    "log_every_s",        "log_every_s",        T_INT,   OFF(log_every_s), 1, 3600, 0, {0}},
    {"train",    "balance",            "balance",            T_ENUM,  OFF(balance), 0, 0, 1, {"off", "auto"}},
    {"train",    "balance_hi",         "balance_hi",         T_FLOAT, OFF(balance_hi), 0.5, 1, 1, {0}},
    {"train",    "balance_lo",         "balance_lo",         T_FLOAT, OFF(balance_lo), 0, 0.5, 1, {0}},
    {"train",    "balance_window",     "balance_window",     T_INT,   OFF(balance_window), 1, 10000, 1, {0}},
    {"quality",  "every",              "quality_every",      T_INT,   OFF(quality_every), 0, 1000000000, 1, {0}},
    {"quality",  "samples",            "quality_samples",    T_INT,   OFF(quality_samples), 100, 10000, 0, {0}},
    {"quality",  "classifier",         "classifier",         T_STR,   OFF(classifier), 0, 511, 0, {0}},
    {"quality",  "early_every",        "quality_early_every", T_INT,  OFF(quality_early_every), 1, 1000000000, 1, {0}},
    {"quality",  "early_until",        "quality_early_until", T_INT,  OFF(quality_early_until), 0, 1000000000, 1, {0}},
    {"quality",  "readable_as_asked",  "readable_as_asked",  T_FLOAT, OFF(readable_as_asked), 0, 1, 0, {0}},
    {"quality",  "readable_score",     "readable_score",     T_FLOAT, OFF(readable_score), 1, 10, 0, {0}},
    {"history",  "max_points",         "max_points",         T_INT,   OFF(history_max_points), 100, 10000000, 0, {0}},
    {"timeline", "every",              "timeline_every",     T_INT,   OFF(timeline_every), 1, 1000000000, 1, {0}},
    {"timeline", "max",                "timeline_max",       T_INT,   OFF(timeline_max), 2, 10000, 0, {0}},
    {"run",      "dir",                "run_dir",            T_STR,   OFF(run_dir), 0, 511, 0, {0}},
    {"run",      "root",               "runs_root",          T_STR,   OFF(runs_root), 1, 511, 0, {0}},
    {"run",      "name",               "run_name",           T_STR,   OFF(run_name), 0, 127, 0, {0}},
    {"run",      "checkpoint_every_s", "checkpoint_every_s", T_INT,   OFF(checkpoint_every_s), 0, 604800, 1, {0}},
    {"run",      "keep",               "checkpoint_keep",    T_INT,   OFF(checkpoint_keep), 1, 1000, 0, {0}},
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

void srv_config_default(srv_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->bind, sizeof c->bind, "127.0.0.1");
    c->port = 8080;
    c->max_body = 16 * 1024;
    c->events_interval_ms = 250;
    c->live_every_ms = 1000;
    c->render_share = 0.1f;
    c->render_queue = 32;
    c->cache_mb = 32;
    snprintf(c->dataset, sizeof c->dataset, "mnist");
    c->data_dir[0] = '\0';            /* "" = the dataset's usual place */
    gan_config_default(&c->model);
    c->seed = 1;
    c->threads = 0;
    c->iters = 2000;
    c->log_every_s = 2;
    c->history_max_points = 20000;
    c->timeline_every = 100;
    c->timeline_max = 100;
    snprintf(c->run_dir, sizeof c->run_dir, "runs/default");
    snprintf(c->runs_root, sizeof c->runs_root, "runs");
    c->checkpoint_every_s = 60;
    c->checkpoint_keep = 3;
    c->balance = 0;
    c->balance_hi = 0.95f;
    c->balance_lo = 0.35f;
    c->balance_window = 20;
    c->quality_every = 500;
    c->quality_samples = 1000;
    c->classifier[0] = '\0';          /* "" = <data dir>/classifier.bin */
    c->quality_early_every = 100;
    c->quality_early_until = 2000;
    c->readable_as_asked = 0.8f;
    c->readable_score = 7.0f;
    srv_config_preset(c, "classic");
}

const char *srv_class_name(const srv_config *c, int k) {
    static const char *const digits[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    static const char *const fashion[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    if (k < 0 || k > 9) return "?";
    return strcmp(c->dataset, "fashion") == 0 && !c->data_dir[0] ? fashion[k] : digits[k];
}

/* Presets set the recipe as a whole; any of these settings can still be
 * overridden one by one afterwards (config file, flags, PATCH). `fast` is
 * the winner of the time-budgeted sweep (bench/sweep.py, README "Presets"):
 * a projection discriminator, both networks half as wide (about 2.4 times
 * the iterations per second) and samples from a G EMA; it draws the digit
 * asked for from the first half minute. */
static const struct {
    const char *name;
    int conditional, projection, ngf, ndf, batch;
    float lr, ema;
} presets[] = {
    {"classic", 0, 0, 128, 64, 64, 2e-4f, 0.0f},   /* the DCGAN paper's recipe */
    {"fast", 1, 1, 64, 32, 16, 5e-4f, 0.99f},      /* conditional, projection D, narrow, EMA */
};

const char *srv_config_preset_name(int i) {
    return i >= 0 && i < (int)(sizeof presets / sizeof presets[0]) ? presets[i].name : NULL;
}

void srv_config_preset_error(char *err, size_t errlen) {
    size_t at = (size_t)snprintf(err, errlen, "preset: must be");
    const size_t n = sizeof presets / sizeof presets[0];
    for (size_t i = 0; i < n && at < errlen; i++)
        at += (size_t)snprintf(err + at, errlen - at, "%s\"%s\"", i == 0 ? " " : i + 1 < n ? ", " : " or ",
                               presets[i].name);
}

int srv_config_preset(srv_config *c, const char *name) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(name, presets[i].name) != 0) continue;
        gan_config *m = &c->model;
        m->conditional = presets[i].conditional;
        m->projection = presets[i].projection;
        m->ngf = presets[i].ngf;
        m->ndf = presets[i].ndf;
        m->batch = presets[i].batch;
        m->lr_d = m->lr_g = presets[i].lr;
        m->beta1 = 0.5f;
        m->beta2 = 0.999f;
        m->d_steps = m->g_steps = 1;
        m->ema = presets[i].ema;
        m->loss = GAN_LOSS_BCE;
        m->real_label = 1.0f;
        m->lr_warmup = m->lr_half_life = 0;
        m->spectral_norm = 0;
        snprintf(c->preset, sizeof c->preset, "%s", name);
        return 0;
    }
    return -1;
}

static void describe_range(const setting *s, char *buf, size_t len) {
    if (s->choices[0]) {                  /* T_ENUM, or T_STR with a fixed set */
        snprintf(buf, len, "one of \"%s\", \"%s\"", s->choices[0], s->choices[1]);
        return;
    }
    switch (s->type) {
    case T_FLOAT: snprintf(buf, len, "a number in [%g, %g]", s->min, s->max); break;
    case T_STR:
        if (s->min > 0) snprintf(buf, len, "a string of %.0f to %.0f characters", s->min, s->max);
        else snprintf(buf, len, "a string of at most %.0f characters", s->max);
        break;
    case T_BOOL:  snprintf(buf, len, "true or false"); break;
    default:      snprintf(buf, len, "an integer in [%.0f, %.0f]", s->min, s->max); break;
    }
}

/* Store one JSON value into c for setting s. -1 with a message on error. */
static int set_value(srv_config *c, const setting *s, const cJSON *v, const char *name,
                     char *err, size_t errlen) {
    char *field = (char *)c + s->offset;
    char want[96];
    describe_range(s, want, sizeof want);
    if (s->type == T_BOOL) {
        if (!cJSON_IsBool(v)) goto bad;
        *(int *)field = cJSON_IsTrue(v) ? 1 : 0;
        return 0;
    }
    if (s->type == T_STR || s->type == T_ENUM) {
        if (!cJSON_IsString(v) || !v->valuestring) goto bad;
        const char *str = v->valuestring;
        if (s->choices[0]) {
            int k = -1;
            for (int i = 0; i < 4 && s->choices[i] && k < 0; i++)
                if (strcmp(str, s->choices[i]) == 0) k = i;
            if (k < 0) goto bad;
            if (s->type == T_ENUM) { *(int *)field = k; return 0; }
        }
        if (strlen(str) > (size_t)s->max || strlen(str) < (size_t)s->min) goto bad;
        memcpy(field, str, strlen(str) + 1);
        return 0;
    }
    if (s->type == T_U64) {               /* a seed: a number or its decimal string */
        uint64_t u;
        if (srv_json_seed_get(v, &u) < 0 || (double)u > s->max) goto bad;
        *(uint64_t *)field = u;
        return 0;
    }
    if (!cJSON_IsNumber(v)) goto bad;
    const double d = v->valuedouble;
    if (!isfinite(d) || d < s->min || d > s->max) goto bad;
    if (s->type != T_FLOAT && d != floor(d)) goto bad;
    switch (s->type) {
    case T_INT:   *(int *)field = (int)d; break;
    case T_LONG:  *(long *)field = (long)d; break;
    case T_FLOAT: *(float *)field = (float)d; break;
    default: break;
    }
    return 0;
bad:
    snprintf(err, errlen, "%s: must be %s", name, want);
    return -1;
}

int srv_config_apply_file_json(srv_config *c, const cJSON *root, char *err, size_t errlen) {
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "config must be a JSON object of sections");
        return -1;
    }
    srv_config next = *c;
    /* "preset" first, so the file's own settings override it one by one */
    const cJSON *preset = cJSON_GetObjectItemCaseSensitive(root, "preset");
    if (preset && (!cJSON_IsString(preset) || !preset->valuestring ||
                   srv_config_preset(&next, preset->valuestring) < 0)) {
        srv_config_preset_error(err, errlen);
        return -1;
    }
    const cJSON *sec;
    cJSON_ArrayForEach(sec, root) {
        if (sec == preset) continue;
        int known_section = 0;
        for (size_t i = 0; i < NSETTINGS; i++)
            if (strcmp(settings[i].section, sec->string) == 0) known_section = 1;
        if (!known_section) {
            snprintf(err, errlen, "%s: unknown section", sec->string);
            return -1;
        }
        if (!cJSON_IsObject(sec)) {
            snprintf(err, errlen, "%s: must be an object", sec->string);
            return -1;
        }
        const cJSON *item;
        cJSON_ArrayForEach(item, sec) {
            const setting *s = NULL;
            for (size_t i = 0; i < NSETTINGS && !s; i++)
                if (strcmp(settings[i].section, sec->string) == 0 &&
                    strcmp(settings[i].key, item->string) == 0) s = &settings[i];
            char name[128];
            snprintf(name, sizeof name, "%s.%s", sec->string, item->string);
            if (!s) {
                snprintf(err, errlen, "%s: unknown setting", name);
                return -1;
            }
            if (set_value(&next, s, item, name, err, errlen) < 0) return -1;
        }
    }
    *c = next;
    return 0;
}

int srv_parse_whole(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    const double v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi || v != (double)(long long)v) return -1;
    *out = v;
    return 0;
}

int srv_config_load_file(srv_config *c, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    cJSON *root = NULL;
    for (;;) {
        if (len == cap) {
            if (cap >= (1u << 20)) { snprintf(err, errlen, "%s: larger than 1 MiB", path); goto done; }
            cap = cap ? cap * 2 : 4096;
            char *t = realloc(text, cap);
            if (!t) { snprintf(err, errlen, "%s: out of memory", path); goto done; }
            text = t;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        if (got == 0) break;
        len += got;
    }
    if (ferror(f)) { snprintf(err, errlen, "%s: read error", path); goto done; }
    root = cJSON_ParseWithLength(text, len);
    if (!root) { snprintf(err, errlen, "%s: not valid JSON", path); goto done; }
    const char *dup = srv_json_duplicate_key(root);
    if (dup) { snprintf(err, errlen, "%s: duplicate key: %.64s", path, dup); goto done; }
    char inner[400];
    if (srv_config_apply_file_json(c, root, inner, sizeof inner) < 0) {
        snprintf(err, errlen, "%s: %s", path, inner);
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    free(text);
    fclose(f);
    return rc;
}

int srv_config_apply_live_json(srv_config *c, const cJSON *obj, char *err, size_t errlen) {
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "body must be a JSON object of settings");
        return -1;
    }
    srv_config next = *c;
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        const setting *s = NULL;
        for (size_t i = 0; i < NSETTINGS && !s; i++)
            if (strcmp(settings[i].flat, item->string) == 0) s = &settings[i];
        if (!s) {
            snprintf(err, errlen, "%s: unknown setting", item->string);
            return -1;
        }
        if (s->live != 1) {
            snprintf(err, errlen, "%s: cannot change while training runs", item->string);
            return -1;
        }
        if (set_value(&next, s, item, item->string, err, errlen) < 0) return -1;
    }
    *c = next;
    return 0;
}

/* A JSON number for a stored value; floats are rounded to the 7 significant
 * digits a float holds, so 2e-4 shows as 0.0002, not 0.000199999995. */
static cJSON *value_json(const srv_config *c, const setting *s) {
    const char *field = (const char *)c + s->offset;
    char buf[32];
    switch (s->type) {
    case T_INT:   return cJSON_CreateNumber(*(const int *)field);
    case T_LONG:  return cJSON_CreateNumber((double)*(const long *)field);
    case T_U64:                       /* exact digits, as srv_json_seed writes them */
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)*(const uint64_t *)field);
        return cJSON_CreateRaw(buf);
    case T_FLOAT:
        snprintf(buf, sizeof buf, "%.7g", (double)*(const float *)field);
        return cJSON_CreateNumber(strtod(buf, NULL));
    case T_STR:   return cJSON_CreateString(field);
    case T_ENUM:  return cJSON_CreateString(s->choices[*(const int *)field]);
    case T_BOOL:  return cJSON_CreateBool(*(const int *)field);
    }
    return cJSON_CreateNull();
}

cJSON *srv_config_to_json(const srv_config *c) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    if (!cJSON_AddStringToObject(root, "preset", c->preset)) {
        cJSON_Delete(root);
        return NULL;
    }
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (settings[i].live == HIDDEN) continue;
        cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, settings[i].section);
        if (!sec) sec = cJSON_AddObjectToObject(root, settings[i].section);
        if (!sec || !cJSON_AddItemToObject(sec, settings[i].key, value_json(c, &settings[i]))) {
            cJSON_Delete(root);
            return NULL;
        }
    }
    return root;
}

cJSON *srv_config_live_to_json(const srv_config *c) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (settings[i].live != 1) continue;
        if (!cJSON_AddItemToObject(root, settings[i].flat, value_json(c, &settings[i]))) {
            cJSON_Delete(root);
            return NULL;
        }
    }
    return root;
}

/* ---- one setting from text: flags, --set, POST /api/run ---------------------- */

static const setting *find_dotted(const char *name) {
    const char *dot = strchr(name, '.');
    if (!dot) return NULL;
    const size_t n = (size_t)(dot - name);
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strlen(settings[i].section) == n && strncmp(settings[i].section, name, n) == 0 &&
            strcmp(settings[i].key, dot + 1) == 0)
            return &settings[i];
    return NULL;
}

int srv_config_known(const char *name) { return find_dotted(name) != NULL; }

int srv_config_set_text(srv_config *c, const char *name, const char *text, char *err, size_t errlen) {
    const setting *s = find_dotted(name);
    if (!s) {
        snprintf(err, errlen, "%.128s: unknown setting", name);
        return -1;
    }
    /* The text becomes the JSON value a config file would hold, so the one
     * validator (set_value) judges it; text that is not a number where one
     * is wanted stays a string and is refused with the setting's range. */
    cJSON *v = NULL;
    char *end = NULL;
    double d = 0;
    switch (s->type) {
    case T_STR: case T_ENUM:
        v = cJSON_CreateString(text);
        break;
    case T_BOOL:
        v = strcmp(text, "true") == 0 ? cJSON_CreateTrue() : strcmp(text, "false") == 0
            ? cJSON_CreateFalse() : cJSON_CreateString(text);
        break;
    case T_U64:                           /* decimal digits stay exact as a string */
        if (text[0] && strspn(text, "0123456789") == strlen(text)) {
            v = cJSON_CreateString(text);
            break;
        }
        __attribute__((fallthrough));    /* "1e3" and the like: as a number */
    default:
        errno = 0;
        d = strtod(text, &end);
        v = (text[0] && end && !*end && !errno) ? cJSON_CreateNumber(d) : cJSON_CreateString(text);
        break;
    }
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = set_value(c, s, v, name, err, errlen);
    cJSON_Delete(v);
    return rc;
}

/* ---- flags and --help ----------------------------------------------------------- */

/* The flags that stand for one setting each; everything else is --set. */
static const srv_config_flag flags[] = {
    {"data", "DIR", "data.dir", "directory with the IDX files (train-images-idx3-ubyte[.gz], ...); "
                                "\"\" = the dataset's usual place"},
    {"dataset", "NAME", "data.dataset", "mnist (data/mnist) or fashion (Debian dataset-fashion-mnist)"},
    {"seed", "S", "train.seed", "random seed (same seed and threads: identical run)"},
    {"threads", "T", "train.threads", "threads (0 = all cores)"},
    {"iters", "N", "train.iters", "train: iterations to run; bench: timed iterations"},
    {"seconds", "S", "train.seconds", "train: also end after S seconds of training (0 = no limit), "
                                      "what a recipe is measured by"},
    {"batch", "B", "train.batch", "images per batch"},
    {"bind", "ADDR", "server.bind", "serve: address to listen on"},
    {"port", "P", "server.port", "serve: port (0 = any free port)"},
    {"token", "T", "server.token", "serve: token that POST/PATCH requests must send as "
                                   "\"Authorization: Bearer T\" (generated when --bind is not loopback)"},
    {"run-dir", "DIR", "run.dir", "train, serve: checkpoints go here and the run resumes from the "
                                  "newest good one"},
    {"runs-root", "DIR", "run.root", "where runs live, one directory each"},
    {"run-name", "NAME", "run.name", "train, serve: the run's name, its directory DIR/NAME (default: "
                                     "resume the last run, or a new one named <preset>-<UTC time>)"},
};

const srv_config_flag *srv_config_flags(int *n) {
    *n = (int)(sizeof flags / sizeof flags[0]);
    return flags;
}

/* "  left" padded to HELP_COL, then text wrapped to HELP_WIDTH. */
#define HELP_COL 28
#define HELP_WIDTH 100
void srv_config_help_line(FILE *f, const char *left, const char *text) {
    int col = fprintf(f, "  %s", left);
    if (col >= HELP_COL) { fputc('\n', f); col = 0; }
    const char *p = text;
    while (*p) {
        fprintf(f, "%*s", HELP_COL - col, "");
        col = HELP_COL;
        size_t room = HELP_WIDTH - HELP_COL, n = strlen(p);
        if (n > room) {                   /* break at the last space that fits */
            n = room;
            while (n > 0 && p[n] != ' ') n--;
            if (n == 0) n = room;
        }
        fprintf(f, "%.*s\n", (int)n, p);
        col = 0;
        p += n;
        while (*p == ' ') p++;
    }
    if (!*text) fputc('\n', f);
}

/* The stored default of setting s as JSON text ("" when hidden). */
static void default_text(const setting *s, char *buf, size_t len) {
    buf[0] = '\0';
    if (s->live == HIDDEN) return;
    srv_config d;
    srv_config_default(&d);
    cJSON *v = value_json(&d, s);
    char *t = v ? cJSON_PrintUnformatted(v) : NULL;
    if (t) snprintf(buf, len, "%s", t);
    free(t);
    cJSON_Delete(v);
}

void srv_config_print_flags(FILE *f) {
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        const setting *s = find_dotted(flags[i].setting);
        char left[64], dflt[64], text[512];
        snprintf(left, sizeof left, "--%s %s", flags[i].flag, flags[i].metavar);
        default_text(s, dflt, sizeof dflt);
        snprintf(text, sizeof text, "%s (%s%s%s)", flags[i].help, flags[i].setting,
                 dflt[0] ? ", default " : "", dflt);
        srv_config_help_line(f, left, text);
    }
}

void srv_config_print_settings(FILE *f) {
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting *s = &settings[i];
        char left[64], dflt[64], want[96], text[256];
        snprintf(left, sizeof left, "%s.%s", s->section, s->key);
        default_text(s, dflt, sizeof dflt);
        describe_range(s, want, sizeof want);
        snprintf(text, sizeof text, "%s%s%s%s", want, dflt[0] ? "; default " : "", dflt,
                 s->live == 1 ? "; live (PATCH /api/config)" : "");
        srv_config_help_line(f, left, text);
    }
}

/* ---- whole-config checks and copies ---------------------------------------------- */

static size_t field_size(const setting *s) {
    switch (s->type) {
    case T_LONG: return sizeof(long);
    case T_U64:  return sizeof(uint64_t);
    case T_FLOAT: return sizeof(float);
    case T_STR:  return 0;                /* not copied field by field */
    default:     return sizeof(int);      /* T_INT, T_ENUM, T_BOOL */
    }
}

int srv_config_check(const srv_config *c, char *err, size_t errlen) {
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting *s = &settings[i];
        const char *field = (const char *)c + s->offset;
        double v = 0;
        int ok = 1;
        switch (s->type) {
        case T_INT:   v = *(const int *)field; break;
        case T_LONG:  v = (double)*(const long *)field; break;
        case T_U64:   v = (double)*(const uint64_t *)field; break;
        case T_FLOAT: v = *(const float *)field; ok = isfinite(v); break;
        case T_BOOL:  ok = *(const int *)field == 0 || *(const int *)field == 1; break;
        case T_ENUM: {
            int k = *(const int *)field, n = 0;
            while (n < 4 && s->choices[n]) n++;
            ok = k >= 0 && k < n;
            break;
        }
        case T_STR: {
            size_t n = strnlen(field, (size_t)s->max + 1);
            ok = n <= (size_t)s->max && n >= (size_t)s->min;
            if (ok && s->choices[0]) {
                ok = 0;
                for (int k = 0; k < 4 && s->choices[k]; k++) ok |= strcmp(field, s->choices[k]) == 0;
            }
            break;
        }
        }
        if (s->type == T_INT || s->type == T_LONG || s->type == T_U64)
            ok = ok && v >= s->min && v <= s->max;
        if (s->type == T_FLOAT)                /* as stored: (float)d of a d in range */
            ok = ok && v >= (double)(float)s->min && v <= (double)(float)s->max;
        if (!ok) {
            char want[96];
            describe_range(s, want, sizeof want);
            snprintf(err, errlen, "%s.%s: must be %s", s->section, s->key, want);
            return -1;
        }
    }
    return 0;
}

void srv_config_copy_live_model(gan_config *dst, const gan_config *src) {
    const size_t lo = OFF(model), hi = lo + sizeof(gan_config);
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting *s = &settings[i];
        if (s->live != 1 || s->offset < lo || s->offset >= hi) continue;
        memcpy((char *)dst + (s->offset - lo), (const char *)src + (s->offset - lo), field_size(s));
    }
}
