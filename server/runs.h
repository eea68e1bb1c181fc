/* runs.h - every run kept side by side under one runs root: names, the
 * append-only log each run writes as it trains, and reading stopped runs
 * back from their files.
 *
 * The design is simple: a run is a directory under the runs root (`runs/`
 * by default, --runs-root) named after the run (--run-name, or made from
 * the preset and the UTC time it started: "classic-20261201-221530").
 * ganlive never deletes one. Runs set aside by --fresh before names existed
 * (`<run>/old-<unix time>/`) are runs too, named "<run>/old-<time>".
 *
 * Beside its checkpoints (checkpoint.h, unchanged) a run keeps two files
 * and a directory:
 *
 *   metrics.log  one line per record, appended and flushed every second by
 *                a small writer thread (srv_runlog) that copies what the
 *                trainer published into srv_state; never fsync'd, so a kill
 *                -9 loses at most the last second or two, a power cut what
 *                the page cache held. Lines (numbers in C locale; floats
 *                with 9 significant digits and doubles with 17, so they read
 *                back bit for bit; "nan"/"inf" as printf writes them):
 *                  P iteration count time_s d_loss g_loss d_acc d_acc_real
 *                    d_acc_fake d_real d_fake              a metrics point
 *                  Q iteration time_s confidence inception_score frechet
 *                    nn_ratio h0 .. h9 mode_collapse copying [as_asked]
 *                                                          a quality pass
 *                    (as_asked: conditional runs; logs before it lack it)
 *                  S unix_time iteration state [reason]    a state change
 *                  T iteration time_s                      a timeline snapshot
 *                    (time_s: the run's wall time at that iteration, as
 *                    its P record says), written after its PNG (below)
 *                Points, passes and snapshots are each in increasing
 *                iteration order: after a crash the resumed run repeats
 *                iterations the log already holds, and the writer appends
 *                only past them (a snapshot already logged is not written
 *                again either). A line without its newline (torn by a
 *                crash) is ignored by readers and cut off when the run
 *                resumes. Readers skip record kinds they do not know.
 *                A resumed run (not --fresh) gets the Q passes of its log
 *                back into srv_state (up to the iteration it resumes from,
 *                the newest SRV_QUALITY_MAX), so /api/quality goes on where
 *                it stopped.
 *   timeline/    one PNG per timeline snapshot the writer saw (the fixed-
 *                noise grid of srv_state_timeline_png), <iteration>.png,
 *                written through a temp file + rename in a directory opened
 *                without following symlinks, at the same flush that logs
 *                its T record; failures are reported once and skipped
 *                (training goes on). The in-memory timeline is thinned to
 *                timeline.max; this one keeps every snapshot it saw.
 *   run.json     name, preset, creation time, the settings that differ from
 *                the preset, and a summary (iteration, wall time, images/s,
 *                state, last quality pass) rewritten (temp file + rename)
 *                when it changed, at most every two seconds.
 *
 * A run without metrics.log (set aside before runs kept one) is read from
 * its newest checkpoint's history instead (the file read whole, one at a
 * time). Readers (api_runs.c, `ganlive runs`) work from these files with
 * bounded memory: a page of points is found by binary search over the log's byte
 * offsets, the CSV is streamed, the quality passes keep the newest
 * SRV_QUALITY_MAX. A run is reached only through a name that passes
 * srv_run_name_valid and directories opened with O_NOFOLLOW below the
 * root, so no name reaches outside it (no "..", no absolute path, no
 * symlink is followed).
 *
 * Three files own it: runs.c (names, a run's directory, the listing),
 * runlog.c (the writer and the line format) and runs_read.c (the readers);
 * runs_priv.h is what they share.
 */
#ifndef GANLIVE_RUNS_H
#define GANLIVE_RUNS_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <cJSON.h>
#include "config.h"
#include "history.h"
#include "state.h"

#define SRV_RUN_SEG_MAX 64               /* characters of one name segment */
#define SRV_RUN_NAME_MAX 160             /* "<seg>/old-<time>" */
#define SRV_RUNS_MAX 1000                /* runs listed at most */
#define SRV_RUNLOG_FLUSH_MS 1000         /* the writer's period */
#define SRV_RUN_TIMELINE_MAX 400         /* snapshots a timeline listing holds at most */
#define SRV_RUN_PNG_MAX (16 << 20)       /* a timeline PNG larger than this is refused */

/* One timeline snapshot of a run on disk: its iteration and the run's wall
 * time there (NAN when unknown). */
typedef struct {
    long iteration;
    double time_s;
} srv_run_snap;

/* 1 when name is "<seg>" or "<seg>/old-<digits>", seg being 1..64 of
 * [A-Za-z0-9._-] starting with a letter or digit; else 0. */
