/* draw.h - the render worker's drawing (render.c): its copy of G and D and
 * the samplers that draw digits and D's verdicts with it, on the worker's
 * own thread, or on two threads while the cores are free.
 *
 * A big request (two sampler chunks or more) is split at a chunk boundary
 * when the caller says the cores are free (training does not run): a helper
 * thread ("ganlive-draw", started with the drawer, waiting between jobs on
 * its own condition variable) draws the second half with its own sampler
 * while the caller draws the first. Each chunk is computed exactly as one
 * thread would compute it, so the bytes are the same either way.
 *
 * Everything here belongs to one thread, the worker's. The helper reads
 * the weights and writes its half of the caller's buffers only inside the
 * srv_draw_generate call that gave it that half, which returns after it.
 */
#ifndef GANLIVE_DRAW_H
#define GANLIVE_DRAW_H

#include <stdint.h>
#include "state.h"
#include "../nn/gan.h"

typedef struct srv_draw srv_draw;

/* A drawer for model c; ncpu: the cores it may use (the helper thread is
 * started only with two or more). NULL when out of memory. A missing helper
 * (no memory for its sampler, no thread) is not an error: everything is
 * then drawn on the caller's thread. */
srv_draw *srv_draw_new(const gan_config *c, int ncpu);
/* Stop the helper and free. NULL is fine. */
void srv_draw_free(srv_draw *d);

/* Copy the newest G and D that training published into the drawer. The
 * snapshot's iteration, or -1 when nothing was published yet. */
long srv_draw_copy_snapshot(srv_draw *d, srv_state *st);

/* n images [n][784] from z [n][nz] and labels [n] (NULL: i % 10) with the
 * snapshot; verdict [n] (may be NULL) gets sigmoid(D(x)), NAN without a D.
 * one_by_one: batches of one (as samples.png?n=1 draws each image). split:
 * the cores are free, a big request may take the helper. */
void srv_draw_generate(srv_draw *d, const float *z, const uint8_t *labels, int n, float *images,
                       float *verdict, int one_by_one, int split);

/* What the helper did so far: its CPU seconds and the requests it shared
 * (a job's part is the difference across it). */
typedef struct {
    double helper_cpu_s;
    long splits;
} srv_draw_counts;
srv_draw_counts srv_draw_counts_now(const srv_draw *d);

#endif
