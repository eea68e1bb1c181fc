/* runs_priv.h - what the run files share and nothing else includes: runs.c
 * (names, directories, listing), runlog.c (the log's writer and line
 * format) and runs_read.c (reading a run back). See runs.h for the design.
 */
#ifndef GANLIVE_RUNS_PRIV_H
#define GANLIVE_RUNS_PRIV_H

#define SRV_RUNLOG_LINE_MAX 1024          /* a log line is far shorter */
#define SRV_RUN_JSON_MAX (256 * 1024)     /* run.json is read at most this much */

/* 1 when s is "old-<digits>" (at most 24 characters): a run set aside by
 * --fresh inside the run it came from. */
int srv_run_old_seg_valid(const char *s);
/* Write text to path through a temp file and rename (no fsync). 0 or -1. */
int srv_run_write_atomic(const char *path, const char *text);
/* The newest checkpoint's iteration in the run directory dfd, from the file
 * names (-1: none). */
long srv_run_newest_ckpt(int dfd);

#endif
