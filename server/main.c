/* main.c - the ganlive command line.
 *
 *   ganlive train [options]   train headless, print progress, write a PNG grid
 *   ganlive serve [options]   train in a background thread behind the HTTP API
 *
 * Settings come from config/default.json's defaults (built in), then
 * --config FILE, then flags. Exit status: 0 done, 1 runtime failure,
 * 2 bad usage, config or data.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "bench.h"
#include "checkpoint.h"
#include "classifier_cmd.h"
#include "http.h"
#include "loop.h"
#include "png.h"
#include "state.h"
#include "quality_run.h"
#include "runs.h"
#include "score.h"
#include "trainer.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void usage(FILE *f) {
    fprintf(f,
        "usage: ganlive train [options]    train headless and write a grid of samples\n"
        "       ganlive serve [options]    train behind the HTTP API and dashboard\n"
        "       ganlive bench [options]    measure training speed (--iters, --threads, --batch)\n"
        "       ganlive sample --checkpoint FILE [--n 64] [--out grid.png] [--seed S]\n"
        "                                  samples of a checkpoint's generator, no server\n"
        "       ganlive score --checkpoint FILE [--n 1000] [--seed S] [--data DIR]\n"
        "                                  how readable its samples are (one JSON line)\n"
        "       ganlive classifier --data DIR --out FILE [--epochs E] [--seed S] [--threads T]\n"
        "                                  train the digit classifier that scores samples\n"
        "       ganlive runs [--runs-root DIR]  list the runs kept under the runs root\n"
        "options (settings come from the defaults, then --config, then --preset, then\n"
        "the other flags in their order):\n");
    srv_config_help_line(f, "--config FILE", "settings (JSON, see config/default.json)");
    srv_config_help_line(f, "--preset NAME", "classic (the DCGAN recipe, default) or fast (conditional, batch 16, "
                                            "lr 5e-4): flags after it still override one by one");
    srv_config_print_flags(f);
    srv_config_help_line(f, "--set SECTION.KEY=V", "any setting below, as in a --config file "
                                                  "(--set train.d_steps=2 --set train.lr_d=1e-3)");
    srv_config_help_line(f, "--fresh", "train, serve: start over; old checkpoints are moved to "
                                      "DIR/old-<time>/, never deleted (a generated run name: a new run)");
    srv_config_help_line(f, "--out FILE.png", "train: where to write the final 8x8 grid (default samples.png)");
    srv_config_help_line(f, "--web DIR", "serve: dashboard files (default: web/ beside the binary)");
    fprintf(f, "settings (section.key: accepted values; default; live ones change with PATCH /api/config):\n");
    srv_config_print_settings(f);
}

typedef struct {
    srv_config cfg;
    const char *out_png;
    char web_dir[PATH_MAX];
    int iters_given;         /* --iters on the command line */
    int fresh;               /* --fresh */
    int run_dir_given;       /* --run-dir (runs.h: srv_runs_resolve) */
    const char *ckpt_file;   /* sample --checkpoint */
    int n_samples;           /* sample --n */
    char **argv;             /* the whole command line (restarts) */
} cli;

/* POST /api/run: the run was saved and stopped; start this program again
 * with the same flags but --preset NAME --fresh and the request's name and
 * settings. The recipe flags of the old command line (--batch, --seed,
 * --set) go, so a setting the request leaves out is the preset's; a named
 * run goes under the runs root (its --run-dir goes too). The old checkpoints
 * are moved aside, never deleted (without --run-dir the new run gets a new
 * name and the old one stays as it is, runs.h). Returns only if exec fails. */
static int takes_value(const char *arg, const char *flag) {   /* "--flag V" (1) or "--flag=V" (2) */
    size_t n = strlen(flag);
    if (strncmp(arg, flag, n) != 0) return 0;
    return arg[n] == '\0' ? 1 : arg[n] == '=' ? 2 : 0;
}