int srv_run_name_valid(const char *name);

/* Pick the run directory of `train` and `serve` before anything opens it:
 * --run-dir (run_dir_given, or a config file's run.dir) names it outright;
 * else --run-name NAME is <runs_root>/NAME; else without --fresh the run
 * named in <runs_root>/current (written at each start) if its preset is
 * cfg's, or the old default <runs_root>/default when it exists, is
 * resumed; else a new name is made
 * from the preset and the time. Sets cfg->run_dir and cfg->run_name. No
 * checkpoints (run_dir "") means no run. 0, or -1 with err (bad name). */
int srv_runs_resolve(srv_config *cfg, int run_dir_given, int fresh, char *err, size_t errlen);

/* A name for a new run under root: "<preset>-<UTC time>", with "-2", "-3"...
 * when that is taken (at most SRV_RUN_SEG_MAX characters with len > that). */
void srv_run_new_name(const char *root, const char *preset, char *name, size_t len);

/* ---- the writer ---------------------------------------------------------- */

typedef struct srv_runlog srv_runlog;
/* Start the writer of cfg->run_dir's log (NULL, after a message on stderr,
 * when there is no run directory or the log cannot be opened: training goes
 * on without it). fresh: the directory's old log and run.json were made by
 * an earlier run and are moved into its old-<time>/ beside the checkpoints
 * srv_ckpt_startup set aside (`since`: the unix time before that). */
srv_runlog *srv_runlog_start(srv_state *st, const srv_config *cfg, int fresh, time_t since);
/* Write what is left, stop the thread and free. NULL is fine. Call after
 * the trainer and quality threads have ended. */
void srv_runlog_stop(srv_runlog *l);

/* ---- readers ------------------------------------------------------------- */

/* Open the directory of run `name` under root (O_NOFOLLOW at every level
 * below the root). A directory fd, or -1 with errno: EINVAL bad name,
 * ENOENT no such run. */
int srv_run_open(const char *root, const char *name);
/* Points with iteration > since, oldest first, at most max, from the run's
 * log (or, without one, its newest checkpoint's history). Returns how many,
 * or -1 (neither). *last: the run's last logged iteration (0 when none). */
int srv_run_points(int dfd, long since, int max, srv_point *out, long *last);
/* The newest passes (oldest first, at most max). Count, or -1 without log. */
int srv_run_quality(int dfd, srv_quality_pass *out, int max);
/* The log opened for streaming (fclose it), or NULL. */
FILE *srv_run_log_open(int dfd);
/* Parse one log line (NUL-terminated, with its newline). 'P' with *p set,
 * 'Q' with *q set, 'S', or 0 for a line that is not a whole record. */
int srv_runlog_parse(const char *line, srv_point *p, srv_quality_pass *q);
/* A T line: 'T' with *t set, or 0. (srv_runlog_parse answers 'T' for one
 * too, without its figures.) */
int srv_runlog_parse_snap(const char *line, srv_run_snap *t);

/* The run's timeline, oldest first, at most max (>= 2) entries: when it has
 * more, thinned evenly keeping the first and the last. Read from the T
 * records of its log when the run has a timeline/ entry (*from_ckpt = 0;
 * one pass over the log, 2 * max entries of memory), else from its newest
 * checkpoint's timeline (*from_ckpt = 1; times from that checkpoint's
 * history). Count, or -1 when the run has neither (or no memory). */
int srv_run_timeline(int dfd, srv_run_snap *out, int max, int *from_ckpt);
/* The PNG of one snapshot: timeline/<iteration>.png (opened O_NOFOLLOW, a
 * regular file of at most SRV_RUN_PNG_MAX bytes) when the run has a
 * timeline/ entry, else encoded from its newest checkpoint's pixels. etag
 * (quoted, from inode, size and mtime of the file it comes from) is always
 * set on 0 and 1. Returns 0 with *png (malloc'd, caller frees) and *len; 1
 * when if_none_match (the request's header, or NULL) holds the etag (nothing
 * read); -1 no such snapshot; -2 no memory or a read error. */
int srv_run_timeline_png(int dfd, long iteration, const char *if_none_match, unsigned char **png,
                         size_t *len, char *etag, size_t etaglen);

/* Every run under root as JSON objects (see README "Runs"), newest first;
 * this_dir: the run this process trains ("" none), whose state is
 * "current" whatever the lock says. NULL on no memory; an empty array when
 * root does not exist. */
cJSON *srv_runs_list(const char *root, const char *this_dir);
/* One run's listing object, or NULL (no such run). */
cJSON *srv_run_info(const char *root, const char *name, const char *this_dir);

/* `ganlive runs [--runs-root DIR]`: the table. Exit status. */
int srv_runs_main(const srv_config *cfg);

#endif
