/* quality_run.h - the quality thread of `ganlive serve` (quality_run.c):
 * scores the generator every quality_every iterations and files the
 * results in srv_state, where /api/quality and /api/status read them.
 */
#ifndef GANLIVE_QUALITY_RUN_H
#define GANLIVE_QUALITY_RUN_H

#include "config.h"
#include "state.h"

typedef struct {
    srv_state *state;
    srv_config cfg;              /* the run's config at start */
} srv_quality_job;

/* Thread body; returns when srv_state_quit was called (or at once, after
 * publishing the reason, when no classifier or test set is available). */
void *srv_quality_thread(void *job);

#endif