static void restart_with(char **argv, const srv_restart *r) {
    static const char *const dropped[] = {"--preset", "--run-name", "--batch", "--seed", "--set", NULL};
    int n = 0;
    while (argv[n]) n++;
    char **next = calloc((size_t)n + 8 + 2 * SRV_RESTART_SETS, sizeof *next);
    if (!next) return;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(argv[i], "--fresh") == 0) continue;
        int drop = 0;
        for (int d = 0; dropped[d] && !drop; d++) drop = takes_value(argv[i], dropped[d]);
        if (r->name[0] && !drop) drop = takes_value(argv[i], "--run-dir");
        if (drop == 1) i++;                   /* and its value */
        if (drop) continue;
        next[k++] = argv[i];
    }
    next[k++] = "--preset";
    next[k++] = (char *)r->preset;
    next[k++] = "--fresh";
    if (r->name[0]) {                         /* <root>/<name>: a name beats a config file's run.dir */
        next[k++] = "--run-name";
        next[k++] = (char *)r->name;
    }
    for (int i = 0; i < r->nsets; i++) {
        next[k++] = "--set";
        next[k++] = (char *)r->sets[i];
    }
    next[k] = NULL;
    printf("ganlive: starting a new run with preset %s%s%s (old checkpoints kept)\n", r->preset,
           r->name[0] ? ", named " : "", r->name);
    fflush(stdout);
    execv("/proc/self/exe", next);
    fprintf(stderr, "ganlive: cannot restart: %s\n", strerror(errno));
    free(next);
}

/* One setting given on the command line (a flag of the settings table or
 * --set): stored through the table's checks; what `train`/`serve` must
 * know about it is noted. 0, or -1 after a message. */
static int set_from_flag(cli *c, const char *flag, const char *name, const char *text) {
    char err[400];
    int rc = srv_config_set_text(&c->cfg, name, text, err, sizeof err);
    if (rc == 0 && strcmp(name, "run.name") == 0 && (!srv_run_name_valid(text) || strchr(text, '/'))) {
        snprintf(err, sizeof err, "run.name: must be 1-64 of [A-Za-z0-9._-], starting with a letter or digit");
        rc = -1;
    }
    if (rc < 0) {
        if (flag) fprintf(stderr, "ganlive: bad value for --%s: \"%s\": %s\n", flag, text, err);
        else fprintf(stderr, "ganlive: --set %s=%s: %s\n", name, text, err);
        return -1;
    }
    if (strcmp(name, "train.iters") == 0) c->iters_given = 1;
    if (strcmp(name, "run.dir") == 0) c->run_dir_given = 1;
    return 0;
}

/* Read --config first, then --preset, then every other flag in order. The
 * flags that stand for a setting come from the settings table (config.h). */
