/* history.h - the metrics history of a whole run in bounded memory.
 *
 * Points are appended in iteration order. When the history reaches its cap,
 * the oldest half is merged pairwise into averaged buckets, so recent points
 * stay at full resolution while older ones get coarser geometrically: a run of
 * ten million iterations keeps the curve's shape in a few MB. A bucket's
 * iteration is the last iteration it covers (so "iteration > since" queries
 * stay monotonic) and `count` says how many iterations it averages.
 * Not thread-safe: srv_state guards it.
 */
#ifndef GANLIVE_HISTORY_H
#define GANLIVE_HISTORY_H

#include "../nn/gan.h"

typedef struct {
    long iteration;      /* last iteration covered */
    long count;          /* iterations averaged into this point */
    double time_s;       /* seconds since the run started (mean of the bucket) */
    gan_metrics m;       /* averaged figures */
} srv_point;

typedef struct {
    srv_point *points;
    int len, cap;
} srv_history;

/* cap >= 4. 0 on success, -1 on no memory. */
int srv_history_init(srv_history *h, int cap);
void srv_history_free(srv_history *h);
void srv_history_append(srv_history *h, const srv_point *p);
/* Index of the first point with iteration > since (binary search). */
int srv_history_first_after(const srv_history *h, long since);

#endif
