/* config.h - every setting of a ganlive run, read from JSON, checked, and
 * tunable live.
 *
 * One table (config.c) describes each setting once: its JSON section and key,
 * type, range, and whether it may change while training runs. The same table
 * drives the config file reader, the PATCH /api/config validator, the JSON
 * shown by /api/status, the command-line flags (--seed, --set KEY=V, ...)
 * and their --help lines, the checks on a checkpoint's recipe and the copy
 * of the live recipe into a running model, so they cannot drift apart.
 *
 * Config files are nested by section ({"train": {"lr_d": 0.0002}, ...});
 * live updates are flat objects of live-tunable keys ({"lr_d": 0.0001}).
 * Every key name is unique across sections.
 */
#ifndef GANLIVE_CONFIG_H
#define GANLIVE_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include <cJSON.h>
#include "../nn/gan.h"

typedef struct {
    /* server */
    char bind[64];
    int port;
    char token[129];             /* "" = none (generated when bind is not loopback) */
    char allowed_hosts[256];     /* extra Host names, comma-separated; "*" = any */
    int max_body;                /* request bodies above this many bytes get 413 */
    int events_interval_ms;      /* SSE metrics at most this often (live) */
    /* the render worker (render.h): shared live grid, budget, cache */
    int live_every_ms;           /* live grid and model snapshot at most this often (live) */
    float render_share;          /* CPU share of the machine for renders while training (live) */
    int render_queue;            /* render jobs waiting at most (503 above) */
    int cache_mb;                /* rendered answers kept, in MiB */
    /* data */
    char dataset[16];            /* "mnist" | "fashion" | "custom" */
    char data_dir[512];
    /* model + recipe */
    gan_config model;
    /* run */
    uint64_t seed;
    int threads;                 /* 0 = all cores */
    long iters;                  /* train: iterations to run; serve: 0 = forever */
    int seconds;                 /* train: also end after this many seconds of training; 0 = no limit */
    int log_every_s;
    /* history and timeline */
    int history_max_points;
    int timeline_every;          /* live */
    int timeline_max;
    /* checkpoints (see checkpoint.h) */
    char run_dir[512];           /* "runs/default"; "" = no checkpoints */
    char runs_root[512];         /* where named runs live (runs.h); default "runs" */
    char run_name[128];          /* the run's name ("" = resolved at start, runs.h) */
    int run_dir_fixed;           /* not a setting: set by srv_runs_resolve when run.dir
                                    (--run-dir or a config file) named the directory outright */
    int checkpoint_every_s;      /* live; 0 = only on request and at exit */
    int checkpoint_keep;         /* newest files kept */
    /* recipe preset the run started from: "classic" | "fast" */
    char preset[16];
    /* balance (live): "auto" skips D's updates while its accuracy over the
     * last balance_window iterations stays above balance_hi, G's while it
     * stays under balance_lo */
    int balance;                 /* 0 off, 1 auto */
    float balance_hi, balance_lo;
    int balance_window;
    /* quality passes (see quality.h) */
    int quality_every;           /* live; iterations between passes, 0 = off */
    int quality_samples;         /* generated digits scored per pass */
    char classifier[512];        /* model file; "" = <data dir>/classifier.bin */
    int quality_early_every;     /* live; early passes this often ... */
    int quality_early_until;     /* live; ... up to this iteration (0 = no early passes) */
    float readable_as_asked;     /* "readable": this share read as the digit asked for
                                    (conditional), or */
    float readable_score;        /* this Inception-style score (unconditional) */
} srv_config;

void srv_config_default(srv_config *c);
/* Name of class k (0..9): "0".."9", or Fashion-MNIST's clothing names. */
const char *srv_class_name(const srv_config *c, int k);
/* Apply a named recipe preset ("classic" or "fast"; the table in config.c
 * says which settings each one sets). 0, or -1 for another name. */
int srv_config_preset(srv_config *c, const char *name);
/* The i-th preset's name ("classic", "fast"), NULL past the last. */
const char *srv_config_preset_name(int i);
/* What to say about a name that is none of them: `preset: must be "classic"
 * or "fast"`, from the table. */
void srv_config_preset_error(char *err, size_t errlen);

/* Apply a nested config object (the file format). On error returns -1, writes
 * a message naming the offending key to err, and leaves c unchanged. */
int srv_config_apply_file_json(srv_config *c, const cJSON *root, char *err, size_t errlen);
/* Read and apply a config file. -1 with a message on any problem. */
int srv_config_load_file(srv_config *c, const char *path, char *err, size_t errlen);
/* Apply a flat object of live-tunable keys (PATCH /api/config). All or
 * nothing: on error returns -1, names the field in err, c unchanged. */
int srv_config_apply_live_json(srv_config *c, const cJSON *obj, char *err, size_t errlen);

/* The largest seed: 2^53 - 1, exact in a JSON number. */
#define SRV_SEED_MAX 9007199254740991.0

/* One setting named "section.key" (as in the config file) from text, as a
 * command-line flag or --set gives it: numbers in strtod syntax ("1e3"),
 * whole where the setting is; true/false; strings as they are. The same
 * checks as the config file; -1 with a message naming the setting, c
 * unchanged. srv_config_known: 1 when the name is a setting. */
int srv_config_set_text(srv_config *c, const char *name, const char *text, char *err, size_t errlen);
int srv_config_known(const char *name);

/* Every setting in range (the config file's rules, applied to a config
 * that came from elsewhere, e.g. a checkpoint). 0, or -1 naming the first
 * setting that is not. */
int srv_config_check(const srv_config *c, char *err, size_t errlen);
/* Copy the live-tunable settings of the model's recipe (lr_d, lr_g, beta1,
 * beta2, d_steps, g_steps: the table's live rows inside gan_config). */
void srv_config_copy_live_model(gan_config *dst, const gan_config *src);

/* Command-line flags that stand for one setting each ("--seed S" is
 * train.seed); every other setting is reached with --set section.key=V. */
typedef struct {
    const char *flag, *metavar, *setting, *help;
} srv_config_flag;
const srv_config_flag *srv_config_flags(int *n);
/* --help: the flags above with their settings and defaults, and every
 * setting (range, default, live) for --set; srv_config_help_line prints
 * one "  left   text" entry wrapped like the rest. */
void srv_config_print_flags(FILE *f);
void srv_config_print_settings(FILE *f);
void srv_config_help_line(FILE *f, const char *left, const char *text);

/* A command-line number: a whole decimal number in [lo, hi] (strtod syntax,
 * so "1e3" is 1000). 0 and *out, or -1 if it is not one. */
int srv_parse_whole(const char *s, double lo, double hi, double *out);

/* JSON views. Caller owns the result (cJSON_Delete). */
cJSON *srv_config_to_json(const srv_config *c);       /* nested, every setting */
cJSON *srv_config_live_to_json(const srv_config *c);  /* flat, live-tunable only */

#endif