static int parse_args(cli *c, int argc, char **argv) {
    enum { O_CONFIG = 1, O_OUT, O_WEB, O_FRESH, O_CHECKPOINT, O_N, O_PRESET, O_SET, O_HELP, O_SETTING };
    static const struct option own[] = {
        {"config", required_argument, 0, O_CONFIG}, {"out", required_argument, 0, O_OUT},
        {"web", required_argument, 0, O_WEB}, {"fresh", no_argument, 0, O_FRESH},
        {"checkpoint", required_argument, 0, O_CHECKPOINT}, {"n", required_argument, 0, O_N},
        {"preset", required_argument, 0, O_PRESET}, {"set", required_argument, 0, O_SET},
        {"help", no_argument, 0, O_HELP},
    };
    enum { NOWN = sizeof own / sizeof own[0] };
    int nflags;
    const srv_config_flag *flags = srv_config_flags(&nflags);
    struct option opts[NOWN + 32 + 1];
    if (nflags > 32) return -1;
    memcpy(opts, own, sizeof own);
    for (int i = 0; i < nflags; i++)
        opts[NOWN + i] = (struct option){flags[i].flag, required_argument, 0, O_SETTING + i};
    opts[NOWN + nflags] = (struct option){0, 0, 0, 0};
    char err[512];
    srv_config_default(&c->cfg);
    c->out_png = "samples.png";
    /* three passes: --config, then --preset (beats the file's recipe), then
     * every other flag (beats both, one setting at a time) */
    for (int pass = 0; pass < 3; pass++) {
        optind = 1;
        int o;
        while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
            double v;
            if (o == 'h' || o == O_HELP) { usage(stdout); exit(0); }
            if (o == '?') return -1;
            const int want = o == O_CONFIG ? 0 : o == O_PRESET ? 1 : 2;
            if (pass != want) continue;
            if (o >= O_SETTING) {
                const srv_config_flag *fl = &flags[o - O_SETTING];
                if (set_from_flag(c, fl->flag, fl->setting, optarg) < 0) return -1;
                continue;
            }
            switch (o) {
            case O_CONFIG:
                if (srv_config_load_file(&c->cfg, optarg, err, sizeof err) < 0) {
                    fprintf(stderr, "ganlive: %s\n", err);
                    return -1;
                }
                break;
            case O_SET: {
                const char *eq = strchr(optarg, '=');
                char name[64];
                if (!eq || (size_t)(eq - optarg) >= sizeof name) {
                    fprintf(stderr, "ganlive: --set wants SECTION.KEY=VALUE, e.g. --set train.d_steps=2: \"%s\"\n",
                            optarg);
                    return -1;
                }
                snprintf(name, sizeof name, "%.*s", (int)(eq - optarg), optarg);
                if (set_from_flag(c, NULL, name, eq + 1) < 0) return -1;
                break;
            }
            case O_OUT: c->out_png = optarg; break;
            case O_WEB: snprintf(c->web_dir, sizeof c->web_dir, "%s", optarg); break;
            case O_FRESH: c->fresh = 1; break;
            case O_CHECKPOINT: c->ckpt_file = optarg; break;
            case O_N:
                if (srv_parse_whole(optarg, 1, 1024, &v) < 0) {
                    fprintf(stderr, "ganlive: bad value for --n: \"%s\": must be an integer in [1, 1024]\n", optarg);
                    return -1;
                }
                c->n_samples = (int)v;
                break;
            case O_PRESET:
                if (srv_config_preset(&c->cfg, optarg) < 0) {
                    fprintf(stderr, "ganlive: bad value for --preset: \"%s\": must be classic or fast\n", optarg);
                    return -1;
                }
                break;
            }
        }
    }
    if (optind != argc) {
        fprintf(stderr, "ganlive: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* Default web directory: web/ next to the executable. */
static void default_web_dir(char *out, size_t len) {
    char exe[PATH_MAX - 8];   /* room for "/web" in out */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) { snprintf(out, len, "web"); return; }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    snprintf(out, len, "%s/web", exe);
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Resume from the run directory (or start fresh) and build the state that
 * keeps history and timeline for checkpoints. NULL after printing why. */
static srv_runlog *runlog;   /* the run's metrics.log writer (runs.h) */

static srv_state *start_run(cli *c, srv_trainer *t) {
    char err[1200], path[1024];
    srv_ckpt ck;
    const time_t started = time(NULL);
    if (srv_ckpt_startup(t, c->fresh, &ck, path, sizeof path, err, sizeof err) < 0) {
        fprintf(stderr, "ganlive: %s\n", err);
        return NULL;
    }
    srv_state *st = srv_state_new(&t->cfg);    /* the run's settings, resumed ones included */
    if (st && path[0] && srv_ckpt_apply_state(&ck, st) < 0) {
        srv_state_free(st);
        st = NULL;
    }
    if (!st) fprintf(stderr, "ganlive: out of memory\n");
    struct stat sb;
    if (st && path[0]) srv_state_set_last_checkpoint(st, path, t->iteration,
                                                     stat(path, &sb) == 0 ? (double)sb.st_mtime : 0);
    srv_ckpt_free(&ck);
    if (st) runlog = srv_runlog_start(st, &t->cfg, c->fresh, started);
    return st;
}

static int cmd_score(cli *c) {
    char err[1200];
    if (!c->ckpt_file) {
        fprintf(stderr, "ganlive: score needs --checkpoint FILE\n");
        return 2;
    }
    int rc = srv_ckpt_score(c->ckpt_file, &c->cfg, c->n_samples ? c->n_samples : 1000, c->cfg.seed,
                            err, sizeof err);
    if (rc) fprintf(stderr, "ganlive: %s\n", err);
    return rc;
}

static int cmd_sample(cli *c) {
    char err[1200];
    if (!c->ckpt_file) {
        fprintf(stderr, "ganlive: sample needs --checkpoint FILE\n");
        return 2;
    }
    int rc = srv_ckpt_sample(c->ckpt_file, c->n_samples ? c->n_samples : 64, c->cfg.seed,
                             c->out_png, err, sizeof err);
    if (rc) fprintf(stderr, "ganlive: %s\n", err);
    return rc;
}

/* `train`'s progress line, every log_every_s and at the last iteration. */
typedef struct {
    long iters, last_iter;
    double last_log;
    int log_every_s;
} train_progress;

static void print_progress(const srv_trainer *t, void *arg) {
    train_progress *p = arg;
    const double now = now_s();
    if (now - p->last_log < p->log_every_s && t->iteration != p->iters) return;
    const gan_metrics *mt = &t->last;
    printf("iter %6ld  epoch %6.2f  d_loss %.4f  g_loss %.4f  d_acc %.3f  "
           "d_real %.3f  d_fake %.3f  %.0f img/s\n",
           t->iteration, gan_batcher_epoch(&t->batcher), (double)mt->d_loss, (double)mt->g_loss,
           (double)mt->d_acc, (double)mt->d_real, (double)mt->d_fake,
           (double)(t->iteration - p->last_iter) * t->model->cfg.batch / (now - p->last_log));
    fflush(stdout);
    p->last_log = now;
    p->last_iter = t->iteration;
}

static int cmd_train(cli *c) {
    char err[512];
    srv_trainer t;
    if (srv_trainer_init(&t, &c->cfg, err, sizeof err) < 0) {
        fprintf(stderr, "ganlive: %s\n", err);
        return 2;
    }
    srv_state *st = start_run(c, &t);         /* --iters N: up to N in all */
    if (!st) { srv_trainer_free(&t); return 2; }
    const gan_config *mc = &t.model->cfg;
    printf("ganlive train: %d images from %s, batch %d, %ld iterations, seed %llu\n",
           t.data.n, t.data_dir, mc->batch, c->cfg.iters, (unsigned long long)t.cfg.seed);
    install_signals();
    const double start = now_s();
    train_progress progress = {c->cfg.iters, t.iteration, start, c->cfg.log_every_s};
    const srv_loop loop = {.stop_at = c->cfg.iters, .stop_after_s = c->cfg.seconds,
                           .stop = &stop_requested, .end_on_divergence = 1,
                           .progress = print_progress, .arg = &progress};
    int rc = srv_run_loop(&t, st, &loop);     /* the final checkpoint too, before the grid's
                                                 fresh noise could shift the saved RNG */
    if (stop_requested) printf("interrupted at iteration %ld\n", t.iteration);
    /* full precision, so two runs can be compared bit for bit */
    printf("final iteration %ld d_loss %.9g g_loss %.9g d_acc %.9g\n", t.iteration,
           (double)t.last.d_loss, (double)t.last.g_loss, (double)t.last.d_acc);
    float lo, hi;
    srv_output_range(mc, &lo, &hi);
    srv_trainer_sample_grid(&t, 1);
    if (srv_grid_png_write(c->out_png, t.grid, srv_fixed_n(&t.cfg.model), srv_fixed_cols(&t.cfg.model),
                           1, lo, hi) < 0) {
        fprintf(stderr, "ganlive: cannot write %s: %s\n", c->out_png, strerror(errno));
        rc = 1;
    } else {
        printf("wrote %s (%d samples after %ld iterations, %.1f s)\n", c->out_png, srv_fixed_n(&t.cfg.model),
               t.iteration, now_s() - start);
    }
    srv_runlog_stop(runlog);
    srv_state_free(st);
    srv_trainer_free(&t);
    return rc;
}

static int cmd_serve(cli *c) {
    char err[512];
    srv_trainer t;
    if (srv_trainer_init(&t, &c->cfg, err, sizeof err) < 0) {
        fprintf(stderr, "ganlive: %s\n", err);
        return 2;
    }
    srv_state *st = start_run(c, &t);
    if (!st) { srv_trainer_free(&t); return 2; }
    if (!c->web_dir[0]) default_web_dir(c->web_dir, sizeof c->web_dir);
    srv_http *http = srv_http_start(st, &c->cfg, c->web_dir, err, sizeof err);
    if (!http) {
        fprintf(stderr, "ganlive: %s\n", err);
        srv_runlog_stop(runlog);
        srv_state_free(st);
        srv_trainer_free(&t);
        return 2;
    }
    install_signals();
    srv_trainer_job job = {&t, st};
    srv_quality_job qjob = {st, c->cfg};
    pthread_t trainer, quality;
    int have_quality = 0;
    if (pthread_create(&trainer, NULL, srv_trainer_thread, &job) != 0) {
        fprintf(stderr, "ganlive: cannot start the trainer thread\n");
        srv_http_stop(http);
        srv_runlog_stop(runlog);
        srv_state_free(st);
        srv_trainer_free(&t);
        return 1;
    }
    if (c->cfg.quality_every > 0)
        have_quality = pthread_create(&quality, NULL, srv_quality_thread, &qjob) == 0;
    const char *host = strchr(c->cfg.bind, ':') ? "[::1]" :
                       strcmp(c->cfg.bind, "0.0.0.0") == 0 ? "127.0.0.1" : c->cfg.bind;
    printf("ganlive: training on %d images from %s; dashboard at http://%s:%d/\n",
           t.data.n, t.data_dir, host, srv_http_port(http));
    if (srv_http_token(http))
        printf("ganlive: not a loopback address, so changes need a token: open "
               "http://%s:%d/#token=%s or send \"Authorization: Bearer %s\"\n", host,
               srv_http_port(http), srv_http_token(http), srv_http_token(http));
    {   /* a class: where students join (read-only, no token) */
        char urls[8][128];
        int n = srv_http_join_urls(http, urls, 8);
        for (int i = 0; i < n; i++) printf("ganlive: students join at %s (view-only)\n", urls[i]);
    }
    fflush(stdout);
    srv_restart restart = {0};
    long seen = 0;
    while (!stop_requested && !srv_state_restart_wanted(st, &restart))
        seen = srv_state_wait(st, seen, 250);
    srv_state_quit(st);
    pthread_join(trainer, NULL);
    if (have_quality) pthread_join(quality, NULL);
    srv_runlog_stop(runlog);
    printf("ganlive: stopped at iteration %ld\n", t.iteration);
    srv_http_stop(http);
    srv_state_free(st);
    srv_trainer_free(&t);
    if (restart.preset[0] && !stop_requested) restart_with(c->argv, &restart);
    return 0;
}

/* How long an idle OpenMP thread spins before it sleeps. A training step
 * opens about a hundred parallel regions (a few per layer), and between two
 * of them the second thread waits for microseconds. libgomp's choices are
 * bad both ways on this kind of machine:
 *  - spinning for milliseconds (its default where it spins) turns any
 *    competing load into a collapse: a spinning thread holds its core while
 *    its partner waits to be scheduled. Seen here: 64 samples in 360 ms on
 *    two threads against 112 ms on one, training at 50 instead of 135
 *    images/s next to a compile;
 *  - sleeping at once (OMP_WAIT_POLICY=PASSIVE, which ganlive used to set,
 *    and about what this libgomp's default amounts to here) pays a futex
 *    sleep and wake-up at nearly every region: about 60 us on a KVM guest,
 *    whose idle vCPU halts; 14,000 context switches in a 50-iteration
 *    benchmark at batch 16.
 * So an idle thread spins for SPIN_PAUSES pause instructions, about 13 us
 * here (26 ns each): long enough for the gap between two back-to-back
 * regions, short enough to cost little when another program wants the
 * core. Passes too small to be worth waking a thread for run on one
 * (NN_PAR_MIN, nn/par.h). Measured in alternating benchmarks (README,
 * Speed): at batch 16 on 2 threads, +11% both on a quiet machine and beside
 * a busy loop that takes a core; 2,000 pauses gained more on the quiet
 * machine and lost 9% beside the busy loop.
 * Inside a region the layers' threads meet at nn/team.c's barrier instead,
 * which spins for up to 2 ms while no other task wants the CPUs and for
 * these 13 us when one does; libgomp's spin is left with the gaps between
 * regions.
 * libgomp reads GOMP_SPINCOUNT from the environment when it loads, before
 * main, so the program re-executes itself once with it set; an explicit
 * OMP_WAIT_POLICY or GOMP_SPINCOUNT from the user is respected. */
#define SPIN_PAUSES "500"

static void set_openmp_spin(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", SPIN_PAUSES, 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with libgomp's default */
}

/* glibc's malloc, tuned for a long-running server with many short-lived
 * request threads: at most two arenas (by default each thread that
 * allocates may get its own, up to 8 per core, and memory freed into one is
 * not reused by the others), and a fixed mmap threshold, so the megabyte
 * buffers of a request (images, PNGs, JSON) are mapped and given back to the
 * system when freed (by default the threshold grows to the largest block
 * ever freed, and later blocks of that size stay in the heap). */
static void tune_malloc(void) {
    mallopt(M_ARENA_MAX, 2);
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
}

int main(int argc, char **argv) {
    set_openmp_spin(argv);
    tune_malloc();
    /* Under a file-size limit (ulimit -f, systemd's LimitFSIZE) a write
     * past it would kill the process with SIGXFSZ in the middle of a
     * checkpoint (or classifier, or PNG). Ignored, as PostgreSQL does, the
     * write fails with EFBIG instead and is reported like a full disk: 500
     * with the reason, training goes on, the temp file is removed and the
     * last good checkpoint stays. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) { usage(stderr); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) { usage(stdout); return 0; }
    if (!strcmp(cmd, "classifier")) return srv_classifier_main(argc - 1, argv + 1);
    cli c;
    memset(&c, 0, sizeof c);
    c.argv = argv;
    if (parse_args(&c, argc - 1, argv + 1) < 0) return 2;
    if (!strcmp(cmd, "runs")) return srv_runs_main(&c.cfg);
    if (!strcmp(cmd, "train") || !strcmp(cmd, "serve")) {
        char err[256];
        if (srv_runs_resolve(&c.cfg, c.run_dir_given, c.fresh, err, sizeof err) < 0) {
            fprintf(stderr, "ganlive: %s\n", err);
            return 2;
        }
    }
    if (!strcmp(cmd, "train")) return cmd_train(&c);
    if (!strcmp(cmd, "serve")) return cmd_serve(&c);
    if (!strcmp(cmd, "sample")) return cmd_sample(&c);
    if (!strcmp(cmd, "score")) return cmd_score(&c);
    if (!strcmp(cmd, "bench")) return srv_bench_run(&c.cfg, c.iters_given ? c.cfg.iters : 50);
    fprintf(stderr, "ganlive: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
